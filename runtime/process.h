// The container process's identity and limits: names from config.json turned into
// numbers in the parent (so a bad name fails create early), applied in the init.
#pragma once
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "seccomp.h"
#include "spec.h"
#include "unique_fd.h"

namespace ocirun::runtime {

struct CapSets {
  uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
};

struct PreparedProcess {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd;
  CapSets caps;
  std::vector<std::pair<int, struct rlimit>> rlimits;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  mode_t umask = 022;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  bool terminal = false;
};

// How an error names a field of the process, given its JSON pointer inside the process
// ("/capabilities/bounding/3"). By default config.json's ("config.json: /process/..."); exec
// names its --process file or its flags.
using ProcessField = std::function<std::string(const std::string& pointer)>;
std::string config_process_field(const std::string& pointer);

// Throws InvalidSpec naming the field for an unknown capability or rlimit.
PreparedProcess prepare_process(const spec::Process& process, const ProcessField& field = config_process_field);

int capability_from_name(const std::string& name);  // -1 when unknown
int rlimit_from_name(const std::string& name);      // -1 when unknown
int last_capability();                              // from /proc/sys/kernel/cap_last_cap

// In the init, in this order (see init.cc for why).
void apply_rlimits(const PreparedProcess& p);
void drop_bounding_set(const CapSets& caps);
// setgroups/setresgid/setresuid keeping permitted caps across the uid change.
void switch_user(const PreparedProcess& p, bool setgroups_allowed);
void apply_capabilities(const CapSets& caps);

// The container process's execve, done through a stub so that the kernel never finds the
// host's ocirun binary behind /proc/self/exe (CVE-2019-5736; see process.cc). make_exec_stub
// runs before seccomp is loaded; exec_program is the very last step and returns only on
// failure, with the errno. If the stub itself starts but the program's execve fails, the
// stub writes "exec PATH: errno N" to `error_fd` and exits 127. `error_fd` is a close-on-exec
// fd (the stub clears and sets close-on-exec with fcntl), or -1 for the process's stderr with
// no fcntl at all: the choice under a seccomp filter, so only execve runs under it.
// `filter`, when given, is loaded once argv and envp are built, right before the execve:
// nothing of the runtime's runs under the user's filter but that execve (and the stub's).
// A filter that fails to load throws, naming it.
UniqueFd make_exec_stub();  // an invalid fd where there is no stub for this architecture
int exec_program(int stub, int error_fd, const std::string& executable, const std::vector<std::string>& args,
                 const std::vector<std::string>& env, const seccomp::Program* filter = nullptr);

// The steps the init and exec's process share before the program's execve, in this order
// (process.cc says why each sits where it does): rlimits (raising a hard limit needs
// CAP_SYS_RESOURCE), the bounding set, the user, non-dumpable again (a uid change resets it),
// `cwd` entered as the user (opened by the caller inside the root while privileged:
// CVE-2024-21626), the executable looked up, the exec stub (none with `lsm_labels`: the label
// applies at the next execve, which must be the program's), capabilities, no_new_privs, the
// umask. The seccomp filter is the caller's, to load last (exec_program). `keep_sys_admin`:
// for a filter without no_new_privs, whose load needs CAP_SYS_ADMIN, the process keeps it in
// its effective and permitted sets until that execve, which drops it (the program's sets come
// from the bounding, inheritable and ambient sets, which never get it from here).
struct ExecTarget {
  std::string executable;
  UniqueFd stub;                 // for exec_program
  std::vector<std::string> env;  // the process's, with HOME from the container's /etc/passwd if unset
};
ExecTarget lower_privileges(const PreparedProcess& p, UniqueFd cwd, bool setgroups_allowed, bool lsm_labels,
                            bool keep_sys_admin);

// `env` as it is when it sets HOME; otherwise with HOME=<uid's home in /etc/passwd>, or "/"
// when that has no such user (as runc). Reads the /etc/passwd of the current root.
std::vector<std::string> env_with_home(const std::vector<std::string>& env, uid_t uid);

// Looks args[0] up in the PATH of the container's env, inside the container.
// Returns the path to exec or throws with runc's wording: exec: "x": executable file not found in $PATH.
std::string find_executable(const PreparedProcess& p);

}  // namespace ocirun::runtime
