// Pure checks on a parsed spec. Each check looks at one area and appends Problems
// whose `field` is the JSON path of the offending value.
#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "json_pointer.h"
#include "parse.h"

namespace ocirun::spec {
namespace {

using Problems = std::vector<Problem>;

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool is_absolute(std::string_view path) { return !path.empty() && path.front() == '/'; }

template <class C>
bool contains(const C& set, std::string_view value) {
  return std::find(std::begin(set), std::end(set), value) != std::end(set);
}

constexpr std::string_view kNamespaceTypes[] = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"};

constexpr std::string_view kRlimits[] = {
    "RLIMIT_CPU",     "RLIMIT_FSIZE",  "RLIMIT_DATA",   "RLIMIT_STACK",      "RLIMIT_CORE",     "RLIMIT_RSS",
    "RLIMIT_NPROC",   "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",        "RLIMIT_LOCKS",    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_RTPRIO", "RLIMIT_RTTIME"};

constexpr std::string_view kPropagations[] = {"",      "private", "rprivate", "slave",      "rslave",
                                              "shared", "rshared", "unbindable", "runbindable"};

constexpr std::string_view kIoPriorityClasses[] = {"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"};

constexpr std::string_view kSchedPolicies[] = {"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR",      "SCHED_BATCH",
                                               "SCHED_ISO",   "SCHED_IDLE", "SCHED_DEADLINE"};

constexpr std::string_view kSeccompOps[] = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",       "SCMP_CMP_EQ",
                                            "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};

// CAP_ followed by one or more of [A-Z_]. Whether the kernel knows it is checked later.
bool capability_name_ok(std::string_view name) {
  if (name.size() <= 4 || name.substr(0, 4) != "CAP_") return false;
  return std::all_of(name.begin() + 4, name.end(), [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; });
}

// A namespace listed without a path: the container gets a new one.
bool creates_namespace(const Spec& s, const char* type) {
  if (!s.linux) return false;
  const Namespace* ns = s.linux->find_namespace(type);
  return ns && ns->path.empty();
}

void check_version(const Spec& s, Problems& out) {
  if (s.oci_version.empty())
    out.push_back({"/ociVersion", "is required"});
  else if (s.oci_version.rfind("1.", 0) != 0)
    out.push_back({"/ociVersion", "unsupported version " + quoted(s.oci_version) + ", want 1.x"});
}

void check_root(const Spec& s, Problems& out) {
  if (s.root.path.empty()) out.push_back({"/root/path", "is required"});
}

void check_capabilities(const Capabilities& caps, Problems& out) {
  const std::pair<const char*, const std::vector<std::string>*> sets[] = {{"bounding", &caps.bounding},
                                                                          {"effective", &caps.effective},
                                                                          {"inheritable", &caps.inheritable},
                                                                          {"permitted", &caps.permitted},
                                                                          {"ambient", &caps.ambient}};
  for (const auto& [name, list] : sets)
    for (size_t i = 0; i < list->size(); ++i)
      if (!capability_name_ok((*list)[i]))
        out.push_back({"/process/capabilities/" + std::string(name) + pointer_token(i),
                       "invalid capability name " + quoted((*list)[i])});
}

void check_rlimits(const std::vector<Rlimit>& rlimits, Problems& out) {
  std::set<std::string> seen;
  for (size_t i = 0; i < rlimits.size(); ++i) {
    const Rlimit& r = rlimits[i];
    std::string at = "/process/rlimits" + pointer_token(i);
    if (!contains(kRlimits, r.type))
      out.push_back({at + "/type", "unknown rlimit type " + quoted(r.type)});
    else if (!seen.insert(r.type).second)
      out.push_back({at + "/type", "duplicate rlimit type " + quoted(r.type)});
    if (r.soft > r.hard)
      out.push_back({at + "/soft",
                     "soft limit " + std::to_string(r.soft) + " exceeds hard limit " + std::to_string(r.hard)});
  }
}

void check_process(const Spec& s, bool need_process, Problems& out) {
  if (!s.process) {
    if (need_process) out.push_back({"/process", "is required"});
    return;
  }
  const Process& p = *s.process;
  if (p.args.empty()) out.push_back({"/process/args", "must not be empty"});
  if (!is_absolute(p.cwd)) out.push_back({"/process/cwd", "must be an absolute path"});
  for (size_t i = 0; i < p.env.size(); ++i) {
    auto eq = p.env[i].find('=');
    if (eq == std::string::npos || eq == 0)
      out.push_back({"/process/env" + pointer_token(i), "must be of the form KEY=VALUE, got " + quoted(p.env[i])});
  }
  if (p.capabilities) check_capabilities(*p.capabilities, out);
  check_rlimits(p.rlimits, out);
  if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000))
    out.push_back({"/process/oomScoreAdj", "must be between -1000 and 1000"});
  if (p.io_priority) {
    if (!contains(kIoPriorityClasses, p.io_priority->klass))
      out.push_back({"/process/ioPriority/class", "unknown class " + quoted(p.io_priority->klass)});
    if (p.io_priority->priority < 0 || p.io_priority->priority > 7)
      out.push_back({"/process/ioPriority/priority", "must be between 0 and 7"});
  }
  if (p.scheduler && !contains(kSchedPolicies, p.scheduler->policy))
    out.push_back({"/process/scheduler/policy", "unknown policy " + quoted(p.scheduler->policy)});
}

void check_mounts(const Spec& s, Problems& out) {
  // The spec says destination should be absolute; runc takes relative ones
  // (relative to the rootfs) for compatibility, so only an empty one is wrong.
  for (size_t i = 0; i < s.mounts.size(); ++i)
    if (s.mounts[i].destination.empty()) out.push_back({"/mounts" + pointer_token(i) + "/destination", "is required"});
}

void check_hooks(const Spec& s, Problems& out) {
  if (!s.hooks) return;
  const Hooks& h = *s.hooks;
  const std::pair<const char*, const std::vector<Hook>*> stages[] = {
      {"prestart", &h.prestart},          {"createRuntime", &h.create_runtime}, {"createContainer", &h.create_container},
      {"startContainer", &h.start_container}, {"poststart", &h.poststart},      {"poststop", &h.poststop}};
  for (const auto& [stage, hooks] : stages)
    for (size_t i = 0; i < hooks->size(); ++i) {
      std::string at = "/hooks/" + std::string(stage) + pointer_token(i);
      const Hook& hook = (*hooks)[i];
      if (!is_absolute(hook.path)) out.push_back({at + "/path", "must be an absolute path"});
      if (hook.timeout && *hook.timeout <= 0) out.push_back({at + "/timeout", "must be positive"});
    }
}

void check_namespaces(const Linux& l, Problems& out) {
  std::set<std::string> seen;
  for (size_t i = 0; i < l.namespaces.size(); ++i) {
    const Namespace& ns = l.namespaces[i];
    std::string at = "/linux/namespaces" + pointer_token(i);
    if (!contains(kNamespaceTypes, ns.type))
      out.push_back({at + "/type", "unknown namespace type " + quoted(ns.type)});
    else if (!seen.insert(ns.type).second)
      out.push_back({at + "/type", "duplicate namespace type " + quoted(ns.type)});
    if (!ns.path.empty() && !is_absolute(ns.path)) out.push_back({at + "/path", "must be an absolute path"});
  }
}

void check_id_mappings(const Spec& s, Problems& out) {
  const Linux& l = *s.linux;
  bool new_userns = creates_namespace(s, "user");
  const std::pair<const char*, const std::vector<IdMapping>*> lists[] = {{"uidMappings", &l.uid_mappings},
                                                                         {"gidMappings", &l.gid_mappings}};
  for (const auto& [name, mappings] : lists) {
    std::string at = "/linux/" + std::string(name);
    if (!mappings->empty() && !new_userns)
      out.push_back({at, "needs a new user namespace (a \"user\" namespace without a path)"});
    if (mappings->empty() && new_userns) out.push_back({at, "is required with a new user namespace"});
    for (size_t i = 0; i < mappings->size(); ++i)
      if ((*mappings)[i].size == 0) out.push_back({at + pointer_token(i) + "/size", "must be positive"});
  }
}

void check_time_offsets(const Spec& s, Problems& out) {
  const Linux& l = *s.linux;
  if (!l.time_offsets.empty() && !creates_namespace(s, "time"))
    out.push_back({"/linux/timeOffsets", "needs a new time namespace"});
  for (const auto& [clock, offset] : l.time_offsets) {
    std::string at = "/linux/timeOffsets" + pointer_token(clock);
    if (clock != "monotonic" && clock != "boottime") out.push_back({at, "unknown clock " + quoted(clock)});
    if (offset.nanosecs >= 1000000000) out.push_back({at + "/nanosecs", "must be less than 1000000000"});
  }
}

void check_devices(const Linux& l, Problems& out) {
  for (size_t i = 0; i < l.devices.size(); ++i) {
    const Device& d = l.devices[i];
    std::string at = "/linux/devices" + pointer_token(i);
    if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
      out.push_back({at + "/type", "unknown device type " + quoted(d.type) + ", want c, b, u or p"});
    if (!is_absolute(d.path)) out.push_back({at + "/path", "must be an absolute path"});
  }
}

void check_device_rules(const Linux& l, Problems& out) {
  if (!l.resources) return;
  for (size_t i = 0; i < l.resources->devices.size(); ++i) {
    const DeviceCgroupRule& r = l.resources->devices[i];
    std::string at = "/linux/resources/devices" + pointer_token(i);
    if (!r.type.empty() && r.type != "a" && r.type != "c" && r.type != "b")
      out.push_back({at + "/type", "unknown device type " + quoted(r.type) + ", want a, c or b"});
    if (r.access.find_first_not_of("rwm") != std::string::npos)
      out.push_back({at + "/access", "must be a combination of r, w and m"});
  }
}

void check_seccomp(const Linux& l, Problems& out) {
  if (!l.seccomp) return;
  const Seccomp& sc = *l.seccomp;
  if (sc.default_action.empty()) out.push_back({"/linux/seccomp/defaultAction", "is required"});
  for (size_t i = 0; i < sc.syscalls.size(); ++i) {
    const SeccompSyscall& call = sc.syscalls[i];
    std::string at = "/linux/seccomp/syscalls" + pointer_token(i);
    if (call.names.empty()) out.push_back({at + "/names", "must not be empty"});
    if (call.action.empty()) out.push_back({at + "/action", "is required"});
    for (size_t j = 0; j < call.args.size(); ++j)
      if (!contains(kSeccompOps, call.args[j].op))
        out.push_back({at + "/args" + pointer_token(j) + "/op", "unknown operator " + quoted(call.args[j].op)});
  }
}

void check_linux(const Spec& s, Problems& out) {
  if (!s.linux) return;
  const Linux& l = *s.linux;
  check_namespaces(l, out);
  check_id_mappings(s, out);
  check_time_offsets(s, out);
  if (!contains(kPropagations, l.rootfs_propagation))
    out.push_back({"/linux/rootfsPropagation", "unknown propagation " + quoted(l.rootfs_propagation)});
  for (const auto& [key, value] : l.sysctl)
    if (key.empty()) out.push_back({"/linux/sysctl" + pointer_token(key), "key must not be empty"});
  check_devices(l, out);
  check_device_rules(l, out);
  check_seccomp(l, out);
}

// runc refuses to set a hostname or domainname in the runtime's own uts namespace; one the
// config names, new or joined by path, is the container's (runc and crun set it there).
void check_uts(const Spec& s, Problems& out) {
  bool own_uts = s.linux && s.linux->find_namespace("uts");
  if (!s.hostname.empty() && !own_uts) out.push_back({"/hostname", "needs a uts namespace in linux.namespaces"});
  if (!s.domainname.empty() && !own_uts) out.push_back({"/domainname", "needs a uts namespace in linux.namespaces"});
}

}  // namespace

std::vector<Problem> validate(const Spec& spec, bool need_process) {
  Problems out;
  check_version(spec, out);
  check_root(spec, out);
  check_process(spec, need_process, out);
  check_uts(spec, out);
  check_mounts(spec, out);
  check_hooks(spec, out);
  check_linux(spec, out);
  return out;
}

void validate_or_throw(const Spec& spec, bool need_process) {
  auto problems = validate(spec, need_process);
  if (!problems.empty())
    throw Error(ErrorKind::InvalidSpec, "config.json: " + problems.front().field + ": " + problems.front().message);
}

}  // namespace ocirun::spec
