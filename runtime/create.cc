// `create`: the parent side of the protocol in sync.h, as one list of steps with
// one rollback: on any failure the children are killed and the state dir removed.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "container.h"
#include "error.h"
#include "fault.h"
#include "fs.h"
#include "cgroups.h"
#include "hooks.h"
#include "init.h"
#include "log.h"
#include "parse.h"
#include "scope_guard.h"
#include "sync.h"

namespace ocirun::runtime {

namespace {

std::string real_path(const std::string& path, const std::string& what) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) throw_errno(what + " " + path);
  return buf;
}

std::string now_rfc3339() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}

// A unix socket path through the directory fd keeps it short whatever --root is
// (sun_path holds 108 bytes; containerd's state paths can be longer).
sockaddr_un socket_address_in(int dirfd, const char* name) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dirfd, name);
  return addr;
}

UniqueFd listen_for_start(int dirfd) {
  UniqueFd fd(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
  sockaddr_un addr = socket_address_in(dirfd, kStartSocket);
  check(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), "bind the start socket");
  check(::listen(fd.get(), 4), "listen on the start socket");
  return fd;
}

void send_to_console_socket(const std::string& path, int master) {
  UniqueFd sock(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) fail(ErrorKind::InvalidArgument, "--console-socket path too long: " + path);
  std::strcpy(addr.sun_path, path.c_str());
  check(::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), "connect to --console-socket " + path);
  sync::send(sock.get(), sync::Msg::PtyMaster, 0, "/dev/ptmx", master);
}

// The runtime-spec's ContainerProcessState with the NOTIFY listener as SCM_RIGHTS, in
// one message on a stream connection to listenerPath (as runc sends it).
void send_to_seccomp_listener(const spec::Seccomp& profile, int listener, const ContainerState& state) {
  const std::string& path = profile.listener_path;
  nlohmann::json msg = {{"ociVersion", "1.2.0"},
                        {"fds", nlohmann::json::array({"seccompFd"})},
                        {"pid", state.pid},
                        {"metadata", profile.listener_metadata},
                        {"state", nlohmann::json::parse(oci_state_json(state, Status::Creating))}};
  const std::string text = msg.dump();
  UniqueFd sock(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) fail(ErrorKind::InvalidSpec, "linux.seccomp.listenerPath too long: " + path);
  std::strcpy(addr.sun_path, path.c_str());
  check(::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr),
        "connect to linux.seccomp.listenerPath " + path);
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &listener, sizeof listener);
  ssize_t n;
  while ((n = ::sendmsg(sock.get(), &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n < 0) throw_errno("send the seccomp listener to " + path);
  if (static_cast<size_t>(n) != text.size()) fail(ErrorKind::Syscall, "send the seccomp listener to " + path + ": short write");
}

// Kills and reaps a child unless released: every failure path of create uses it.
class ChildProcess {
 public:
  explicit ChildProcess(pid_t pid = 0) : pid_(pid) {}
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t get() const { return pid_; }
  void reset(pid_t pid) { pid_ = pid; }
  pid_t release() { return std::exchange(pid_, 0); }
  // Reaps a child that exits on its own; its exit status describes failures.
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = 0;
    return status;
  }

 private:
  pid_t pid_;
};

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return fmt::format("exited with status {}", WEXITSTATUS(status));
}

void write_pid_file(const std::string& path, pid_t pid) {
  std::string dir = path.substr(0, path.rfind('/') + 1);
  std::string name = path.substr(path.rfind('/') + 1);
  UniqueFd dirfd(check(::open(dir.empty() ? "." : dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC), "open pid file directory"));
  with_context("write --pid-file " + path, [&] { fs::write_file_atomic_at(dirfd.get(), name, std::to_string(pid)); });
}

// As runc does: whatever the config's device rules say, the container may use the
// devices every container gets (and those it lists), so a deny-all rule still works.
spec::Resources resources_with_default_devices(const spec::Linux& linux_config) {
  spec::Resources r = linux_config.resources.value_or(spec::Resources{});
  if (!linux_config.resources) return r;
  auto allow = [&](const char* type, std::optional<int64_t> major, std::optional<int64_t> minor, const char* access) {
    r.devices.push_back({true, type, major, minor, access});
  };
  for (auto [major, minor] : {std::pair{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}})
    allow("c", major, minor, "rwm");
  allow("c", 136, std::nullopt, "rwm");  // /dev/pts/*
  allow("c", 10, 200, "rwm");            // /dev/net/tun
  for (const auto& d : linux_config.devices)
    if (d.type != "p") allow(d.type == "b" ? "b" : "c", d.major, d.minor, "rwm");
  return r;
}

