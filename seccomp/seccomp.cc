#include "seccomp.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

#include "enosys.h"
#include "error.h"
#include "unique_fd.h"
#include "warning.h"

namespace ocirun::seccomp {
namespace {

// ---- name tables ------------------------------------------------------------

struct ActionName {
  std::string_view name;
  uint32_t value;     // for ERRNO and TRACE: without the data bits
  bool takes_errno;   // errnoRet goes in the low 16 bits
};

constexpr std::array kActions = {
    ActionName{"SCMP_ACT_KILL", SCMP_ACT_KILL, false},
    ActionName{"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    ActionName{"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    ActionName{"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
    ActionName{"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    ActionName{"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    ActionName{"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    ActionName{"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    ActionName{"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false},
};

struct ArchName {
  std::string_view name;
  uint32_t token;  // 0: named by the runtime-spec, but this libseccomp predates it
};

constexpr std::array kArchs = {
    ArchName{"SCMP_ARCH_X86", SCMP_ARCH_X86},
    ArchName{"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    ArchName{"SCMP_ARCH_X32", SCMP_ARCH_X32},
    ArchName{"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    ArchName{"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    ArchName{"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    ArchName{"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    ArchName{"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    ArchName{"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    ArchName{"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    ArchName{"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    ArchName{"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    ArchName{"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    ArchName{"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    ArchName{"SCMP_ARCH_S390", SCMP_ARCH_S390},
    ArchName{"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    ArchName{"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    ArchName{"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    ArchName{"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
#ifdef SCMP_ARCH_LOONGARCH64
    ArchName{"SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64},
#else
    ArchName{"SCMP_ARCH_LOONGARCH64", 0},
#endif
#ifdef SCMP_ARCH_M68K
    ArchName{"SCMP_ARCH_M68K", SCMP_ARCH_M68K},
#else
    ArchName{"SCMP_ARCH_M68K", 0},
#endif
#ifdef SCMP_ARCH_SH
    ArchName{"SCMP_ARCH_SH", SCMP_ARCH_SH},
    ArchName{"SCMP_ARCH_SHEB", SCMP_ARCH_SHEB},
#else
    ArchName{"SCMP_ARCH_SH", 0},
    ArchName{"SCMP_ARCH_SHEB", 0},
#endif
};

struct OpName {
  std::string_view name;
  enum scmp_compare op;
};

constexpr std::array kOps = {
    OpName{"SCMP_CMP_NE", SCMP_CMP_NE}, OpName{"SCMP_CMP_LT", SCMP_CMP_LT},
    OpName{"SCMP_CMP_LE", SCMP_CMP_LE}, OpName{"SCMP_CMP_EQ", SCMP_CMP_EQ},
    OpName{"SCMP_CMP_GE", SCMP_CMP_GE}, OpName{"SCMP_CMP_GT", SCMP_CMP_GT},
    OpName{"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

struct FlagName {
  std::string_view name;
  unsigned int bit;
};

constexpr std::array kFlags = {
    FlagName{"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    FlagName{"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    FlagName{"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    FlagName{"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

template <class Table>
auto find(const Table& table, std::string_view name) -> const typename Table::value_type* {
  for (const auto& entry : table)
    if (entry.name == name) return &entry;
  return nullptr;
}

template <class Table>
std::vector<std::string> names_of(const Table& table) {
  std::vector<std::string> out;
  for (const auto& entry : table) out.emplace_back(entry.name);
  return out;
}

// ---- compile helpers ----------------------------------------------------------

constexpr int kMaxSyscallArgs = 6;
const std::string kField = "/linux/seccomp";

[[noreturn]] void invalid(const std::string& field, const std::string& what) {
  fail(ErrorKind::InvalidSpec, field + ": " + what);
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using FilterCtx = std::unique_ptr<void, CtxDeleter>;

// The action word for `name`. The runtime-spec makes errnoRet on an action that
// carries no errno an error the runtime MUST fail on.
uint32_t resolve_action(const std::string& name, const std::optional<uint32_t>& errno_ret,
                        const std::string& action_field, const std::string& errno_field) {
  if (name.empty()) invalid(action_field, "missing");
  const ActionName* a = find(kActions, name);
  if (!a) invalid(action_field, "unknown action " + quoted(name));
  if (!errno_ret) return a->takes_errno ? a->value | EPERM : a->value;
  if (!a->takes_errno) invalid(errno_field, "errnoRet is not supported by action " + quoted(name));
  if (*errno_ret > 0xffff) invalid(errno_field, std::to_string(*errno_ret) + " does not fit in 16 bits");
  return a->value | *errno_ret;
}

struct Condition {
  std::vector<struct scmp_arg_cmp> cmps;
  bool same_arg_twice = false;  // libseccomp wants each argument at most once per rule
};

Condition resolve_args(const spec::SeccompSyscall& rule, const std::string& field) {
  Condition c;
  std::array<int, kMaxSyscallArgs> seen{};
  for (size_t k = 0; k < rule.args.size(); ++k) {
    const auto& arg = rule.args[k];
    const std::string arg_field = field + "/args/" + std::to_string(k);
    if (arg.index >= kMaxSyscallArgs)
      invalid(arg_field + "/index", std::to_string(arg.index) + " is out of range 0-5");
    const OpName* op = find(kOps, arg.op);
    if (!op) invalid(arg_field + "/op", "unknown operator " + quoted(arg.op));
    if (++seen[arg.index] > 1) c.same_arg_twice = true;
    c.cmps.push_back(scmp_arg_cmp{arg.index, op->op, arg.value, arg.value_two});
  }
  return c;
}

// seccomp_export_bpf only writes to an fd; a memfd takes any size without a reader.
std::vector<struct sock_filter> export_bpf(void* ctx) {
  UniqueFd fd(memfd_create("ocirun-seccomp-bpf", MFD_CLOEXEC));
  if (!fd) throw_errno("memfd_create seccomp bpf");
  if (int rc = seccomp_export_bpf(ctx, fd.get()); rc < 0) throw_errno(-rc, "seccomp_export_bpf");
  struct stat st{};
  check(fstat(fd.get(), &st), "fstat seccomp bpf");
  if (st.st_size % sizeof(struct sock_filter) != 0)
    fail(ErrorKind::Syscall, "seccomp_export_bpf: size " + std::to_string(st.st_size) + " is not whole instructions");
  std::vector<struct sock_filter> bpf(st.st_size / sizeof(struct sock_filter));
  auto* p = reinterpret_cast<char*>(bpf.data());
  size_t want = st.st_size, got = 0;
  while (got < want) {
    ssize_t n = pread(fd.get(), p + got, want - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read seccomp bpf");
    if (n == 0) fail(ErrorKind::Syscall, "read seccomp bpf: short read");
    got += n;
  }
  return bpf;
}

bool is_permissive(uint32_t action) {
  // TRACE counts as allowing: a tracer handles ENOSYS itself (runc's isAllowAction).
  uint32_t kind = action & SECCOMP_RET_ACTION_FULL;
  return kind == SCMP_ACT_ALLOW || kind == SCMP_ACT_LOG || kind == SCMP_ACT_TRACE(0);
}

}  // namespace

// ---- public name lookups ------------------------------------------------------

std::optional<uint32_t> action_value(std::string_view name, uint32_t errno_ret) {
  const ActionName* a = find(kActions, name);
  if (!a) return std::nullopt;
  return a->takes_errno ? a->value | (errno_ret & 0xffff) : a->value;
}

bool action_takes_errno(std::string_view name) {
  const ActionName* a = find(kActions, name);
  return a && a->takes_errno;
}

std::optional<uint32_t> arch_token(std::string_view name) {
  const ArchName* a = find(kArchs, name);
  if (!a || a->token == 0) return std::nullopt;
  return a->token;
}

std::optional<int> compare_op(std::string_view name) {
  const OpName* o = find(kOps, name);
  if (!o) return std::nullopt;
  return o->op;
}

std::optional<unsigned int> filter_flag(std::string_view name) {
  const FlagName* f = find(kFlags, name);
  if (!f) return std::nullopt;
  return f->bit;
}

std::vector<std::string> known_actions() { return names_of(kActions); }
std::vector<std::string> known_operators() { return names_of(kOps); }
std::vector<std::string> known_flags() { return names_of(kFlags); }

std::string library_version() {
  const scmp_version* v = seccomp_version();
  if (!v) return "unknown";
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
}
std::vector<std::string> known_architectures() {
  std::vector<std::string> out;
  for (const auto& a : kArchs)
    if (a.token != 0) out.emplace_back(a.name);
  return out;
}

// ---- compile --------------------------------------------------------------------

Program compile(const spec::Seccomp& profile) {
  Program program;

  // 1. The default action. NOTIFY as default would stop init on its very next
  //    syscall, before anyone holds the listener to answer it (runc refuses it too).
  const uint32_t default_action = resolve_action(profile.default_action, profile.default_errno_ret,
                                                 kField + "/defaultAction", kField + "/defaultErrnoRet");
  if (default_action == SCMP_ACT_NOTIFY)
    invalid(kField + "/defaultAction", "SCMP_ACT_NOTIFY cannot be the default action");

  FilterCtx ctx(seccomp_init(default_action));
  if (!ctx)
    fail(ErrorKind::Unsupported, kField + "/defaultAction: libseccomp or the kernel rejects " +
                                     quoted(profile.default_action));
  // process.noNewPrivileges decides no_new_privs, not libseccomp (youki's set_ctl_nnp(false)).
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc < 0)
    throw_errno(-rc, "seccomp_attr_set SCMP_FLTATR_CTL_NNP");

  // 2. Architectures. seccomp_init already holds the native one; a listed arch
  //    equal to it gives EEXIST, which is fine.
  std::vector<uint32_t> arch_tokens;
  for (size_t i = 0; i < profile.architectures.size(); ++i) {
    const std::string& name = profile.architectures[i];
    const std::string field = kField + "/architectures/" + std::to_string(i);
    const ArchName* a = find(kArchs, name);
    if (!a) invalid(field, "unknown architecture " + quoted(name));
    if (a->token == 0) fail(ErrorKind::Unsupported, field + ": " + quoted(name) + " needs a newer libseccomp");
    if (int rc = seccomp_arch_add(ctx.get(), a->token); rc < 0 && rc != -EEXIST)
      throw_errno(-rc, field + ": seccomp_arch_add " + quoted(name));
    arch_tokens.push_back(a->token);
  }

  // 3. Flags, for seccomp(2) itself: load() passes them, so libseccomp's
  //    attributes for them would be unused.
  for (size_t i = 0; i < profile.flags.size(); ++i) {
    const FlagName* f = find(kFlags, profile.flags[i]);
    if (!f) invalid(kField + "/flags/" + std::to_string(i), "unknown flag " + quoted(profile.flags[i]));
    program.flags |= f->bit;
  }

  // 4. libseccomp's binary-tree layout pays off on long profiles; runc's
  //    threshold, as 2.5.x misbehaves with it on an empty rule set.
  if (profile.syscalls.size() > 32) seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);

  // 5. Rules. Every entry is validated, even one that ends up skipped.
  std::vector<std::string> all_names;
  for (size_t i = 0; i < profile.syscalls.size(); ++i) {
    const spec::SeccompSyscall& rule = profile.syscalls[i];
    const std::string field = kField + "/syscalls/" + std::to_string(i);
    if (rule.names.empty()) invalid(field + "/names", "must contain at least one syscall");
    const uint32_t action = resolve_action(rule.action, rule.errno_ret, field + "/action", field + "/errnoRet");
    const Condition cond = resolve_args(rule, field);
    if (action == SCMP_ACT_NOTIFY) program.needs_listener = true;

    for (size_t j = 0; j < rule.names.size(); ++j) {
      const std::string& name = rule.names[j];
      if (name.empty()) invalid(field + "/names/" + std::to_string(j), "empty syscall name");
      all_names.push_back(name);

      // Profiles list syscalls newer than this libseccomp: warn, go on. A name
      // absent on this arch only (socketcall on x86_64) resolves to a negative
      // pseudo-number that libseccomp maps per architecture.
      const int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        program.warnings.push_back(field + "/names/" + std::to_string(j) + ": unknown syscall \"" + name + "\" ignored");
        ocirun::warn(program.warnings.back());
        program.skipped_syscalls.push_back(name);
        continue;
      }
      // libseccomp refuses a rule whose action is the default one; it is redundant anyway.
      if (action == default_action) continue;

      int rc = 0;
      if (!cond.same_arg_twice) {
        rc = seccomp_rule_add_array(ctx.get(), action, nr, static_cast<unsigned>(cond.cmps.size()), cond.cmps.data());
      } else {
        // Two conditions on one argument: as runc and crun do, each condition
        // becomes a rule of its own, so they match as OR, not AND.
        for (const auto& cmp : cond.cmps) {
          rc = seccomp_rule_add_array(ctx.get(), action, nr, 1, &cmp);
          if (rc < 0) break;
        }
      }
      if (rc < 0) invalid(field, "add rule for " + quoted(name) + ": " + std::strerror(-rc));
    }
  }

  // 6. BPF, with runc's -ENOSYS stub in front unless the default already lets
  //    unknown syscalls through or already answers ENOSYS.
  program.bpf = export_bpf(ctx.get());
  if (!is_permissive(default_action) && default_action != SCMP_ACT_ERRNO(ENOSYS)) {
    auto stub = detail::enosys_stub(arch_tokens, all_names);
    program.bpf.insert(program.bpf.begin(), stub.begin(), stub.end());
  }
  if (program.bpf.size() > BPF_MAXINSNS)
    fail(ErrorKind::InvalidSpec, kField + ": the filter has " + std::to_string(program.bpf.size()) +
                                     " BPF instructions, the kernel takes at most " + std::to_string(BPF_MAXINSNS));

  // 7. Flags that follow from the rules. The kernel refuses TSYNC together with
  //    NEW_LISTENER unless TSYNC_ESRCH says how to report a thread it can't sync;
  //    WAIT_KILLABLE_RECV means nothing without a listener and the kernel refuses it alone.
  if (program.needs_listener) {
    program.flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    if (program.flags & SECCOMP_FILTER_FLAG_TSYNC) program.flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  } else {
    program.flags &= ~static_cast<unsigned int>(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
  }
  return program;
}

}  // namespace ocirun::seccomp
