#include "fs.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

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

void write_file_at(int dirfd, const std::string& name, std::string_view data, int flags_extra) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_WRONLY | O_CLOEXEC | flags_extra, 0644));
  if (!fd) throw_errno("open " + name);
  write_all(fd.get(), data, name);
}

namespace {

// A temp name nobody can plant in advance: the pid and random bits (getrandom).
std::string temp_name_for(const std::string& name) {
  uint32_t bits = 0;
  if (::getrandom(&bits, sizeof bits, GRND_NONBLOCK) != sizeof bits) bits = static_cast<uint32_t>(::time(nullptr));
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%d.%08x.tmp", static_cast<int>(::getpid()), bits);
  return name + suffix;
}

// Opens a new temp file next to `name`: O_EXCL|O_NOFOLLOW, so whatever already exists at
// the temp name (a planted symlink) is never opened, only skipped for another name.
UniqueFd create_temp_at(int dirfd, const std::string& name, int mode, std::string* tmp) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    *tmp = temp_name_for(name);
    UniqueFd fd(::openat(dirfd, tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (fd) return fd;
    if (errno != EEXIST) throw_errno("create " + *tmp);
  }
  throw_errno(EEXIST, "create a temporary file for " + name);
}

// The final name may be missing or a regular file; a symlink there is someone's trap.
void refuse_symlink_at(int dirfd, const std::string& name) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
    fail(ErrorKind::InvalidArgument, name + " is a symlink: refusing to replace it");
}
}  // namespace

void write_file_atomic_at(int dirfd, const std::string& name, std::string_view data, int mode) {
  refuse_symlink_at(dirfd, name);
  std::string tmp;
  UniqueFd fd = create_temp_at(dirfd, name, mode, &tmp);
  try {
    // The mode exactly, whatever the umask.
    if (::fchmod(fd.get(), static_cast<mode_t>(mode)) < 0) throw_errno("chmod " + tmp);
    write_all(fd.get(), data, tmp);
    fd.reset();
    if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) < 0) throw_errno("rename " + tmp + " to " + name);
  } catch (...) {
    ::unlinkat(dirfd, tmp.c_str(), 0);
    throw;
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
    if (::mkdir(cur.c_str(), mode) == 0) {
      // What we made has exactly `mode`, whatever the umask took away.
      if (::chmod(cur.c_str(), static_cast<mode_t>(mode)) < 0) throw_errno("chmod " + cur);
    } else if (errno != EEXIST) {
      throw_errno("mkdir " + cur);
    }
  }
}

void make_private_dir(const std::string& path) {
  mkdir_p(path, 0700);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno("open " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) throw_errno("stat " + path);
  // One made looser before (an older version, another umask) is tightened; not a shared
  // sticky directory (a --root of /tmp) or one that is not ours.
  if ((st.st_mode & 07777) == 0700 || (st.st_mode & S_ISVTX) || st.st_uid != ::geteuid()) return;
  if (::fchmod(fd.get(), 0700) < 0) throw_errno("chmod " + path);
}

std::string unescape_mountinfo(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    bool octal = s[i] == '\\' && i + 3 < s.size() &&
                 std::all_of(s.begin() + i + 1, s.begin() + i + 4, [](char c) { return c >= '0' && c <= '7'; });
    if (octal) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
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

std::string lower_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

std::string trim(std::string_view s) {
  const char* ws = " \t\n\r";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace ocirun::fs
