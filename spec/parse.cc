// config.json <-> spec::Spec.
//
// Each struct's JSON shape is written down once, in a `fields(v, s)` function that
// lists (JSON name, member, presence). The same list drives both directions:
// Reader fills the struct from JSON and reports the JSON path of anything wrong,
// Writer turns the struct back into JSON. So parse(to_json(s)) round-trips by
// construction.
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "error.h"
#include "fs.h"
#include "json_pointer.h"
#include "parse.h"

namespace ocirun::spec {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;  // keeps the spec's field order in output

// How a field behaves when absent on input / blank on output.
enum Presence {
  kOptional,   // may be absent; omitted from output when blank (Go's omitempty)
  kDefaulted,  // may be absent (validate() judges it); always written
  kRequired,   // absence is a parse error (no way to tell "unset" from 0); always written
};

// `document` names what is parsed: "config.json", or exec's "--process FILE".
[[noreturn]] void fail_at(std::string_view document, const std::string& path, const std::string& message) {
  throw Error(ErrorKind::InvalidSpec, std::string(document) + ": " + (path.empty() ? "" : path + ": ") + message);
}

// ---------------------------------------------------------------------------
// Reading

// A JSON value together with its JSON-pointer path and its document, for error messages.
struct Node {
  const json& j;
  std::string path;
  std::string_view document;

  Node at(std::string_view key) const { return {j.at(std::string(key)), path + pointer_token(key), document}; }
  Node at(size_t index) const { return {j.at(index), path + pointer_token(index), document}; }

  [[noreturn]] void fail(const std::string& message) const { fail_at(document, path, message); }
  void expect(json::value_t type, const char* name) const {
    if (j.type() != type) fail(std::string("expected ") + name + ", got " + j.type_name());
  }
  // Member `key` of this object; a JSON null counts as absent.
  bool has(const char* key) const {
    auto it = j.find(key);
    return it != j.end() && !it->is_null();
  }
};

void read(const Node& n, std::string& out) {
  n.expect(json::value_t::string, "string");
  out = n.j.get_ref<const std::string&>();
}

void read(const Node& n, bool& out) {
  n.expect(json::value_t::boolean, "boolean");
  out = n.j.get<bool>();
}

template <class T>
std::string range_of() {
  return "(" + std::to_string(std::numeric_limits<T>::min()) + ".." + std::to_string(std::numeric_limits<T>::max()) +
         ")";
}

// Integers: no floats, no strings, no wrap-around.
template <class T>
  requires std::is_integral_v<T>
void read(const Node& n, T& out) {
  const json& j = n.j;
  if (j.is_number_unsigned()) {
    auto v = j.get<uint64_t>();
    if (!std::in_range<T>(v)) n.fail("value " + std::to_string(v) + " out of range " + range_of<T>());
    out = static_cast<T>(v);
  } else if (j.is_number_integer()) {
    auto v = j.get<int64_t>();
    if (!std::in_range<T>(v)) n.fail("value " + std::to_string(v) + " out of range " + range_of<T>());
    out = static_cast<T>(v);
  } else if (j.is_number_float()) {
    // Integers beyond 64 bits arrive here too.
    double d = j.get<double>();
    if (std::isfinite(d) && std::fabs(d) >= 9.2e18 && std::trunc(d) == d)
      n.fail("value " + j.dump() + " out of range " + range_of<T>());
    n.fail("expected integer, got " + j.dump());
  } else {
    n.fail(std::string("expected integer, got ") + j.type_name());
  }
}

template <class T>
void read(const Node& n, std::optional<T>& out) {
  T v{};
  read(n, v);
  out = std::move(v);
}

template <class T>
void read(const Node& n, std::vector<T>& out) {
  n.expect(json::value_t::array, "array");
  out.clear();
  out.reserve(n.j.size());
  for (size_t i = 0; i < n.j.size(); ++i) read(n.at(i), out.emplace_back());
}

template <class T>
void read(const Node& n, std::map<std::string, T>& out) {
  n.expect(json::value_t::object, "object");
  out.clear();
  for (const auto& [key, value] : n.j.items()) read(n.at(key), out[key]);
}

// Visitor handed to fields(): reads each listed member of one JSON object.
struct Reader {
  const Node& node;

