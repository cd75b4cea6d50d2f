// seccomp: name tables and compile() errors as pure tests; then real filters,
// each loaded in a forked child that reports syscall results over a pipe.
#include "seccomp.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "error.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1  // si_code of a seccomp SIGSYS (asm-generic/siginfo.h; glibc lacks it)
#endif

using namespace ocirun;
namespace sc = ocirun::seccomp;

namespace {

// ---- building profiles without JSON ---------------------------------------------

spec::SeccompArg arg(uint32_t index, std::string op, uint64_t value, uint64_t value_two = 0) {
  spec::SeccompArg a;
  a.index = index;
  a.op = std::move(op);
  a.value = value;
  a.value_two = value_two;
  return a;
}

spec::SeccompSyscall rule(std::vector<std::string> names, std::string action, std::vector<spec::SeccompArg> args = {},
                          std::optional<uint32_t> errno_ret = std::nullopt) {
  spec::SeccompSyscall r;
  r.names = std::move(names);
  r.action = std::move(action);
  r.args = std::move(args);
  r.errno_ret = errno_ret;
  return r;
}

spec::Seccomp profile(std::string default_action, std::vector<spec::SeccompSyscall> rules = {}) {
  spec::Seccomp s;
  s.default_action = std::move(default_action);
  s.syscalls = std::move(rules);
  return s;
}

#if defined(__x86_64__)
constexpr const char* kNativeArch = "SCMP_ARCH_X86_64";
#elif defined(__aarch64__)
constexpr const char* kNativeArch = "SCMP_ARCH_AARCH64";
#else
#error "add this architecture's SCMP_ARCH_* name"
#endif

// What the syscalls a child needs to report and exit are called.
const std::vector<std::string> kReportAndExit = {"write", "exit", "exit_group", "rt_sigreturn"};

// The error compile() throws, with its kind and message.
struct Thrown {
  ErrorKind kind;
  std::string message;
};

Thrown compile_error(const spec::Seccomp& s) {
  try {
    sc::compile(s);
  } catch (const Error& e) {
    return {e.kind(), e.what()};
  }
  FAIL("compile() did not throw");
  return {};
}

// ---- running a filter in a child --------------------------------------------------

// Written by the child after the filter is in: only write(2), no allocation.
struct Reporter {
  int fd;
  void put(int64_t v) const {
    [[maybe_unused]] ssize_t n = ::write(fd, &v, sizeof v);
  }
  // A raw syscall's result: the value, or -errno.
  void put_call(long ret) const { put(ret == -1 ? -errno : ret); }
};

struct Outcome {
  int status = 0;
  std::vector<int64_t> values;  // values[0]: load()'s errno; then what the body reported
  bool exited_ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  bool killed_by(int sig) const { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }
};

// Forks; the child sets no_new_privs (unless told not to), loads `program`,
// runs body(out) and _exits. The child never returns into Catch.
template <class Body>
Outcome run_filtered(const sc::Program& program, Body body, bool set_nnp = true) {
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);  // SIGSYS would dump core
    if (set_nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(90);
    sc::LoadResult r = sc::load(program);
    Reporter out{p[1]};
    out.put(r.err);
    if (r.ok()) body(out);
    // Not _exit(): under ASan a call to a noreturn function first runs
    // __asan_handle_no_return(), which calls sigaltstack(2), and the allow-list filters
    // here (kReportAndExit) rightly leave that out. exit_group itself is allowed.
    for (;;) ::syscall(SYS_exit_group, 0);
  }
  ::close(p[1]);
  Outcome o;
  int64_t v;
  while (true) {
    ssize_t n = ::read(p[0], &v, sizeof v);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof v)) break;
    o.values.push_back(v);
  }
  ::close(p[0]);
  REQUIRE(waitpid(pid, &o.status, 0) == pid);
  return o;
}

bool has_cap_sys_admin() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("CapEff:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> 21) & 1;
  return false;
}

}  // namespace

// ---- name tables -------------------------------------------------------------------

