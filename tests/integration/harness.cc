#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#ifndef OCIRUN_DEFAULT_BIN
#define OCIRUN_DEFAULT_BIN "runc"
#endif
#ifndef OCIRUN_BUNDLE_SCRIPT
#define OCIRUN_BUNDLE_SCRIPT "bundles/make-bundle.sh"
#endif

namespace ocirun::it {

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Reads whatever is available on a non-blocking fd; returns false at EOF (or a read error).
bool drain(int fd, std::string& into) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      into.append(buf, n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    return false;
  }
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Closes every fd >= 3 except those in `keep` (sorted).
void close_all_but(const std::vector<int>& keep) {
  unsigned lo = 3;
  for (int k : keep) {
    if (static_cast<unsigned>(k) > lo) close_range(lo, k - 1, 0);
    lo = std::max<unsigned>(lo, k + 1);
  }
  close_range(lo, ~0U, 0);
}

std::string search_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return fs::absolute(name).string();
  const char* path = getenv("PATH");
  std::stringstream ss(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    fs::path candidate = fs::path(dir) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return name;
}

std::atomic<int> sandbox_counter{0};

}  // namespace

// ---- exec ------------------------------------------------------------------------------------

std::string ExecResult::describe() const {
  std::ostringstream os;
  os << "exit " << code << (timed_out ? " (timed out)" : "") << "\n--- stdout:\n"
     << out << "\n--- stderr:\n"
     << err;
  return os.str();
}

ExecResult exec(const std::vector<std::string>& argv, const ExecOptions& opts) {
  ExecResult result;
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  int in_fd = ::open(opts.stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in_fd < 0) throw std::runtime_error(errno_text("open " + opts.stdin_path));
  auto open_sink = [](const std::string& file, int pipe_fds[2]) {
    if (!file.empty()) {
      pipe_fds[0] = -1;
      pipe_fds[1] = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (pipe_fds[1] < 0) throw std::runtime_error(errno_text("open " + file));
    } else if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
      throw std::runtime_error(errno_text("pipe2"));
    }
  };
  int out_p[2], err_p[2];
  open_sink(opts.stdout_file, out_p);
  open_sink(opts.stderr_file, err_p);

  std::vector<int> targets;
  for (auto& [src, dst] : opts.extra_fds) targets.push_back(dst);
  std::sort(targets.begin(), targets.end());

  const char* cwd = opts.cwd.empty() ? nullptr : opts.cwd.c_str();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(errno_text("fork"));
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
    // Move extra fds out of the way first, so a source may equal another's target.
    int moved[64];
    size_t n_extra = std::min<size_t>(opts.extra_fds.size(), 64);
    for (size_t i = 0; i < n_extra; i++) moved[i] = fcntl(opts.extra_fds[i].first, F_DUPFD_CLOEXEC, 100);
    dup2(in_fd, 0);
    dup2(out_p[1], 1);
    dup2(err_p[1], 2);
    for (size_t i = 0; i < n_extra; i++) dup2(moved[i], opts.extra_fds[i].second);
    close_all_but(targets);
    if (cwd && chdir(cwd) < 0) _exit(126);
    execvp(cargv[0], cargv.data());
    const char msg[] = "exec failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  ::close(in_fd);
  ::close(out_p[1]);
  ::close(err_p[1]);
  int out_r = out_p[0], err_r = err_p[0];
  for (int fd : {out_r, err_r})
    if (fd >= 0) fcntl(fd, F_SETFL, O_NONBLOCK);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));

  auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  int status = 0;
  for (;;) {
    pollfd fds[3];
    int n = 0;
    if (pidfd >= 0) fds[n++] = {pidfd, POLLIN, 0};
    if (out_r >= 0) fds[n++] = {out_r, POLLIN, 0};
    if (err_r >= 0) fds[n++] = {err_r, POLLIN, 0};
    poll(fds, n, pidfd >= 0 ? 200 : 10);
    if (out_r >= 0 && !drain(out_r, result.out)) ::close(std::exchange(out_r, -1));
    if (err_r >= 0 && !drain(err_r, result.err)) ::close(std::exchange(err_r, -1));
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.timed_out = true;
      break;
    }
  }
  // The command has exited; what it wrote is in the pipes. Processes it left behind may still
  // hold the write ends, so take what is there and stop.
  for (int* fd : {&out_r, &err_r}) {
    if (*fd < 0) continue;
    drain(*fd, fd == &out_r ? result.out : result.err);
    ::close(*fd);
  }
  if (pidfd >= 0) ::close(pidfd);
  result.code = decode_status(status);
  if (!opts.stdout_file.empty()) result.out = read_file(opts.stdout_file);
  if (!opts.stderr_file.empty()) result.err = read_file(opts.stderr_file);
  return result;
}

