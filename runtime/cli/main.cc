// The ocirun command line: runc's commands and flags, each parsed here and handed
// to one runtime:: function. Errors become "ocirun: <what>: <why>" and exit 1.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/capability.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "container.h"
#include "error.h"
#include "check.h"
#include "exec.h"
#include "events.h"
#include "fs.h"
#include "log.h"
#include "parse.h"
#include "process.h"
#include "readonly_self.h"
#include "seccomp.h"

using namespace ocirun;
using nlohmann::json;

namespace {

struct FlagSpec {
  std::string name;       // long name without dashes
  std::string alias;      // short or other name, may be empty
  bool takes_value;
  std::string help;
};

struct Parsed {
  std::map<std::string, std::string> values;               // the last value of each flag
  std::map<std::string, std::vector<std::string>> all_values;  // every value, for repeatable flags
  std::set<std::string> set;
  std::vector<std::string> positional;
  bool has(const std::string& n) const { return set.count(n) > 0; }
  std::string get(const std::string& n, const std::string& def = {}) const {
    auto it = values.find(n);
    return it == values.end() ? def : it->second;
  }
};

// urfave/cli style as runc parses: -f and --f alike, --flag=value or --flag value,
// flags stop at the first positional argument (so "exec ID sh -c x" keeps "-c").
Parsed parse_flags(const std::vector<std::string>& args, size_t& i, const std::vector<FlagSpec>& specs,
                   const std::string& command, bool stop_at_positional) {
  Parsed p;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      if (stop_at_positional) break;
      p.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const FlagSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == name || (!s.alias.empty() && s.alias == name)) spec = &s;
    if (!spec) fail(ErrorKind::InvalidArgument, fmt::format("{}: unknown flag {}", command, a));
    if (spec->takes_value && !value) {
      if (i + 1 >= args.size()) fail(ErrorKind::InvalidArgument, fmt::format("{}: flag --{} needs a value", command, spec->name));
      value = args[++i];
    }
    p.set.insert(spec->name);
    if (value) {
      p.values[spec->name] = *value;
      p.all_values[spec->name].push_back(*value);
    }
  }
  if (!stop_at_positional)
    for (; i < args.size(); ++i) p.positional.push_back(args[i]);
  return p;
}

struct Command {
  std::string name;
  std::string usage;
  std::string summary;
  std::vector<FlagSpec> flags;
  std::function<int(const Parsed&, const runtime::StateStore&)> run;
  bool args_follow_id = false;  // exec ID CMD...: flags end at the id, the rest is the command
};

std::string flag_help(const std::vector<FlagSpec>& flags) {
  std::string out;
  for (const auto& f : flags) {
    std::string names = "--" + f.name + (f.alias.empty() ? "" : (f.alias.size() == 1 ? ", -" : ", --") + f.alias);
    if (f.takes_value) names += " value";
    out += fmt::format("   {:<32} {}\n", names, f.help);
  }
  return out;
}

const std::vector<FlagSpec> kGlobalFlags = {
    {"root", "", true, "state directory (default: /run/ocirun)"},
    {"log", "", true, "log file (default: stderr)"},
    {"log-format", "", true, "log format: text or json"},
    {"debug", "", false, "log debug messages"},
    {"systemd-cgroup", "", false, "use systemd to manage cgroups: a transient scope per container (cgroupsPath \"slice:prefix:name\")"},
    {"rootless", "", true, "accepted for compatibility (auto)"},
    {"criu", "", true, "accepted for compatibility (checkpoint is not supported)"},
    {"version", "v", false, "print the version"},
    {"help", "h", false, "show help"},
};

const std::vector<FlagSpec> kCreateFlags = {
    {"bundle", "b", true, "path to the bundle directory (default: current directory)"},
    {"pid-file", "", true, "write the container's init pid to this file"},
    {"console-socket", "", true, "unix socket that receives the pty master when process.terminal is true"},
    {"no-pivot", "", false, "use MS_MOVE + chroot instead of pivot_root (for ramfs roots)"},
    {"no-new-keyring", "", false, "keep the caller's session keyring"},
    {"preserve-fds", "", true, "pass this many extra fds (3, 4, ...) to the container"},
};

