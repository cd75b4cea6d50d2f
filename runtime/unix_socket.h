// The unix sockets the runtime talks through, shared by create, exec and start: the
// start socket in the state dir, and the caller's sockets the runtime hands fds to
// (--console-socket, linux.seccomp.listenerPath).
#pragma once
#include <sys/types.h>
#include <sys/un.h>

#include <string>

#include "error.h"
#include "spec.h"
#include "state.h"
#include "unique_fd.h"

namespace ocirun::runtime {

// The address of `name` in the directory `dirfd`, through /proc/self/fd: short whatever
// --root is (sun_path holds 108 bytes; containerd's state paths can be longer).
sockaddr_un socket_address_in(int dirfd, const char* name);

// A stream connection to the socket at `path`; `what` names it in errors ("--console-socket"),
// `kind` is the error's kind when the path is too long for sun_path.
UniqueFd connect_unix(const std::string& path, const std::string& what, ErrorKind kind = ErrorKind::InvalidArgument);

// The pty master as SCM_RIGHTS, in the PtyMaster message runc's clients expect.
void send_to_console_socket(const std::string& path, int master);

// The runtime-spec's ContainerProcessState with the NOTIFY listener as SCM_RIGHTS, in one
// message on a stream connection to listenerPath (as runc sends it). `pid` is the filtered
// process (the init for create, the new process for exec), in the runtime's pid namespace.
void send_to_seccomp_listener(const spec::Seccomp& profile, int listener, pid_t pid, const ContainerState& state,
                              Status status);

}  // namespace ocirun::runtime
