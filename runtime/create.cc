// `create`: the parent side of the protocol in sync.h, as one list of steps with
// one rollback: on any failure the children are killed and the state dir removed.
#include <fcntl.h>
#include <linux/sched.h>  // clone_args, CLONE_INTO_CGROUP
#include <signal.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <optional>
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
#include "lsm.h"
#include "parse.h"
#include "rootfs.h"
#include "scope_guard.h"
#include "sync.h"
#include "timestamp.h"
#include "unix_socket.h"

namespace ocirun::runtime {

namespace {

std::string real_path(const std::string& path, const std::string& what) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) throw_errno(what + " " + path);
  return buf;
}

UniqueFd listen_for_start(int dirfd) {
  UniqueFd fd(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
  sockaddr_un addr = socket_address_in(dirfd, kStartSocket);
  check(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), "bind the start socket");
  // bind() applies the umask: the container dir (0700) keeps others out until this chmod.
  check(::fchmodat(dirfd, kStartSocket, 0600, 0), "chmod the start socket");
  check(::listen(fd.get(), 4), "listen on the start socket");
  return fd;
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

// Clones the first child (stage 1, or the init with its new namespaces in `ns_flags`),
// straight into the container's cgroup2 directory where the kernel can (clone3
// CLONE_INTO_CGROUP, Linux 5.7+): then no cgroup.procs write, and no wait for the
// threadgroup lock, is needed there. *into_cgroup2 says whether that happened; on any
// clone3 failure a plain clone follows and the child joins by writing cgroup.procs.
pid_t clone_first_child(int cgroup2_fd, int ns_flags, bool* into_cgroup2) {
  *into_cgroup2 = false;
  if (cgroup2_fd >= 0) {
    clone_args args{};
    args.flags = CLONE_INTO_CGROUP | static_cast<uint64_t>(ns_flags);
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(cgroup2_fd);
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0) {
      *into_cgroup2 = true;  // in both processes
      return static_cast<pid_t>(pid);
    }
  }
  return static_cast<pid_t>(::syscall(SYS_clone, ns_flags | SIGCHLD, 0, 0, 0, 0));
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return fmt::format("exited with status {}", WEXITSTATUS(status));
}

// A label the host cannot apply would leave the process less confined than asked: refused.
void check_lsm_labels(const spec::Spec& spec) {
  require_selinux(spec.linux->mount_label, "config.json: /linux/mountLabel");
  if (!spec.process) return;
  require_apparmor(spec.process->apparmor_profile, "config.json: /process/apparmorProfile");
  require_selinux(spec.process->selinux_label, "config.json: /process/selinuxLabel");
}

// Without a mount namespace the container shares the runtime's mounts (runtime-spec: a
// namespace left out is inherited), and the rootfs becomes its root by chroot, as with runc
// and crun. Whatever would mount something would mount it on the host: refused by name.
void refuse_what_needs_a_mount_namespace(const spec::Spec& spec) {
  auto refuse = [](const std::string& pointer, const std::string& why) {
    fail(ErrorKind::InvalidSpec, "config.json: " + pointer + ": " + why + " (linux.namespaces has no \"mount\")");
  };
  const std::string mounts_host = "would change the host's mounts without a mount namespace of the container's own";
  if (!spec.mounts.empty()) refuse("/mounts", mounts_host);
  // runc's words for these two.
  if (!spec.linux->masked_paths.empty())
    refuse("/linux/maskedPaths", "unable to restrict sys entries without a private MNT namespace");
  if (!spec.linux->readonly_paths.empty())
    refuse("/linux/readonlyPaths", "unable to restrict sys entries without a private MNT namespace");
  if (spec.root.readonly) refuse("/root/readonly", mounts_host);
  if (!spec.linux->rootfs_propagation.empty()) refuse("/linux/rootfsPropagation", mounts_host);
  if (!spec.linux->devices.empty()) refuse("/linux/devices", "would change the rootfs on the host without a mount namespace");
  if (spec.process && spec.process->terminal) refuse("/process/terminal", "/dev/console is a mount: " + mounts_host);
  if (!spec.linux->sysctl.empty()) refuse("/linux/sysctl", "needs the container's own /proc, a mount");
}

