#include "fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "unique_fd.h"

namespace ocirun::fs {

std::string read_all(int fd, const std::string& what) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read " + what);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

namespace {

void write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write " + what);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}
}  // namespace

std::string read_file(const std::string& path) { return read_file_at(AT_FDCWD, path); }

std::string read_file_at(int dirfd, const std::string& name) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("open " + name);
  return read_all(fd.get(), name);
}

void write_file(const std::string& path, std::string_view data, int mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) throw_errno("open " + path);
  write_all(fd.get(), data, path);
}

void write_file_at(int dirfd, const std::string& name, std::string_view data, int flags_extra, int mode) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_WRONLY | O_CLOEXEC | flags_extra, mode));
  if (!fd) throw_errno("open " + name);
  write_all(fd.get(), data, name);
}

void write_file_atomic_at(int dirfd, const std::string& name, std::string_view data, int mode) {
  std::string tmp = name + ".tmp";
  write_file_at(dirfd, tmp, data, O_CREAT | O_TRUNC, mode);
  if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) < 0) {
    int err = errno;
    ::unlinkat(dirfd, tmp.c_str(), 0);
    throw_errno(err, "rename " + tmp + " to " + name);
  }
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

void mkdir_p(const std::string& path, int mode) {
  std::string cur;
  for (const auto& part : split(path, '/')) {
    if (part.empty()) continue;
    cur += "/" + part;
    if (::mkdir(cur.c_str(), mode) < 0 && errno != EEXIST) throw_errno("mkdir " + cur);
  }
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string trim(std::string_view s) {
  const char* ws = " \t\n\r";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace ocirun::fs
