// The systemd cgroup driver: systemd makes the cgroup (a transient scope, or a slice),
// the cgroupfs drivers manage it from then on, as runc does (systemd properties for what
// systemd knows, cgroupfs writes for the exact values and everything else).
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

#include "cgroupfs.h"
#include "dbus.h"
#include "error.h"
#include "fs.h"

namespace ocirun::cgroups {

namespace {

using namespace std::chrono_literals;

[[noreturn]] void invalid(const std::string& message) { fail(ErrorKind::InvalidSpec, message); }

constexpr const char* kSystemd = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManagerInterface = "org.freedesktop.systemd1.Manager";
constexpr const char* kNotRunning = "systemd not running on this host, can't use systemd as cgroups manager";

std::string_view body_view(const dbus::Message& m) {
  return std::string_view(reinterpret_cast<const char*>(m.body.data()), m.body.size());
}

UnitProperty prop_s(std::string name, std::string v) {
  UnitProperty p{std::move(name), 's'};
  p.s = std::move(v);
  return p;
}
UnitProperty prop_b(std::string name, bool v) {
  UnitProperty p{std::move(name), 'b'};
  p.b = v;
  return p;
}
UnitProperty prop_t(std::string name, uint64_t v) {
  UnitProperty p{std::move(name), 't'};
  p.t = v;
  return p;
}

void write_properties(dbus::Writer& w, const std::vector<UnitProperty>& props) {
  auto array = w.begin_array(8);
  for (const auto& p : props) {
    w.begin_struct();
    w.string(p.name);
    switch (p.type) {
      case 's':
        w.signature("s");
        w.string(p.s);
        break;
      case 'b':
        w.signature("b");
        w.boolean(p.b);
        break;
      case 't':
        w.signature("t");
        w.u64(p.t);
        break;
      case 'u': {
        w.signature("au");
        auto a = w.begin_array(4);
        for (uint32_t v : p.au) w.u32(v);
        w.end_array(a);
        break;
      }
      case 'y': {
        w.signature("ay");
        auto a = w.begin_array(1);
        for (uint8_t v : p.ay) w.byte(v);
        w.end_array(a);
        break;
      }
      default:
        fail(ErrorKind::InvalidArgument, fmt::format("unit property {}: unknown type '{}'", p.name, p.type));
    }
  }
  w.end_array(array);
}

// A connection to systemd's manager, or Unsupported naming why there is none.
dbus::Connection connect_systemd() {
  // sd_booted(): systemd creates this directory when it runs as PID 1 (runc checks the same).
  struct stat st;
  if (::stat("/run/systemd/system", &st) < 0 || !S_ISDIR(st.st_mode)) fail(ErrorKind::Unsupported, kNotRunning);
  std::string why;
  if (::geteuid() == 0) {
    // The private socket needs no bus daemon; systemd accepts only root on it.
    try {
      return dbus::Connection::open("/run/systemd/private", /*hello=*/false);
    } catch (const Error& e) {
      why = e.what();
    }
  }
  try {
    return dbus::Connection::open("/run/dbus/system_bus_socket", /*hello=*/true);
  } catch (const Error& e) {
    why += (why.empty() ? "" : "; ") + std::string(e.what());
  }
  fail(ErrorKind::Unsupported, std::string(kNotRunning) + " (" + why + ")");
}

dbus::Message manager_call(const char* member) {
  return dbus::method_call(kSystemd, kManagerPath, kManagerInterface, member);
}

// GetUnit(name) -> the unit's object path; nullopt for org.freedesktop.systemd1.NoSuchUnit.
std::optional<std::string> unit_object(dbus::Connection& bus, const std::string& unit) {
  dbus::Message m = manager_call("GetUnit");
  m.signature = "s";
  dbus::Writer w;
  w.string(unit);
  m.body = w.bytes();
  try {
    dbus::Message reply = bus.call(std::move(m));
    dbus::Reader r(body_view(reply));
    return r.string();
  } catch (const dbus::CallError& e) {
    if (e.name() == "org.freedesktop.systemd1.NoSuchUnit") return std::nullopt;
    throw;
  }
}

std::string get_string_property(dbus::Connection& bus, const std::string& object, const std::string& interface,
                                const std::string& name) {
  dbus::Message m = dbus::method_call(kSystemd, object, "org.freedesktop.DBus.Properties", "Get");
  m.signature = "ss";
  dbus::Writer w;
  w.string(interface);
  w.string(name);
  m.body = w.bytes();
  dbus::Message reply = bus.call(std::move(m));
  dbus::Reader r(body_view(reply));
  return r.variant_string();
}

// The unit's ActiveState, or "" when systemd no longer knows it.
std::string active_state(dbus::Connection& bus, const std::string& unit) {
  auto object = unit_object(bus, unit);
  if (!object) return "";
  try {
    return get_string_property(bus, *object, "org.freedesktop.systemd1.Unit", "ActiveState");
  } catch (const dbus::CallError& e) {
    if (e.name() == "org.freedesktop.DBus.Error.UnknownObject") return "";  // unloaded meanwhile
    throw;
  }
}

void unit_call(dbus::Connection& bus, const char* member, const std::string& unit, bool with_mode) {
  dbus::Message m = manager_call(member);
  m.signature = with_mode ? "ss" : "s";
  dbus::Writer w;
  w.string(unit);
  if (with_mode) w.string("replace");
  m.body = w.bytes();
  bus.call(std::move(m));
}

// SetUnitProperties(name, runtime=true, properties): runtime, as the unit is transient.
void set_unit_properties(dbus::Connection& bus, const std::string& unit, const std::vector<UnitProperty>& props) {
  dbus::Message m = manager_call("SetUnitProperties");
  m.signature = "sba(sv)";
  dbus::Writer w;
  w.string(unit);
  w.boolean(true);
  write_properties(w, props);
  m.body = w.bytes();
  bus.call(std::move(m));
}

// StartTransientUnit; *started is set once systemd accepted the unit (from then on it is
// ours to stop, even if waiting for it fails).
void start_unit(dbus::Connection& bus, const SystemdUnit& unit, const std::vector<UnitProperty>& props, bool* started) {
  auto start = [&] {
    dbus::Message m = manager_call("StartTransientUnit");
    m.signature = "ssa(sv)a(sa(sv))";
    dbus::Writer w;
    w.string(unit.unit);
    w.string("replace");
    write_properties(w, props);
    auto aux = w.begin_array(8);
    w.end_array(aux);
    m.body = w.bytes();
    bus.call(std::move(m));
  };
  try {
    start();
  } catch (const dbus::CallError& e) {
    if (e.name() != "org.freedesktop.systemd1.UnitExists") throw;
    // Not ours: leave it alone.
    // A failed unit of the same name lingers until reset (runc does the same); a live one
    // means the name is taken.
    std::string state = active_state(bus, unit.unit);
    if (state != "failed" && state != "inactive")
      fail(ErrorKind::AlreadyExists, fmt::format("systemd unit {} already exists ({})", unit.unit, state));
    try {
      unit_call(bus, "ResetFailedUnit", unit.unit, false);
    } catch (const dbus::CallError&) {
    }
    start();
  }
  *started = true;
  // The job runs asynchronously: wait until the unit is active (scopes get there at once).
  for (int i = 0; i < 2000; ++i) {
    std::string state = active_state(bus, unit.unit);
    if (state == "active") return;
    if (state == "failed") fail(ErrorKind::Syscall, "systemd unit " + unit.unit + " failed to start");
    std::this_thread::sleep_for(5ms);
  }
  throw Error(ErrorKind::Syscall, "timed out waiting for systemd unit " + unit.unit + " to become active", ETIMEDOUT);
}

// StopUnit, wait until the unit is inactive or gone, reset it if it failed. A unit that
// is already gone (an empty scope is stopped and collected by systemd itself) is fine.
void stop_unit(dbus::Connection& bus, const std::string& unit) {
  try {
    unit_call(bus, "StopUnit", unit, true);
  } catch (const dbus::CallError& e) {
    if (e.name() == "org.freedesktop.systemd1.NoSuchUnit") return;
    throw;
  }
  for (int i = 0; i < 2000; ++i) {
    std::string state = active_state(bus, unit);
    if (state.empty() || state == "inactive") return;
    if (state == "failed") {
      try {
        unit_call(bus, "ResetFailedUnit", unit, false);
      } catch (const dbus::CallError&) {
      }
      return;
    }
    std::this_thread::sleep_for(5ms);
  }
  throw Error(ErrorKind::Syscall, "timed out waiting for systemd unit " + unit + " to stop", ETIMEDOUT);
}

bool unified_layout(const Host& host) { return host.layout == Layout::V2 || host.v1.empty(); }

class SystemdManager : public Manager {
 public:
  SystemdManager(Host host, SystemdUnit unit, std::string id)
      : host_(std::move(host)), unit_(std::move(unit)), id_(std::move(id)) {}
  // A unit started by an earlier command: its cgroups are exactly what `saved` says.
  SystemdManager(Host host, const Saved& saved) : host_(std::move(host)), started_(true) {
    unit_.unit = saved.systemd_unit;
    unit_.path = saved.path;
    Saved plain = saved;
    plain.systemd_unit.clear();
    if (auto v2 = plain.dirs.find(""); v2 != plain.dirs.end()) host_.v2_delegated = v2->second;
    inner_ = reopen(host_, plain);
  }

