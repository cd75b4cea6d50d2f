#include "enosys.h"

#include <seccomp.h>

#include <cerrno>
#include <optional>

namespace ocirun::seccomp::detail {
namespace {

constexpr uint32_t kX32SyscallBit = 0x40000000;
constexpr uint32_t kArchOffset = 4;     // offsetof(struct seccomp_data, arch)
constexpr uint32_t kNrOffset = 0;       // offsetof(struct seccomp_data, nr)

// A tiny assembler with labels. Every conditional jump is emitted as
// "jcond jt=0 jf=1; ja label" so only the 32-bit ja needs a target and no
// 8-bit jt/jf offset can overflow, whatever the program's size.
class Asm {
 public:
  int label() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void bind(int l) { labels_[l] = static_cast<long>(code_.size()); }

  void load(uint32_t offset) { code_.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset)); }
  void ret(uint32_t k) { code_.push_back(BPF_STMT(BPF_RET | BPF_K, k)); }
  void jump(int l) {
    fixups_.push_back({code_.size(), l});
    code_.push_back(BPF_STMT(BPF_JMP | BPF_JA, 0));
  }
  // if (A op k) goto l
  void jump_if(uint16_t op, uint32_t k, int l) {
    code_.push_back(BPF_JUMP(BPF_JMP | op | BPF_K, k, 0, 1));
    jump(l);
  }
  // if (!(A op k)) goto l
  void jump_unless(uint16_t op, uint32_t k, int l) {
    code_.push_back(BPF_JUMP(BPF_JMP | op | BPF_K, k, 1, 0));
    jump(l);
  }

  std::vector<struct sock_filter> finish() {
    for (auto [at, l] : fixups_) code_[at].k = static_cast<uint32_t>(labels_[l] - static_cast<long>(at) - 1);
    return std::move(code_);
  }

 private:
  std::vector<struct sock_filter> code_;
  std::vector<long> labels_;
  std::vector<std::pair<size_t, int>> fixups_;
};

// The largest syscalls of one kernel-visible architecture.
struct Section {
  uint32_t audit_arch = 0;
  std::optional<uint32_t> max;      // every arch but x32
  std::optional<uint32_t> max_x32;  // x32 shares AUDIT_ARCH_X86_64 with x86_64
};

uint32_t audit_arch_of(uint32_t token) { return token == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : token; }

std::optional<uint32_t> largest_syscall(uint32_t token, const std::vector<std::string>& names) {
  std::optional<uint32_t> best;
  for (const auto& name : names) {
    int nr = seccomp_syscall_resolve_name_arch(token, name.c_str());
    if (nr <= 0) continue;  // unknown, or a libseccomp pseudo-syscall absent on this arch
    uint32_t n = static_cast<uint32_t>(nr);
    if (!best || n > *best) best = n;
  }
  if (best && token == SCMP_ARCH_X32) *best |= kX32SyscallBit;
  return best;
}

}  // namespace

std::vector<struct sock_filter> enosys_stub(const std::vector<uint32_t>& arch_tokens,
                                            const std::vector<std::string>& names) {
  std::vector<Section> sections;
  for (uint32_t token : arch_tokens) {
    auto max = largest_syscall(token, names);
    if (!max) continue;
    uint32_t audit = audit_arch_of(token);
    Section* s = nullptr;
    for (auto& existing : sections)
      if (existing.audit_arch == audit) s = &existing;
    if (!s) s = &sections.emplace_back(Section{audit, {}, {}});
    (token == SCMP_ARCH_X32 ? s->max_x32 : s->max) = max;
  }
  if (sections.empty()) return {};

  Asm a;
  const int enosys = a.label();
  const int filter = a.label();
  std::vector<int> starts;
  for (size_t i = 0; i < sections.size(); ++i) starts.push_back(a.label());

  // Dispatch on the architecture; unlisted ones go straight to the filter,
  // which applies its bad-arch action.
  a.load(kArchOffset);
  for (size_t i = 0; i < sections.size(); ++i) a.jump_if(BPF_JEQ, sections[i].audit_arch, starts[i]);
  a.jump(filter);

  for (size_t i = 0; i < sections.size(); ++i) {
    const Section& s = sections[i];
    a.bind(starts[i]);
    a.load(kNrOffset);
    if (s.audit_arch == AUDIT_ARCH_S390 || s.audit_arch == AUDIT_ARCH_S390X) {
      // s390 multiplexes syscalls the kernel does not know onto setup(2), nr 0.
      a.jump_if(BPF_JEQ, 0, enosys);
    }
    if (s.audit_arch == AUDIT_ARCH_X86_64) {
      const int x32 = a.label();
      // Bit 30 set: an x32 syscall.
      a.jump_if(BPF_JSET, kX32SyscallBit, s.max_x32 ? x32 : filter);
      if (s.max) a.jump_if(BPF_JGT, *s.max, enosys);
      a.jump(filter);
      a.bind(x32);
      if (s.max_x32) {
        a.jump_if(BPF_JGT, *s.max_x32, enosys);
        a.jump(filter);
      }
    } else {
      a.jump_if(BPF_JGT, *s.max, enosys);
      a.jump(filter);
    }
  }
  a.bind(enosys);
  a.ret(SCMP_ACT_ERRNO(ENOSYS));
  a.bind(filter);  // the libseccomp program follows
  return a.finish();
}

}  // namespace ocirun::seccomp::detail
