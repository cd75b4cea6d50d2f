#include "state.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <nlohmann/json.hpp>

#include "error.h"
#include "fault.h"
#include "fs.h"
#include "parse.h"
#include "utf8.h"

namespace ocirun::runtime {

using nlohmann::json;

namespace {
json hooks_to_json(const std::vector<spec::Hook>& hooks) {
  json out = json::array();
  for (const auto& h : hooks) {
    json j = {{"path", h.path}, {"args", h.args}, {"env", h.env}};
    if (h.timeout) j["timeout"] = *h.timeout;
    out.push_back(j);
  }
  return out;
}

[[noreturn]] void corrupt(const std::string& why) {
  throw Error(ErrorKind::InvalidArgument, "corrupt state file: " + why);
}

// An integer member, checked: json's get<int>() casts a float or a too-large number
// without a word (1e300 -> int is undefined behaviour; 4294967296 -> pid 0).
template <class T>
T integer_at(const json& j, const char* key) {
  const json& v = j.at(key);
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (std::in_range<T>(u)) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    auto i = v.get<int64_t>();
    if (std::in_range<T>(i)) return static_cast<T>(i);
  }
  corrupt(std::string(key) + ": " + v.dump() + " is not a valid integer here");
}

std::vector<spec::Hook> hooks_from_json(const json& j) {
  std::vector<spec::Hook> out;
  for (const auto& h : j) {
    spec::Hook hook{h.at("path").get<std::string>(), h.at("args").get<std::vector<std::string>>(),
                    h.at("env").get<std::vector<std::string>>(), std::nullopt};
    if (h.contains("timeout")) hook.timeout = integer_at<int>(h, "timeout");
    out.push_back(hook);
  }
  return out;
}
}  // namespace

const char* to_string(Status s) {
  switch (s) {
    case Status::Creating: return "creating";
    case Status::Created: return "created";
    case Status::Running: return "running";
    case Status::Paused: return "paused";
    case Status::Stopped: return "stopped";
  }
  return "unknown";
}

ContainerState state_before_recorded(const std::string& id, pid_t pid, const std::string& bundle, const std::string& rootfs,
                                     const std::string& created, const std::map<std::string, std::string>& annotations) {
  ContainerState s;
  s.id = id;
  s.pid = pid;
  s.bundle = bundle;
  s.rootfs = rootfs;
  s.created = created;
  s.annotations = annotations;
  return s;
}

namespace {
void need_utf8(const std::string& value, const std::string& what) {
  if (!utf8::valid(value))
    fail(ErrorKind::InvalidArgument, what + " \"" + utf8::escape_invalid(value) +
                                         "\" is not valid UTF-8: the container's state (state.json, the OCI state hooks "
                                         "read) is JSON, which holds only UTF-8 text");
}

void check_cgroup_strings(const cgroups::Saved& cg) {
  need_utf8(cg.path, "cgroup path");
  need_utf8(cg.systemd_unit, "systemd unit");
  for (const auto& [hierarchy, dir] : cg.dirs) {
    need_utf8(hierarchy, "cgroup hierarchy");
    need_utf8(dir, "cgroup directory");
  }
  for (const auto& dir : cg.created) need_utf8(dir, "cgroup directory");
}
}  // namespace

void check_state_strings(const ContainerState& s) {
  need_utf8(s.id, "container id");
  need_utf8(s.bundle, "bundle path");
  need_utf8(s.rootfs, "root filesystem path");
  need_utf8(s.created, "creation time");
  need_utf8(s.owner, "owner");
  for (const auto& [key, value] : s.annotations) {
    need_utf8(key, "annotation key");
    need_utf8(value, "annotation " + utf8::escape_invalid(key));
  }
  for (const auto* hooks : {&s.poststart, &s.poststop})
    for (const auto& h : *hooks) {
      const std::string what = hooks == &s.poststart ? "poststart hook" : "poststop hook";
      need_utf8(h.path, what + " path");
      for (const auto& a : h.args) need_utf8(a, what + " argument");
      for (const auto& e : h.env) need_utf8(e, what + " environment variable");
    }
  if (s.cgroup) check_cgroup_strings(*s.cgroup);
}

