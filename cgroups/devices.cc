// cgroup v2 device control: linux.resources.devices -> a BPF_CGROUP_DEVICE program, and the
// bpf(2) calls that load it and attach it to a cgroup.
//
// The program sees struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; } in r1,
// where access_type = (access << 16) | type. It keeps:
//   r2 = type (BPF_DEVCG_DEV_BLOCK 1, BPF_DEVCG_DEV_CHAR 2)
//   r3 = the access bits still undecided (BPF_DEVCG_ACC_MKNOD 1, READ 2, WRITE 4)
//   r4 = major, r5 = minor
// and walks the rules from the last to the first. A matching deny that names an undecided bit
// returns 0; a matching allow clears the bits it names and returns 1 once none is left. When
// the rules run out, the undecided bits get the default.
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "cgroups.h"
#include "error.h"
#include "unique_fd.h"

namespace ocirun::cgroups {

namespace {

constexpr int32_t kAllAccess = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

BpfInsn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  BpfInsn i;
  i.code = code;
  i.dst = dst & 0xf;
  i.src = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

// r_dst = *(u32 *)(r_src + off)
BpfInsn load_word(uint8_t dst, uint8_t src, int16_t off) { return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0); }
BpfInsn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) { return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
BpfInsn alu32_reg(uint8_t op, uint8_t dst, uint8_t src) { return insn(BPF_ALU | op | BPF_X, dst, src, 0, 0); }
BpfInsn jump_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) { return insn(BPF_JMP | op | BPF_K, dst, 0, off, imm); }
BpfInsn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

struct Rule {
  bool allow;
  int type;  // 0: any, else BPF_DEVCG_DEV_*
  std::optional<int64_t> major, minor;
  int32_t access;
};

[[noreturn]] void invalid(const std::string& message) { fail(ErrorKind::InvalidSpec, message); }

bool is_reset(const spec::DeviceCgroupRule& r) { return r.type.empty() || r.type == "a"; }

Rule to_rule(const spec::DeviceCgroupRule& r) {
  Rule out{r.allow, 0, r.major, r.minor, 0};
  if (r.type == "c") {
    out.type = BPF_DEVCG_DEV_CHAR;
  } else if (r.type == "b") {
    out.type = BPF_DEVCG_DEV_BLOCK;
  } else if (!is_reset(r)) {
    invalid("linux.resources.devices: type \"" + r.type + "\" is not one of a, b, c");
  }
  std::string access = r.access.empty() ? "rwm" : r.access;
  for (char c : access) {
    if (c == 'r') out.access |= BPF_DEVCG_ACC_READ;
    else if (c == 'w') out.access |= BPF_DEVCG_ACC_WRITE;
    else if (c == 'm') out.access |= BPF_DEVCG_ACC_MKNOD;
    else invalid("linux.resources.devices: access \"" + r.access + "\" is not a combination of r, w, m");
  }
  // Negative numbers mean "*" (the spec's way to leave them out).
  if (out.major && *out.major < 0) out.major.reset();
  if (out.minor && *out.minor < 0) out.minor.reset();
  return out;
}

long bpf(int cmd, union bpf_attr& attr) { return ::syscall(SYS_bpf, cmd, &attr, sizeof attr); }

UniqueFd load_program(const std::vector<BpfInsn>& program) {
  static const char license[] = "Apache-2.0";
  auto attempt = [&](char* log, uint32_t log_size) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = reinterpret_cast<uint64_t>(program.data());
    attr.insn_cnt = static_cast<uint32_t>(program.size());
    attr.license = reinterpret_cast<uint64_t>(license);
    if (log) {
      attr.log_buf = reinterpret_cast<uint64_t>(log);
      attr.log_size = log_size;
      attr.log_level = 1;
    }
    return static_cast<int>(bpf(BPF_PROG_LOAD, attr));
  };
  int fd = attempt(nullptr, 0);
  if (fd >= 0) return UniqueFd(fd);
  int err = errno;
  // Again with the verifier's log, so the error says what it refused.
  std::string log(64 * 1024, '\0');
  fd = attempt(log.data(), static_cast<uint32_t>(log.size()));
  if (fd >= 0) return UniqueFd(fd);
  log.resize(std::strlen(log.c_str()));
  while (!log.empty() && log.back() == '\n') log.pop_back();
  throw_errno(err, "load the BPF_CGROUP_DEVICE program (bpf BPF_PROG_LOAD)" + (log.empty() ? "" : ": verifier: " + log));
}

}  // namespace

