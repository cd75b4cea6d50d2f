// Waiting in the foreground for a container process (run, exec) while passing
// the signals ocirun receives on to it, as runc does.
#pragma once
#include <signal.h>
#include <sys/types.h>

namespace ocirun::runtime {

// Blocks the forwarded signals and SIGCHLD (so none is missed before the wait);
// children unblock them. Returns the previous mask in `old`.
void block_forwarded_signals(sigset_t& forwarded, sigset_t& old);
// Waits for `pid` (a child of ours), forwarding signals; returns its exit status
// as a shell reports it: the code, or 128+N when killed by signal N.
int wait_forwarding_signals(pid_t pid, const sigset_t& forwarded);
// The same for a process with a terminal and no --console-socket: ocirun holds the
// pty master (non-blocking) and relays it to its own stdio until the process exits.
int proxy_terminal_and_wait(pid_t pid, int master, const sigset_t& forwarded);

}  // namespace ocirun::runtime