TEST_CASE("action names map to SECCOMP_RET values", "[seccomp]") {
  CHECK(sc::action_value("SCMP_ACT_KILL", 0) == SECCOMP_RET_KILL_THREAD);
  CHECK(sc::action_value("SCMP_ACT_KILL_THREAD", 0) == SECCOMP_RET_KILL_THREAD);
  CHECK(sc::action_value("SCMP_ACT_KILL_PROCESS", 0) == SECCOMP_RET_KILL_PROCESS);
  CHECK(sc::action_value("SCMP_ACT_TRAP", 0) == SECCOMP_RET_TRAP);
  CHECK(sc::action_value("SCMP_ACT_ERRNO", 38) == (SECCOMP_RET_ERRNO | 38));
  CHECK(sc::action_value("SCMP_ACT_TRACE", 7) == (SECCOMP_RET_TRACE | 7));
  CHECK(sc::action_value("SCMP_ACT_ALLOW", 0) == SECCOMP_RET_ALLOW);
  CHECK(sc::action_value("SCMP_ACT_LOG", 0) == SECCOMP_RET_LOG);
  CHECK(sc::action_value("SCMP_ACT_NOTIFY", 0) == SECCOMP_RET_USER_NOTIF);
  CHECK(sc::action_value("SCMP_ACT_ALLOW", 5) == SECCOMP_RET_ALLOW);  // errno ignored
  CHECK_FALSE(sc::action_value("SCMP_ACT_FOO", 0));
  CHECK_FALSE(sc::action_value("allow", 0));

  CHECK(sc::action_takes_errno("SCMP_ACT_ERRNO"));
  CHECK(sc::action_takes_errno("SCMP_ACT_TRACE"));
  CHECK_FALSE(sc::action_takes_errno("SCMP_ACT_KILL"));
  CHECK(sc::known_actions().size() == 9);
}

TEST_CASE("architecture names map to SCMP_ARCH tokens", "[seccomp]") {
  CHECK(sc::arch_token("SCMP_ARCH_X86_64") == AUDIT_ARCH_X86_64);
  CHECK(sc::arch_token("SCMP_ARCH_X86") == AUDIT_ARCH_I386);
  CHECK(sc::arch_token("SCMP_ARCH_AARCH64") == AUDIT_ARCH_AARCH64);
  CHECK(sc::arch_token("SCMP_ARCH_ARM") == AUDIT_ARCH_ARM);
  CHECK(sc::arch_token("SCMP_ARCH_S390X") == AUDIT_ARCH_S390X);
  CHECK(sc::arch_token("SCMP_ARCH_RISCV64") == AUDIT_ARCH_RISCV64);
  // libseccomp's own x32 token: EM_X86_64 | __AUDIT_ARCH_LE, without the 64-bit flag.
  CHECK(sc::arch_token("SCMP_ARCH_X32") == 0x4000003eU);
  CHECK_FALSE(sc::arch_token("SCMP_ARCH_VAX"));
  CHECK_FALSE(sc::arch_token("x86_64"));

  auto known = sc::known_architectures();
  CHECK(std::find(known.begin(), known.end(), "SCMP_ARCH_X86_64") != known.end());
  CHECK(std::find(known.begin(), known.end(), kNativeArch) != known.end());
}

TEST_CASE("operator names map to libseccomp comparisons", "[seccomp]") {
  // enum scmp_compare numbers them 1..7 in this order.
  const std::vector<std::string> names = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",       "SCMP_CMP_EQ",
                                          "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};
  for (size_t i = 0; i < names.size(); ++i) {
    INFO(names[i]);
    CHECK(sc::compare_op(names[i]) == static_cast<int>(i + 1));
  }
  CHECK_FALSE(sc::compare_op("SCMP_CMP_XOR"));
  CHECK(sc::known_operators() == names);
}

