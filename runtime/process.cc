#include "process.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <fmt/format.h>

#include "child.h"
#include "error.h"
#include "exec_stub.h"
#include "fs.h"
#include "log.h"
#include "rootfs.h"

namespace ocirun::runtime {

int capability_from_name(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  // cap_from_name parses capability text ("cap_kill+ep", lists): accept a bare name only.
  bool bare = lower.size() > 4 && lower.rfind("cap_", 0) == 0 &&
              std::all_of(lower.begin(), lower.end(), [](unsigned char c) { return std::islower(c) || std::isdigit(c) || c == '_'; });
  cap_value_t value;
  if (!bare || cap_from_name(lower.c_str(), &value) < 0) return -1;
  return value;
}

int last_capability() {
  static int last = [] {
    try {
      return std::stoi(fs::read_file("/proc/sys/kernel/cap_last_cap"));
    } catch (...) {
      return CAP_LAST_CAP;
    }
  }();
  return last;
}

int rlimit_from_name(const std::string& name) {
  static const std::pair<const char*, int> table[] = {
      {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_STACK", RLIMIT_STACK},     {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},     {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
      {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},       {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
      {"RLIMIT_RTTIME", RLIMIT_RTTIME},
  };
  for (const auto& [n, v] : table)
    if (name == n) return v;
  return -1;
}

namespace {
// The names of the capabilities in `mask`, for messages.
std::string cap_names(uint64_t mask) {
  std::string out;
  for (int cap = 0; cap < 64; ++cap)
    if (mask & (uint64_t{1} << cap)) {
      char* name = cap_to_name(cap);
      std::string upper = name ? name : std::to_string(cap);
      if (name) cap_free(name);
      std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
      out += (out.empty() ? "" : ", ") + upper;
    }
  return out;
}

uint64_t cap_mask(const std::vector<std::string>& names, const char* set, const ProcessField& field) {
  uint64_t mask = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    int cap = capability_from_name(names[i]);
    if (cap < 0)
      fail(ErrorKind::InvalidSpec,
           fmt::format("{}: unknown capability \"{}\"", field(fmt::format("/capabilities/{}/{}", set, i)), names[i]));
    // Known to libcap but not to this kernel: skipped, as runc does.
    if (cap > last_capability()) continue;
    mask |= uint64_t{1} << cap;
  }
  return mask;
}
}  // namespace

namespace {
// A cwd under /proc (/proc/self/fd/N, /proc/1/cwd) names whatever an fd or process
// points at, possibly outside the container (CVE-2024-21626): refused outright.
bool inside_proc(const std::string& path) {
  std::vector<std::string> parts;
  for (const auto& c : fs::split(path, '/')) {
    if (c.empty() || c == ".") continue;
    if (c != "..")
      parts.push_back(c);
    else if (!parts.empty())
      parts.pop_back();
  }
  return !parts.empty() && parts[0] == "proc";
}
}  // namespace

std::string config_process_field(const std::string& pointer) { return "config.json: /process" + pointer; }

PreparedProcess prepare_process(const spec::Process& process, const ProcessField& field) {
  PreparedProcess p;
  p.args = process.args;
  p.env = process.env;
  p.cwd = process.cwd.empty() ? "/" : process.cwd;
  if (inside_proc(p.cwd))
    fail(ErrorKind::InvalidSpec, fmt::format("{}: \"{}\" is inside /proc", field("/cwd"), p.cwd));
  p.uid = process.user.uid;
  p.gid = process.user.gid;
  p.additional_gids = {process.user.additional_gids.begin(), process.user.additional_gids.end()};
  p.umask = process.user.umask.value_or(022);
  p.no_new_privileges = process.no_new_privileges;
  p.oom_score_adj = process.oom_score_adj;
  p.terminal = process.terminal;
  if (process.capabilities) {
    const auto& c = *process.capabilities;
    // Inheritable stays empty unless configured (CVE-2022-29162): nothing defaults into it.
    p.caps = {cap_mask(c.bounding, "bounding", field), cap_mask(c.effective, "effective", field),
              cap_mask(c.permitted, "permitted", field), cap_mask(c.inheritable, "inheritable", field),
              cap_mask(c.ambient, "ambient", field)};
    // The kernel raises an ambient capability only if it is permitted and inheritable. The
    // rest are left out, not refused: runc and crun do the same (PR_CAP_AMBIENT_RAISE's EPERM
    // ignored), and `runc spec` itself writes ambient capabilities with no inheritable set.
    if (uint64_t missing = p.caps.ambient & ~(p.caps.permitted & p.caps.inheritable)) {
      log::debug(fmt::format("{}: {} not raised: not in both permitted and inheritable",
                             field("/capabilities/ambient"), cap_names(missing)));
      p.caps.ambient &= ~missing;
    }
  }
  for (size_t i = 0; i < process.rlimits.size(); ++i) {
    const auto& r = process.rlimits[i];
    int res = rlimit_from_name(r.type);
    if (res < 0)
      fail(ErrorKind::InvalidSpec, fmt::format("{}: unknown rlimit \"{}\"", field(fmt::format("/rlimits/{}/type", i)), r.type));
    p.rlimits.push_back({res, {static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)}});
  }
  return p;
}

void apply_rlimits(const PreparedProcess& p) {
  static const char* names[] = {"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
                                "MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"};
  for (const auto& [res, lim] : p.rlimits)
    if (::setrlimit(res, &lim) < 0)
      throw_errno(fmt::format("setrlimit RLIMIT_{} soft={} hard={}", names[res], lim.rlim_cur, lim.rlim_max));
}

void drop_bounding_set(const CapSets& caps) {
  for (int cap = 0; cap <= last_capability(); ++cap)
    if (!(caps.bounding & (uint64_t{1} << cap)) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      throw_errno(fmt::format("drop capability {} from the bounding set", cap));
}

void switch_user(const PreparedProcess& p, bool setgroups_allowed) {
  // Keep the permitted set across setresuid; apply_capabilities sets the rest.
  check(::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl PR_SET_KEEPCAPS");
  if (setgroups_allowed) check(::setgroups(p.additional_gids.size(), p.additional_gids.data()), "setgroups");
  if (::setresgid(p.gid, p.gid, p.gid) < 0) throw_errno(fmt::format("setresgid {}", p.gid));
  if (::setresuid(p.uid, p.uid, p.uid) < 0) throw_errno(fmt::format("setresuid {}", p.uid));
  check(::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), "prctl PR_SET_KEEPCAPS");
}

void apply_capabilities(const CapSets& caps) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(caps.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(caps.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(caps.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &header, data) < 0) throw_errno("capset");
  check(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities");
  for (int cap = 0; cap <= last_capability(); ++cap)
    if (caps.ambient & (uint64_t{1} << cap) && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      throw_errno(fmt::format("raise ambient capability {}", cap));
}

// CVE-2019-5736: a container must never get a handle on the host's ocirun binary, which
// its root could then overwrite once no ocirun runs (ETXTBSY is gone). Two ways in:
//  1. /proc/PID/exe of an ocirun process in the container's pid namespace (the init before
//     its execve, an `exec`ed process before its own). Those processes are non-dumpable
//     (init_main; exec's stage 1), so only a holder of CAP_SYS_PTRACE in the host's user namespace can open it.
//  2. The container's program is a "#!/proc/self/exe" script (or an ELF whose interpreter
//     is): the kernel resolves that link during our execve, finds the ocirun binary and runs
//     it as the container's process, now dumpable and the container's to inspect.
// For 2, the init does not exec the program itself: it execs a 736-byte static stub from a
// sealed memfd, and the stub execs the program, so /proc/self/exe at that moment is the
// sealed stub (unwritable), which refuses to run as an interpreter. crun and runc 1.1 copy
// their whole binary into a sealed memfd instead (crun: ~2.8 ms per container; ocirun's
// binary is ~18 MB with debug info); the stub costs one memfd of 736 bytes and one extra
// execve of a binary with no libc: about 0.1 ms, measured against the ~0.65 ms a fork and
// exec of a static busybox takes on the same (loaded, 2-CPU) machine. A second execve changes nothing
// the kernel computes for the program: capabilities, no_new_privs, the seccomp filter and
// the fds (all close-on-exec by then) carry over exactly as through one.
UniqueFd make_exec_stub() {
#if defined(__x86_64__)
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
  // MFD_EXEC: kernels with vm.memfd_noexec make memfds non-executable unless asked (6.3+).
  UniqueFd fd(::memfd_create("ocirun-exec-stub", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
  if (!fd && errno == EINVAL) fd.reset(::memfd_create("ocirun-exec-stub", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) throw_errno("memfd_create the exec stub");
  const auto* p = detail::kExecStub;
  for (size_t left = sizeof detail::kExecStub; left > 0;) {
    ssize_t n = ::write(fd.get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_errno("write the exec stub");
    p += n;
    left -= static_cast<size_t>(n);
  }
  check(::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE), "seal the exec stub");
  return fd;
#else
  return UniqueFd();  // no stub for this architecture yet: exec_program execs directly
#endif
}

int exec_program(int stub, int error_fd, const std::string& executable, const std::vector<std::string>& args,
                 const std::vector<std::string>& env, const seccomp::Program* filter) {
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::vector<char*> argv;
  std::string fd_text = error_fd >= 0 ? std::to_string(error_fd) : "";
  std::string prefix = "exec " + executable + ": errno ";
  if (stub >= 0)
    for (const std::string* s : {&std::as_const(fd_text), &std::as_const(prefix), &executable}) argv.push_back(const_cast<char*>(s->c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  if (stub >= 0) argv.insert(argv.begin(), const_cast<char*>(detail::kExecStubMarker));
  if (stub >= 0 && error_fd >= 0 && ::fcntl(error_fd, F_SETFD, 0) < 0) return errno;  // the stub sets it back
  // execve, not execveat: seccomp profiles allow execve (the next one is the program's).
  const std::string path = stub >= 0 ? "/proc/self/fd/" + std::to_string(stub) : executable;
  if (filter) {
    seccomp::LoadResult r = seccomp::load(*filter);
    if (!r.ok()) throw_errno(r.err, "load the seccomp filter");
  }
  ::execve(path.c_str(), argv.data(), envp.data());
  if (stub < 0) return errno;
  if (errno == ENOENT)  // no /proc in the container
    ::syscall(SYS_execveat, stub, "", argv.data(), envp.data(), AT_EMPTY_PATH);
  int err = errno;
  if (error_fd >= 0) ::fcntl(error_fd, F_SETFD, FD_CLOEXEC);
  return err;
}

namespace {
bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}
}  // namespace

std::string find_executable(const PreparedProcess& p) {
  const std::string& name = p.args.at(0);
  if (name.find('/') != std::string::npos) {
    struct stat st;
    if (::stat(name.c_str(), &st) < 0)
      throw Error(ErrorKind::Syscall, fmt::format("exec: \"{}\": {}", name, fs::lower_first(std::strerror(errno))), errno);
    // A directory, or a file without x: what Go's exec.LookPath calls a permission error.
    if (!is_executable_file(name))
      throw Error(ErrorKind::Syscall, fmt::format("exec: \"{}\": permission denied", name), EACCES);
    return name;
  }
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : p.env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  for (const auto& dir : fs::split(path, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  fail(ErrorKind::InvalidSpec, fmt::format("exec: \"{}\": executable file not found in $PATH", name));
}

namespace {
// The container's /etc/passwd, read as root before the uid switch. The image owns it: only a
// regular file, never blocking (a FIFO), at most 1 MiB.
std::string read_passwd() {
  UniqueFd fd(::open("/etc/passwd", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) return {};
  std::string text(static_cast<size_t>(st.st_size), '\0');
  ssize_t n = ::read(fd.get(), text.data(), text.size());
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return text;
}

// name:password:uid:gid:gecos:home:shell -> the home of the first line with `uid`.
std::optional<std::string> home_in_passwd(const std::string& passwd, uid_t uid) {
  const std::string wanted = std::to_string(uid);
  for (const auto& line : fs::split(passwd, '\n')) {
    auto fields = fs::split(line, ':');
    if (fields.size() >= 7 && fields[2] == wanted) return fields[5];
  }
  return std::nullopt;
}
}  // namespace

std::vector<std::string> env_with_home(const std::vector<std::string>& env, uid_t uid) {
  for (const auto& e : env)
    if (e.rfind("HOME=", 0) == 0) return env;
  std::vector<std::string> out = env;
  std::optional<std::string> home = home_in_passwd(read_passwd(), uid);
  out.push_back("HOME=" + (home && !home->empty() ? *home : std::string("/")));
  return out;
}

namespace {
// `caps` with CAP_SYS_ADMIN effective and permitted, to load a seccomp filter without
// no_new_privs last of all; the program's execve takes it away (process.h: keep_sys_admin).
CapSets with_sys_admin(CapSets caps) {
  const uint64_t sys_admin = uint64_t{1} << CAP_SYS_ADMIN;
  caps.effective |= sys_admin;
  caps.permitted |= sys_admin;
  return caps;
}
}  // namespace

ExecTarget lower_privileges(const PreparedProcess& p, UniqueFd cwd, bool setgroups_allowed, bool lsm_labels,
                            bool keep_sys_admin) {
  // Docker and Kubernetes leave HOME to the runtime (runc sets it): read while still root.
  std::vector<std::string> env = env_with_home(p.env, p.uid);
  // Raising a hard limit needs CAP_SYS_RESOURCE: before capabilities are dropped.
  apply_rlimits(p);
  drop_bounding_set(p.caps);
  // Through the fd resolved inside the root; first while privileged, so a cwd only root may
  // traverse works for any user (runc's order), then as the user when root was refused (a
  // directory of the user's that root cannot reach, in a user namespace).
  const bool cwd_entered = namespaces::try_enter_cwd(cwd.get(), p.cwd);
  switch_user(p, setgroups_allowed);
  // A uid change resets dumpability to fs.suid_dumpable: set it again (CVE-2019-5736: the
  // host's ocirun binary behind /proc/PID/exe stays out of the container's reach).
  check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl PR_SET_DUMPABLE");
  if (!cwd_entered) namespaces::enter_cwd(cwd.get(), p.cwd);
  cwd.reset();
  // The program is exec'd through a sealed stub (make_exec_stub). Not with an LSM label: that
  // applies at the next execve, which must be the program's (the policy then keeps it off the
  // host's files), as runc found with its runc-dmz stub under SELinux.
  ExecTarget target{find_executable(p), lsm_labels ? UniqueFd() : make_exec_stub(), std::move(env)};
  apply_capabilities(keep_sys_admin ? with_sys_admin(p.caps) : p.caps);
  if (p.no_new_privileges) check(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl PR_SET_NO_NEW_PRIVS");
  ::umask(p.umask);
  return target;
}

}  // namespace ocirun::runtime