std::string need_id(const Parsed& p, const std::string& cmd, size_t max_args = 1) {
  if (p.positional.empty()) fail(ErrorKind::InvalidArgument, cmd + ": a container id is required");
  if (p.positional.size() > max_args)
    fail(ErrorKind::InvalidArgument, fmt::format("{}: unexpected argument \"{}\"", cmd, p.positional[max_args]));
  return p.positional[0];
}

// The global --systemd-cgroup, for create and run (later commands read the driver from state.json).
bool systemd_cgroup = false;

runtime::CreateOptions create_options(const Parsed& p, const std::string& cmd) {
  runtime::CreateOptions o;
  o.systemd_cgroup = systemd_cgroup;
  o.id = need_id(p, cmd);
  o.bundle = p.get("bundle", ".");
  o.pid_file = p.get("pid-file");
  if (!o.pid_file.empty() && o.pid_file[0] != '/') o.pid_file = std::string(get_current_dir_name()) + "/" + o.pid_file;
  o.console_socket = p.get("console-socket");
  o.no_pivot = p.has("no-pivot");
  o.no_new_keyring = p.has("no-new-keyring");
  if (p.has("preserve-fds")) {
    const std::string v = p.get("preserve-fds");
    if (v.empty() || v.size() > 6 || !std::all_of(v.begin(), v.end(), ::isdigit))
      fail(ErrorKind::InvalidArgument, cmd + ": --preserve-fds must be a non-negative number, got \"" + v + "\"");
    o.preserve_fds = std::stoi(v);
  }
  return o;
}