// ---- Env -------------------------------------------------------------------------------------

std::string runtime_binary() {
  if (const char* bin = getenv("OCIRUN_BIN"); bin && *bin) return search_path(bin);
  return search_path(OCIRUN_DEFAULT_BIN);
}

Env& Env::get() {
  static Env env;
  if (!env.base.empty()) return env;
  env.runtime = runtime_binary();
  char tmpl[] = "/tmp/ocirun-it-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error(errno_text("mkdtemp"));
  // Runtimes refuse rootfs paths through symlinks; a user-namespaced container must be able
  // to walk down to its rootfs.
  env.base = fs::canonical(tmpl);
  fs::permissions(env.base, fs::perms(0755));
  env.template_dir = env.base / "template";
  const char* script = getenv("OCIRUN_BUNDLE_SCRIPT");
  auto r = exec({script && *script ? script : OCIRUN_BUNDLE_SCRIPT, "--runtime", env.runtime,
                 env.template_dir.string()},
                {.timeout = 300s});
  if (r.code != 0) {
    fs::path failed = std::exchange(env.base, {});
    std::error_code ec;
    fs::remove_all(failed, ec);
    throw std::runtime_error("make-bundle.sh failed: " + r.describe());
  }
  env.base_config = json::parse(read_file(env.template_dir / "config.json"));
  return env;
}

Env::~Env() {
  std::error_code ec;
  if (!base.empty()) fs::remove_all(base, ec);
}

// ---- Sandbox ---------------------------------------------------------------------------------