std::string to_json(const ContainerState& s) {
  // Refused by name rather than by nlohmann's type_error 316, and never recorded altered:
  // later commands find the bundle, rootfs and cgroups by these strings.
  check_state_strings(s);
  json j = {{"id", s.id},
            {"pid", s.pid},
            {"pid_start_time", s.pid_start_time},
            {"bundle", s.bundle},
            {"rootfs", s.rootfs},
            {"created", s.created},
            {"owner", s.owner},
            {"annotations", s.annotations},
            {"has_pid_namespace", s.has_pid_namespace},
            {"started", s.started},
            {"no_new_keyring", s.no_new_keyring}};
  if (s.no_process) j["no_process"] = true;
  if (!s.poststart.empty()) j["poststart"] = hooks_to_json(s.poststart);
  if (!s.poststop.empty()) j["poststop"] = hooks_to_json(s.poststop);
  if (s.cgroup) {
    j["cgroup"] = {{"path", s.cgroup->path}, {"dirs", s.cgroup->dirs}, {"created", s.cgroup->created}};
    if (!s.cgroup->systemd_unit.empty()) j["cgroup"]["systemd_unit"] = s.cgroup->systemd_unit;
  }
  return j.dump();
}

ContainerState state_from_json(const std::string& text) {
  try {
    json j = json::parse(text);
    ContainerState s;
    s.id = j.at("id").get<std::string>();
    s.pid = integer_at<pid_t>(j, "pid");
    // 0 is a state without a process; a negative pid means a process group, or
    // everyone (-1), to kill(2).
    if (s.pid < 0) corrupt("pid " + std::to_string(s.pid) + " is not a process");
    s.pid_start_time = integer_at<unsigned long long>(j, "pid_start_time");
    s.bundle = j.at("bundle").get<std::string>();
    s.rootfs = j.value("rootfs", "");
    s.created = j.value("created", "");
    s.owner = j.value("owner", "");
    s.annotations = j.value("annotations", std::map<std::string, std::string>{});
    if (j.contains("poststart")) s.poststart = hooks_from_json(j.at("poststart"));
    if (j.contains("poststop")) s.poststop = hooks_from_json(j.at("poststop"));
    if (j.contains("cgroup")) {
      const json& cg = j.at("cgroup");
      s.cgroup = cgroups::Saved{cg.at("path").get<std::string>(), cg.at("dirs").get<std::map<std::string, std::string>>(),
                                cg.at("created").get<std::vector<std::string>>(), cg.value("systemd_unit", "")};
    }
    s.has_pid_namespace = j.value("has_pid_namespace", false);
    s.started = j.value("started", false);
    s.no_new_keyring = j.value("no_new_keyring", false);
    s.no_process = j.value("no_process", false);
    return s;
  } catch (const json::exception& e) {
    corrupt(e.what());
  }
}

std::string oci_state_json(const ContainerState& s, Status status, bool pretty) {
  // runc's field order (its state struct's), which people and line-based tools read.
  nlohmann::ordered_json j = {{"ociVersion", "1.2.0"},
                              {"id", s.id},
                              {"pid", status == Status::Stopped ? 0 : s.pid},
                              {"status", to_string(status)},
                              {"bundle", s.bundle},
                              {"rootfs", s.rootfs},
                              {"created", s.created}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  j["owner"] = s.owner;
  // Valid JSON whatever the strings hold: a byte that is not UTF-8 becomes U+FFFD, as in
  // runc's (Go's) JSON. create refuses such a state (check_state_strings) before it records
  // one, so this only guards what it has not seen.
  return j.dump(pretty ? 2 : -1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::unique_ptr<cgroups::Manager> container_cgroup(const ContainerState& s) {
  if (!s.cgroup) return nullptr;
  return cgroups::reopen(cgroups::detect_host(), *s.cgroup);
}

UniqueFd open_init_pidfd(const ContainerState& s) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, s.pid, 0)));
  if (!fd) return fd;
  // Checked after opening: the pidfd now pins this exact process.
  auto start = process_start_time(s.pid);
  if (!start || *start != s.pid_start_time) fd.reset();
  return fd;
}

void write_pid_file(const std::string& path, pid_t pid) {
  with_context("--pid-file " + path, [&] {
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const std::string name = path.substr(slash + 1);
    UniqueFd dirfd(check(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC), "open " + dir));
    fs::write_file_atomic_at(dirfd.get(), name, std::to_string(pid), 0644);
  });
}