// runc's test for a pure cgroup v2 host, where `spec` adds a cgroup namespace.
bool cgroup2_unified_host() {
  struct statfs st;
  return ::statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

json features_json() {
  json caps = json::array();
  for (int c = 0; c <= runtime::last_capability(); ++c) {
    char* name = cap_to_name(c);
    std::string upper = name;
    cap_free(name);
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    if (upper.rfind("CAP_", 0) == 0) caps.push_back(upper);
  }
  return {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.2.0"},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions",
       {"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "lazytime", "mand", "noatime",
        "nodev", "nodiratime", "noexec", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow",
        "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec", "rnoatime", "rnodev",
        "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime",
        "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared", "slave",
        "strictatime", "suid", "symfollow", "sync", "unbindable"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
        {"capabilities", caps},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", true}, {"systemdUser", false}, {"rdma", true}}},
        {"seccomp",
         {{"enabled", true},
          {"actions", seccomp::known_actions()},
          {"operators", seccomp::known_operators()},
          {"archs", seccomp::known_architectures()},
          {"knownFlags", seccomp::known_flags()},
          {"supportedFlags", seccomp::known_flags()}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", false}}}}}}},
      {"annotations", {{"org.opencontainers.runtime-spec.version", "1.2.0"}, {"io.github.ocirun.version", OCIRUN_VERSION}}},
  };
}

// "512m", "1G", "1024" -> bytes (binary units, as runc's --memory); "-1" stays -1 (unlimited).
int64_t parse_bytes(const std::string& flag, const std::string& text) {
  static const std::string units = "kmgtp";
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), ::tolower);
  if (t == "-1") return -1;
  if (!t.empty() && t.back() == 'b') t.pop_back();
  int64_t mult = 1;
  if (!t.empty() && units.find(t.back()) != std::string::npos) {
    mult = int64_t{1} << (10 * (units.find(t.back()) + 1));
    t.pop_back();
  }
  if (t.empty() || t.size() > 18 || !std::all_of(t.begin(), t.end(), ::isdigit))
    fail(ErrorKind::InvalidArgument, fmt::format("update: --{}: not a size: \"{}\"", flag, text));
  return std::stoll(t) * mult;
}

int64_t parse_int(const std::string& flag, const std::string& text) {
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (...) {
  }
  if (text.empty() || used != text.size())
    fail(ErrorKind::InvalidArgument, fmt::format("update: --{}: not a number: \"{}\"", flag, text));
  return v;
}

// `update`: --resources (a LinuxResources JSON document, "-" for stdin) and/or runc's flags.
spec::Resources update_resources(const Parsed& p) {
  spec::Resources r;
  if (p.has("resources")) {
    std::string path = p.get("resources");
    std::string text = path == "-" ? fs::read_all(0, "standard input") : fs::read_file(path);
    // Parsed as the linux.resources of a config, so errors name the field as usual.
    json doc;
    try {
      doc = {{"ociVersion", "1.2.0"}, {"root", {{"path", "rootfs"}}}, {"linux", {{"resources", json::parse(text)}}}};
    } catch (const json::exception& e) {
      fail(ErrorKind::InvalidArgument, std::string("update: --resources: not valid JSON: ") + e.what());
    }
    r = spec::parse(doc.dump()).linux->resources.value_or(spec::Resources{});
  }
  if (p.has("memory") || p.has("memory-swap") || p.has("memory-reservation")) {
    auto& mem = r.memory ? *r.memory : r.memory.emplace();
    if (p.has("memory")) mem.limit = parse_bytes("memory", p.get("memory"));
    if (p.has("memory-swap")) mem.swap = parse_bytes("memory-swap", p.get("memory-swap"));
    if (p.has("memory-reservation")) mem.reservation = parse_bytes("memory-reservation", p.get("memory-reservation"));
  }
  bool cpu_flag = false;
  for (const char* f : {"cpu-share", "cpu-shares", "cpu-quota", "cpu-period", "cpu-rt-period", "cpu-rt-runtime",
                        "cpuset-cpus", "cpuset-mems"})
    cpu_flag |= p.has(f);
  if (cpu_flag) {
    auto& cpu = r.cpu ? *r.cpu : r.cpu.emplace();
    if (p.has("cpu-share")) cpu.shares = parse_int("cpu-share", p.get("cpu-share"));
    if (p.has("cpu-shares")) cpu.shares = parse_int("cpu-shares", p.get("cpu-shares"));
    if (p.has("cpu-rt-period")) cpu.realtime_period = parse_int("cpu-rt-period", p.get("cpu-rt-period"));
    if (p.has("cpu-rt-runtime")) cpu.realtime_runtime = parse_int("cpu-rt-runtime", p.get("cpu-rt-runtime"));
    if (p.has("cpu-quota")) cpu.quota = parse_int("cpu-quota", p.get("cpu-quota"));
    if (p.has("cpu-period")) cpu.period = parse_int("cpu-period", p.get("cpu-period"));
    if (p.has("cpuset-cpus")) cpu.cpus = p.get("cpuset-cpus");
    if (p.has("cpuset-mems")) cpu.mems = p.get("cpuset-mems");
  }
  if (p.has("pids-limit")) r.pids = spec::PidsResources{parse_int("pids-limit", p.get("pids-limit"))};
  if (p.has("blkio-weight")) {
    auto& io = r.block_io ? *r.block_io : r.block_io.emplace();
    io.weight = static_cast<uint16_t>(parse_int("blkio-weight", p.get("blkio-weight")));
  }
  return r;
}

uint32_t parse_id(const std::string& flag, const std::string& text) {
  int64_t v = parse_int(flag, text);
  if (v < 0 || v > UINT32_MAX) fail(ErrorKind::InvalidArgument, fmt::format("exec: --{}: not a valid id: \"{}\"", flag, text));
  return static_cast<uint32_t>(v);
}

// exec --cgroup [CONTROLLER[,CONTROLLER...]:]PATH, repeatable; runc's rules and words.
std::map<std::string, std::string> sub_cgroup_flags(const std::vector<std::string>& values) {
  std::map<std::string, std::string> out;
  for (const auto& v : values) {
    auto parts = fs::split(v, ':');
    if (parts.size() > 2) fail(ErrorKind::InvalidArgument, "invalid --cgroup argument: " + v);
    if (parts.size() == 1) {
      if (values.size() != 1)
        fail(ErrorKind::InvalidArgument, "invalid --cgroup argument: " + v + " (missing <controller>: prefix)");
      out[""] = v;
    } else {
      for (const auto& controller : fs::split(parts[0], ',')) out[controller] = parts[1];
    }
  }
  return out;
}

runtime::ExecOptions exec_options(const Parsed& p) {
  runtime::ExecOptions o;
  if (p.positional.empty()) fail(ErrorKind::InvalidArgument, "exec: a container id is required");
  o.id = p.positional[0];
  o.args.assign(p.positional.begin() + 1, p.positional.end());
  o.process_file = p.get("process");
  o.tty = p.has("tty");
  o.console_socket = p.get("console-socket");
  o.detach = p.has("detach");
  o.pid_file = p.get("pid-file");
  if (!o.pid_file.empty() && o.pid_file[0] != '/') o.pid_file = std::string(get_current_dir_name()) + "/" + o.pid_file;
  if (p.has("preserve-fds")) o.preserve_fds = static_cast<int>(parse_id("preserve-fds", p.get("preserve-fds")));
  o.cwd = p.get("cwd");
  if (p.all_values.count("env")) o.env = p.all_values.at("env");
  for (const auto& e : o.env)
    if (e.find('=') == std::string::npos || e[0] == '=') fail(ErrorKind::InvalidArgument, "exec: --env wants KEY=VALUE, got \"" + e + "\"");
  if (p.has("user")) {
    std::string u = p.get("user");
    auto colon = u.find(':');
    o.user.emplace(parse_id("user", u.substr(0, colon)), std::nullopt);
    if (colon != std::string::npos) o.user->second = parse_id("user", u.substr(colon + 1));
  }
  if (p.all_values.count("additional-gids"))
    for (const auto& g : p.all_values.at("additional-gids"))
      for (const auto& part : fs::split(g, ',')) o.additional_gids.push_back(parse_id("additional-gids", part));
  if (p.all_values.count("cap")) o.caps = p.all_values.at("cap");
  o.no_new_privs = p.has("no-new-privs");
  o.apparmor = p.get("apparmor");
  o.process_label = p.get("process-label");
  o.ignore_paused = p.has("ignore-paused");
  if (p.all_values.count("cgroup")) o.sub_cgroups = sub_cgroup_flags(p.all_values.at("cgroup"));
  return o;
}

// What `exec` exits with when it could not run the process (runc's fatalWithCode(.., 255)).
constexpr int kExecFailed = 255;

// Columns laid out as runc's (Go's tabwriter with minwidth 12, padding 3): each but the last
// as wide as its longest cell plus 3, and at least 12.
std::string aligned_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t c = 0; c + 1 < row.size(); ++c) {
      if (width.size() <= c) width.push_back(12);
      width[c] = std::max(width[c], row[c].size() + 3);
    }
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c)
      out += c + 1 < row.size() ? fmt::format("{:<{}}", row[c], width[c]) : row[c];
    out += "\n";
  }
  return out;
}

