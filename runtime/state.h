// Per-container state under --root: one directory per id holding state.json
// (written atomically) and the start socket that `start` connects to.
// Mutating commands hold an flock on the directory; readers rely on atomic writes.
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgroups.h"
#include "spec.h"
#include "unique_fd.h"

namespace ocirun::runtime {

enum class Status { Creating, Created, Running, Paused, Stopped };
const char* to_string(Status);

// What a container's state.json holds. The OCI state fields plus what later
// commands need to find the container's resources again.
struct ContainerState {
  std::string id;
  pid_t pid = 0;
  unsigned long long pid_start_time = 0;  // field 22 of /proc/PID/stat: tells a reused pid apart
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339 with nanoseconds, UTC
  std::string owner;
  std::map<std::string, std::string> annotations;
  std::optional<cgroups::Saved> cgroup;  // where the container's cgroups are, and which we made
  bool has_pid_namespace = false;
  bool started = false;  // `start` succeeded but could not remove the start socket
  bool no_new_keyring = false;  // create --no-new-keyring: exec'd processes keep the caller's too
  bool no_process = false;  // config.json has no process: `start` refuses (kNoProcessError)
  std::vector<spec::Hook> poststart, poststop;  // run by start and delete, after create is gone
};

// The OCI state fields known before state.json is written (what hooks see).
ContainerState state_before_recorded(const std::string& id, pid_t pid, const std::string& bundle, const std::string& rootfs,
                                     const std::string& created, const std::map<std::string, std::string>& annotations);

// Throws InvalidArgument naming the first string of the state that is not valid UTF-8
// ("bundle path \"/x\\xff\" is not valid UTF-8: ..."): state.json and the OCI state are
// JSON. create checks the state it is about to record before it makes anything.
void check_state_strings(const ContainerState&);

std::string to_json(const ContainerState&);  // check_state_strings first
ContainerState state_from_json(const std::string& text);  // throws InvalidArgument on a corrupt file

// The OCI `state` document for a container with its live status: always valid JSON (a byte
// that is not UTF-8 is written as U+FFFD, as runc does), in runc's field order. One line
// unless `pretty` (what `state` prints): hooks get it on stdin as runc and crun send it, and a
// hook that reads one line (`read -r state`) gets all of it.
std::string oci_state_json(const ContainerState&, Status, bool pretty = false);

// The container's cgroup manager, or nullptr when it has none.
std::unique_ptr<cgroups::Manager> container_cgroup(const ContainerState&);

// A pidfd for the container's init if it is still the process we created, else invalid.
UniqueFd open_init_pidfd(const ContainerState&);

// Throws InvalidArgument unless the id is non-empty, at most 255 bytes (NAME_MAX), and made
// of [A-Za-z0-9_.+-] without being "." or "..": the id becomes a directory name.
void validate_id(const std::string& id);

// start time of a live process, or nullopt when it is gone or a zombie.
std::optional<unsigned long long> process_start_time(pid_t pid);
// The same, with the process's name (comm, field 2 of /proc/PID/stat).
struct ProcessStat {
  unsigned long long start_time = 0;
  std::string comm;
};
std::optional<ProcessStat> process_stat(pid_t pid);

// The container init's name (comm) from its start until it execs the program, as runc's
// is "runc:[2:INIT]": status() tells by it a created container from one whose `start` was
// killed before it removed the start socket. 15 bytes, the most a comm holds.
inline constexpr const char* kInitName = "ocirun:[2:INIT]";

class StateStore;

// An open container directory, locked while this object lives.
class ContainerDir {
 public:
  const std::string& id() const { return id_; }
  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }
  ContainerState load() const;
  void save(const ContainerState&) const;
  // cgroup.json: where the cgroup is, written by create as soon as the cgroup exists, so a
  // create that died (or a corrupt state.json) still leaves delete --force what to remove.
  void save_cgroup(const cgroups::Saved&) const;
  std::optional<cgroups::Saved> load_cgroup() const;  // nullopt when missing or unreadable
  // config.json as create read it, kept root-only (its env may hold secrets): what `exec`
  // starts from. The bundle is the container's to write (a volume can reach it) and is never
  // read after create: a config changed there must not pick namespaces, seccomp or the process.
  void save_config(std::string_view text) const;
  spec::Spec load_config() const;
  // Removes the directory and everything in it. The lock is kept until destruction.
  void remove();
  // Live status: stopped when the pid is dead or reused; created while the start socket exists.
  Status status(const ContainerState&) const;

 private:
  friend class StateStore;
  ContainerDir(std::string id, std::string path, UniqueFd fd) : id_(std::move(id)), path_(std::move(path)), fd_(std::move(fd)) {}
  std::string id_;
  std::string path_;
  UniqueFd fd_;
};

class StateStore {
 public:
  explicit StateStore(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  // Makes root/id, already locked (AlreadyExists if taken): the directory is made and locked
  // under a temporary name, then renamed into place, so no one sees it unlocked and empty.
  ContainerDir create(const std::string& id) const;
  // Opens and locks an existing container (NotFound: "container ID does not exist").
  ContainerDir open(const std::string& id, bool lock = true) const;
  // The ids in the root. Also removes the temporary directories (".new~PID") of creates
  // that died before renaming theirs into place (remove_abandoned_temps).
  std::vector<std::string> list_ids() const;
  // Removes every ".new~PID" in the root whose create is gone (its lock is free). Best effort.
  void remove_abandoned_temps() const;
  // A directory without state.json: create is still running (it holds the lock) ...
  bool being_created(const std::string& id) const;
  // ... or died half-way (no one holds the lock).
  bool abandoned(const std::string& id) const;
  // Waits for the lock and returns the directory if it has no state.json (a create that
  // died); nullopt when there is none or it turned into a complete container meanwhile.
  std::optional<ContainerDir> open_incomplete(const std::string& id) const;

 private:
  std::string root_;
};

// Where compiled seccomp filters are kept (seccomp::compile_cached): <root>/~cache/seccomp.
// '~' is not allowed in ids: the cache can never take a container's name, and list skips it.
// --pid-file (create, exec): the pid, written through the file's directory (a temp file of
// a new name, renamed into place, 0644); a symlink at the name is refused, never followed.
void write_pid_file(const std::string& path, pid_t pid);

inline std::string seccomp_cache_dir(const StateStore& store) { return store.root() + "/~cache/seccomp"; }

inline constexpr const char* kStartSocket = "start.sock";
inline constexpr const char* kStateFile = "state.json";
inline constexpr const char* kCgroupFile = "cgroup.json";
inline constexpr const char* kConfigFile = "config.json";
// Why a container created from a config without a process cannot start.
inline constexpr const char* kNoProcessError = "config.json: /process: is required to start the container";

}  // namespace ocirun::runtime