TEST_CASE("flag names map to SECCOMP_FILTER_FLAG bits", "[seccomp]") {
  CHECK(sc::filter_flag("SECCOMP_FILTER_FLAG_TSYNC") == SECCOMP_FILTER_FLAG_TSYNC);
  CHECK(sc::filter_flag("SECCOMP_FILTER_FLAG_LOG") == SECCOMP_FILTER_FLAG_LOG);
  CHECK(sc::filter_flag("SECCOMP_FILTER_FLAG_SPEC_ALLOW") == SECCOMP_FILTER_FLAG_SPEC_ALLOW);
  CHECK(sc::filter_flag("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
  // Set by the runtime itself, not by the profile.
  CHECK_FALSE(sc::filter_flag("SECCOMP_FILTER_FLAG_NEW_LISTENER"));
  CHECK(sc::known_flags().size() == 4);
}

// ---- compile(): errors name the field --------------------------------------------

TEST_CASE("compile rejects unknown names and names the JSON field", "[seccomp]") {
  SECTION("default action") {
    auto e = compile_error(profile("SCMP_ACT_FOO"));
    CHECK(e.kind == ErrorKind::InvalidSpec);
    CHECK(e.message == "/linux/seccomp/defaultAction: unknown action \"SCMP_ACT_FOO\"");
  }
  SECTION("missing default action") {
    auto e = compile_error(profile(""));
    CHECK(e.kind == ErrorKind::InvalidSpec);
    CHECK(e.message == "/linux/seccomp/defaultAction: missing");
  }
  SECTION("rule action") {
    auto e = compile_error(profile("SCMP_ACT_ALLOW", {rule({"getpid"}, "SCMP_ACT_ERRNO"),
                                                      rule({"getppid"}, "SCMP_ACT_ERRNO"),
                                                      rule({"mkdir"}, "SCMP_ACT_ERRNO"),
                                                      rule({"rmdir"}, "SCMP_ACT_FOO")}));
    CHECK(e.kind == ErrorKind::InvalidSpec);
    CHECK(e.message == "/linux/seccomp/syscalls/3/action: unknown action \"SCMP_ACT_FOO\"");
  }
  SECTION("architecture") {
    auto s = profile("SCMP_ACT_ALLOW");
    s.architectures = {kNativeArch, "SCMP_ARCH_VAX"};
    auto e = compile_error(s);
    CHECK(e.kind == ErrorKind::InvalidSpec);
    CHECK(e.message == "/linux/seccomp/architectures/1: unknown architecture \"SCMP_ARCH_VAX\"");
  }
  SECTION("flag") {
    auto s = profile("SCMP_ACT_ALLOW");
    s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_FOO"};
    auto e = compile_error(s);
    CHECK(e.kind == ErrorKind::InvalidSpec);
    CHECK(e.message == "/linux/seccomp/flags/1: unknown flag \"SECCOMP_FILTER_FLAG_FOO\"");
  }
  SECTION("operator") {
    auto e = compile_error(profile(
        "SCMP_ACT_ALLOW",
        {rule({"personality"}, "SCMP_ACT_ERRNO", {arg(0, "SCMP_CMP_EQ", 1), arg(1, "SCMP_CMP_XOR", 2)})}));
    CHECK(e.kind == ErrorKind::InvalidSpec);
    CHECK(e.message == "/linux/seccomp/syscalls/0/args/1/op: unknown operator \"SCMP_CMP_XOR\"");
  }
  SECTION("argument index") {
    auto e = compile_error(profile("SCMP_ACT_ALLOW", {rule({"personality"}, "SCMP_ACT_ERRNO", {arg(6, "SCMP_CMP_EQ", 1)})}));
    CHECK(e.kind == ErrorKind::InvalidSpec);
    CHECK(e.message.rfind("/linux/seccomp/syscalls/0/args/0/index: ", 0) == 0);
  }
}

TEST_CASE("compile rejects errnoRet on actions without one", "[seccomp]") {
  auto e = compile_error(profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_KILL", {}, 1)}));
  CHECK(e.kind == ErrorKind::InvalidSpec);
  CHECK(e.message.rfind("/linux/seccomp/syscalls/0/errnoRet: ", 0) == 0);

  auto s = profile("SCMP_ACT_KILL_PROCESS", {rule(kReportAndExit, "SCMP_ACT_ALLOW")});
  s.default_errno_ret = 1;
  e = compile_error(s);
  CHECK(e.kind == ErrorKind::InvalidSpec);
  CHECK(e.message.rfind("/linux/seccomp/defaultErrnoRet: ", 0) == 0);

  e = compile_error(profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_ERRNO", {}, 0x10000)}));
  CHECK(e.message.rfind("/linux/seccomp/syscalls/0/errnoRet: ", 0) == 0);
}

TEST_CASE("compile rejects empty names and a NOTIFY default", "[seccomp]") {
  auto e = compile_error(profile("SCMP_ACT_ALLOW", {rule({}, "SCMP_ACT_ERRNO")}));
  CHECK(e.kind == ErrorKind::InvalidSpec);
  CHECK(e.message.rfind("/linux/seccomp/syscalls/0/names: ", 0) == 0);

  e = compile_error(profile("SCMP_ACT_ALLOW", {rule({"getpid", ""}, "SCMP_ACT_ERRNO")}));
  CHECK(e.message.rfind("/linux/seccomp/syscalls/0/names/1: ", 0) == 0);

  e = compile_error(profile("SCMP_ACT_NOTIFY"));
  CHECK(e.kind == ErrorKind::InvalidSpec);
  CHECK(e.message.rfind("/linux/seccomp/defaultAction: ", 0) == 0);
}

TEST_CASE("an architecture this libseccomp lacks is Unsupported rather than invalid", "[seccomp]") {
  if (sc::arch_token("SCMP_ARCH_LOONGARCH64")) return;  // libseccomp >= 2.6
  auto s = profile("SCMP_ACT_ALLOW");
  s.architectures = {"SCMP_ARCH_LOONGARCH64"};
  auto e = compile_error(s);
  CHECK(e.kind == ErrorKind::Unsupported);
  CHECK(e.message.rfind("/linux/seccomp/architectures/0: ", 0) == 0);
}

// ---- compile(): what it builds --------------------------------------------------------

TEST_CASE("compile skips unknown syscalls and builds BPF", "[seccomp]") {
  auto p = sc::compile(profile("SCMP_ACT_ALLOW", {rule({"not_a_syscall", "getppid"}, "SCMP_ACT_ERRNO")}));
  CHECK(p.skipped_syscalls == std::vector<std::string>{"not_a_syscall"});
  CHECK_FALSE(p.bpf.empty());
  CHECK(p.flags == 0);
  CHECK_FALSE(p.needs_listener);
  // libseccomp's program starts by checking the architecture: ld [4].
  CHECK(p.bpf[0].code == (BPF_LD | BPF_W | BPF_ABS));
  CHECK(p.bpf[0].k == 4);
}

TEST_CASE("compile skips rules equal to the default action", "[seccomp]") {
  auto s = profile("SCMP_ACT_ERRNO", {rule(kReportAndExit, "SCMP_ACT_ALLOW"), rule({"getppid"}, "SCMP_ACT_ERRNO"),
                                      rule({"getpid"}, "SCMP_ACT_ERRNO", {}, 1)});
  CHECK_NOTHROW(sc::compile(s));
  // ERRNO(38) differs from the default ERRNO(EPERM), so it is a real rule.
  s.syscalls.push_back(rule({"getuid"}, "SCMP_ACT_ERRNO", {}, 38));
  CHECK_NOTHROW(sc::compile(s));
}

TEST_CASE("compile accepts arch-specific syscalls of a Docker-like profile", "[seccomp]") {
  auto s = profile("SCMP_ACT_ERRNO",
                   {rule({"read", "write", "socketcall", "_llseek", "arm_fadvise64_64", "clone3", "exit_group"},
                         "SCMP_ACT_ALLOW"),
                    rule({"personality"}, "SCMP_ACT_ALLOW", {arg(0, "SCMP_CMP_EQ", 0)}),
                    rule({"personality"}, "SCMP_ACT_ALLOW", {arg(0, "SCMP_CMP_EQ", 8)}),
                    rule({"clone"}, "SCMP_ACT_ALLOW", {arg(0, "SCMP_CMP_MASKED_EQ", 2114060288, 0)})});
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
  auto p = sc::compile(s);
  CHECK(p.skipped_syscalls.empty());
  CHECK(p.bpf.size() > 20);
}

namespace {
bool same_program(const sc::Program& a, const sc::Program& b) {
  return a.flags == b.flags && a.needs_listener == b.needs_listener && a.skipped_syscalls == b.skipped_syscalls &&
         a.warnings == b.warnings && a.bpf.size() == b.bpf.size() &&
         std::memcmp(a.bpf.data(), b.bpf.data(), a.bpf.size() * sizeof(struct sock_filter)) == 0;
}
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void spit(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}
}  // namespace

TEST_CASE("compile_cached: a hit gives the same program, corrupt entries are compiled again", "[seccomp][cache]") {
  char tmpl[] = "/tmp/ocirun-seccomp-cache-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string root = tmpl;
  const std::string dir = root + "/~cache/seccomp";
  auto s = profile("SCMP_ACT_ERRNO", {rule({"read", "write", "exit_group", "not_a_syscall"}, "SCMP_ACT_ALLOW"),
                                      rule({"personality"}, "SCMP_ACT_ALLOW", {arg(0, "SCMP_CMP_EQ", 8)})});
  const sc::Program fresh = sc::compile(s);
  const std::string path = sc::cache_path(dir, s);

  CHECK(same_program(sc::compile_cached(s, dir), fresh));  // miss: compiled, stored
  const std::string entry = slurp(path);
  REQUIRE(entry.size() > fresh.bpf.size() * sizeof(struct sock_filter));
  CHECK(same_program(sc::compile_cached(s, dir), fresh));  // hit
  CHECK(slurp(path) == entry);

  // Another profile has another key: never served this entry.
  auto other = s;
  other.syscalls[1].args[0].value = 0;
  CHECK(sc::cache_key(other) != sc::cache_key(s));
  CHECK(same_program(sc::compile_cached(other, dir), sc::compile(other)));

  // Corruptions: a flipped BPF byte, a truncated file, garbage, an entry under the wrong name.
  std::string flipped = entry;
  flipped[flipped.size() - 20] ^= 0x40;
  for (const std::string& bad : {flipped, entry.substr(0, entry.size() / 2), std::string("garbage"), std::string()}) {
    spit(path, bad);
    CHECK(same_program(sc::compile_cached(s, dir), fresh));
    CHECK(slurp(path) == entry);  // rewritten
  }
  spit(path, slurp(sc::cache_path(dir, other)));
  CHECK(same_program(sc::compile_cached(s, dir), fresh));

  // A cache that cannot be written is only slower.
  CHECK(same_program(sc::compile_cached(s, "/proc/ocirun-no-such-dir"), fresh));
  CHECK(std::system(("rm -rf " + root).c_str()) == 0);
}

TEST_CASE("compile computes the seccomp(2) flags", "[seccomp]") {
  SECTION("profile flags") {
    auto s = profile("SCMP_ACT_ALLOW");
    s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"};
    CHECK(sc::compile(s).flags ==
          (SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW | SECCOMP_FILTER_FLAG_TSYNC));
  }
  SECTION("NOTIFY adds a listener; TSYNC then needs TSYNC_ESRCH") {
    auto s = profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_NOTIFY")});
    auto p = sc::compile(s);
    CHECK(p.needs_listener);
    CHECK(p.flags == SECCOMP_FILTER_FLAG_NEW_LISTENER);
    s.flags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
    CHECK(sc::compile(s).flags == (SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC |
                                   SECCOMP_FILTER_FLAG_TSYNC_ESRCH | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV));
  }
  SECTION("WAIT_KILLABLE_RECV without a listener is dropped") {
    auto s = profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_ERRNO")});
    s.flags = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
    CHECK(sc::compile(s).flags == 0);
  }
}

TEST_CASE("the ENOSYS stub is added only for listed architectures and a denying default", "[seccomp]") {
  auto s = profile("SCMP_ACT_ERRNO", {rule(kReportAndExit, "SCMP_ACT_ALLOW")});
  const size_t plain = sc::compile(s).bpf.size();
  s.architectures = {kNativeArch};
  const size_t with_stub = sc::compile(s).bpf.size();
  CHECK(with_stub > plain);

  s.default_errno_ret = ENOSYS;  // already ENOSYS for everything unknown
  CHECK(sc::compile(s).bpf.size() == plain);

  auto allow = profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_ERRNO")});
  const size_t allow_plain = sc::compile(allow).bpf.size();
  allow.architectures = {kNativeArch};
  CHECK(sc::compile(allow).bpf.size() == allow_plain);
}

TEST_CASE("load reports errors instead of throwing", "[seccomp]") {
  sc::Program empty;
  auto r = sc::load(empty);
  CHECK_FALSE(r.ok());
  CHECK(r.err == EINVAL);
  CHECK(r.listener_fd == -1);
}

// ---- real filters ----------------------------------------------------------------------

TEST_CASE("ERRNO returns the rule's errnoRet and EPERM by default", "[seccomp][kernel]") {
  char dir_template[] = "/tmp/ocirun-seccomp-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string target = std::string(dir_template) + "/made";

  auto p = sc::compile(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO"),
                                                  rule({"mkdirat"}, "SCMP_ACT_ERRNO", {}, 38)}));
  const char* path = target.c_str();
  auto o = run_filtered(p, [&](const Reporter& out) {
#ifdef SYS_mkdir
    out.put_call(syscall(SYS_mkdir, path, 0700));
#else
    out.put(-EPERM);
#endif
    out.put_call(syscall(SYS_mkdirat, AT_FDCWD, path, 0700));
  });
  struct stat st;
  const bool created = stat(path, &st) == 0;
  rmdir(path);
  rmdir(dir_template);

  CHECK(o.exited_ok());
  REQUIRE(o.values.size() == 3);
  CHECK(o.values[0] == 0);
  CHECK(o.values[1] == -EPERM);
  CHECK(o.values[2] == -38);
  CHECK_FALSE(created);
}

TEST_CASE("argument conditions: EQ on a 32-bit value and MASKED_EQ", "[seccomp][kernel]") {
  auto p = sc::compile(profile(
      "SCMP_ACT_ALLOW", {rule({"personality"}, "SCMP_ACT_ERRNO", {arg(0, "SCMP_CMP_EQ", 0xffffffff)}),
                         rule({"umask"}, "SCMP_ACT_ERRNO", {arg(0, "SCMP_CMP_MASKED_EQ", 0x100, 0x100)}, EACCES)}));
  auto o = run_filtered(p, [](const Reporter& out) {
    out.put_call(syscall(SYS_personality, 0xffffffffUL));  // the query form: blocked
    out.put_call(syscall(SYS_personality, 0UL));           // PER_LINUX: allowed
    out.put_call(syscall(SYS_umask, 0777));                // has 0400 (0x100): blocked
    out.put_call(syscall(SYS_umask, 022));                 // allowed, returns the old mask
  });
  CHECK(o.exited_ok());
  REQUIRE(o.values.size() == 5);
  CHECK(o.values[1] == -EPERM);
  CHECK(o.values[2] >= 0);
  CHECK(o.values[3] == -EACCES);
  CHECK(o.values[4] >= 0);
}

TEST_CASE("argument conditions: all six comparisons", "[seccomp][kernel]") {
  // getpriority(which, 0) with which 9, 10, 11 is EINVAL when allowed; the
  // marker errno 77 means the rule matched.
  struct Case {
    const char* op;
    bool blocked[3];  // for 9, 10, 11 against 10
  };
  const Case cases[] = {
      {"SCMP_CMP_NE", {true, false, true}},  {"SCMP_CMP_LT", {true, false, false}},
      {"SCMP_CMP_LE", {true, true, false}},  {"SCMP_CMP_EQ", {false, true, false}},
      {"SCMP_CMP_GE", {false, true, true}},  {"SCMP_CMP_GT", {false, false, true}},
  };
  for (const Case& c : cases) {
    INFO(c.op);
    auto p = sc::compile(profile("SCMP_ACT_ALLOW", {rule({"getpriority"}, "SCMP_ACT_ERRNO", {arg(0, c.op, 10)}, 77)}));
    auto o = run_filtered(p, [](const Reporter& out) {
      for (long which : {9L, 10L, 11L}) out.put_call(syscall(SYS_getpriority, which, 0L));
    });
    CHECK(o.exited_ok());
    REQUIRE(o.values.size() == 4);
    for (int i = 0; i < 3; ++i) {
      INFO("which = " << 9 + i);
      CHECK((o.values[1 + i] == -77) == c.blocked[i]);
    }
  }
}

TEST_CASE("argument conditions: different args AND while the same arg twice ORs and 64-bit values compare whole", "[seccomp][kernel]") {
  auto p = sc::compile(profile(
      "SCMP_ACT_ALLOW",
      {rule({"getpriority"}, "SCMP_ACT_ERRNO", {arg(0, "SCMP_CMP_EQ", 10), arg(1, "SCMP_CMP_EQ", 20)}, 77),
       // Same index twice: runc and crun split this into two rules, so it matches either.
       rule({"getpriority"}, "SCMP_ACT_ERRNO", {arg(0, "SCMP_CMP_GE", 100), arg(0, "SCMP_CMP_LE", 5)}, 78),
       rule({"getpgid"}, "SCMP_ACT_ERRNO", {arg(0, "SCMP_CMP_EQ", 0x10000000aULL)}, 79)}));
  auto o = run_filtered(p, [](const Reporter& out) {
    out.put_call(syscall(SYS_getpriority, 10L, 20L));  // both match: 77
    out.put_call(syscall(SYS_getpriority, 10L, 21L));  // only arg0: EINVAL
    out.put_call(syscall(SYS_getpriority, 200L, 0L));  // >= 100: 78
    out.put_call(syscall(SYS_getpriority, 1L, 0L));    // <= 5: 78
    out.put_call(syscall(SYS_getpriority, 50L, 0L));   // neither: EINVAL
    out.put_call(syscall(SYS_getpgid, 0x10000000aL));  // all 64 bits equal: 79
    out.put_call(syscall(SYS_getpgid, 0xaL));          // low half only: not matched
  });
  CHECK(o.exited_ok());
  REQUIRE(o.values.size() == 8);
  CHECK(o.values[1] == -77);
  CHECK(o.values[2] == -EINVAL);
  CHECK(o.values[3] == -78);
  CHECK(o.values[4] == -78);
  CHECK(o.values[5] == -EINVAL);
  CHECK(o.values[6] == -79);
  CHECK(o.values[7] != -79);
}

TEST_CASE("default ERRNO with defaultErrnoRet and an allow list", "[seccomp][kernel]") {
  auto allowed = kReportAndExit;
  allowed.push_back("getpid");
  auto s = profile("SCMP_ACT_ERRNO", {rule(allowed, "SCMP_ACT_ALLOW")});
  s.default_errno_ret = EACCES;
  auto p = sc::compile(s);
  const pid_t parent = getpid();
  auto o = run_filtered(p, [](const Reporter& out) {
    out.put_call(syscall(SYS_getpid));
    out.put_call(syscall(SYS_getppid));
    out.put_call(syscall(1000));  // no such syscall, and no architectures: no stub
  });
  CHECK(o.exited_ok());
  REQUIRE(o.values.size() == 4);
  CHECK(o.values[1] > 0);
  CHECK(o.values[1] != parent);
  CHECK(o.values[2] == -EACCES);
  CHECK(o.values[3] == -EACCES);
}

TEST_CASE("the ENOSYS stub answers syscalls newer than the profile", "[seccomp][kernel]") {
  auto allowed = kReportAndExit;
  allowed.push_back("getpid");
  auto s = profile("SCMP_ACT_ERRNO", {rule(allowed, "SCMP_ACT_ALLOW")});
  s.default_errno_ret = EACCES;
#if defined(__x86_64__)
  // x86_64 and x32 share one kernel arch; the stub tells them apart by bit 30.
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
#else
  s.architectures = {kNativeArch};
#endif
  auto p = sc::compile(s);
  auto o = run_filtered(p, [](const Reporter& out) {
    out.put_call(syscall(SYS_getpid));
    out.put_call(syscall(SYS_getppid));  // older than the newest listed one: the default
    out.put_call(syscall(1000));         // newer than all of them: ENOSYS
#if defined(__x86_64__)
    out.put_call(syscall(0x40000000L | 1000));  // x32 numbering, above x32's newest
#else
    out.put(-ENOSYS);
#endif
  });
  CHECK(o.exited_ok());
  REQUIRE(o.values.size() == 5);
  CHECK(o.values[1] > 0);
  CHECK(o.values[2] == -EACCES);
  CHECK(o.values[3] == -ENOSYS);
  CHECK(o.values[4] == -ENOSYS);
}

TEST_CASE("KILL_PROCESS and KILL end the process with SIGSYS", "[seccomp][kernel]") {
  for (const char* action : {"SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"}) {
    INFO(action);
    auto p = sc::compile(profile("SCMP_ACT_ALLOW", {rule({"getppid"}, action)}));
    auto o = run_filtered(p, [](const Reporter& out) {
      out.put(1);
      syscall(SYS_getppid);
      out.put(2);  // never reached
    });
    CHECK(o.killed_by(SIGSYS));
    CHECK(o.values == std::vector<int64_t>{0, 1});
  }
}

namespace {
volatile sig_atomic_t g_trap_code = 0;
volatile sig_atomic_t g_trap_syscall = -1;
volatile sig_atomic_t g_trap_arch_ok = 0;
uint32_t g_native_audit_arch = 0;  // set before fork: the handler only compares

void on_sigsys(int, siginfo_t* info, void*) {
  g_trap_code = info->si_code;
  g_trap_syscall = info->si_syscall;
  g_trap_arch_ok = info->si_arch == g_native_audit_arch;
}
}  // namespace

TEST_CASE("TRAP delivers SIGSYS with the syscall number", "[seccomp][kernel]") {
  g_native_audit_arch = *sc::arch_token(kNativeArch);
  auto p = sc::compile(profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_TRAP")}));
  auto o = run_filtered(p, [](const Reporter& out) {
    struct sigaction sa = {};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, nullptr);
    syscall(SYS_getppid);
    out.put(g_trap_code);
    out.put(g_trap_syscall);
    out.put(g_trap_arch_ok);
  });
  CHECK(o.exited_ok());
  REQUIRE(o.values.size() == 4);
  CHECK(o.values[1] == SYS_SECCOMP);
  CHECK(o.values[2] == SYS_getppid);
  CHECK(o.values[3] == 1);
}

TEST_CASE("LOG lets the syscall through", "[seccomp][kernel]") {
  auto p = sc::compile(profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_LOG")}));
  const pid_t parent = getpid();
  auto o = run_filtered(p, [](const Reporter& out) { out.put_call(syscall(SYS_getppid)); });
  CHECK(o.exited_ok());
  REQUIRE(o.values.size() == 2);
  CHECK(o.values[1] == parent);
}

TEST_CASE("flags LOG and SPEC_ALLOW and TSYNC reach seccomp(2)", "[seccomp][kernel]") {
  auto s = profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_ERRNO")});
  s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"};
  auto o = run_filtered(sc::compile(s), [](const Reporter& out) { out.put_call(syscall(SYS_getppid)); });
  CHECK(o.exited_ok());
  REQUIRE(o.values.size() == 2);
  CHECK(o.values[0] == 0);
  CHECK(o.values[1] == -EPERM);
}

TEST_CASE("without no_new_privs loading needs CAP_SYS_ADMIN", "[seccomp][kernel]") {
  auto p = sc::compile(profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_ERRNO")}));
  auto o = run_filtered(p, [](const Reporter& out) { out.put_call(syscall(SYS_getppid)); }, /*set_nnp=*/false);
  CHECK(o.exited_ok());
  REQUIRE_FALSE(o.values.empty());
  if (has_cap_sys_admin()) {
    CHECK(o.values == std::vector<int64_t>{0, -EPERM});
  } else {
    CHECK(o.values == std::vector<int64_t>{EACCES});
  }
}

TEST_CASE("NOTIFY hands a listener fd and the supervisor answers", "[seccomp][kernel]") {
  auto s = profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_NOTIFY")});
  s.flags = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  auto p = sc::compile(s);
  REQUIRE(p.needs_listener);

  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(sv[0]);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(90);
    sc::LoadResult r = sc::load(p);
    // Hand the listener over: payload = load()'s errno, the fd as SCM_RIGHTS.
    int64_t err = r.err;
    struct iovec iov = {&err, sizeof err};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (r.ok()) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(cmsg), &r.listener_fd, sizeof(int));
    }
    if (sendmsg(sv[1], &msg, 0) < 0) _exit(91);
    if (!r.ok()) _exit(92);
    Reporter out{sv[1]};
    out.put_call(syscall(SYS_getppid));  // answered with a value
    out.put_call(syscall(SYS_getppid));  // answered with an error
    _exit(0);
  }
  ::close(sv[1]);

  int64_t load_err = -1;
  struct iovec iov = {&load_err, sizeof load_err};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  REQUIRE(recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC) == sizeof load_err);
  REQUIRE(load_err == 0);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  REQUIRE(cmsg != nullptr);
  REQUIRE(cmsg->cmsg_type == SCM_RIGHTS);
  int listener;
  std::memcpy(&listener, CMSG_DATA(cmsg), sizeof(int));
  REQUIRE(listener >= 0);

  auto answer = [&](int64_t val, int32_t error) {
    struct pollfd pfd = {listener, POLLIN, 0};
    REQUIRE(poll(&pfd, 1, 10000) == 1);
    struct seccomp_notif req;
    std::memset(&req, 0, sizeof req);  // the kernel wants it zeroed
    REQUIRE(ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0);
    CHECK(static_cast<pid_t>(req.pid) == pid);
    CHECK(req.data.nr == SYS_getppid);
    struct seccomp_notif_resp resp = {};
    resp.id = req.id;
    resp.val = val;
    resp.error = error;
    REQUIRE(ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0);
  };
  answer(4242, 0);
  answer(0, -EACCES);

  std::vector<int64_t> values;
  int64_t v;
  while (::read(sv[0], &v, sizeof v) == sizeof v) values.push_back(v);
  ::close(sv[0]);
  ::close(listener);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(values == std::vector<int64_t>{4242, -EACCES});
}

