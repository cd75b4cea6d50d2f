// Fault injection for the crash tests. OCIRUN_CRASH_POINT("step") SIGKILLs the process when
// $OCIRUN_CRASH_AT names that step, as if the runtime were killed there. Compiled in only
// with -DOCIRUN_FAULT_INJECTION=ON (the default for the dynamic build the tests use); in
// other builds it expands to nothing. OCIRUN_DELAY_POINT("step") sleeps when
// $OCIRUN_DELAY_AT is "step:MILLISECONDS", to widen a race window deterministically.
#pragma once

#ifdef OCIRUN_FAULT_INJECTION
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

namespace ocirun::base {
inline void crash_point(const char* step) {
  const char* at = ::getenv("OCIRUN_CRASH_AT");
  if (at && ::strcmp(at, step) == 0) ::raise(SIGKILL);
}
inline void delay_point(const char* step) {
  const char* at = ::getenv("OCIRUN_DELAY_AT");
  const size_t len = ::strlen(step);
  if (!at || ::strncmp(at, step, len) != 0 || at[len] != ':') return;
  long ms = ::strtol(at + len + 1, nullptr, 10);
  timespec ts{ms / 1000, (ms % 1000) * 1000000};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}
}  // namespace ocirun::base
#define OCIRUN_CRASH_POINT(step) ::ocirun::base::crash_point(step)
#define OCIRUN_DELAY_POINT(step) ::ocirun::base::delay_point(step)
#else
#define OCIRUN_CRASH_POINT(step) ((void)0)
#define OCIRUN_DELAY_POINT(step) ((void)0)
#endif