// How runc's apparmor.IsEnabled and selinux.GetEnabled tell (securityfs may not be mounted).
bool apparmor_enabled() {
  try {
    return fs::read_file("/sys/module/apparmor/parameters/enabled").rfind('Y', 0) == 0;
  } catch (const std::exception&) {
    return false;
  }
}
bool selinux_enabled() { return fs::exists("/sys/fs/selinux/enforce"); }

// A label the host cannot apply would leave the process less confined than asked: refused.
void check_lsm_labels(const spec::Spec& spec) {
  const spec::Process& p = *spec.process;
  if (!p.apparmor_profile.empty() && !apparmor_enabled())
    fail(ErrorKind::Unsupported, "config.json: /process/apparmorProfile: \"" + p.apparmor_profile +
                                     "\" asked for, but AppArmor is not enabled on this host");
  if (!p.selinux_label.empty() && !selinux_enabled())
    fail(ErrorKind::Unsupported, "config.json: /process/selinuxLabel: \"" + p.selinux_label +
                                     "\" asked for, but SELinux is not enabled on this host");
  if (!spec.linux->mount_label.empty() && !selinux_enabled())
    fail(ErrorKind::Unsupported, "config.json: /linux/mountLabel: \"" + spec.linux->mount_label +
                                     "\" asked for, but SELinux is not enabled on this host");
}

void check_host_requirements(const spec::Spec& spec, const namespaces::Plan& plan, const CreateOptions& opts) {
  if (!spec.linux) fail(ErrorKind::InvalidSpec, "config.json: /linux: required on Linux");
  if (!plan.has(CLONE_NEWNS)) fail(ErrorKind::InvalidSpec, "config.json: /linux/namespaces: a mount namespace is required");
  if (spec.process->terminal && opts.console_socket.empty() && !opts.foreground_terminal)
    fail(ErrorKind::InvalidArgument, "process.terminal is true: --console-socket is required");
  if (!spec.process->terminal && !opts.console_socket.empty())
    fail(ErrorKind::InvalidArgument, "--console-socket given but process.terminal is false");
  check_lsm_labels(spec);
}

}  // namespace