void check_host_requirements(const spec::Spec& spec, const namespaces::Plan& plan, const CreateOptions& opts) {
  if (!spec.linux) fail(ErrorKind::InvalidSpec, "config.json: /linux: required on Linux");
  if (!plan.has(CLONE_NEWNS)) refuse_what_needs_a_mount_namespace(spec);
  const bool terminal = spec.process && spec.process->terminal;
  if (terminal && opts.console_socket.empty() && !opts.foreground_terminal)
    fail(ErrorKind::InvalidArgument, "process.terminal is true: --console-socket is required");
  if (!terminal && !opts.console_socket.empty())
    fail(ErrorKind::InvalidArgument, "--console-socket given but process.terminal is false");
  check_lsm_labels(spec);
}

// The directories the container will join in every hierarchy. The systemd driver knows
// them only once its unit runs: they are the cgroupfs driver's for the unit's path.
std::map<std::string, std::string> cgroup_dirs_to_join(const cgroups::Host& host, const cgroups::Saved& planned,
                                                      const spec::Linux& linux_config, const CreateOptions& opts) {
  if (!opts.systemd_cgroup) return planned.dirs;
  const std::string path = cgroups::parse_systemd_path(linux_config.cgroups_path, opts.id).path;
  return cgroups::open(host, path, opts.id)->planned().dirs;
}

// The systemd unit a busy cgroup belongs to, for the error: another container's, most likely.
std::string busy_unit(const spec::Linux& linux_config, const CreateOptions& opts) {
  if (!opts.systemd_cgroup) return "";
  return " in unit " + cgroups::parse_systemd_path(linux_config.cgroups_path, opts.id).unit;
}

// A cgroup that already holds processes (another service's, the runtime's own) is not the
// container's: its rollback and delete would kill them all. An empty one is fine (runc).
void refuse_busy_cgroup(const cgroups::Host& host, const cgroups::Saved& planned, const spec::Linux& linux_config,
                        const CreateOptions& opts) {
  const auto dirs = cgroup_dirs_to_join(host, planned, linux_config, opts);
  if (auto pids = cgroups::processes_in(dirs); !pids.empty())
    fail(ErrorKind::BadState,
         fmt::format("config.json: /linux/cgroupsPath: container's cgroup is not empty: {} process(es) found{}",
                     pids.size(), busy_unit(linux_config, opts)));
}

// A cgroup someone else froze would stop the init at its first step, and create with it:
// refused before anything is made, as runc does (its words).
void refuse_frozen_cgroup(const std::map<std::string, std::string>& dirs) {
  for (const auto& [hierarchy, dir] : dirs) {
    const bool v1_freezer = hierarchy == "freezer";
    if (!v1_freezer && !hierarchy.empty()) continue;
    std::string state;
    try {
      state = fs::trim(fs::read_file(dir + (v1_freezer ? "/freezer.state" : "/cgroup.freeze")));
    } catch (const Error& e) {
      if (e.sys_errno() == ENOENT) continue;  // not made yet, or no cgroup.freeze (v2 before 5.2)
      throw;
    }
    if (state == "FROZEN" || state == "FREEZING" || state == "1")
      fail(ErrorKind::BadState, "config.json: /linux/cgroupsPath: container's cgroup unexpectedly frozen");
  }
}