void validate_id(const std::string& id) {
  auto bad = [&](const std::string& why) { fail(ErrorKind::InvalidArgument, "invalid container id \"" + id + "\": " + why); };
  if (id.empty()) bad("must not be empty");
  if (id.size() > 255) bad("longer than 255 bytes");
  if (id == "." || id == "..") bad("must not be . or ..");
  for (unsigned char c : id)
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '+'))
      bad("only letters, digits and _ - . + are allowed");
}

std::optional<unsigned long long> process_start_time(pid_t pid) {
  auto st = process_stat(pid);
  if (!st) return std::nullopt;
  return st->start_time;
}

std::optional<ProcessStat> process_stat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  // Read directly, not through fs::read_file: a gone process is the normal case at delete,
  // and an exception costs ~1 ms the first time in the static binary (see open_in_root_if_exists).
  UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf - 1)) < 0 && errno == EINTR) {
  }
  if (n <= 0) return std::nullopt;
  std::string stat(buf, static_cast<size_t>(n));
  // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
  size_t close = stat.rfind(')');
  size_t open = stat.find(" (");
  if (close == std::string::npos || open == std::string::npos || open + 2 > close) return std::nullopt;
  auto fields = fs::split(std::string_view(stat).substr(close + 2), ' ');
  // fields[0] is field 3 (state); start time is field 22.
  if (fields.size() < 20) return std::nullopt;
  if (fields[0] == "Z" || fields[0] == "X") return std::nullopt;
  return ProcessStat{std::stoull(fields[19]), stat.substr(open + 2, close - open - 2)};
}

ContainerState ContainerDir::load() const {
  std::string text;
  try {
    text = fs::read_file_at(fd_.get(), kStateFile);
  } catch (const Error& e) {
    if (e.sys_errno() == ENOENT) fail(ErrorKind::NotFound, "container " + id_ + " does not exist");
    throw;
  }
  auto s = with_context("read state of " + id_, [&] { return state_from_json(text); });
  if (s.id != id_) fail(ErrorKind::InvalidArgument, "read state of " + id_ + ": state file belongs to \"" + s.id + "\"");
  return s;
}

void ContainerDir::save(const ContainerState& s) const { fs::write_file_atomic_at(fd_.get(), kStateFile, to_json(s)); }

void ContainerDir::save_cgroup(const cgroups::Saved& cg) const {
  check_cgroup_strings(cg);
  json j = {{"path", cg.path}, {"dirs", cg.dirs}, {"created", cg.created}};
  if (!cg.systemd_unit.empty()) j["systemd_unit"] = cg.systemd_unit;  // so delete --force stops it
  fs::write_file_atomic_at(fd_.get(), kCgroupFile, j.dump());
}