Sandbox::Sandbox(const std::string& name) {
  Env& env = Env::get();
  int n = ++sandbox_counter;
  std::string clean;
  for (char c : name) clean += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  dir = env.base / (std::to_string(n) + "-" + clean.substr(0, 40));
  bundle = dir / "bundle";
  rootfs = bundle / "rootfs";
  state_root = dir / "state";
  fs::create_directories(bundle);
  fs::permissions(dir, fs::perms(0755));
  fs::copy(env.template_dir / "rootfs", rootfs, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  id = new_id();
  runtime = env.runtime;

  config = env.base_config;
  config["root"]["path"] = rootfs.string();
  config["root"]["readonly"] = true;
  config["process"]["terminal"] = false;
  config["process"]["args"] = {"true"};
}

std::string Sandbox::new_id() {
  std::string cid = "it-" + std::to_string(getpid()) + "-" + std::to_string(sandbox_counter++);
  ids_.push_back(cid);
  return cid;
}

Sandbox::~Sandbox() {
  for (auto& cid : ids_) {
    try {
      pid_t pid = 0;
      auto st = rt({"state", cid}, {.timeout = 10s});
      if (st.code == 0) pid = json::parse(st.out).value("pid", 0);
      rt({"delete", "--force", cid}, {.timeout = 20s});
      if (pid > 0 && !wait_pid_gone(pid, 5s)) kill(pid, SIGKILL);
    } catch (...) {
    }
  }
  // A runtime that leaked a mount under our directory must not make remove_all reach through it.
  try {
    auto mounts = parse_mountinfo(read_file("/proc/self/mountinfo"));
    std::vector<std::string> ours;
    for (auto& m : mounts)
      if (m.mount_point.rfind(dir.string() + "/", 0) == 0) ours.push_back(m.mount_point);
    std::sort(ours.rbegin(), ours.rend());
    for (auto& mp : ours) umount2(mp.c_str(), MNT_DETACH);
  } catch (...) {
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

void Sandbox::sh(const std::string& script) { config["process"]["args"] = {"sh", "-c", script}; }

void Sandbox::write_config() const { write_file(bundle / "config.json", config.dump(2)); }

void Sandbox::add_mount(const std::string& dest, const std::string& type, const std::string& source,
                        std::vector<std::string> options) {
  config["mounts"].push_back({{"destination", dest}, {"type", type}, {"source", source}, {"options", options}});
}

fs::path Sandbox::host_dir(const std::string& name) {
  fs::path p = dir / name;
  fs::create_directories(p);
  return p;
}

ExecResult Sandbox::rt(std::vector<std::string> args, ExecOptions opts) {
  std::vector<std::string> argv = {runtime, "--root", state_root.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return exec(argv, opts);
}

ExecResult Sandbox::create(const std::string& cid, std::vector<std::string> extra) {
  write_config();
  const std::string& c = pick(cid);
  std::vector<std::string> args = {"create", "--bundle", bundle.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(c);
  return rt(args, {.stdout_file = (dir / (c + ".out")).string(), .stderr_file = (dir / (c + ".err")).string()});
}

ExecResult Sandbox::start(const std::string& cid) { return rt({"start", pick(cid)}); }

ExecResult Sandbox::run(std::vector<std::string> extra, ExecOptions opts) {
  write_config();
  std::vector<std::string> args = {"run", "--bundle", bundle.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(id);
  return rt(args, opts);
}

ExecResult Sandbox::run_detached(const std::string& cid) {
  write_config();
  const std::string& c = pick(cid);
  return rt({"run", "--detach", "--bundle", bundle.string(), c},
            {.stdout_file = (dir / (c + ".out")).string(), .stderr_file = (dir / (c + ".err")).string()});
}

std::string Sandbox::output(const std::string& cid) const {
  std::error_code ec;
  fs::path p = dir / (pick(cid) + ".out");
  return fs::exists(p, ec) ? read_file(p) : "";
}

std::string Sandbox::errors(const std::string& cid) const {
  std::error_code ec;
  fs::path p = dir / (pick(cid) + ".err");
  return fs::exists(p, ec) ? read_file(p) : "";
}

json Sandbox::state(const std::string& cid) {
  auto r = rt({"state", pick(cid)});
  if (r.code != 0) throw std::runtime_error("state " + pick(cid) + " failed: " + r.describe());
  return json::parse(r.out);
}

std::string Sandbox::status(const std::string& cid) { return state(cid).value("status", ""); }

bool Sandbox::wait_status(const std::string& want, std::chrono::milliseconds timeout, const std::string& cid) {
  return eventually(
      [&] {
        auto r = rt({"state", pick(cid)});
        return r.code == 0 && json::parse(r.out).value("status", "") == want;
      },
      timeout);
}

// ---- Host-side helpers -----------------------------------------------------------------------

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& data) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << data;
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

bool pid_gone(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  if (!f) return true;
  std::string stat;
  try {
    stat.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    return true;  // ESRCH: it exited between open and read (filebuf throws whatever the mask)
  }
  auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;
  char state = stat[paren + 2];
  return state == 'Z' || state == 'X';
}

bool wait_pid_gone(pid_t pid, std::chrono::milliseconds timeout) {
  return eventually([&] { return pid_gone(pid); }, timeout);
}

std::string readlink_str(const fs::path& p) {
  std::error_code ec;
  auto target = fs::read_symlink(p, ec);
  return ec ? "" : target.string();
}

std::vector<pid_t> pids_in_pidns(const std::string& pidns) {
  std::vector<pid_t> pids;
  for (auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pid_t pid = std::stoi(name);
    if (readlink_str(entry.path() / "ns" / "pid") == pidns && !pid_gone(pid)) pids.push_back(pid);
  }
  return pids;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream ss(s);
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string status_field(const std::string& text, const std::string& key) {
  for (auto& line : lines(text)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream ss(line.substr(key.size() + 1));
    std::string word, joined;
    while (ss >> word) joined += (joined.empty() ? "" : " ") + word;
    return joined;
  }
  return "<missing " + key + ">";
}

std::vector<MountInfo> parse_mountinfo(const std::string& text) {
  auto unescape = [](const std::string& s) {  // \040 and friends
    std::string out;
    for (size_t i = 0; i < s.size(); i++) {
      if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
        out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        out += s[i];
      }
    }
    return out;
  };
  std::vector<MountInfo> mounts;
  for (auto& line : lines(text)) {
    std::istringstream ss(line);
    std::vector<std::string> f;
    std::string w;
    while (ss >> w) f.push_back(w);
    auto sep = std::find(f.begin(), f.end(), "-");
    if (f.size() < 7 || sep == f.end() || f.end() - sep < 4) continue;
    mounts.push_back({unescape(f[4]), f[5], sep[1], sep[2], sep[3]});
  }
  return mounts;
}

const MountInfo* find_mount(const std::vector<MountInfo>& mounts, const std::string& mount_point) {
  const MountInfo* found = nullptr;  // the last one is the one on top
  for (auto& m : mounts)
    if (m.mount_point == mount_point) found = &m;
  return found;
}

bool has_option(const std::string& list, const std::string& option) {
  std::istringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ','))
    if (item == option) return true;
  return false;
}

// ---- Console socket --------------------------------------------------------------------------

ConsoleSocket::ConsoleSocket(const fs::path& p) : path(p) {
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(errno_text("socket"));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + path.string());
  std::strcpy(addr.sun_path, path.c_str());
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(listen_fd_, 4) < 0)
    throw std::runtime_error(errno_text("bind/listen " + path.string()));
}

ConsoleSocket::~ConsoleSocket() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  unlink(path.c_str());
}

