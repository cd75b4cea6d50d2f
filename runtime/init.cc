#include "init.h"

#include "child.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "error.h"
#include "fault.h"
#include "fs.h"
#include "hooks.h"
#include "lsm.h"
#include "rootfs.h"
#include "state.h"
#include "sync.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace ocirun::runtime {

namespace {

bool maps_root(const std::vector<spec::IdMapping>& maps) {
  for (const auto& m : maps)
    if (m.container_id == 0 && m.size > 0) return true;
  return false;
}

// The sysctls that belong to a namespace the container has of its own; anything
// else would change the host, so it is refused (as runc does).
void check_sysctl(const std::string& key, const namespaces::Plan& plan) {
  bool ipc = key == "kernel.msgmax" || key == "kernel.msgmnb" || key == "kernel.msgmni" || key == "kernel.sem" ||
             key == "kernel.shmall" || key == "kernel.shmmax" || key == "kernel.shmmni" ||
             key == "kernel.shm_rmid_forced" || key.rfind("fs.mqueue.", 0) == 0;
  if (ipc && plan.has(CLONE_NEWIPC)) return;
  if (key.rfind("net.", 0) == 0 && plan.has(CLONE_NEWNET)) return;
  if ((key == "kernel.hostname" || key == "kernel.domainname") && plan.has(CLONE_NEWUTS)) return;
  fail(ErrorKind::InvalidSpec, "linux.sysctl: \"" + key + "\" is not in a namespace of the container's own");
}

// Through `procfs` (namespaces::open_procfs), never a path the rootfs could redirect.
void write_sysctls(const spec::Linux& linux_config, const namespaces::Plan& plan, int procfs) {
  for (const auto& [key, value] : linux_config.sysctl) {
    check_sysctl(key, plan);
    std::string path = "sys/" + key;
    std::replace(path.begin() + 4, path.end(), '.', '/');
    // &value = value: clang before 16 cannot capture a structured binding (P1091).
    with_context("linux.sysctl " + key, [&, &value = value] { namespaces::write_proc_file(procfs, path, value); });
  }
}

void set_names(const spec::Spec& spec, const namespaces::Plan& plan) {
  if (!plan.has(CLONE_NEWUTS)) return;
  if (!spec.hostname.empty()) check(::sethostname(spec.hostname.data(), spec.hostname.size()), "sethostname " + spec.hostname);
  if (!spec.domainname.empty())
    check(::setdomainname(spec.domainname.data(), spec.domainname.size()), "setdomainname " + spec.domainname);
}

// A new pty from the container's devpts: the slave becomes stdio and /dev/console,
// the master goes to the parent (and on to --console-socket).
void setup_terminal(const InitContext& ctx) {
  Pty pty = open_pty(ctx.spec->process->console_size);
  namespaces::mount_console(pty.master.get(), pty.slave.get());
  sync::send(ctx.sync_fd, sync::Msg::PtyMaster, 0, "/dev/ptmx", pty.master.get());
  attach_pty(pty, ctx.process.uid);
}

// The host's hierarchies as `create` found them (before the fork), for a "cgroup" mount:
// the rootfs need not read mountinfo again.
std::optional<std::vector<namespaces::CgroupMount>> host_cgroups(const InitContext& ctx) {
  if (!ctx.host) return std::nullopt;
  std::vector<namespaces::CgroupMount> out;
  for (const auto& [mount_point, options] : ctx.host->mount_options)
    out.push_back({mount_point, mount_point == ctx.host->v2 ? "cgroup2" : "cgroup", options});
  return out;
}

// Blocks until `start` connects, returning the connection (close-on-exec: `start`
// sees EOF once execve succeeded, or the error text if it failed).
UniqueFd wait_for_start(int listen_fd) {
  for (;;) {
    UniqueFd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) {
      if (errno == EINTR) continue;
      throw_errno("wait for start");
    }
    char c;
    ssize_t n = ::read(conn.get(), &c, 1);
    if (n == 1) return conn;
  }
}

// After `start` connected: the error goes to it as the reply (EOF is success) and the init exits.
[[noreturn]] void reply_and_exit(int conn, int status, const std::string& message) {
  ssize_t unused = ::write(conn, message.data(), message.size());
  (void)unused;
  _exit(status);
}

template <class F>
void reply_on_failure(int conn, int status, F&& step) {
  try {
    step();
  } catch (const std::exception& e) {
    reply_and_exit(conn, status, e.what());
  }
}

