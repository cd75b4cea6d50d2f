// Small file helpers shared by every module.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace ocirun::fs {

std::string read_file(const std::string& path);
// Reads an open fd to its end (stdin: fd 0); `what` names it in errors.
std::string read_all(int fd, const std::string& what);
// Reads a file relative to a directory fd.
std::string read_file_at(int dirfd, const std::string& name);
// Writes (truncating) an existing or new file.
void write_file(const std::string& path, std::string_view data, int mode = 0644);
void write_file_at(int dirfd, const std::string& name, std::string_view data, int flags_extra = 0);
// Writes a new temp file (unique name, O_EXCL|O_NOFOLLOW, exactly `mode` whatever the umask)
// then renames it over name, so readers see the old or the new file, never half. A symlink
// at name is refused (InvalidArgument), never replaced or followed.
void write_file_atomic_at(int dirfd, const std::string& name, std::string_view data, int mode = 0600);
bool exists(const std::string& path);
// Makes the missing directories of path with exactly `mode` (not reduced by the umask).
void mkdir_p(const std::string& path, int mode = 0755);
// mkdir_p(path, 0700), and path itself made 0700 if it already existed with other modes
// (unless it is sticky, a shared directory such as /tmp, or not owned by us).
void make_private_dir(const std::string& path);

std::vector<std::string> split(std::string_view s, char sep);
// A /proc/PID/mountinfo field with its \ooo escapes (space, tab, newline, backslash) decoded.
std::string unescape_mountinfo(std::string_view field);
std::string trim(std::string_view s);
// `s` with its first letter in lower case: Go's error texts (errno, signal names), as runc
// writes them, which Docker and scripts match.
std::string lower_first(std::string s);

}  // namespace ocirun::fs
