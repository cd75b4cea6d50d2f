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
void write_file_at(int dirfd, const std::string& name, std::string_view data, int flags_extra = 0, int mode = 0644);
// Writes name.tmp then renames it over name, so readers see the old or the new file, never half.
void write_file_atomic_at(int dirfd, const std::string& name, std::string_view data, int mode = 0644);
bool exists(const std::string& path);
void mkdir_p(const std::string& path, int mode = 0755);

std::vector<std::string> split(std::string_view s, char sep);
std::string trim(std::string_view s);

}  // namespace ocirun::fs
