// Warnings from the modules below the runtime (cgroups, seccomp), which cannot see its log.
// They must reach the same place as the runtime's own messages: the --log file when one is
// given (as runc writes its warnings), never create's stderr, which under a shim is the
// container's stderr. The runtime points the sink at its log; until then, stderr.
#pragma once
#include <string>

namespace ocirun {

using WarningSink = void (*)(const std::string& message);

void set_warning_sink(WarningSink sink);
void warn(const std::string& message);

}  // namespace ocirun