  void create() override { bus_.emplace(connect_systemd()); }

  void apply(const spec::Resources& r) override {
    if (!inner_) {
      pending_ = r;  // the unit starts with the first process
      return;
    }
    // update: the files first (they check the values against the host), then the unit, so
    // that systemd does not put its older values back on its next daemon-reload.
    inner_->apply(r);
    auto props = systemd_resource_properties(r, unified_layout(host_));
    if (props.empty()) return;
    if (!bus_) bus_.emplace(connect_systemd());
    set_unit_properties(*bus_, unit_.unit, props);
  }

  void add_process(pid_t pid) override {
    if (!inner_) start(pid);
    inner_->add_process(pid);
  }
  // The unit can only start with a process in it, so the parent moves stage 1 in with
  // add_process (create does); joining from inside works once the unit runs.
  void join_self(bool v2_done) override { need()->join_self(v2_done); }
  std::string v2_dir() const override { return inner_ ? inner_->v2_dir() : std::string(); }

  // systemd stops a scope once it is empty and removes its cgroup: a container whose
  // processes have all exited has no cgroup left, which for these means nothing to do.
  void freeze(bool frozen) override { need()->freeze(frozen); }
  bool frozen() const override { return unless_gone([&] { return need()->frozen(); }, false); }
  std::vector<pid_t> pids() const override { return unless_gone<std::vector<pid_t>>([&] { return need()->pids(); }, {}); }
  void kill_all(int sig) override {
    try {
      need()->kill_all(sig);
    } catch (const Error& e) {
      if (e.sys_errno() != ENOENT) throw;
    }
  }
  Stats stats() const override { return need()->stats(); }
  uint64_t oom_kills() const override { return need()->oom_kills(); }
  std::string path() const override { return inner_ ? inner_->path() : unit_.path; }

