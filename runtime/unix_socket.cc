#include "unix_socket.h"

#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "error.h"
#include "sync.h"

namespace ocirun::runtime {

sockaddr_un socket_address_in(int dirfd, const char* name) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dirfd, name);
  return addr;
}

UniqueFd connect_unix(const std::string& path, const std::string& what, ErrorKind kind) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) fail(kind, what + " path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd sock(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
  check(::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), "connect to " + what + " " + path);
  return sock;
}

void send_to_console_socket(const std::string& path, int master) {
  UniqueFd sock = connect_unix(path, "--console-socket");
  sync::send(sock.get(), sync::Msg::PtyMaster, 0, "/dev/ptmx", master);
}

void send_to_seccomp_listener(const spec::Seccomp& profile, int listener, pid_t pid, const ContainerState& state,
                              Status status) {
  const std::string& path = profile.listener_path;
  nlohmann::json msg = {{"ociVersion", "1.2.0"},
                        {"fds", nlohmann::json::array({"seccompFd"})},
                        {"pid", pid},
                        {"metadata", profile.listener_metadata},
                        {"state", nlohmann::json::parse(oci_state_json(state, status))}};
  const std::string text = msg.dump();
  // runc's words first: scripts look for them when no agent listens.
  UniqueFd sock = with_context("failed to connect with seccomp agent specified in the seccomp profile",
                               [&] { return connect_unix(path, "linux.seccomp.listenerPath", ErrorKind::InvalidSpec); });
  size_t n = sync::send_with_fd(sock.get(), text.data(), text.size(), listener, "send the seccomp listener to " + path);
  if (n != text.size()) fail(ErrorKind::Syscall, "send the seccomp listener to " + path + ": short write");
}

}  // namespace ocirun::runtime