// runc's default rules (libcontainer/specconv AllowedDevices), in runc's order. `path` ties
// a rule to the node it is for: a linux.devices entry at that path replaces it.
struct DefaultRule {
  const char* path;
  const char* type;
  std::optional<int64_t> major, minor;
  const char* access;
};
const DefaultRule kDefaultRules[] = {
    {nullptr, "c", std::nullopt, std::nullopt, "m"},  // mknod of any node; opening it is another matter
    {nullptr, "b", std::nullopt, std::nullopt, "m"},
    {"/dev/null", "c", 1, 3, "rwm"},
    {"/dev/random", "c", 1, 8, "rwm"},
    {"/dev/full", "c", 1, 7, "rwm"},
    {"/dev/tty", "c", 5, 0, "rwm"},
    {"/dev/zero", "c", 1, 5, "rwm"},
    {"/dev/urandom", "c", 1, 9, "rwm"},
    {nullptr, "c", 136, std::nullopt, "rwm"},  // /dev/pts/*
    {nullptr, "c", 5, 2, "rwm"},               // /dev/ptmx
    {nullptr, "c", 10, 200, "rwm"},            // /dev/net/tun
};

bool listed_in(const std::vector<spec::Device>& devices, const char* path) {
  for (const auto& d : devices)
    if (d.path == path) return true;
  return false;
}

spec::Resources with_default_device_rules(const spec::Linux& linux_config) {
  spec::Resources r = linux_config.resources.value_or(spec::Resources{});
  // runc's rule set starts from deny-all, with or without linux.resources: a config that gives
  // no rules (or none that resets everything first) still gets only what follows.
  if (r.devices.empty() || !is_reset(r.devices.front()))
    r.devices.insert(r.devices.begin(), {false, "a", std::nullopt, std::nullopt, "rwm"});
  // The config's rules keep their access and order; the defaults go after them, so a
  // config cannot take them away (as in runc). linux.devices only creates nodes: access to
  // them is what linux.resources.devices grants.
  for (const auto& d : kDefaultRules)
    if (!d.path || !listed_in(linux_config.devices, d.path)) r.devices.push_back({true, d.type, d.major, d.minor, d.access});
  return r;
}

bool device_rules_reset(const std::vector<spec::DeviceCgroupRule>& rules) {
  for (const auto& r : rules)
    if (is_reset(r)) return true;
  return false;
}

