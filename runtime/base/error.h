// Errors carry what failed, why (errno or a spec field), and the context frames
// added while they travel up: "create container: mount /proc: EBUSY".
#pragma once
#include <cerrno>
#include <stdexcept>
#include <string>
#include <utility>

namespace ocirun {

enum class ErrorKind {
  InvalidArgument,  // bad CLI input: id, signal, flag
  InvalidSpec,      // config.json is broken or asks for something impossible
  NotFound,         // unknown container id
  AlreadyExists,    // duplicate container id
  BadState,         // operation not allowed in the container's current state
  Syscall,          // a system call failed; sys_errno says why
  Unsupported,      // the host lacks what is asked for
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, int sys_errno = 0)
      : std::runtime_error(message), kind_(kind), errno_(sys_errno), message_(std::move(message)) {}

  ErrorKind kind() const { return kind_; }
  int sys_errno() const { return errno_; }
  // Full text: context frames outermost first, then the innermost message.
  const char* what() const noexcept override { return message_.c_str(); }

  // Prepends a frame: Error("open x: ENOENT").with_context("load spec") -> "load spec: open x: ..."
  Error& with_context(const std::string& frame) {
    message_ = frame + ": " + message_;
    return *this;
  }

 private:
  ErrorKind kind_;
  int errno_;
  std::string message_;
};

// "what: strerror(errno)" for a failed syscall; reads errno at the call.
[[noreturn]] void throw_errno(const std::string& what);
[[noreturn]] void throw_errno(int err, const std::string& what);

// Returns ret, or throws Syscall with errno and `what` when ret < 0.
template <class T>
T check(T ret, const std::string& what) {
  if (ret < 0) throw_errno(what);
  return ret;
}

[[noreturn]] inline void fail(ErrorKind kind, const std::string& message) { throw Error(kind, message); }

// Runs f(); on Error adds `frame` to it and rethrows.
template <class F>
auto with_context(const std::string& frame, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (Error& e) {
    e.with_context(frame);
    throw;
  }
}

}  // namespace ocirun