int ConsoleSocket::receive_fd(std::chrono::milliseconds timeout) {
  pollfd p{listen_fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
  int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) return -1;
  p = {conn, POLLIN, 0};
  int fd = -1;
  if (poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
    Received got = receive_with_fds(conn);
    if (!got.fds.empty()) fd = got.fds[0];
    for (size_t i = 1; i < got.fds.size(); i++) ::close(got.fds[i]);  // a console is one fd
  }
  ::close(conn);
  return fd;
}

Received receive_with_fds(int sock, size_t max_data) {
  Received got;
  std::vector<char> buf(max_data);
  iovec iov{buf.data(), buf.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) return got;
  got.data.assign(buf.data(), n);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      got.fds.push_back(fd);
    }
  }
  return got;
}

// ---- Shared by the tests ---------------------------------------------------------------------

void require_ok(const ExecResult& r) {
  INFO(r.describe());
  REQUIRE(r.code == 0);
}

ExecResult run_ok(Sandbox& s, std::vector<std::string> extra, ExecOptions opts) {
  auto r = s.run(std::move(extra), std::move(opts));
  require_ok(r);
  return r;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::set<std::string> line_set(const std::string& text) {
  std::set<std::string> out;
  for (auto& l : lines(text))
    if (!trim(l).empty()) out.insert(trim(l));
  return out;
}

void remove_namespace(json& config, const std::string& type) {
  auto& ns = config["linux"]["namespaces"];
  for (auto it = ns.begin(); it != ns.end();)
    it = (*it)["type"] == type ? ns.erase(it) : it + 1;
}

void set_namespace(json& config, const std::string& type, const std::string& path) {
  remove_namespace(config, type);
  json entry = {{"type", type}};
  if (!path.empty()) entry["path"] = path;
  config["linux"]["namespaces"].push_back(entry);
}

pid_t state_pid(Sandbox& s, const std::string& cid) { return s.state(cid).value("pid", 0); }

fs::path add_ctl_dir(Sandbox& s) {
  fs::path ctl = s.host_dir("ctl");
  s.add_mount("/ctl", "bind", ctl.string(), {"rbind", "rw"});
  return ctl;
}

void use_user_namespace(Sandbox& s) {
  constexpr int kHostBase = 100000;
  auto shift = [&](const fs::path& p) {
    struct stat st {};
    if (lstat(p.c_str(), &st) == 0) REQUIRE(lchown(p.c_str(), st.st_uid + kHostBase, st.st_gid + kHostBase) == 0);
  };
  shift(s.rootfs);
  for (auto& e : fs::recursive_directory_iterator(s.rootfs)) shift(e.path());
  set_namespace(s.config, "user");
  s.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", kHostBase}, {"size", 65536}}};
  s.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", kHostBase}, {"size", 65536}}};
}

Subreaper::Subreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1); }

Subreaper::~Subreaper() {
  for (pid_t pid : live_children()) kill(pid, SIGKILL);
  eventually([&] { return live_children().empty(); }, 5s);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

std::vector<pid_t> Subreaper::live_children() {
  std::vector<pid_t> out;
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  for (auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (!std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::string stat;
    try {
      stat = read_file(entry.path() / "stat");
    } catch (...) {
      continue;
    }
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    char st = 0;
    int ppid = 0;
    if (sscanf(stat.c_str() + paren + 1, " %c %d", &st, &ppid) == 2 && ppid == getpid() && st != 'Z')
      out.push_back(std::stoi(name));
  }
  return out;
}

std::string read_all(int fd, std::chrono::milliseconds timeout, const std::string& until) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF, or EIO once the pty's other side is closed
    out.append(buf, n);
    if (!until.empty() && out.find(until) != std::string::npos) break;
  }
  return out;
}

}  // namespace ocirun::it
