#include "sync.h"

#include <sys/socket.h>

#include <cstring>
#include <fmt/format.h>

#include "error.h"

namespace ocirun::runtime::sync {

namespace {
struct Wire {
  uint32_t type;
  int32_t value;
  char text[32768];  // the state JSON for hooks, annotations included
};
}  // namespace

void send(int sock, Msg type, int32_t value, const std::string& text, int fd) {
  static thread_local Wire w;
  w = {static_cast<uint32_t>(type), value, {}};
  if (text.size() >= sizeof w.text) fail(ErrorKind::InvalidArgument, "sync message too long");
  size_t len = std::min(text.size(), sizeof w.text - 1);
  std::memcpy(w.text, text.data(), len);
  send_with_fd(sock, &w, offsetof(Wire, text) + len + 1, fd, "send sync message");
}

size_t send_with_fd(int sock, const void* data, size_t len, int fd, const std::string& what) {
  iovec iov{const_cast<void*>(data), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t n;
  while ((n = ::sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0)
    if (errno != EINTR) throw_errno(what);
  return static_cast<size_t>(n);
}

bool recv(int sock, Message& out) {
  static thread_local Wire w;
  w = {};
  iovec iov{&w, sizeof w};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0)
    if (errno != EINTR) throw_errno("receive sync message");
  if (n == 0) return false;
  if (static_cast<size_t>(n) < offsetof(Wire, text)) fail(ErrorKind::Syscall, "short sync message");
  w.text[sizeof w.text - 1] = '\0';
  out.type = static_cast<Msg>(w.type);
  out.value = w.value;
  out.text = w.text;
  out.fd.reset();
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      out.fd.reset(fd);
    }
  }
  return true;
}

void expect(int sock, Msg expected) {
  Message m;
  if (!recv(sock, m)) fail(ErrorKind::Syscall, "the other side of the sync socket went away");
  if (m.type == Msg::Error) fail(ErrorKind::Syscall, m.text);
  if (m.type != expected)
    fail(ErrorKind::Syscall, fmt::format("sync: expected message {}, got {}", static_cast<int>(expected), static_cast<int>(m.type)));
}

}  // namespace ocirun::runtime::sync