std::vector<BpfInsn> device_filter(const std::vector<spec::DeviceCgroupRule>& spec_rules) {
  // Only the rules after the last reset count; the reset sets the default.
  bool default_allow = true;
  std::vector<Rule> rules;
  for (const auto& r : spec_rules) {
    Rule rule = to_rule(r);
    if (is_reset(r)) {
      default_allow = rule.allow;
      rules.clear();
      continue;
    }
    // Linux device numbers fit in 12 (major) and 20 (minor) bits; a rule beyond 32 signed bits
    // cannot match anything.
    if ((rule.major && *rule.major > INT32_MAX) || (rule.minor && *rule.minor > INT32_MAX)) continue;
    rules.push_back(rule);
  }
  // Rules whose verdict is the default for every bit they name change nothing; neither does
  // anything once nothing differs from the default.
  bool any_differs = false;
  for (const auto& r : rules) any_differs |= r.allow != default_allow;
  if (!any_differs) {
    if (default_allow) return {};  // allows everything: nothing to attach
    rules.clear();
  }

  std::vector<BpfInsn> p = {
      load_word(BPF_REG_2, BPF_REG_1, 0),              // r2 = access_type
      alu32_imm(BPF_AND, BPF_REG_2, 0xffff),           // r2 = type
      load_word(BPF_REG_3, BPF_REG_1, 0),              // r3 = access_type
      alu32_imm(BPF_RSH, BPF_REG_3, 16),               // r3 = access
      load_word(BPF_REG_4, BPF_REG_1, 4),              // r4 = major
      load_word(BPF_REG_5, BPF_REG_1, 8),              // r5 = minor
  };
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const Rule& r = *it;
    // Jumps to the next block get their offset once the block is complete.
    std::vector<size_t> to_next;
    auto jump_next = [&](BpfInsn i) {
      to_next.push_back(p.size());
      p.push_back(i);
    };
    if (r.type) jump_next(jump_imm(BPF_JNE, BPF_REG_2, r.type, 0));
    if (r.major) jump_next(jump_imm(BPF_JNE, BPF_REG_4, static_cast<int32_t>(*r.major), 0));
    if (r.minor) jump_next(jump_imm(BPF_JNE, BPF_REG_5, static_cast<int32_t>(*r.minor), 0));
    bool all = (r.access & kAllAccess) == kAllAccess;
    if (!r.allow) {
      if (!all) {
        p.push_back(alu32_reg(BPF_MOV, BPF_REG_1, BPF_REG_3));  // r1 = undecided bits
        p.push_back(alu32_imm(BPF_AND, BPF_REG_1, r.access));  // r1 &= bits this rule denies
        jump_next(jump_imm(BPF_JEQ, BPF_REG_1, 0, 0));         // none of them asked: next rule
      }
      p.push_back(alu32_imm(BPF_MOV, BPF_REG_0, 0));
      p.push_back(exit_insn());
    } else {
      if (!all) {
        p.push_back(alu32_imm(BPF_AND, BPF_REG_3, ~r.access & kAllAccess));  // these bits are allowed
        jump_next(jump_imm(BPF_JNE, BPF_REG_3, 0, 0));                      // others still undecided
      }
      p.push_back(alu32_imm(BPF_MOV, BPF_REG_0, 1));
      p.push_back(exit_insn());
    }
    for (size_t at : to_next) p[at].off = static_cast<int16_t>(p.size() - at - 1);
  }
  // Whatever is still undecided gets the default.
  p.push_back(alu32_imm(BPF_MOV, BPF_REG_0, default_allow ? 1 : 0));
  p.push_back(exit_insn());
  if (p.size() > 4096) fail(ErrorKind::InvalidSpec, "linux.resources.devices: too many rules for one BPF program");
  return p;
}

