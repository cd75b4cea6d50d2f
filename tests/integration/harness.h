// Test harness for the integration tests: runs the runtime binary under test (ocirun or runc)
// with a per-test bundle and state root, and cleans up even when a test fails.
#pragma once
#include <sys/types.h>
#include <time.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ocirun::it {

using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---- Running commands ----------------------------------------------------------------------

struct ExecOptions {
  std::string stdin_path = "/dev/null";
  // Empty: capture through a pipe. Otherwise the file receives the output (appended), and the
  // result holds what the file contains once the command has exited. Use files for commands
  // that leave processes behind holding their stdio (create, run --detach).
  std::string stdout_file;
  std::string stderr_file;
  // (fd in this process, fd number in the child): extra descriptors handed to the child.
  std::vector<std::pair<int, int>> extra_fds;
  std::chrono::milliseconds timeout = 30s;
  std::string cwd;  // empty: inherit
};

struct ExecResult {
  int code = -1;  // exit status, or 128+N when killed by signal N, -1 if it could not run
  bool timed_out = false;
  std::string out;
  std::string err;
  std::string describe() const;  // for failure messages
};

// fork/exec argv (PATH is searched for argv[0]); no shell. The child gets only fds 0-2 plus
// extra_fds, its own process group, and is killed (with its group) on timeout.
ExecResult exec(const std::vector<std::string>& argv, const ExecOptions& opts = {});

// ---- Process-wide environment ---------------------------------------------------------------

struct Env {
  std::string runtime;     // absolute path of the runtime binary under test
  fs::path base;           // temp dir for this test run (removed at exit)
  fs::path template_dir;   // bundle made by make-bundle.sh: rootfs + config.json
  json base_config;

  // Built lazily by the first test that needs it (so test discovery needs neither root nor a bundle).
  static Env& get();
  ~Env();
};

// The runtime binary: $OCIRUN_BIN, else the build's ocirun, else "runc".
std::string runtime_binary();

// ---- One test's container(s) ----------------------------------------------------------------

// Owns dir/ with bundle/ (config.json + a private copy of the rootfs) and state/ (the --root).
// The destructor force-deletes every container created through it and removes the directory.
class Sandbox {
 public:
  explicit Sandbox(const std::string& name);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  fs::path dir;
  fs::path bundle;
  fs::path rootfs;
  fs::path state_root;
  std::string id;  // the main container's id; others may be made with new_id()
  json config;     // written to bundle/config.json before create/run
  std::string runtime;  // the binary rt() runs: Env's, unless a test points it at a copy

  std::string new_id();
  // process.args = {"sh", "-c", script}
  void sh(const std::string& script);
  void write_config() const;
  // Adds a mount (destination, type, source, options).
  void add_mount(const std::string& dest, const std::string& type, const std::string& source,
                 std::vector<std::string> options);
  // A host directory under dir/, created, returned by absolute path.
  fs::path host_dir(const std::string& name);

  // runtime --root state_root ARGS...
  ExecResult rt(std::vector<std::string> args, ExecOptions opts = {});
  // create --bundle bundle ID: writes config.json first; the container's stdout/stderr go to
  // files (see output()), as does the runtime's own stderr.
  ExecResult create(const std::string& cid = {}, std::vector<std::string> extra = {});
  ExecResult start(const std::string& cid = {});
  // Foreground run: captures the container's stdout/stderr.
  ExecResult run(std::vector<std::string> extra = {}, ExecOptions opts = {});
  ExecResult run_detached(const std::string& cid = {});
  // Everything the container (and the runtime's create) wrote to stdout/stderr so far.
  std::string output(const std::string& cid = {}) const;
  std::string errors(const std::string& cid = {}) const;

  // `state ID` parsed; fails the test when the command fails.
  json state(const std::string& cid = {});
  std::string status(const std::string& cid = {});
  // Polls `state` until status == want; false on timeout.
  bool wait_status(const std::string& want, std::chrono::milliseconds timeout = 10s,
                   const std::string& cid = {});

 private:
  const std::string& pick(const std::string& cid) const { return cid.empty() ? id : cid; }
  std::vector<std::string> ids_;
};

