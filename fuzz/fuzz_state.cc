// state.json -> runtime::state_from_json. The file lives under --root and is only
// written by ocirun, but a crash, a full disk or another tool can leave anything
// there, and every command that names the container reads it: a corrupt file must
// give InvalidArgument, nothing else. What is read must also write and read back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "error.h"
#include "state.h"

using namespace ocirun::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  ContainerState s;
  try {
    s = state_from_json(text);
  } catch (const ocirun::Error&) {
    return 0;
  }
  ContainerState again = state_from_json(to_json(s));
  if (again.id != s.id || again.pid != s.pid || again.bundle != s.bundle || again.annotations != s.annotations)
    std::abort();
  oci_state_json(s, Status::Running);
  oci_state_json(s, Status::Stopped);
  return 0;
}
