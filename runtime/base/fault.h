// Fault injection for the crash tests. OCIRUN_CRASH_POINT("step") SIGKILLs the process when
// $OCIRUN_CRASH_AT names that step, as if the runtime were killed there. Compiled in only
// with -DOCIRUN_FAULT_INJECTION=ON (the default for the dynamic build the tests use); in
// other builds it expands to nothing.
#pragma once

#ifdef OCIRUN_FAULT_INJECTION
#include <signal.h>
#include <stdlib.h>
#include <string.h>

namespace ocirun::base {
inline void crash_point(const char* step) {
  const char* at = ::getenv("OCIRUN_CRASH_AT");
  if (at && ::strcmp(at, step) == 0) ::raise(SIGKILL);
}
}  // namespace ocirun::base
#define OCIRUN_CRASH_POINT(step) ::ocirun::base::crash_point(step)
#else
#define OCIRUN_CRASH_POINT(step) ((void)0)
#endif
