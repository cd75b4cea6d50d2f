// Steps shared by the processes that end in the container's execve: the init
// (create) and the processes of `exec`. They run after fork, end in execve or _exit.
#pragma once
#include <string>
#include <vector>

#include "process.h"
#include "seccomp.h"
#include "spec.h"
#include "unique_fd.h"

namespace ocirun::runtime {

// Sends Error(message) to the parent over the sync socket and exits.
[[noreturn]] void die_with_error(int sync_fd, const std::string& message);

void load_seccomp(const seccomp::Program& program);
void write_oom_score_adj(const PreparedProcess& p);

// A new pty from the devpts at /dev/pts (the container's, once inside it).
struct Pty {
  UniqueFd master;
  UniqueFd slave;
  std::string slave_path;
};
Pty open_pty(const std::optional<spec::ConsoleSize>& size);
// The slave becomes stdio and the controlling terminal of this (session leader) process.
void attach_pty(const Pty& pty);

// argv/envp for execve; the strings must outlive the result.
std::vector<char*> c_strings(const std::vector<std::string>& v);

}  // namespace ocirun::runtime
