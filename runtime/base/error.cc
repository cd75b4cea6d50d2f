#include "error.h"

#include <cstring>

namespace ocirun {

void throw_errno(int err, const std::string& what) {
  throw Error(ErrorKind::Syscall, what + ": " + std::strerror(err), err);
}

void throw_errno(const std::string& what) { throw_errno(errno, what); }

}  // namespace ocirun
