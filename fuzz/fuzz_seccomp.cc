// linux.seccomp -> seccomp::compile: the profile object as it appears in config.json,
// parsed by spec::parse and translated to a libseccomp filter and exported as BPF.
// Never loaded. Bad profiles throw ocirun::Error; a compiled program must fit the kernel.
#include <linux/filter.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "error.h"
#include "parse.h"
#include "seccomp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The corpus holds bare profiles (what docker/podman ship); wrap one into a config.
  std::string config = R"({"ociVersion":"1.2.0","linux":{"seccomp":)";
  config.append(reinterpret_cast<const char*>(data), size);
  config += "}}";
  try {
    ocirun::spec::Spec spec = ocirun::spec::parse(config);
    if (!spec.linux || !spec.linux->seccomp) return 0;
    ocirun::seccomp::Program p = ocirun::seccomp::compile(*spec.linux->seccomp);
    if (p.bpf.empty() || p.bpf.size() > BPF_MAXINSNS) std::abort();
  } catch (const ocirun::Error&) {
  }
  return 0;
}