Created create_container(const StateStore& store, const CreateOptions& opts) {
  validate_id(opts.id);
  log::StepTimer timer("create " + opts.id);
  const std::string bundle = real_path(opts.bundle, "bundle");
  const spec::Spec spec = spec::load(bundle);
  spec::validate_or_throw(spec, /*need_process=*/true);
  std::string root_path = spec.root.path[0] == '/' ? spec.root.path : bundle + "/" + spec.root.path;
  const std::string rootfs = real_path(root_path, "config.json: /root/path:");
  const namespaces::Plan plan = namespaces::plan(*spec.linux);
  check_host_requirements(spec, plan, opts);

  InitContext ctx;
  ctx.spec = &spec;
  ctx.plan = &plan;
  ctx.process = prepare_process(*spec.process);
  ctx.id = opts.id;
  ctx.rootfs = rootfs;
  ctx.bundle = bundle;
  ctx.no_pivot = opts.no_pivot;
  ctx.no_new_keyring = opts.no_new_keyring;
  ctx.preserve_fds = opts.preserve_fds;
  if (const char* listen = ::getenv("LISTEN_FDS")) {
    // systemd socket activation: pass the sockets on, addressed to the container's PID 1.
    ctx.preserve_fds += std::atoi(listen);
    ctx.process.env.push_back(fmt::format("LISTEN_FDS={}", std::atoi(listen)));
    ctx.process.env.push_back("LISTEN_PID=1");
  }
  ctx.parent_pid = ::getpid();
  if (spec.hooks)
    ctx.creation_hooks = !spec.hooks->prestart.empty() || !spec.hooks->create_runtime.empty() ||
                         !spec.hooks->create_container.empty() || !spec.hooks->start_container.empty();
  if (spec.linux->seccomp) {
    ctx.seccomp = with_context("linux.seccomp", [&] { return seccomp::compile(*spec.linux->seccomp); });
    if (ctx.seccomp->needs_listener && spec.linux->seccomp->listener_path.empty())
      fail(ErrorKind::InvalidSpec, "config.json: /linux/seccomp/listenerPath: required by SCMP_ACT_NOTIFY");
  }

  timer.step("load and check config.json");
  const std::string created = now_rfc3339();
  ctx.created = created;
  ContainerDir dir = store.create(opts.id);
  ScopeGuard remove_dir([&] { dir.remove(); });
  OCIRUN_CRASH_POINT("state-dir");
  UniqueFd start_listen = listen_for_start(dir.fd());
  OCIRUN_CRASH_POINT("start-socket");

  // The cgroup exists and is limited before any container process does.
  auto cgroup = cgroups::open(cgroups::detect_host(), spec.linux->cgroups_path, opts.id);
  cgroup->create();
  ScopeGuard destroy_cgroup([&] {
    // Everything create started was born in the cgroup: killed here even if a pid was
    // missed below (the rollback's destroy cannot remove a cgroup that still has a process).
    cgroup->kill_all(SIGKILL);
    cgroup->destroy();
  });
  // Recorded at once: if create dies from here on, delete --force finds the cgroup (and so
  // every process create made, as they are born in it).
  dir.save_cgroup(cgroup->saved());
  OCIRUN_CRASH_POINT("cgroup");
  with_context("apply linux.resources", [&] { cgroup->apply(resources_with_default_devices(*spec.linux)); });
  OCIRUN_CRASH_POINT("resources");
  timer.step("state dir, cgroup");
  ctx.start_listen_fd = start_listen.get();

  int pair[2];
  check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), "socketpair");
  UniqueFd parent_end(pair[0]), child_end(pair[1]);
  ctx.sync_fd = child_end.get();
  ctx.parent_only_fds = {dir.fd(), parent_end.get()};

  ChildProcess stage1(static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)));
  if (stage1.get() < 0) throw_errno("fork");
  if (stage1.get() == 0) stage1_main(ctx);
  child_end.reset();  // so a dead child shows as EOF
  OCIRUN_CRASH_POINT("fork");
  // Stage 1 joins the cgroup before it creates anything, so the init is born inside it.
  cgroup->add_process(stage1.get());
  OCIRUN_CRASH_POINT("cgroup-joined");
  ChildProcess init;
  int pty_master = -1;

  auto child_failed = [&]() -> Error {
    std::string how = stage1.get() > 0 ? "stage 1 " + describe_exit(stage1.wait()) : "the container init exited";
    return Error(ErrorKind::Syscall, "container setup failed: " + how);
  };

  timer.step("fork, join cgroup");
  sync::send(parent_end.get(), sync::Msg::Go);
  for (bool ready = false; !ready;) {
    sync::Message m;
    if (!sync::recv(parent_end.get(), m)) throw child_failed();
    switch (m.type) {
      case sync::Msg::UsernsReady:
        namespaces::write_id_maps(stage1.get(), *spec.linux);
        sync::send(parent_end.get(), sync::Msg::UsernsMapped);
        break;
      case sync::Msg::InitPid:
        init.reset(m.value);
        timer.step("namespaces (stage 1)");
        if (int status = stage1.wait(); status != 0) fail(ErrorKind::Syscall, "stage 1 " + describe_exit(status));
        OCIRUN_CRASH_POINT("init-pid");
        break;
      case sync::Msg::HooksRequest: {
        // The runtime's namespace, with the container's namespaces and mounts in place.
        ContainerState creating = state_before_recorded(opts.id, init.get(), bundle, rootfs, created, spec.annotations);
        std::string json = oci_state_json(creating, Status::Creating);
        run_hooks(spec.hooks->prestart, json, "prestart");
        run_hooks(spec.hooks->create_runtime, json, "createRuntime");
        OCIRUN_CRASH_POINT("hooks");
        // The init builds the same state itself: annotations can outgrow any message.
        sync::send(parent_end.get(), sync::Msg::HooksDone, init.get());
        break;
      }
      case sync::Msg::PtyMaster:
        if (opts.foreground_terminal)
          pty_master = m.fd.release();
        else
          send_to_console_socket(opts.console_socket, m.fd.get());
        break;
      case sync::Msg::SeccompListener:
        send_to_seccomp_listener(*spec.linux->seccomp, m.fd.get(),
                                 state_before_recorded(opts.id, init.get(), bundle, rootfs, created, spec.annotations));
        break;
      case sync::Msg::Ready:
        ready = true;
        OCIRUN_CRASH_POINT("ready");
        timer.step("rootfs and process setup (init)");
        break;
      case sync::Msg::Error:
        fail(ErrorKind::Syscall, m.text);
      default:
        fail(ErrorKind::Syscall, fmt::format("unexpected sync message {}", static_cast<int>(m.type)));
    }
  }

  ContainerState state = state_before_recorded(opts.id, init.get(), bundle, rootfs, created, spec.annotations);
  auto start_time = process_start_time(state.pid);
  if (!start_time) fail(ErrorKind::Syscall, fmt::format("the container init (pid {}) exited during create", state.pid));
  state.pid_start_time = *start_time;
  if (spec.hooks) {
    state.poststart = spec.hooks->poststart;
    state.poststop = spec.hooks->poststop;
  }
  state.has_pid_namespace = plan.has(CLONE_NEWPID);
  state.cgroup = cgroup->saved();
  dir.save(state);
  OCIRUN_CRASH_POINT("state-saved");
  if (!opts.pid_file.empty()) write_pid_file(opts.pid_file, state.pid);

  remove_dir.dismiss();
  destroy_cgroup.dismiss();
  timer.step("state.json");
  log::debug(fmt::format("created container {} with init pid {}", opts.id, state.pid));
  return {init.release(), pty_master};
}

}  // namespace ocirun::runtime
