// linux.seccomp, split the way crun splits it: the runtime's parent process
// compiles the profile to classic BPF before any container process exists, so a
// bad profile fails early; the container's init only loads the finished program,
// right before execve. <seccomp.h> stays inside this module.
#pragma once
#include <linux/filter.h>  // struct sock_filter

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spec.h"

namespace ocirun::seccomp {

// A compiled filter, ready for seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog).
struct Program {
  std::vector<struct sock_filter> bpf;
  unsigned int flags = 0;               // SECCOMP_FILTER_FLAG_*, NEW_LISTENER included when needed
  bool needs_listener = false;          // a rule uses SCMP_ACT_NOTIFY: load() returns a listener fd
  std::vector<std::string> skipped_syscalls;  // names libseccomp does not know; warned about, not fatal
  std::vector<std::string> warnings;          // what compile() printed to stderr, without "ocirun: warning: "
};

// Translates the whole linux.seccomp object. Throws Error: InvalidSpec naming the
// JSON field ("/linux/seccomp/syscalls/3/action: unknown action \"SCMP_ACT_FOO\"")
// for unknown actions, architectures, flags and operators; Unsupported when this
// libseccomp or kernel lacks something the profile names. An unknown syscall name
// is skipped with a warning on stderr, as runc and crun do. libseccomp is told not
// to set no_new_privs: process.noNewPrivileges decides that.
Program compile(const spec::Seccomp& profile);

// compile(), with the result kept in cache_dir (made if missing) under a hash of the
// profile: compiling a ~300-rule profile costs ~11 ms of CPU, reading the entry back well
// under 1 ms. An entry holds the whole key (the profile in a canonical form, the libseccomp
// version and API level, the ocirun binary's identity) and a checksum, and is used only
// when all of them match; anything else (missing, corrupt, truncated, another binary) is
// compiled again and the entry replaced, written to a temporary file and renamed into
// place. A cache that cannot be written costs nothing but the compile. Warnings recorded
// in the entry are printed again on a hit. Errors are those of compile().
Program compile_cached(const spec::Seccomp& profile, const std::string& cache_dir);

// The cache entry format, for tests: the key compile_cached() uses for a profile, and
// the entry's path.
std::string cache_key(const spec::Seccomp& profile);
std::string cache_path(const std::string& cache_dir, const spec::Seccomp& profile);

// What load() did, errno captured with the result.
struct LoadResult {
  int listener_fd = -1;  // the SCMP_ACT_NOTIFY listener, owned by the caller; -1 without one
  int err = 0;           // 0, or the errno of the failed seccomp(2)
  bool ok() const { return err == 0; }
};

// Installs the program in the calling thread (all threads with
// SECCOMP_FILTER_FLAG_TSYNC). Runs in the container's init after fork: no
// allocation, no exceptions, one raw syscall. The caller must have set
// no_new_privs or hold CAP_SYS_ADMIN, or the kernel answers EACCES.
LoadResult load(const Program& program) noexcept;

// The name tables behind compile(), for tests and `ocirun features`.
// action_value: the SECCOMP_RET_* word for an SCMP_ACT_* name; errno_ret goes in
// the data bits of SCMP_ACT_ERRNO and SCMP_ACT_TRACE and is ignored otherwise.
std::optional<uint32_t> action_value(std::string_view name, uint32_t errno_ret);
bool action_takes_errno(std::string_view name);
// SCMP_ARCH_* token (AUDIT_ARCH_* except libseccomp's fake x32 value); nullopt if
// unknown or not supported by the libseccomp this was built against.
std::optional<uint32_t> arch_token(std::string_view name);
// enum scmp_compare value of an SCMP_CMP_* name.
std::optional<int> compare_op(std::string_view name);
// SECCOMP_FILTER_FLAG_* bit of a spec flag name.
std::optional<unsigned int> filter_flag(std::string_view name);

std::vector<std::string> known_actions();
std::vector<std::string> known_architectures();  // only those this build supports
std::vector<std::string> known_operators();
std::vector<std::string> known_flags();
// The libseccomp this binary runs with, "2.5.4" (runc's --version prints it).
std::string library_version();

}  // namespace ocirun::seccomp
