#include "warning.h"

#include <unistd.h>

namespace ocirun {

namespace {
void to_stderr(const std::string& message) {
  std::string line = "ocirun: warning: " + message + "\n";
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

WarningSink g_sink = to_stderr;
}  // namespace

void set_warning_sink(WarningSink sink) { g_sink = sink ? sink : to_stderr; }

void warn(const std::string& message) { g_sink(message); }

}  // namespace ocirun
