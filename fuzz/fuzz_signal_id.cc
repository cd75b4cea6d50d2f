// The command-line strings that name things: `kill ID SIGNAL` (runtime::parse_signal)
// and every container id (runtime::validate_id, which guards a directory name).
// Both throw ocirun::Error for bad input; what they accept must be in range / safe.
#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "container.h"
#include "error.h"
#include "state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    int sig = ocirun::runtime::parse_signal(text);
    if (sig < 0 || sig > SIGRTMAX) std::abort();  // 0: kill's existence check
  } catch (const ocirun::Error&) {
  }
  try {
    ocirun::runtime::validate_id(text);
    // An accepted id is one path component under --root.
    if (text.find('/') != std::string::npos || text.find('\0') != std::string::npos || text == "." || text == "..")
      std::abort();
  } catch (const ocirun::Error&) {
  }
  return 0;
}