#if defined(__x86_64__)
namespace {
// An i386 syscall from x86_64 code (int $0x80): how a process reaches the compat table, with
// the i386 numbers, which a filter written for x86_64 numbers alone would miss.
long compat_syscall(long nr, long a1, long a2) {
  long ret;
  asm volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a1), "c"(a2) : "memory");
  return ret;
}
constexpr long kI386Getpid = 20, kI386Mkdir = 39;
}  // namespace

TEST_CASE("compat syscalls: a listed x86 arch gets the rules, an unlisted one is never allowed", "[seccomp][kernel]") {
  // The path must sit below 4 GiB for a 32-bit pointer.
  void* low = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  REQUIRE(low != MAP_FAILED);
  char dir_template[] = "/tmp/ocirun-seccomp-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string target = std::string(dir_template) + "/made";
  std::strcpy(static_cast<char*>(low), target.c_str());
  const long path = reinterpret_cast<long>(low);

  // Without a filter: does this kernel run i386 code at all (IA32 emulation)?
  auto plain = run_filtered(sc::compile(profile("SCMP_ACT_ALLOW", {rule({"ocirun_none"}, "SCMP_ACT_ERRNO")})),
                            [&](const Reporter& out) { out.put(compat_syscall(kI386Getpid, 0, 0)); });
  if (plain.values.size() < 2 || plain.values[1] <= 0) {
    WARN("no IA32 emulation on this kernel: compat syscalls cannot be made");
  } else {
    SECTION("x86 listed: the i386 mkdir meets the rule") {
      auto prof = profile("SCMP_ACT_ALLOW", {rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", {}, 38)});
      prof.architectures = {kNativeArch, "SCMP_ARCH_X86"};
      auto o = run_filtered(sc::compile(prof), [&](const Reporter& out) {
        out.put(compat_syscall(kI386Mkdir, path, 0700));
        out.put(compat_syscall(kI386Getpid, 0, 0));
      });
      CHECK(o.exited_ok());
      REQUIRE(o.values.size() == 3);
      CHECK(o.values[1] == -38);
      CHECK(o.values[2] > 0);  // the rest of the compat table follows the default
    }
    SECTION("native only: the i386 table is refused, not allowed by default") {
      auto prof = profile("SCMP_ACT_ALLOW", {rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", {}, 38)});
      prof.architectures = {kNativeArch};
      auto o = run_filtered(sc::compile(prof), [&](const Reporter& out) { out.put(compat_syscall(kI386Mkdir, path, 0700)); });
      INFO("status " << o.status);
      CHECK_FALSE(o.exited_ok());
      CHECK(o.killed_by(SIGSYS));
    }
  }
  struct stat st;
  CHECK(stat(target.c_str(), &st) != 0);  // never made, whatever the section
  rmdir(target.c_str());
  rmdir(dir_template);
  munmap(low, 4096);
}
#endif