// runc's `ps` table: ps(1) run with `args`, its header, then the lines whose PID column is one of `pids`.
std::string ps_table(const std::vector<std::string>& args, const std::vector<pid_t>& pids) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) < 0) throw_errno("pipe");
  UniqueFd read_end(out[0]), write_end(out[1]);
  std::vector<std::string> argv = {"ps"};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t child = ::fork();
  if (child < 0) throw_errno("fork");
  if (child == 0) {
    ::dup2(write_end.get(), STDOUT_FILENO);
    ::dup2(write_end.get(), STDERR_FILENO);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execvp("ps", cargv.data());
    ::_exit(127);
  }
  write_end.reset();
  std::string output = fs::read_all(read_end.get(), "the output of ps");
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail(ErrorKind::Syscall, fmt::format("ps {}: {}", fmt::join(args, " "),
                                         WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "ps not found" : fs::trim(output)));
  auto rows = fs::split(output, '\n');
  if (rows.empty()) fail(ErrorKind::Syscall, "ps printed nothing");
  auto fields = [](const std::string& line) {
    std::vector<std::string> f;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      size_t j = i;
      while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
      if (j > i) f.push_back(line.substr(i, j - i));
      i = j;
    }
    return f;
  };
  auto header = fields(rows[0]);
  auto pid_col = std::find(header.begin(), header.end(), "PID");
  if (pid_col == header.end()) fail(ErrorKind::InvalidArgument, "couldn't find PID field in ps output");
  size_t col = static_cast<size_t>(pid_col - header.begin());
  std::string table = rows[0] + "\n";
  for (size_t i = 1; i < rows.size(); ++i) {
    auto f = fields(rows[i]);
    if (f.size() <= col) continue;
    pid_t pid = 0;
    try {
      pid = std::stoi(f[col]);
    } catch (...) {
      fail(ErrorKind::InvalidArgument, "unable to parse pid: \"" + f[col] + "\"");
    }
    if (std::find(pids.begin(), pids.end(), pid) != pids.end()) table += rows[i] + "\n";
  }
  return table;
}