  template <class T>
  void operator()(const char* key, T& member, Presence presence = kOptional) {
    if (!node.has(key)) {
      if (presence == kRequired) fail_at(node.document, node.path + pointer_token(key), "missing required field");
      return;
    }
    read(node.at(key), member);
  }
};

// Any struct with a fields() description.
template <class T>
void read(const Node& n, T& out) {
  n.expect(json::value_t::object, "object");
  Reader reader{n};
  fields(reader, out);
}

// ---------------------------------------------------------------------------
// Writing

template <class T>
  requires std::is_integral_v<T>
ordered_json to(const T& v) {
  return v;
}
ordered_json to(const std::string& s) { return s; }
template <class T>
ordered_json to(const std::vector<T>& v);
template <class T>
ordered_json to(const std::map<std::string, T>& m);
template <class T>
ordered_json to(const T& s);

template <class T>
ordered_json to(const std::vector<T>& v) {
  ordered_json out = ordered_json::array();
  for (const auto& x : v) out.push_back(to(x));
  return out;
}

template <class T>
ordered_json to(const std::map<std::string, T>& m) {
  ordered_json out = ordered_json::object();
  for (const auto& [k, v] : m) out[k] = to(v);
  return out;
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

// Go's omitempty: false, 0, "", [] and {} are left out.
bool blank(const ordered_json& v) {
  return v.is_null() || (v.is_boolean() && !v.get<bool>()) || (v.is_number() && v == 0) ||
         (v.is_string() && v.get_ref<const std::string&>().empty()) || ((v.is_array() || v.is_object()) && v.empty());
}

// Visitor handed to fields(): writes each listed member into one JSON object.
struct Writer {
  ordered_json out = ordered_json::object();

  template <class T>
  void operator()(const char* key, const T& member, Presence presence = kOptional) {
    if constexpr (is_optional<T>::value) {
      if (member) out[key] = to(*member);  // set, even to 0 or false: that's why it's optional
    } else {
      ordered_json v = to(member);
      if (presence != kOptional || !blank(v)) out[key] = std::move(v);
    }
  }
};

template <class T>
ordered_json to(const T& s) {
  Writer writer;
  fields(writer, const_cast<T&>(s));  // Writer only reads the members
  return std::move(writer.out);
}

// ---------------------------------------------------------------------------
// The config.json shape: field names and presence as in runtime-spec v1.2.

template <class V>
void fields(V& v, Root& r) {
  v("path", r.path);
  v("readonly", r.readonly);
}

template <class V>
void fields(V& v, IdMapping& m) {
  v("containerID", m.container_id, kRequired);
  v("hostID", m.host_id, kRequired);
  v("size", m.size, kRequired);
}

template <class V>
void fields(V& v, Mount& m) {
  v("destination", m.destination, kDefaulted);
  v("type", m.type);
  v("source", m.source);
  v("options", m.options);
  v("uidMappings", m.uid_mappings);
  v("gidMappings", m.gid_mappings);
}

template <class V>
void fields(V& v, User& u) {
  // REQUIRED by the spec, but runc (Go zero values) takes a missing uid/gid as 0.
  v("uid", u.uid, kDefaulted);
  v("gid", u.gid, kDefaulted);
  v("umask", u.umask);
  v("additionalGids", u.additional_gids);
  v("username", u.username);
}

template <class V>
void fields(V& v, Capabilities& c) {
  v("bounding", c.bounding);
  v("effective", c.effective);
  v("inheritable", c.inheritable);
  v("permitted", c.permitted);
  v("ambient", c.ambient);
}

template <class V>
void fields(V& v, Rlimit& r) {
  v("type", r.type, kRequired);
  v("hard", r.hard, kRequired);
  v("soft", r.soft, kRequired);
}

template <class V>
void fields(V& v, ConsoleSize& c) {
  v("height", c.height, kRequired);
  v("width", c.width, kRequired);
}

template <class V>
void fields(V& v, IoPriority& p) {
  v("class", p.klass, kRequired);
  v("priority", p.priority, kRequired);
}

template <class V>
void fields(V& v, Scheduler& s) {
  v("policy", s.policy, kRequired);
  v("nice", s.nice);
  v("priority", s.priority);
  v("flags", s.flags);
  v("runtime", s.runtime);
  v("deadline", s.deadline);
  v("period", s.period);
}

template <class V>
void fields(V& v, Process& p) {
  v("terminal", p.terminal);
  v("consoleSize", p.console_size);
  v("user", p.user, kDefaulted);
  v("args", p.args);
  v("commandLine", p.command_line);
  v("env", p.env);
  v("cwd", p.cwd, kDefaulted);
  v("capabilities", p.capabilities);
  v("rlimits", p.rlimits);
  v("noNewPrivileges", p.no_new_privileges);
  v("apparmorProfile", p.apparmor_profile);
  v("oomScoreAdj", p.oom_score_adj);
  v("scheduler", p.scheduler);
  v("selinuxLabel", p.selinux_label);
  v("ioPriority", p.io_priority);
}

template <class V>
void fields(V& v, Hook& h) {
  v("path", h.path, kDefaulted);
  v("args", h.args);
  v("env", h.env);
  v("timeout", h.timeout);
}

template <class V>
void fields(V& v, Hooks& h) {
  v("prestart", h.prestart);
  v("createRuntime", h.create_runtime);
  v("createContainer", h.create_container);
  v("startContainer", h.start_container);
  v("poststart", h.poststart);
  v("poststop", h.poststop);
}

template <class V>
void fields(V& v, Namespace& n) {
  v("type", n.type, kDefaulted);
  v("path", n.path);
}

template <class V>
void fields(V& v, TimeOffset& t) {
  v("secs", t.secs);
  v("nanosecs", t.nanosecs);
}

template <class V>
void fields(V& v, Device& d) {
  v("path", d.path, kDefaulted);
  v("type", d.type, kDefaulted);
  // Read after "type": a fifo ("p") needs no device numbers.
  Presence numbers = d.type == "p" ? kOptional : kRequired;
  v("major", d.major, numbers);
  v("minor", d.minor, numbers);
  v("fileMode", d.file_mode);
  v("uid", d.uid);
  v("gid", d.gid);
}

template <class V>
void fields(V& v, DeviceCgroupRule& d) {
  v("allow", d.allow, kRequired);
  v("type", d.type);
  v("major", d.major);
  v("minor", d.minor);
  v("access", d.access);
}

template <class V>
void fields(V& v, MemoryResources& m) {
  v("limit", m.limit);
  v("reservation", m.reservation);
  v("swap", m.swap);
  v("kernel", m.kernel);
  v("kernelTCP", m.kernel_tcp);
  v("swappiness", m.swappiness);
  v("disableOOMKiller", m.disable_oom_killer);
  v("useHierarchy", m.use_hierarchy);
  v("checkBeforeUpdate", m.check_before_update);
}

template <class V>
void fields(V& v, CpuResources& c) {
  v("shares", c.shares);
  v("quota", c.quota);
  v("burst", c.burst);
  v("period", c.period);
  v("realtimeRuntime", c.realtime_runtime);
  v("realtimePeriod", c.realtime_period);
  v("cpus", c.cpus);
  v("mems", c.mems);
  v("idle", c.idle);
}

template <class V>
void fields(V& v, PidsResources& p) {
  v("limit", p.limit, kRequired);
}

template <class V>
void fields(V& v, WeightDevice& d) {
  v("major", d.major, kRequired);
  v("minor", d.minor, kRequired);
  v("weight", d.weight);
  v("leafWeight", d.leaf_weight);
}

template <class V>
void fields(V& v, ThrottleDevice& d) {
  v("major", d.major, kRequired);
  v("minor", d.minor, kRequired);
  v("rate", d.rate, kRequired);
}

template <class V>
void fields(V& v, BlockIoResources& b) {
  v("weight", b.weight);
  v("leafWeight", b.leaf_weight);
  v("weightDevice", b.weight_device);
  v("throttleReadBpsDevice", b.throttle_read_bps);
  v("throttleWriteBpsDevice", b.throttle_write_bps);
  v("throttleReadIOPSDevice", b.throttle_read_iops);
  v("throttleWriteIOPSDevice", b.throttle_write_iops);
}

template <class V>
void fields(V& v, HugepageLimit& h) {
  v("pageSize", h.page_size, kRequired);
  v("limit", h.limit, kRequired);
}

template <class V>
void fields(V& v, NetworkPriority& p) {
  v("name", p.name, kRequired);
  v("priority", p.priority, kRequired);
}

template <class V>
void fields(V& v, NetworkResources& n) {
  v("classID", n.class_id);
  v("priorities", n.priorities);
}

template <class V>
void fields(V& v, RdmaLimit& r) {
  v("hcaHandles", r.hca_handles);
  v("hcaObjects", r.hca_objects);
}

template <class V>
void fields(V& v, Resources& r) {
  v("devices", r.devices);
  v("memory", r.memory);
  v("cpu", r.cpu);
  v("pids", r.pids);
  v("blockIO", r.block_io);
  v("hugepageLimits", r.hugepage_limits);
  v("network", r.network);
  v("rdma", r.rdma);
  v("unified", r.unified);
}

template <class V>
void fields(V& v, SeccompArg& a) {
  v("index", a.index, kRequired);
  v("value", a.value, kRequired);
  v("valueTwo", a.value_two);
  v("op", a.op, kDefaulted);
}

template <class V>
void fields(V& v, SeccompSyscall& s) {
  v("names", s.names, kDefaulted);
  v("action", s.action, kDefaulted);
  v("errnoRet", s.errno_ret);
  v("args", s.args);
}

template <class V>
void fields(V& v, Seccomp& s) {
  v("defaultAction", s.default_action, kDefaulted);
  v("defaultErrnoRet", s.default_errno_ret);
  v("architectures", s.architectures);
  v("flags", s.flags);
  v("listenerPath", s.listener_path);
  v("listenerMetadata", s.listener_metadata);
  v("syscalls", s.syscalls);
}

template <class V>
void fields(V& v, IntelRdt& r) {
  v("closID", r.clos_id);
  v("l3CacheSchema", r.l3_cache_schema);
  v("memBwSchema", r.mem_bw_schema);
  v("enableCMT", r.enable_cmt);
  v("enableMBM", r.enable_mbm);
}

template <class V>
void fields(V& v, Personality& p) {
  v("domain", p.domain, kDefaulted);
  v("flags", p.flags);
}

template <class V>
void fields(V& v, Linux& l) {
  v("uidMappings", l.uid_mappings);
  v("gidMappings", l.gid_mappings);
  v("timeOffsets", l.time_offsets);
  v("sysctl", l.sysctl);
  v("resources", l.resources);
  v("cgroupsPath", l.cgroups_path);
  v("namespaces", l.namespaces);
  v("devices", l.devices);
  v("seccomp", l.seccomp);
  v("rootfsPropagation", l.rootfs_propagation);
  v("maskedPaths", l.masked_paths);
  v("readonlyPaths", l.readonly_paths);
  v("mountLabel", l.mount_label);
  v("intelRdt", l.intel_rdt);
  v("personality", l.personality);
}

template <class V>
void fields(V& v, Spec& s) {
  v("ociVersion", s.oci_version, kDefaulted);
  v("process", s.process);
  v("root", s.root);
  v("hostname", s.hostname);
  v("domainname", s.domainname);
  v("mounts", s.mounts);
  v("hooks", s.hooks);
  v("annotations", s.annotations);
  v("linux", s.linux);
}

// The parser quotes the bad input ("last read: '...'"): keep the message one
// short line of ASCII whatever the input was.
std::string printable(std::string_view s, size_t max) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max) return out + "...";
    if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// "[json.exception.parse_error.101] parse error at line 1, column 9: syntax error ..."
//   -> "syntax error ... (at line 1, column 9, byte 9)"
std::string describe(const json::parse_error& e) {
  std::string what = e.what();
  if (auto p = what.find("] "); p != std::string::npos) what.erase(0, p + 2);
  std::string where;
  if (what.rfind("parse error ", 0) == 0) {
    auto colon = what.find(": ");
    if (colon != std::string::npos) {
      where = what.substr(12, colon - 12);  // "at line 1, column 9" (may be empty)
      what.erase(0, colon + 2);
    }
  }
  if (!where.empty()) where += ", ";
  return printable(what, 200) + " (" + where + "byte " + std::to_string(e.byte) + ")";
}

json parse_document(std::string_view text, std::string_view document) {
  const std::string name(document);
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw Error(ErrorKind::InvalidSpec, name + ": empty document");
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    throw Error(ErrorKind::InvalidSpec, name + ": not valid JSON: " + describe(e));
  } catch (const json::exception& e) {
    // A number beyond a double ("1e999") is out_of_range (406), not a parse_error:
    // found by fuzz/fuzz_spec.cc, it used to escape as a raw nlohmann exception.
    std::string what = e.what();  // "[json.exception.out_of_range.406] number overflow parsing '1e999'"
    if (size_t close = what.find("] "); what.rfind("[json.exception", 0) == 0 && close != std::string::npos)
      what.erase(0, close + 2);
    throw Error(ErrorKind::InvalidSpec, name + ": not valid JSON: " + printable(what, 200));
  }
}

}  // namespace

Spec parse(std::string_view text) {
  json doc = parse_document(text, "config.json");
  Node root{doc, "", "config.json"};
  if (!doc.is_object()) root.fail(std::string("top level: expected object, got ") + doc.type_name());
  Spec spec;
  read(root, spec);
  return spec;
}

Process parse_process(std::string_view text, const std::string& document) {
  json doc = parse_document(text, document);
  Node root{doc, "", document};
  if (!doc.is_object()) root.fail(std::string("top level: expected object, got ") + doc.type_name());
  Process process;
  read(root, process);
  return process;
}

std::string read_config(const std::string& bundle_dir) {
  std::string path = bundle_dir;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  path += path == "/" ? "config.json" : "/config.json";
  return fs::read_file(path);  // "open <path>: No such file or directory"
}

Spec load(const std::string& bundle_dir) { return parse(read_config(bundle_dir)); }

std::string to_json(const Spec& spec) {
  return to(spec).dump(1, '\t', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace ocirun::spec