// SIGINT and SIGTERM end create with everything it made undone (its guards and ChildProcess
// run as the exception unwinds): blocked while create runs and read from a signalfd that
// every wait of create polls. `run` has them blocked already; the mask is restored after.
class CreateInterrupt {
 public:
  CreateInterrupt() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &set_, &old_);
    fd_.reset(check(::signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK), "signalfd"));
  }
  ~CreateInterrupt() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
  CreateInterrupt(const CreateInterrupt&) = delete;
  CreateInterrupt& operator=(const CreateInterrupt&) = delete;
  int fd() const { return fd_.get(); }
  // Throws when SIGINT or SIGTERM has come.
  void check_signals() const {
    signalfd_siginfo info;
    if (::read(fd_.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return;
    const char* name = ::sigabbrev_np(static_cast<int>(info.ssi_signo));
    fail(ErrorKind::Syscall, std::string("create interrupted by ") + (name ? std::string("SIG") + name : std::to_string(info.ssi_signo)));
  }

 private:
  sigset_t set_, old_;
  UniqueFd fd_;
};

// The longest create waits for the init's next message: its own steps take milliseconds;
// the createContainer hooks it runs take what their timeouts allow (a hook without one:
// no bound but SIGINT/SIGTERM).
constexpr int kInitStepSeconds = 60;
std::optional<int> create_container_hooks_seconds(const spec::Spec& spec) {
  int total = 0;
  if (spec.hooks)
    for (const auto& hook : spec.hooks->create_container) {
      if (!hook.timeout) return std::nullopt;
      total += *hook.timeout;
    }
  return total;
}

// See init.cc (receive_bind_sources): each bind source, opened in stage 1's mount namespace
// through its /proc/PID/root with the host's privileges, sent with its index.
void send_bind_sources(int sock, pid_t stage1, const spec::Spec& spec, const std::string& bundle) {
  const std::string root_path = fmt::format("/proc/{}/root", stage1);
  UniqueFd root(::open(root_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw_errno("open " + root_path);
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const spec::Mount& m = spec.mounts[i];
    if (!namespaces::is_bind_mount(m)) continue;
    UniqueFd fd = with_context(fmt::format("mounts[{}] bind on {}", i, m.destination),
                               [&] { return namespaces::open_bind_source(root.get(), m, bundle); });
    sync::send(sock, sync::Msg::MountSource, static_cast<int32_t>(i), {}, fd.get());
  }
  sync::send(sock, sync::Msg::MountSourcesDone);
}

bool frozen_now(const cgroups::Manager& cgroup) {
  try {
    return cgroup.frozen();
  } catch (const Error&) {
    return false;  // a hierarchy gone or unreadable says nothing about a freeze
  }
}

// Waits until the init (or stage 1) has something on `sock`, checking once a second that no
// one froze its cgroup; fails on SIGINT/SIGTERM, a frozen cgroup, or `limit_s` seconds of
// silence. A v1-frozen child ignores the rollback's SIGKILL until thawed: thawed first.
void wait_for_child(int sock, const CreateInterrupt& interrupt, cgroups::Manager& cgroup, std::optional<int> limit_s) {
  const auto deadline = limit_s ? std::optional(std::chrono::steady_clock::now() + std::chrono::seconds(*limit_s)) : std::nullopt;
  auto thaw_and_fail = [&](const std::string& why) {
    try {
      if (frozen_now(cgroup)) cgroup.freeze(false);
    } catch (const Error&) {
    }
    fail(ErrorKind::Syscall, why);
  };
  for (;;) {
    pollfd fds[2] = {{sock, POLLIN, 0}, {interrupt.fd(), POLLIN, 0}};
    int n = ::poll(fds, 2, 1000);
    if (n < 0 && errno != EINTR) throw_errno("wait for the container init");
    if (n > 0 && fds[1].revents) {
      try {
        interrupt.check_signals();
      } catch (const Error& e) {
        thaw_and_fail(e.what());
      }
    }
    if (n > 0 && fds[0].revents) return;
    if (n == 0 && frozen_now(cgroup)) thaw_and_fail("config.json: /linux/cgroupsPath: container's cgroup unexpectedly frozen");
    if (deadline && std::chrono::steady_clock::now() > *deadline)
      thaw_and_fail(fmt::format("the container init sent nothing for {} s", *limit_s));
  }
}

}  // namespace

Created create_container(const StateStore& store, const CreateOptions& opts) {
  validate_id(opts.id);
  log::StepTimer timer("create " + opts.id);
  const std::string bundle = real_path(opts.bundle, "bundle");
  // The only read of the bundle's config: these bytes are what later commands use (save_config).
  const std::string config_text = spec::read_config(bundle);
  const spec::Spec spec = spec::parse(config_text);
  // process is optional at create (runtime-spec), required at start: start_container.
  spec::validate_or_throw(spec, /*need_process=*/false);
  std::string root_path = spec.root.path[0] == '/' ? spec.root.path : bundle + "/" + spec.root.path;
  const std::string rootfs = real_path(root_path, "config.json: /root/path:");
  check_state_strings(state_before_recorded(opts.id, 0, bundle, rootfs, {}, spec.annotations));  // before anything is made
  const namespaces::Plan plan = namespaces::plan(*spec.linux);
  check_host_requirements(spec, plan, opts);

  InitContext ctx;
  ctx.spec = &spec;
  ctx.plan = &plan;
  if (spec.process) ctx.process = prepare_process(*spec.process);
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
    ctx.seccomp = with_context("linux.seccomp", [&] { return seccomp::compile_cached(*spec.linux->seccomp, seccomp_cache_dir(store)); });
    if (ctx.seccomp->needs_listener && spec.linux->seccomp->listener_path.empty())
      fail(ErrorKind::InvalidSpec, "config.json: /linux/seccomp/listenerPath: required by SCMP_ACT_NOTIFY");
  }

  timer.step("load and check config.json");
  const std::string created = now_rfc3339();
  ctx.created = created;
  CreateInterrupt interrupt;  // before anything is made: from here on a signal undoes it all
  ContainerDir dir = store.create(opts.id);
  ScopeGuard remove_dir([&] { dir.remove(); });
  OCIRUN_CRASH_POINT("state-dir");
  UniqueFd start_listen = listen_for_start(dir.fd());
  OCIRUN_CRASH_POINT("start-socket");

  // The cgroup exists and is limited before any container process does.
  // With systemd the unit (and so the cgroup) starts with stage 1 in it: add_process below.
  const cgroups::Host host = cgroups::detect_host();
  ctx.host = &host;
  auto cgroup = opts.systemd_cgroup ? cgroups::open_systemd(host, spec.linux->cgroups_path, opts.id)
                                    : cgroups::open(host, spec.linux->cgroups_path, opts.id);
  // Recorded before the first mkdir, as the directories create() is about to make: if create
  // dies from here on, delete --force finds them (and so every process create made, as they
  // are born in the cgroup). Written again only if create() made something else.
  const cgroups::Saved planned = cgroup->planned();
  // Before the cgroup is recorded: delete --force kills whatever is in a recorded cgroup.
  refuse_busy_cgroup(host, planned, *spec.linux, opts);
  refuse_frozen_cgroup(cgroup_dirs_to_join(host, planned, *spec.linux, opts));
  dir.save_cgroup(planned);
  OCIRUN_CRASH_POINT("cgroup-planned");
  cgroup->create();
  ScopeGuard destroy_cgroup([&] {
    // Everything create started was born in the cgroup: killed here even if a pid was
    // missed below (the rollback's destroy cannot remove a cgroup that still has a process).
    cgroup->kill_all(SIGKILL);
    cgroup->destroy();
  });
  OCIRUN_CRASH_POINT("cgroup-made");
  if (cgroups::Saved made = cgroup->saved(); !(made == planned)) dir.save_cgroup(made);
  OCIRUN_CRASH_POINT("cgroup");
  with_context("apply linux.resources", [&] { cgroup->apply(cgroups::with_default_device_rules(*spec.linux)); });
  OCIRUN_CRASH_POINT("resources");
  timer.step("state dir, cgroup");
  // runc's --debug words for the same steps (its test suite and scripts look for them).
  log::debug("nsexec container setup");
  ctx.start_listen_fd = start_listen.get();

  int pair[2];
  check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), "socketpair");
  UniqueFd parent_end(pair[0]), child_end(pair[1]);
  ctx.sync_fd = child_end.get();
  ctx.parent_only_fds = {dir.fd(), parent_end.get(), interrupt.fd()};

  // Stage 1 joins the cgroup before it creates anything, so the init is born inside it.
  UniqueFd cgroup2;
  if (std::string v2 = cgroup->v2_dir(); !v2.empty())
    cgroup2.reset(::open(v2.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (cgroup2) ctx.parent_only_fds.push_back(cgroup2.get());  // a host directory: not for the init
  // A systemd unit starts with its first process: the parent puts stage 1 in below.
  ctx.cgroup = opts.systemd_cgroup ? nullptr : cgroup.get();
  const bool direct = can_clone_init_directly(plan, opts.systemd_cgroup);
  ChildProcess stage1, init;
  if (direct) {
    init.reset(clone_first_child(cgroup2.get(), direct_init_clone_flags(plan), &ctx.cgroup_v2_done));
    if (init.get() < 0) throw_errno("clone the container init");
    if (init.get() == 0) direct_init_main(ctx);
  } else {
    stage1.reset(clone_first_child(cgroup2.get(), 0, &ctx.cgroup_v2_done));
    if (stage1.get() < 0) throw_errno("fork");
    if (stage1.get() == 0) stage1_main(ctx);
  }
  child_end.reset();  // so a dead child shows as EOF
  OCIRUN_CRASH_POINT("fork");
  // Before Go: stage 1 waits for it, so it creates nothing outside the unit.
  if (opts.systemd_cgroup) {
    cgroup->add_process(stage1.get());
    dir.save_cgroup(cgroup->saved());  // now with the unit and the directories systemd made
  }
  cgroup2.reset();
  OCIRUN_CRASH_POINT("cgroup-joined");
  int pty_master = -1;

  auto child_failed = [&]() -> Error {
    std::string how = stage1.get() > 0 ? "stage 1 " + describe_exit(stage1.wait())
                      : init.get() > 0  ? "the container init " + describe_exit(init.wait())
                                        : "the container init exited";
    return Error(ErrorKind::Syscall, "container setup failed: " + how);
  };

  if (direct) {
    timer.step("clone the init (namespaces)");
    OCIRUN_CRASH_POINT("init-pid");
  } else {
    timer.step("fork stage 1");
    sync::send(parent_end.get(), sync::Msg::Go);
  }
  std::optional<int> wait_limit = kInitStepSeconds;
  for (bool ready = false; !ready;) {
    wait_for_child(parent_end.get(), interrupt, *cgroup, wait_limit);
    wait_limit = kInitStepSeconds;
    sync::Message m;
    if (!sync::recv(parent_end.get(), m)) throw child_failed();
    switch (m.type) {
      case sync::Msg::UsernsReady:
        namespaces::write_id_maps(stage1.get(), *spec.linux);
        sync::send(parent_end.get(), sync::Msg::UsernsMapped);
        break;
      case sync::Msg::MountSourcesRequest:
        send_bind_sources(parent_end.get(), stage1.get(), spec, bundle);
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
        run_hooks(spec.hooks->prestart, json, "prestart", bundle);
        run_hooks(spec.hooks->create_runtime, json, "createRuntime", bundle);
        OCIRUN_CRASH_POINT("hooks");
        // The init builds the same state itself: annotations can outgrow any message.
        sync::send(parent_end.get(), sync::Msg::HooksDone, init.get());
        // The init runs the createContainer hooks next.
        if (auto hooks_s = create_container_hooks_seconds(spec)) wait_limit = kInitStepSeconds + *hooks_s;
        else wait_limit = std::nullopt;
        break;
      }
      case sync::Msg::PtyMaster:
        if (opts.foreground_terminal)
          pty_master = m.fd.release();
        else
          send_to_console_socket(opts.console_socket, m.fd.get());
        break;
      case sync::Msg::SeccompListener:
        send_to_seccomp_listener(*spec.linux->seccomp, m.fd.get(), init.get(),
                                 state_before_recorded(opts.id, init.get(), bundle, rootfs, created, spec.annotations),
                                 Status::Creating);
        break;
      case sync::Msg::Ready:
        ready = true;
        OCIRUN_CRASH_POINT("ready");
        timer.step("rootfs and process setup (init)");
        log::debug("child process in init()");
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
  state.no_new_keyring = opts.no_new_keyring;
  state.no_process = !spec.process;
  state.cgroup = cgroup->saved();
  dir.save_config(config_text);  // before state.json: a container that exists has its config
  dir.save(state);
  OCIRUN_CRASH_POINT("state-saved");
  if (!opts.pid_file.empty()) write_pid_file(opts.pid_file, state.pid);

  interrupt.check_signals();  // one that came after the last wait still undoes create
  remove_dir.dismiss();
  destroy_cgroup.dismiss();
  timer.step("state.json");
  log::debug(fmt::format("created container {} with init pid {}", opts.id, state.pid));
  return {init.release(), pty_master};
}

}  // namespace ocirun::runtime