  Saved saved() const override {
    // Before the unit starts there is nothing to reopen or stop; naming the unit here would
    // let a later delete stop a same-named unit that is not ours.
    if (!inner_) return Saved{unit_.path, {}, {}, {}};
    Saved s = need()->saved();
    s.systemd_unit = unit_.unit;
    return s;
  }

  void destroy() override {
    std::string first_error;
    int first_errno = 0;
    if (started_) {
      try {
        if (!bus_) bus_.emplace(connect_systemd());
        stop_unit(*bus_, unit_.unit);
      } catch (const Error& e) {
        // systemd gone (or never there): the cgroupfs side still cleans up what it can,
        // and an empty scope is collected by systemd once it runs again.
        if (e.kind() != ErrorKind::Unsupported) {
          first_error = e.what();
          first_errno = e.sys_errno();
        }
      }
    }
    if (inner_) inner_->destroy();
    if (!first_error.empty()) throw Error(ErrorKind::Syscall, "stop systemd unit: " + first_error, first_errno);
  }

 private:
  template <class T, class F>
  static T unless_gone(F&& f, T gone) {
    try {
      return f();
    } catch (const Error& e) {
      if (e.sys_errno() != ENOENT) throw;
      return gone;
    }
  }

  Manager* need() const {
    if (!inner_) fail(ErrorKind::BadState, "systemd unit " + unit_.unit + " has not been started");
    return inner_.get();
  }