// A config without a process (optional at create, required at start): the container is
// made and waits; `start` refuses it from state.json, and a start that reaches the init
// anyway gets the same error, the init then exiting.
[[noreturn]] void wait_without_process(const InitContext& ctx) {
  check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl PR_SET_DUMPABLE");
  check(::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0), "prctl PR_SET_PDEATHSIG");
  sync::send(ctx.sync_fd, sync::Msg::Ready);
  ::close(ctx.sync_fd);
  UniqueFd conn = wait_for_start(ctx.start_listen_fd);
  reply_and_exit(conn.get(), 1, kNoProcessError);
}

// The container's init, in the order the kernel needs: mounts while still privileged,
// then the process's identity, capabilities last; everything that can fail happens
// before Ready so `create` reports it.
[[noreturn]] void init_main(const InitContext& ctx) {
  const spec::Spec& spec = *ctx.spec;
  const namespaces::Plan& plan = *ctx.plan;
  const PreparedProcess& proc = ctx.process;
  try {
    // Die with `create` until Ready; a later parent death must not kill the container.
    check(::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "prctl PR_SET_PDEATHSIG");
    // In a new pid namespace the parent is outside it and getppid() is 0.
    if (pid_t parent = ::getppid(); parent != 0 && parent != ctx.parent_pid) _exit(1);
    check(::setsid(), "setsid");
    ::umask(0);
    ::prctl(PR_SET_NAME, kInitName, 0, 0, 0);  // until execve: see ContainerDir::status

    namespaces::RootfsOptions opts{ctx.rootfs,          ctx.bundle,           ctx.no_pivot, plan.has(CLONE_NEWUSER),
                                   static_cast<bool>(plan.new_flags & CLONE_NEWCGROUP), host_cgroups(ctx),
                                   ctx.bind_source_fds};
    std::string hook_state;  // the state JSON for startContainer, which runs at `start`
    auto create_container_hooks = [&] {
      if (!ctx.creation_hooks) return;
      sync::send(ctx.sync_fd, sync::Msg::HooksRequest);
      sync::Message m;
      if (!sync::recv(ctx.sync_fd, m)) _exit(1);
      if (m.type != sync::Msg::HooksDone) fail(ErrorKind::Syscall, "expected HooksDone");
      ContainerState state = state_before_recorded(ctx.id, m.value, ctx.bundle, ctx.rootfs, ctx.created, spec.annotations);
      hook_state = oci_state_json(state, Status::Created);
      // In the container's namespaces, but the hook's path is the host's: before pivot_root.
      // Still during create: "creating", as prestart and createRuntime see it (and runc says).
      run_hooks(spec.hooks->create_container, oci_state_json(state, Status::Creating), "createContainer");
    };
    with_context("set up the rootfs", [&] {
      if (plan.has(CLONE_NEWNS))
        namespaces::mount_rootfs(spec, opts, create_container_hooks);
      else
        namespaces::chroot_into(opts.rootfs, create_container_hooks);  // create refused any mount
    });
    for (const auto& [index, fd] : ctx.bind_source_fds) ::close(fd);  // host directories: not for the container
    if (proc.terminal) with_context("set up the terminal", [&] { setup_terminal(ctx); });
    if (spec.process) namespaces::create_cwd("/", proc.cwd);
    set_names(spec, plan);
    // Writes to /proc go through a handle checked to be the container's procfs.
    UniqueFd procfs;
    const bool lsm_labels =
        spec.process && (!spec.process->apparmor_profile.empty() || !spec.process->selinux_label.empty());
    if (!spec.linux->sysctl.empty() || lsm_labels) procfs = namespaces::open_procfs();
    // Before finish_rootfs makes /proc/sys read-only.
    write_sysctls(*spec.linux, plan, procfs.get());
    if (plan.has(CLONE_NEWNS)) with_context("set up the rootfs", [&] { namespaces::finish_rootfs(spec, opts); });
    // process.apparmorProfile and process.selinuxLabel, for the program's execve; `create`
    // has checked the host has the LSM.
    if (lsm_labels) set_exec_labels(spec.process->apparmor_profile, spec.process->selinux_label, procfs.get());
    procfs.reset();
    if (!spec.process) wait_without_process(ctx);
    // Opened after finish_rootfs, so a read-only or masked path over it counts.
    UniqueFd cwd = namespaces::open_cwd(proc.cwd);
    // From here on the init lowers its privileges, and a process `exec`ed into the created
    // container could open /proc/1/exe, the host's ocirun binary (CVE-2019-5736): non-dumpable,
    // only CAP_SYS_PTRACE in the host's user namespace reaches it. execve makes the program
    // dumpable again. (Not earlier: in a user namespace the init could no longer write its
    // own /proc files, owned by the host's root once it is non-dumpable.)
    check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl PR_SET_DUMPABLE");
    if (!ctx.no_new_keyring) join_session_keyring(ctx.id);
    bool setgroups_allowed = !plan.has(CLONE_NEWUSER) || fs::trim(fs::read_file("/proc/self/setgroups")) == "allow";
    // rlimits, bounding set, user, cwd, executable, stub, capabilities: as exec's process.
    const bool keep_sys_admin = ctx.seccomp && !proc.no_new_privileges;  // to load the filter last
    ExecTarget target = lower_privileges(proc, std::move(cwd), setgroups_allowed, lsm_labels, keep_sys_admin);
    check(::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0), "prctl PR_SET_PDEATHSIG");
    // A NOTIFY listener must reach `create` before it exits: such a filter goes on
    // before Ready (as runc does); any other last of all, in exec_program.
    const bool notify = ctx.seccomp && ctx.seccomp->needs_listener;
    if (notify) install_seccomp(*ctx.seccomp, ctx.sync_fd);
    const seccomp::Program* filter = ctx.seccomp && !notify ? &*ctx.seccomp : nullptr;

    sync::send(ctx.sync_fd, sync::Msg::Ready);
    ::close(ctx.sync_fd);
    UniqueFd conn = wait_for_start(ctx.start_listen_fd);

    // Only stdio and the preserved fds reach the process; ours are already close-on-exec.
    ::syscall(SYS_close_range, 3 + ctx.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
    // The startContainer hooks run under the filter, as runc's do: it goes on before them
    // (a filter that denies what the hook runner needs fails the hook).
    if (spec.hooks && !spec.hooks->start_container.empty()) {
      if (filter) reply_on_failure(conn.get(), 127, [&] { load_seccomp(*filter); });
      filter = nullptr;
      reply_on_failure(conn.get(), 1, [&] { run_hooks(spec.hooks->start_container, hook_state, "startContainer"); });
    }
    // Under a seccomp filter only execve may run from here: a failure then goes to stderr.
    int exec_errno = 0;
    reply_on_failure(conn.get(), 127, [&] {
      const int error_fd = ctx.seccomp ? -1 : conn.get();
      exec_errno = exec_program(target.stub.get(), error_fd, target.executable, proc.args, target.env, filter);
    });
    reply_and_exit(conn.get(), 127, fmt::format("exec {}: {}", target.executable, std::strerror(exec_errno)));
  } catch (const std::exception& e) {
    die_with_error(ctx.sync_fd, e.what());
  }
}

}  // namespace