std::vector<Command> commands() {
  using runtime::StateStore;
  return {
      {"create", "create [flags] ID", "create a container, its init waiting for start", kCreateFlags,
       [](const Parsed& p, const StateStore& store) {
         runtime::create_container(store, create_options(p, "create"));
         return 0;
       }},
      {"start", "start ID", "run the user process of a created container", {},
       [](const Parsed& p, const StateStore& store) {
         runtime::start_container(store, need_id(p, "start"));
         return 0;
       }},
      {"run", "run [flags] ID", "create and start a container; wait for it unless --detach", [] {
         auto f = kCreateFlags;
         f.push_back({"detach", "d", false, "return once the container runs"});
         f.push_back({"keep", "", false, "do not delete the container after it exits"});
         return f;
       }(),
       [](const Parsed& p, const StateStore& store) {
         return runtime::run_container(store, create_options(p, "run"), p.has("detach"), p.has("keep"));
       }},
      {"state", "state ID", "print the state of a container as JSON", {},
       [](const Parsed& p, const StateStore& store) {
         fmt::print("{}\n", runtime::container_state_json(store, need_id(p, "state")));
         return 0;
       }},
      {"list", "list [flags]", "list containers", {{"format", "f", true, "table or json"}, {"quiet", "q", false, "ids only"}},
       [](const Parsed& p, const StateStore& store) {
         auto entries = runtime::list_containers(store);
         std::string format = p.get("format", "table");
         if (p.has("quiet")) {
           for (const auto& e : entries) fmt::print("{}\n", e.state.id);
         } else if (format == "json") {
           // Each entry as `state` has it (runc's field order), not re-sorted by a parse.
           std::string arr = "[";
           for (const auto& e : entries) arr += (arr.size() > 1 ? "," : "") + runtime::oci_state_json(e.state, e.status);
           fmt::print("{}]\n", arr);
         } else if (format == "table") {
           std::vector<std::vector<std::string>> rows = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
           for (const auto& e : entries)
             rows.push_back({e.state.id, std::to_string(e.status == runtime::Status::Stopped ? 0 : e.state.pid),
                             runtime::to_string(e.status), e.state.bundle, e.state.created,
                             e.state.owner.empty() ? "root" : e.state.owner});
           fmt::print("{}", aligned_table(rows));
         } else {
           fail(ErrorKind::InvalidArgument, "list: unknown --format \"" + format + "\" (table or json)");
         }
         return 0;
       }},
      {"kill", "kill [flags] ID [SIGNAL]", "send a signal (default SIGTERM) to the container's init",
       {{"all", "a", false, "signal every process of the container"}},
       [](const Parsed& p, const StateStore& store) {
         std::string id = need_id(p, "kill", 2);
         int sig = runtime::parse_signal(p.positional.size() > 1 ? p.positional[1] : "SIGTERM");
         runtime::kill_container(store, id, sig, p.has("all"));
         return 0;
       }},
      {"delete", "delete [flags] ID", "delete a stopped (or, with --force, any) container",
       {{"force", "f", false, "kill the container if it is running"}},
       [](const Parsed& p, const StateStore& store) {
         std::string id = need_id(p, "delete");
         try {
           runtime::delete_container(store, id, p.has("force"));
         } catch (const Error& e) {
           // runc treats --force on a missing container as done; scripts rely on it.
           if (!(p.has("force") && e.kind() == ErrorKind::NotFound)) throw;
         }
         return 0;
       }},
      {"exec", "exec [flags] ID [COMMAND [ARGS...]]", "run a new process inside a running container",
       {{"process", "p", true, "a spec Process JSON file (- for stdin) instead of COMMAND and the flags"},
        {"tty", "t", false, "give the process a terminal (needs --console-socket)"},
        {"console-socket", "", true, "unix socket that receives the pty master"},
        {"detach", "d", false, "return once the process runs"},
        {"pid-file", "", true, "write the process's pid to this file"},
        {"preserve-fds", "", true, "pass this many extra fds (3, 4, ...)"},
        {"cwd", "", true, "working directory inside the container"},
        {"env", "e", true, "set an environment variable KEY=VALUE (repeatable)"},
        {"user", "u", true, "UID[:GID] to run as"},
        {"additional-gids", "g", true, "additional group ids (repeatable)"},
        {"cap", "c", true, "add a capability (repeatable)"},
        {"no-new-privs", "", false, "set no_new_privs"},
        {"apparmor", "", true, "AppArmor profile for the process (an error where AppArmor is off)"},
        {"process-label", "", true, "SELinux label for the process (an error where SELinux is off)"},
        {"ignore-paused", "", false, "allow exec in a paused container (the process waits for resume)"},
        {"cgroup", "", true, "run the process in an existing sub-cgroup: [CONTROLLER[,CONTROLLER]:]PATH (repeatable)"}},
       [](const Parsed& p, const StateStore& store) {
         if (p.positional.empty()) fail(ErrorKind::InvalidArgument, "exec: a container id is required");
         // As runc: exec's own failures exit 255, apart from any code the process can exit with.
         try {
           return runtime::exec_process(store, exec_options(p));
         } catch (const Error& e) {
           log::error(e.what());
           return kExecFailed;
         }
       },
       /*args_follow_id=*/true},
      {"pause", "pause ID", "freeze every process of the container", {},
       [](const Parsed& p, const StateStore& store) {
         runtime::pause_container(store, need_id(p, "pause"));
         return 0;
       }},
      {"resume", "resume ID", "thaw a paused container", {},
       [](const Parsed& p, const StateStore& store) {
         runtime::resume_container(store, need_id(p, "resume"));
         return 0;
       }},
      {"ps", "ps [flags] ID [PS_ARGS...]", "list the container's processes (the table is ps(1)'s, default -ef, as runc's)",
       {{"format", "f", true, "table or json"}},
       [](const Parsed& p, const StateStore& store) {
         if (p.positional.empty()) need_id(p, "ps");
         std::string format = p.get("format", "table");
         if (format != "json" && format != "table")
           fail(ErrorKind::InvalidArgument, "ps: unknown --format \"" + format + "\" (table or json)");
         auto pids = runtime::container_processes(store, p.positional[0]);
         if (format == "json") {
           fmt::print("{}\n", json(pids).dump());
           return 0;
         }
         std::vector<std::string> ps_args(p.positional.begin() + 1, p.positional.end());
         if (!ps_args.empty() && ps_args[0] == "--") ps_args.erase(ps_args.begin());
         if (ps_args.empty()) ps_args = {"-ef"};
         fmt::print("{}", ps_table(ps_args, pids));
         return 0;
       },
       /*args_follow_id=*/true},
      {"update", "update [flags] ID", "change the resource limits of a running container",
       {{"resources", "r", true, "a LinuxResources JSON file, - for stdin"},
        {"memory", "", true, "memory limit (e.g. 512m)"},
        {"memory-swap", "", true, "memory + swap limit"},
        {"memory-reservation", "", true, "memory soft limit"},
        {"cpu-share", "", true, "CPU shares: relative weight (runc's spelling)"},
        {"cpu-shares", "", true, "the same as --cpu-share"},
        {"cpu-quota", "", true, "CPU time in microseconds per period"},
        {"cpu-period", "", true, "CFS period in microseconds"},
        {"cpu-rt-period", "", true, "realtime period in microseconds (cgroup v1)"},
        {"cpu-rt-runtime", "", true, "realtime CPU time in microseconds per realtime period (cgroup v1)"},
        {"cpuset-cpus", "", true, "CPUs the container may use (0-3,5)"},
        {"cpuset-mems", "", true, "memory nodes the container may use"},
        {"pids-limit", "", true, "maximum number of processes"},
        {"blkio-weight", "", true, "block I/O weight (10-1000)"}},
       [](const Parsed& p, const StateStore& store) {
         runtime::update_container(store, need_id(p, "update"), update_resources(p));
         return 0;
       }},
      {"check", "check [flags]", "report what this host offers containers, and what needs it",
       {{"format", "f", true, "table or json"}},
       [](const Parsed& p, const StateStore&) {
         auto checks = runtime::check_host();
         std::string format = p.get("format", "table");
         bool required_missing = false;
         for (const auto& c : checks) required_missing |= c.required && !c.ok;
         if (format == "json") {
           json arr = json::array();
           for (const auto& c : checks)
             arr.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}, {"neededBy", c.needed_by}, {"required", c.required}});
           fmt::print("{}\n", arr.dump(2));
         } else if (format == "table") {
           for (const auto& c : checks)
             fmt::print("{:<8} {:<44} {}{}\n", c.ok ? "ok" : (c.required ? "MISSING" : "missing"), c.name,
                                      c.ok ? c.detail : "needed by: " + c.needed_by,
                                      !c.ok && !c.detail.empty() ? " (" + c.detail + ")" : "");
         } else {
           fail(ErrorKind::InvalidArgument, "check: unknown --format \"" + format + "\" (table or json)");
         }
         return required_missing ? 1 : 0;
       }},
      {"events", "events [flags] ID", "print the container's stats and OOM events as JSON lines",
       {{"stats", "", false, "print the stats once and exit"},
        {"interval", "", true, "time between stats events (default: 5s)"}},
       [](const Parsed& p, const StateStore& store) {
         return cli::events_command(store, need_id(p, "events"), p.has("stats"),
                                    cli::parse_duration("interval", p.get("interval", "5s")));
       }},
      {"stats", "stats [flags] ID", "show the container's CPU, memory, pids and block I/O use",
       {{"interval", "", true, "how long to measure CPU use (default: 1s)"}},
       [](const Parsed& p, const StateStore& store) {
         return cli::stats_command(store, need_id(p, "stats"), cli::parse_duration("interval", p.get("interval", "1s")));
       }},
      {"features", "features", "print what this runtime implements (features.json)", {},
       [](const Parsed&, const StateStore&) {
         fmt::print("{}\n", features_json().dump(4));
         return 0;
       }},
      {"spec", "spec [flags]", "write a default config.json (a cgroup namespace only on a pure cgroup v2 host, as runc)",
       {{"bundle", "b", true, "directory to write config.json into"}, {"rootless", "", false, "a config for an unprivileged user"}},
       [](const Parsed& p, const StateStore&) {
         std::string path = p.get("bundle", ".") + "/config.json";
         if (fs::exists(path)) fail(ErrorKind::AlreadyExists, "spec: " + path + " exists; remove it first");
         fs::write_file(path, spec::to_json(spec::default_spec(p.has("rootless"), cgroup2_unified_host())) + "\n", 0644);
         return 0;
       }},
  };
}