  void start(pid_t pid) {
    if (!bus_) bus_.emplace(connect_systemd());
    spec::Resources none;
    const spec::Resources& r = pending_ ? *pending_ : none;
    start_unit(*bus_, unit_, systemd_properties(unit_, pid, r, unified_layout(host_)), &started_);
    // Where systemd put it, as seen from our cgroup namespace.
    std::string cgroup = unit_.path;
    if (auto object = unit_object(*bus_, unit_.unit)) {
      const char* iface = unit_.is_slice() ? "org.freedesktop.systemd1.Slice" : "org.freedesktop.systemd1.Scope";
      std::string reported = get_string_property(*bus_, *object, iface, "ControlGroup");
      if (!reported.empty()) cgroup = reported;
    }
    // systemd made the directories of the hierarchies it manages; the cgroupfs driver makes
    // the rest (and remembers only those), then writes the exact limits, in the unit's cgroup
    // only: the slices above are systemd's (their subtree_control too).
    if (!host_.v2.empty()) host_.v2_delegated = host_.v2 + cgroup;
    auto inner = open(host_, cgroup, id_);
    inner->create();
    inner_ = std::move(inner);
    if (pending_) with_context("apply linux.resources", [&] { inner_->apply(*pending_); });
    pending_.reset();
  }