// ---- Host-side helpers ----------------------------------------------------------------------

std::string read_file(const fs::path& p);
void write_file(const fs::path& p, const std::string& data);
// Dead or a zombie.
bool pid_gone(pid_t pid);
bool wait_pid_gone(pid_t pid, std::chrono::milliseconds timeout = 10s);
// Live processes whose pid namespace link equals `pidns` ("pid:[4026...]").
std::vector<pid_t> pids_in_pidns(const std::string& pidns);
std::string readlink_str(const fs::path& p);
std::vector<std::string> lines(const std::string& s);
std::string trim(const std::string& s);
// The value after "Key:" in /proc/<pid>/status-like text, whitespace collapsed to single spaces.
std::string status_field(const std::string& text, const std::string& key);
// Polls `pred` every 20ms until it is true or the timeout passes.
template <class F>
bool eventually(F pred, std::chrono::milliseconds timeout = 10s);

struct MountInfo {
  std::string mount_point;
  std::string options;        // per-mount: rw,nosuid,...
  std::string fstype;
  std::string source;
  std::string super_options;  // per-superblock: size=1024k,mode=1777,...
};
std::vector<MountInfo> parse_mountinfo(const std::string& text);
const MountInfo* find_mount(const std::vector<MountInfo>& mounts, const std::string& mount_point);
// True when `option` is one of the comma-separated entries of `list`.
bool has_option(const std::string& list, const std::string& option);

// Listens on a unix socket and receives one fd over SCM_RIGHTS (for --console-socket).
class ConsoleSocket {
 public:
  explicit ConsoleSocket(const fs::path& path);
  ~ConsoleSocket();
  // Accepts the runtime's connection and returns the received fd, or -1 on timeout/error.
  int receive_fd(std::chrono::milliseconds timeout = 10s);
  fs::path path;

 private:
  int listen_fd_ = -1;
};

// Reads from fd until EOF/EIO or the timeout (or until `until` appears in the output).
std::string read_all(int fd, std::chrono::milliseconds timeout, const std::string& until = {});

// One recvmsg on a connected unix socket: the data (at most max_data bytes) and the fds that
// came with it over SCM_RIGHTS, in order (close-on-exec). Empty on error or EOF.
struct Received {
  std::string data;
  std::vector<int> fds;
};
Received receive_with_fds(int sock, size_t max_data = 4096);

// ---- Shared by the tests (Catch assertions) ---------------------------------------------------

// Fails the test (REQUIRE) unless the command exited 0, with its output in the message.
void require_ok(const ExecResult& r);
// Runs the sandbox's config in the foreground and requires success.
ExecResult run_ok(Sandbox& s, std::vector<std::string> extra = {}, ExecOptions opts = {});
bool contains(const std::string& haystack, const std::string& needle);
// The non-blank lines of `text`, trimmed.
std::set<std::string> line_set(const std::string& text);
// Removes every linux.namespaces entry of `type`.
void remove_namespace(json& config, const std::string& type);
// Replaces the linux.namespaces entry of `type` by a new namespace, or by joining `path`.
void set_namespace(json& config, const std::string& type, const std::string& path = {});
// The pid in `state` of the sandbox's container (or `cid`).
pid_t state_pid(Sandbox& s, const std::string& cid = {});
// A host directory bind-mounted read-write at /ctl, for handshakes with the container.
fs::path add_ctl_dir(Sandbox& s);
// A new user namespace whose ids 0-65535 are the host's 100000-165535 (uid and gid); the
// rootfs is chowned along, so that the container's root owns it.
void use_user_namespace(Sandbox& s);

// Makes this process the reaper of orphans its children leave behind, so a test can see
// whether the runtime left processes running. Kills and reaps whatever is left on exit.
class Subreaper {
 public:
  Subreaper();
  ~Subreaper();
  Subreaper(const Subreaper&) = delete;
  Subreaper& operator=(const Subreaper&) = delete;
  // This process's children that are alive (not zombies), after reaping the zombies.
  static std::vector<pid_t> live_children();
};

template <class F>
bool eventually(F pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    struct timespec ts{0, 20'000'000};
    nanosleep(&ts, nullptr);
  }
}

}  // namespace ocirun::it