std::optional<cgroups::Saved> ContainerDir::load_cgroup() const {
  try {
    json j = json::parse(fs::read_file_at(fd_.get(), kCgroupFile));
    return cgroups::Saved{j.at("path").get<std::string>(), j.at("dirs").get<std::map<std::string, std::string>>(),
                          j.at("created").get<std::vector<std::string>>(), j.value("systemd_unit", "")};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void ContainerDir::save_config(std::string_view text) const { fs::write_file_atomic_at(fd_.get(), kConfigFile, text, 0600); }

spec::Spec ContainerDir::load_config() const {
  std::string text;
  try {
    text = fs::read_file_at(fd_.get(), kConfigFile);
  } catch (const Error& e) {
    if (e.sys_errno() != ENOENT) throw;
    // Never the bundle instead: that is what a container could have rewritten.
    fail(ErrorKind::BadState, "container " + id_ + " has no config recorded at create (made by an older ocirun): recreate it");
  }
  return spec::parse(text);
}

Status ContainerDir::status(const ContainerState& s) const {
  auto proc = process_stat(s.pid);
  if (!proc || proc->start_time != s.pid_start_time) return Status::Stopped;
  struct stat st;
  // The socket outlives a `start` killed after the init ran the program, whose name it has
  // now: only an init still waiting for start bears kInitName.
  if (!s.started && ::fstatat(fd_.get(), kStartSocket, &st, 0) == 0 && proc->comm == kInitName) return Status::Created;
  if (auto cg = container_cgroup(s); cg && cg->frozen()) return Status::Paused;
  return Status::Running;
}

void ContainerDir::remove() {
  DIR* d = ::fdopendir(::dup(fd_.get()));
  if (!d) throw_errno("open " + path_);
  // state.json last: until the directory is empty, readers still see a container.
  std::vector<std::string> names;
  while (auto* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..") && std::strcmp(e->d_name, kStateFile))
      names.emplace_back(e->d_name);
  names.emplace_back(kStateFile);
  ::closedir(d);
  for (const auto& name : names) {
    if (::unlinkat(fd_.get(), name.c_str(), 0) < 0 && errno != ENOENT) throw_errno("remove " + path_ + "/" + name);
  }
  OCIRUN_CRASH_POINT("state-emptied");  // an empty directory, unlocked once we are gone
  if (::rmdir(path_.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + path_);
}

namespace {
UniqueFd open_locked_dir(const std::string& path, bool lock) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fd;
  if (lock && ::flock(fd.get(), LOCK_EX) < 0) throw_errno("lock " + path);
  return fd;
}
}  // namespace

namespace {
constexpr std::string_view kTempPrefix = ".new~";

// The pid in a create's temporary directory name (".new~PID"), or 0 if it is not one.
pid_t temp_dir_pid(std::string_view name) {
  if (name.substr(0, kTempPrefix.size()) != kTempPrefix) return 0;
  std::string_view digits = name.substr(kTempPrefix.size());
  if (digits.empty() || digits.size() > 9) return 0;
  pid_t pid = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return 0;
    pid = pid * 10 + (c - '0');
  }
  return pid;
}

// Removes root/name, a create's temporary directory, if its create is gone: it holds the
// directory's lock from just after the mkdir until the rename, and dies with it. `ours`:
// the name holds our own pid, so its creator is a dead process whose pid we now have.
// A create caught between its mkdir and its flock finds its directory removed (unlinked
// once it holds the lock, or gone at the open) and makes it again (StateStore::create).
// Best effort: false when it is left in place.
bool remove_abandoned_temp(const std::string& root, const std::string& name, bool ours) {
  pid_t pid = temp_dir_pid(name);
  if (pid <= 0) return false;
  // A live creator (or the process that took its pid) keeps it for now: the lock says more.
  if (!ours && (::kill(pid, 0) == 0 || errno == EPERM)) return false;
  const std::string path = root + "/" + name;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return errno == ENOENT;
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) return false;  // its create is alive
  // Still the directory at that name (not renamed into place as a container meanwhile and
  // unlocked at the end of its create, not replaced by a later create of the same pid).
  struct stat held, now;
  if (::fstat(fd.get(), &held) < 0 || held.st_nlink == 0) return true;
  if (::lstat(path.c_str(), &now) < 0 || now.st_ino != held.st_ino || now.st_dev != held.st_dev) return false;
  // create puts nothing in it before the rename; whatever is there is a plain file.
  if (DIR* d = ::fdopendir(::dup(fd.get()))) {
    while (auto* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) ::unlinkat(fd.get(), e->d_name, 0);
    ::closedir(d);
  }
  return ::rmdir(path.c_str()) == 0 || errno == ENOENT;
}
}  // namespace

void StateStore::remove_abandoned_temps() const {
  DIR* d = ::opendir(root_.c_str());
  if (!d) return;
  std::vector<std::string> temps;
  while (auto* e = ::readdir(d))
    if (temp_dir_pid(e->d_name) > 0) temps.emplace_back(e->d_name);
  ::closedir(d);
  for (const auto& name : temps) remove_abandoned_temp(root_, name, false);
}

ContainerDir StateStore::create(const std::string& id) const {
  validate_id(id);
  // Hook environments, annotations and the start socket are root's alone (as runc's 0700).
  fs::make_private_dir(root_);
  std::string path = root_ + "/" + id;
  // Not a valid id ('~'), so no container's name and list_ids skips it. Unique per process
  // (one create per process).
  const std::string name = std::string(kTempPrefix) + std::to_string(::getpid());
  const std::string tmp = root_ + "/" + name;
  UniqueFd fd;
  for (int attempt = 0;; ++attempt) {
    if (::mkdir(tmp.c_str(), 0700) < 0) {
      // Left by a create that died with our pid (its creator is surely gone): removed.
      if (errno == EEXIST && attempt < 10) {
        remove_abandoned_temp(root_, name, true);
        continue;
      }
      throw_errno("create state directory " + tmp);
    }
    fd = open_locked_dir(tmp, true);
    if (fd && ::fchmod(fd.get(), 0700) < 0) throw_errno("chmod " + tmp);  // whatever the umask
    struct stat st;
    // Removed by a list or delete that took it for a dead create's, before we held the lock.
    if ((!fd && errno == ENOENT) || (fd && ::fstat(fd.get(), &st) == 0 && st.st_nlink == 0)) {
      if (attempt < 10) continue;
      errno = ENOENT;
      fd.reset();
    }
    break;
  }
  OCIRUN_CRASH_POINT("state-dir-temp");  // made and locked, not yet renamed into place
  if (!fd || ::syscall(SYS_renameat2, AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) < 0) {
    int err = errno;
    ::rmdir(tmp.c_str());
    if (err == EEXIST) fail(ErrorKind::AlreadyExists, "container " + id + " already exists");
    throw_errno(err, "create state directory " + path);
  }
  return ContainerDir(id, path, std::move(fd));
}

ContainerDir StateStore::open(const std::string& id, bool lock) const {
  validate_id(id);
  std::string path = root_ + "/" + id;
  UniqueFd fd = open_locked_dir(path, lock);
  if (!fd) {
    if (errno == ENOENT) fail(ErrorKind::NotFound, "container " + id + " does not exist");
    throw_errno("open " + path);
  }
  struct stat st;
  if (::fstatat(fd.get(), kStateFile, &st, 0) < 0) {
    // A concurrent delete may have removed the directory while we waited for the lock.
    if (::fstat(fd.get(), &st) < 0 || st.st_nlink == 0) fail(ErrorKind::NotFound, "container " + id + " does not exist");
    if (!lock && ::flock(fd.get(), LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
      fail(ErrorKind::BadState, "container " + id + " is being created or deleted");
    fail(ErrorKind::BadState, "container " + id + " is incomplete: its create did not finish (delete it with --force)");
  }
  return ContainerDir(id, path, std::move(fd));
}

bool StateStore::being_created(const std::string& id) const {
  validate_id(id);
  UniqueFd fd(::open((root_ + "/" + id).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st;
  if (!fd || ::fstatat(fd.get(), kStateFile, &st, 0) == 0) return false;
  // create holds the lock until state.json is written.
  return ::flock(fd.get(), LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

bool StateStore::abandoned(const std::string& id) const {
  validate_id(id);
  UniqueFd fd(::open((root_ + "/" + id).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st;
  if (!fd || ::fstatat(fd.get(), kStateFile, &st, 0) == 0) return false;
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) < 0) return false;
  // Still there without state.json now that we hold the lock (not removed, not completed).
  return ::fstat(fd.get(), &st) == 0 && st.st_nlink > 0 && ::fstatat(fd.get(), kStateFile, &st, 0) < 0;
}

std::optional<ContainerDir> StateStore::open_incomplete(const std::string& id) const {
  validate_id(id);
  std::string path = root_ + "/" + id;
  UniqueFd fd = open_locked_dir(path, true);
  struct stat st;
  if (!fd || ::fstatat(fd.get(), kStateFile, &st, 0) == 0) return std::nullopt;
  // A delete may have emptied and removed it while we waited for the lock.
  if (::fstat(fd.get(), &st) < 0 || st.st_nlink == 0) return std::nullopt;
  return ContainerDir(id, path, std::move(fd));
}

std::vector<std::string> StateStore::list_ids() const {
  std::vector<std::string> ids;
  DIR* d = ::opendir(root_.c_str());
  if (!d) {
    if (errno == ENOENT) return ids;
    throw_errno("open " + root_);
  }
  bool temps = false;
  while (auto* e = ::readdir(d)) {
    // ".", "..", a create's temporary directory, strays: anything that is not an id.
    if (temp_dir_pid(e->d_name) > 0) temps = true;
    try {
      validate_id(e->d_name);
    } catch (const Error&) {
      continue;
    }
    ids.emplace_back(e->d_name);
  }
  ::closedir(d);
  // A create killed before its rename left its temporary directory: list is the command
  // that reads the root anyway, so it removes those whose create is gone.
  if (temps) remove_abandoned_temps();
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace ocirun::runtime