namespace {

// What the first process create makes does before anything else, as stage 1 or as the init
// cloned directly: drop the parent's fds, unblock signals, join the container's cgroup.
void leave_parent(const InitContext& ctx) {
  for (int fd : ctx.parent_only_fds) ::close(fd);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Joined from inside, single-threaded, before anything of the container exists: see
  // Manager::join_self for why this is cheaper than the parent writing our pid.
  if (ctx.cgroup) with_context("join the container's cgroup", [&] { ctx.cgroup->join_self(ctx.cgroup_v2_done); });
}

bool has_bind_mounts(const spec::Spec& spec) {
  return std::any_of(spec.mounts.begin(), spec.mounts.end(), namespaces::is_bind_mount);
}

// In a user namespace the container's root may not reach a bind source the host's root can
// (a 0700 directory on the way): the parent opens them in this, the container's, mount
// namespace (so the init can clone those mounts) and hands them over, as runc 1.1 does.
std::map<size_t, int> receive_bind_sources(int sync_fd) {
  sync::send(sync_fd, sync::Msg::MountSourcesRequest);
  std::map<size_t, int> fds;
  for (;;) {
    sync::Message m;
    if (!sync::recv(sync_fd, m)) _exit(1);  // the parent failed and reports it
    if (m.type == sync::Msg::MountSourcesDone) return fds;
    if (m.type != sync::Msg::MountSource || !m.fd) fail(ErrorKind::Syscall, "sync: expected a mount source");
    fds[static_cast<size_t>(m.value)] = m.fd.release();
  }
}

// The host's procfs, opened before joining a mount namespace whose /proc could be anything,
// when oomScoreAdj (or a time namespace) needs it; oomScoreAdj written through it.
UniqueFd set_oom_score_adj(const InitContext& ctx) {
  UniqueFd host_procfs;
  if ((ctx.plan->new_flags & CLONE_NEWTIME) || ctx.process.oom_score_adj) host_procfs = namespaces::open_procfs();
  // See write_oom_score_adj: before any namespace is joined, inherited by the init.
  write_oom_score_adj(host_procfs.get(), ctx.process);
  return host_procfs;
}

// The init cloned by stage 1 waits here for stage 1 to have sent its pid; EOF means stage 1
// died first, and create is failing anyway.
void wait_for_stage1(const int held[2]) {
  ::close(held[1]);
  char c;
  ssize_t n;
  while ((n = ::read(held[0], &c, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) _exit(1);
  ::close(held[0]);
}

}  // namespace

bool can_clone_init_directly(const namespaces::Plan& plan, bool systemd_cgroup) {
  for (const auto& j : plan.joins)
    if (j.clone_flag == CLONE_NEWPID || j.clone_flag == CLONE_NEWUSER) return false;
  return !plan.new_user && !(plan.new_flags & CLONE_NEWTIME) && !systemd_cgroup;
}

int direct_init_clone_flags(const namespaces::Plan& plan) {
  // The cgroup namespace is made once the init is in its cgroup, which becomes its root.
  return plan.new_flags & ~CLONE_NEWCGROUP;
}

void direct_init_main(const InitContext& ctx) {
  const namespaces::Plan& plan = *ctx.plan;
  try {
    // Until init_main sets it again: a parent dying now must not leave a half-made init.
    check(::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "prctl PR_SET_PDEATHSIG");
    leave_parent(ctx);
    // The clone made the namespaces; the host's /proc is still the one mounted here.
    set_oom_score_adj(ctx);
    namespaces::join_all(plan);
    if (plan.new_flags & CLONE_NEWCGROUP) check(::unshare(CLONE_NEWCGROUP), "unshare the cgroup namespace");
  } catch (const std::exception& e) {
    die_with_error(ctx.sync_fd, e.what());
  }
  init_main(ctx);
}

void stage1_main(const InitContext& ctx) {
  const namespaces::Plan& plan = *ctx.plan;
  try {
    leave_parent(ctx);
    sync::expect(ctx.sync_fd, sync::Msg::Go);
    UniqueFd host_procfs = set_oom_score_adj(ctx);
    namespaces::join_all(plan);
    if (plan.new_user) {
      check(::unshare(CLONE_NEWUSER), "unshare the user namespace");
      sync::send(ctx.sync_fd, sync::Msg::UsernsReady);
      sync::expect(ctx.sync_fd, sync::Msg::UsernsMapped);
      // Become the namespace's root, so what follows runs with its full privileges.
      if (maps_root(ctx.spec->linux->gid_mappings)) check(::setresgid(0, 0, 0), "setresgid 0 in the user namespace");
      if (maps_root(ctx.spec->linux->uid_mappings)) check(::setresuid(0, 0, 0), "setresuid 0 in the user namespace");
    }
    if (plan.new_flags) check(::unshare(plan.new_flags), "unshare namespaces");
    if (plan.new_flags & CLONE_NEWTIME) namespaces::write_time_offsets(*ctx.spec->linux, host_procfs.get());
    host_procfs.reset();
    InitContext init_ctx = ctx;
    if (plan.has(CLONE_NEWUSER) && has_bind_mounts(*ctx.spec)) init_ctx.bind_source_fds = receive_bind_sources(ctx.sync_fd);
    // The init holds back until InitPid is on the sync socket: whatever it sends the parent
    // then comes after it, so the parent always knows its pid first.
    int held[2];
    check(::pipe2(held, O_CLOEXEC), "pipe");
    // CLONE_PARENT: the init is the parent's child, so `run` can wait for it.
    pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0));
    if (pid < 0) throw_errno("clone the container init");
    if (pid == 0) {
      wait_for_stage1(held);
      init_main(init_ctx);
    }
    ::close(held[0]);
    OCIRUN_DELAY_POINT("stage1-init-pid");
    sync::send(ctx.sync_fd, sync::Msg::InitPid, pid);
    check(static_cast<int>(::write(held[1], "", 1)), "release the container init");
    _exit(0);
  } catch (const std::exception& e) {
    die_with_error(ctx.sync_fd, e.what());
  }
}

}  // namespace ocirun::runtime