  Host host_;
  SystemdUnit unit_;
  std::string id_;
  std::optional<dbus::Connection> bus_;
  std::unique_ptr<Manager> inner_;
  std::optional<spec::Resources> pending_;
  bool started_ = false;  // the unit is ours to stop (we started it, or an earlier command did)
};

bool valid_unit_part(std::string_view s) { return s.find('/') == std::string_view::npos; }

// runc rounds the quota up to systemd's 10ms granularity, so that systemd does not reset
// a limit the cgroupfs write made tighter.
uint64_t quota_per_sec_usec(int64_t quota, uint64_t period) {
  uint64_t v = uint64_t(quota) * 1000000 / period;
  if (v % 10000) v = (v / 10000 + 1) * 10000;
  return v;
}

}  // namespace

std::string expand_slice(std::string_view slice) {
  const std::string_view suffix = ".slice";
  auto bad = [&](const char* why) { invalid(fmt::format("invalid systemd slice name \"{}\": {}", slice, why)); };
  if (slice.size() < suffix.size() || slice.substr(slice.size() - suffix.size()) != suffix)
    bad("must end in \".slice\"");
  if (slice.find('/') != std::string_view::npos) bad("must not contain '/'");
  std::string_view name = slice.substr(0, slice.size() - suffix.size());
  if (name == "-") return "/";
  std::string path, prefix;
  for (const auto& component : fs::split(name, '-')) {
    if (component.empty()) bad("empty component between '-'");
    path += "/" + prefix + component + std::string(suffix);
    prefix += component + "-";
  }
  return path;
}

SystemdUnit parse_systemd_path(std::string_view cgroups_path, std::string_view id) {
  std::string slice, prefix, name;
  if (cgroups_path.empty()) {
    prefix = "ocirun";
    name = std::string(id);
  } else {
    auto parts = fs::split(cgroups_path, ':');
    if (parts.size() != 3)
      invalid(fmt::format("linux.cgroupsPath \"{}\": expected \"slice:prefix:name\" for the systemd cgroup driver",
                          cgroups_path));
    slice = parts[0];
    prefix = parts[1];
    name = parts[2];
  }
  if (name.empty()) invalid(fmt::format("linux.cgroupsPath \"{}\": the name is empty", cgroups_path));
  if (!valid_unit_part(prefix) || !valid_unit_part(name))
    invalid(fmt::format("linux.cgroupsPath \"{}\": prefix and name must not contain '/'", cgroups_path));
  SystemdUnit u;
  u.slice = slice.empty() ? "system.slice" : slice;
  std::string parent = expand_slice(u.slice);
  if (name.size() > 6 && name.compare(name.size() - 6, 6, ".slice") == 0) {
    // A slice of its own: its name already says where it lives.
    expand_slice(name);
    u.unit = name;
  } else {
    u.unit = prefix.empty() ? name + ".scope" : prefix + "-" + name + ".scope";
  }
  u.path = (parent == "/" ? "" : parent) + "/" + u.unit;
  return u;
}

std::vector<uint8_t> cpuset_to_bitmask(std::string_view list) {
  std::vector<uint8_t> mask;
  auto number = [&](std::string_view s) -> uint32_t {
    std::string t = fs::trim(std::string(s));
    if (t.empty() || t.size() > 6 || t.find_first_not_of("0123456789") != std::string::npos)
      invalid(fmt::format("invalid cpuset list \"{}\"", list));
    return static_cast<uint32_t>(std::stoul(t));
  };
  for (const auto& item : fs::split(list, ',')) {
    if (fs::trim(item).empty()) continue;
    auto dash = item.find('-');
    uint32_t lo = number(dash == std::string::npos ? item : item.substr(0, dash));
    uint32_t hi = dash == std::string::npos ? lo : number(item.substr(dash + 1));
    if (hi < lo) invalid(fmt::format("invalid cpuset list \"{}\"", list));
    for (uint32_t n = lo; n <= hi; ++n) {
      if (mask.size() <= n / 8) mask.resize(n / 8 + 1);
      mask[n / 8] |= uint8_t(1u << (n % 8));
    }
  }
  return mask;
}

std::vector<UnitProperty> systemd_properties(const SystemdUnit& unit, pid_t pid, const spec::Resources& r,
                                             bool unified) {
  std::vector<UnitProperty> p;
  p.push_back(prop_s("Description", "ocirun container " + unit.unit));
  if (unit.is_slice()) {
    // A slice's parent follows from its name; Wants= makes systemd start it first.
    p.push_back(prop_s("Wants", unit.slice));
  } else {
    p.push_back(prop_s("Slice", unit.slice));
    p.push_back(prop_b("Delegate", true));
    UnitProperty pids{"PIDs", 'u'};
    pids.au = {static_cast<uint32_t>(pid)};
    p.push_back(pids);
  }
  p.push_back(prop_b("DefaultDependencies", false));
  p.push_back(prop_b("MemoryAccounting", true));
  p.push_back(prop_b("CPUAccounting", true));
  p.push_back(prop_b("TasksAccounting", true));
  auto resources = systemd_resource_properties(r, unified);
  p.insert(p.end(), resources.begin(), resources.end());
  return p;
}

std::vector<UnitProperty> systemd_resource_properties(const spec::Resources& r, bool unified) {
  std::vector<UnitProperty> p;
  if (r.memory && r.memory->limit && *r.memory->limit != 0) {
    uint64_t v = *r.memory->limit < 0 ? UINT64_MAX : uint64_t(*r.memory->limit);
    p.push_back(prop_t(unified ? "MemoryMax" : "MemoryLimit", v));
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    if (c.shares && *c.shares != 0)
      p.push_back(unified ? prop_t("CPUWeight", cpu_shares_to_weight(*c.shares)) : prop_t("CPUShares", *c.shares));
    uint64_t period = c.period && *c.period ? *c.period : 100000;
    if (c.period && *c.period) p.push_back(prop_t("CPUQuotaPeriodUSec", period));
    if (c.quota && *c.quota != 0)
      p.push_back(prop_t("CPUQuotaPerSecUSec", *c.quota < 0 ? UINT64_MAX : quota_per_sec_usec(*c.quota, period)));
    if (unified && !c.cpus.empty()) {
      UnitProperty cpus{"AllowedCPUs", 'y'};
      cpus.ay = cpuset_to_bitmask(c.cpus);
      p.push_back(cpus);
    }
    if (unified && !c.mems.empty()) {
      UnitProperty mems{"AllowedMemoryNodes", 'y'};
      mems.ay = cpuset_to_bitmask(c.mems);
      p.push_back(mems);
    }
  }
  if (r.pids && r.pids->limit) {
    int64_t l = *r.pids->limit;
    p.push_back(prop_t("TasksMax", l < 0 ? UINT64_MAX : l == 0 ? 1 : uint64_t(l)));
  }
  return p;
}

std::unique_ptr<Manager> open_systemd(const Host& host, const std::string& cgroups_path, const std::string& id) {
  return std::make_unique<SystemdManager>(host, parse_systemd_path(cgroups_path, id), id);
}

namespace detail {
std::unique_ptr<Manager> reopen_systemd(const Host& host, const Saved& saved) {
  return std::make_unique<SystemdManager>(host, saved);
}
}  // namespace detail

}  // namespace ocirun::cgroups