// The name help and --version print: the one it was run by, as urfave/cli (runc's CLI library)
// does, so that ocirun installed as "runc" answers as scripts that check the name expect.
std::string program_name = "ocirun";

// runc's keys in runc's order (scripts read "runc version X" and the "spec:" and "libseccomp:"
// lines); "go:" names the C++ compiler instead, as ocirun has no Go toolchain.
void print_version() {
#if defined(__clang__)
  const std::string compiler = fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#else
  const std::string compiler = fmt::format("g++ {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#endif
  fmt::print("{} version {}\ncommit: {}\nspec: {}\ngo: none (C++20, {})\nlibseccomp: {}\n", program_name,
             OCIRUN_VERSION, OCIRUN_COMMIT, "1.2.0", compiler, seccomp::library_version());
}

// Help in runc's (urfave/cli's) shape: scripts and runc's tests read the line after "NAME:".
void print_usage(const std::vector<Command>& cmds) {
  fmt::print("NAME:\n   {0} - Open Container Initiative runtime\n\n"
             "USAGE:\n   {0} [global options] command [command options] [arguments...]\n\n"
             "VERSION:\n   {1}\n\nCOMMANDS:\n",
             program_name, OCIRUN_VERSION);
  for (const auto& c : cmds) fmt::print("   {:<12} {}\n", c.name, c.summary);
  for (const char* c : {"checkpoint", "restore"}) fmt::print("   {:<12} {}\n", c, "not implemented yet");
  fmt::print("   {:<12} {}\n", "help, h", "show help for a command");
  fmt::print("\nGLOBAL OPTIONS:\n{}", flag_help(kGlobalFlags));
}

void print_command_help(const Command& c) {
  fmt::print("NAME:\n   {0} {1} - {2}\n\nUSAGE:\n   {0} {3}\n", program_name, c.name, c.summary, c.usage);
  if (!c.flags.empty()) fmt::print("\nOPTIONS:\n{}", flag_help(c.flags));
}

// urfave/cli's words and status for help about a command that does not exist.
[[noreturn]] void no_help_topic(const std::string& name) {
  log::error("No help topic for '" + name + "'");
  std::exit(3);
}

bool asks_for_help(const std::vector<std::string>& args, size_t from) {
  for (size_t i = from; i < args.size(); ++i)
    if (args[i] == "-h" || args[i] == "--help") return true;
  return false;
}

int exit_code_for(const Error& e) {
  (void)e;
  return 1;
}

// A relative --root is relative to the caller's cwd (as runc takes it), not to "/".
std::string absolute_path(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) throw_errno("getcwd, for the relative --root " + path);
  return std::string(cwd) + "/" + path;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (argc > 0 && argv[0][0] != '\0') {
    std::string_view invoked = argv[0];
    if (auto base = invoked.substr(invoked.rfind('/') + 1); !base.empty()) program_name = base;
  }
  auto cmds = commands();
  try {
    size_t i = 0;
    Parsed global = parse_flags(args, i, kGlobalFlags, "ocirun", /*stop_at_positional=*/true);
    std::string format = global.get("log-format", "text");
    if (format != "text" && format != "json")
      fail(ErrorKind::InvalidArgument, "--log-format must be text or json, got \"" + format + "\"");
    log::configure({global.get("log"), format == "json", global.has("debug")});
    if (global.has("version")) {
      print_version();
      return 0;
    }
    if (i >= args.size() || global.has("help")) {
      print_usage(cmds);
      return i >= args.size() && !global.has("help") ? 1 : 0;
    }
    std::string name = args[i++];
    if (name == "help" || name == "h") {  // urfave/cli's alias
      if (i >= args.size()) {
        print_usage(cmds);
        return 0;
      }
      name = args[i];
      for (const auto& c : cmds)
        if (c.name == name) {
          print_command_help(c);
          return 0;
        }
      no_help_topic(name);
    }
    if (name == "checkpoint" || name == "restore") {
      if (!asks_for_help(args, i)) fail(ErrorKind::Unsupported, name + ": not implemented yet");
      print_command_help({name, name + " [command options] <container-id>", "not implemented yet (no CRIU support)", {}, {}});
      return 0;
    }
    const Command* cmd = nullptr;
    for (const auto& c : cmds)
      if (c.name == name) cmd = &c;
    if (!cmd && asks_for_help(args, i)) no_help_topic(name);
    if (!cmd) fail(ErrorKind::InvalidArgument, "unknown command \"" + name + "\"; see ocirun --help");
    auto flags = cmd->flags;
    flags.push_back({"help", "h", false, "show help"});
    Parsed parsed = parse_flags(args, i, flags, name, /*stop_at_positional=*/cmd->args_follow_id);
    if (cmd->args_follow_id)
      for (; i < args.size(); ++i) parsed.positional.push_back(args[i]);
    if (parsed.has("help")) {
      print_command_help(*cmd);
      return 0;
    }
    // Before anything is forked into a container: see readonly_self.h (CVE-2019-5736).
    if (name == "create" || name == "run" || name == "exec") runtime::reexec_from_readonly_view(argv);
    systemd_cgroup = global.has("systemd-cgroup");
    runtime::StateStore store(absolute_path(global.get("root", "/run/ocirun")));
    return cmd->run(parsed, store);
  } catch (const Error& e) {
    log::error(e.what());
    return exit_code_for(e);
  } catch (const std::exception& e) {
    log::error(std::string("internal error: ") + e.what());
    return 1;
  }
}