std::string disassemble(const std::vector<BpfInsn>& program) {
  std::string out;
  for (const auto& i : program) {
    uint8_t cls = BPF_CLASS(i.code);
    std::string line;
    if (cls == BPF_LDX && BPF_MODE(i.code) == BPF_MEM && BPF_SIZE(i.code) == BPF_W) {
      line = fmt::format("r{} = *(u32 *)(r{} + {})", i.dst, i.src, i.off);
    } else if (cls == BPF_ALU || cls == BPF_ALU64) {
      const char* w = cls == BPF_ALU ? "w" : "r";
      std::string src = BPF_SRC(i.code) == BPF_X ? fmt::format("{}{}", w, i.src) : fmt::format("{:#x}", i.imm);
      if (BPF_SRC(i.code) == BPF_K && (BPF_OP(i.code) == BPF_MOV || BPF_OP(i.code) == BPF_RSH))
        src = std::to_string(i.imm);
      const char* op = "?";
      switch (BPF_OP(i.code)) {
        case BPF_MOV: op = "="; break;
        case BPF_AND: op = "&="; break;
        case BPF_OR: op = "|="; break;
        case BPF_RSH: op = ">>="; break;
        case BPF_LSH: op = "<<="; break;
        case BPF_ADD: op = "+="; break;
      }
      line = fmt::format("{}{} {} {}", w, i.dst, op, src);
    } else if ((cls == BPF_JMP || cls == BPF_JMP32) && BPF_OP(i.code) == BPF_EXIT) {
      line = "exit";
    } else if (cls == BPF_JMP || cls == BPF_JMP32) {
      const char* op = "?";
      switch (BPF_OP(i.code)) {
        case BPF_JEQ: op = "=="; break;
        case BPF_JNE: op = "!="; break;
        case BPF_JGT: op = ">"; break;
        case BPF_JGE: op = ">="; break;
      }
      std::string src = BPF_SRC(i.code) == BPF_X ? fmt::format("r{}", i.src) : std::to_string(i.imm);
      if (BPF_OP(i.code) == BPF_JA)
        line = fmt::format("goto {:+}", i.off);
      else
        line = fmt::format("if {}{} {} {} goto {:+}", cls == BPF_JMP ? "r" : "w", i.dst, op, src, i.off);
    } else {
      line = fmt::format("<code {:#04x} dst {} src {} off {} imm {}>", i.code, i.dst, i.src, i.off, i.imm);
    }
    out += line + "\n";
  }
  return out;
}

std::vector<uint32_t> attached_device_programs(const std::string& cgroup2_dir) {
  UniqueFd cg(::open(cgroup2_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg) throw_errno("open cgroup " + cgroup2_dir);
  std::vector<uint32_t> ids(64);
  for (;;) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.query.target_fd = static_cast<uint32_t>(cg.get());
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = reinterpret_cast<uint64_t>(ids.data());
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    if (bpf(BPF_PROG_QUERY, attr) == 0) {
      ids.resize(attr.query.prog_cnt);
      return ids;
    }
    if (errno == ENOSPC && attr.query.prog_cnt > ids.size()) {
      ids.resize(attr.query.prog_cnt);
      continue;
    }
    throw_errno("query the device programs of " + cgroup2_dir + " (bpf BPF_PROG_QUERY)");
  }
}

void attach_device_filter(const std::string& cgroup2_dir, const std::vector<BpfInsn>& program, bool replace) {
  std::vector<uint32_t> old;
  if (replace) old = attached_device_programs(cgroup2_dir);
  UniqueFd cg(::open(cgroup2_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg) throw_errno("open cgroup " + cgroup2_dir);
  if (!program.empty()) {
    UniqueFd prog = load_program(program);
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.target_fd = static_cast<uint32_t>(cg.get());
    attr.attach_bpf_fd = static_cast<uint32_t>(prog.get());
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, attr) < 0)
      throw_errno("attach the device program to " + cgroup2_dir + " (bpf BPF_PROG_ATTACH)");
    // The cgroup holds the program now; our fd may go.
  }
  // The new program is in force before the old ones go: no moment without a filter.
  for (uint32_t id : old) {
    union bpf_attr get;
    std::memset(&get, 0, sizeof get);
    get.prog_id = id;
    UniqueFd fd(static_cast<int>(bpf(BPF_PROG_GET_FD_BY_ID, get)));
    if (!fd) {
      if (errno == ENOENT) continue;  // detached meanwhile
      throw_errno(fmt::format("open device program {} of {} (bpf BPF_PROG_GET_FD_BY_ID)", id, cgroup2_dir));
    }
    union bpf_attr detach;
    std::memset(&detach, 0, sizeof detach);
    detach.target_fd = static_cast<uint32_t>(cg.get());
    detach.attach_bpf_fd = static_cast<uint32_t>(fd.get());
    detach.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, detach) < 0 && errno != ENOENT)
      throw_errno(fmt::format("detach the old device program {} from {} (bpf BPF_PROG_DETACH)", id, cgroup2_dir));
  }
}

}  // namespace ocirun::cgroups
