#include "check.h"

#include <fcntl.h>
#include <sched.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <cstdio>
#include <unistd.h>

#include <fmt/format.h>

#include "cgroups.h"
#include "error.h"
#include "fs.h"
#include "namespaces.h"

namespace ocirun::runtime {

namespace {

std::string read_trimmed(const std::string& path) {
  try {
    return fs::trim(fs::read_file(path));
  } catch (const Error&) {
    return {};
  }
}

bool kernel_at_least(int major, int minor) {
  utsname u;
  int ma = 0, mi = 0;
  if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

bool syscall_exists(long ret) { return ret >= 0 || errno != ENOSYS; }

void check_namespaces(std::vector<HostCheck>& out) {
  for (const auto& kind : namespaces::ordered_kinds()) {
    bool ok = fs::exists(std::string("/proc/self/ns/") + kind.proc_name);
    out.push_back({std::string(kind.type) + " namespace", ok, ok ? "" : "no /proc/self/ns/" + std::string(kind.proc_name),
                   std::string("linux.namespaces type ") + kind.type, kind.clone_flag == CLONE_NEWNS});
  }
  std::string max = read_trimmed("/proc/sys/user/max_user_namespaces");
  bool ok = !max.empty() && max != "0";
  std::string detail = "max_user_namespaces=" + (max.empty() ? "?" : max);
  std::string debian_knob = read_trimmed("/proc/sys/kernel/unprivileged_userns_clone");
  if (!debian_knob.empty()) detail += ", unprivileged_userns_clone=" + debian_knob;
  out.push_back({"user namespace limits", ok, detail, "uidMappings/gidMappings, rootless containers", false});
}

void check_seccomp(std::vector<HostCheck>& out) {
  std::string actions = read_trimmed("/proc/sys/kernel/seccomp/actions_avail");
  out.push_back({"seccomp filters", !actions.empty(), actions.empty() ? "no /proc/sys/kernel/seccomp" : "actions: " + actions,
                 "linux.seccomp", false});
  seccomp_notif_sizes sizes{};
  bool notify = ::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0;
  out.push_back({"seccomp user notification", notify, "", "SCMP_ACT_NOTIFY with listenerPath", false});
  bool log = actions.find("log") != std::string::npos;
  out.push_back({"seccomp SCMP_ACT_LOG / SECCOMP_FILTER_FLAG_LOG", log, "", "SCMP_ACT_LOG, flag SECCOMP_FILTER_FLAG_LOG", false});
}

void check_cgroups(std::vector<HostCheck>& out) {
  try {
    cgroups::Host host = cgroups::detect_host();
    const char* layout = host.layout == cgroups::Layout::V2 ? "v2 (unified)" : host.layout == cgroups::Layout::V1 ? "v1" : "hybrid (v1 + v2)";
    out.push_back({"cgroup layout", true, layout, "linux.resources, pause, update, events", true});
    if (!host.v1.empty()) {
      std::string names;
      for (const auto& [name, mount] : host.v1) names += (names.empty() ? "" : " ") + name;
      out.push_back({"cgroup v1 hierarchies", true, names, "linux.resources on v1", false});
    }
    if (!host.v2.empty()) {
      std::string names;
      for (const auto& c : host.v2_controllers) names += (names.empty() ? "" : " ") + c;
      out.push_back({"cgroup v2 controllers", true, names.empty() ? "(none enabled)" : names, "linux.resources on v2", false});
      // Only non-root cgroups have these files: judge by the kernel that added them.
      bool freeze = kernel_at_least(5, 2);
      bool kill = kernel_at_least(5, 14);
      out.push_back({"cgroup v2 freezer", freeze, "", "pause/resume on v2", false});
      out.push_back({"cgroup v2 cgroup.kill", kill, "", "kill --all and delete on v2 (signals each pid otherwise)", false});
    }
  } catch (const Error& e) {
    out.push_back({"cgroup layout", false, e.what(), "linux.resources, pause, update, events", true});
  }
}

void check_kernel_interfaces(std::vector<HostCheck>& out) {
  std::string filesystems = read_trimmed("/proc/filesystems");
  auto has_fs = [&](const char* name) { return filesystems.find(std::string("\t") + name) != std::string::npos; };
  out.push_back({"overlayfs", has_fs("overlay"), "", "image snapshotters of containerd/podman (not ocirun itself)", false});
  out.push_back({"devpts, mqueue, tmpfs, proc, sysfs", has_fs("devpts") && has_fs("mqueue") && has_fs("tmpfs") && has_fs("proc") && has_fs("sysfs"),
                 "", "the default mounts", true});

  long pidfd = ::syscall(SYS_pidfd_open, ::getpid(), 0);
  bool pidfd_ok = pidfd >= 0;
  if (pidfd_ok) ::close(static_cast<int>(pidfd));
  out.push_back({"pidfd_open and setns(pidfd)", pidfd_ok, "", "exec (joins the namespaces through a pidfd), kill, delete", true});

  long openat2 = ::syscall(SYS_openat2, AT_FDCWD, nullptr, nullptr, 0);
  out.push_back({"openat2", syscall_exists(openat2), "", "strict in-root path resolution (a component walk is used otherwise)", false});

  long clone3 = ::syscall(SYS_clone3, nullptr, 0);
  out.push_back({"clone3 (CLONE_INTO_CGROUP)", syscall_exists(clone3), "", "starting the init inside its cgroup on v2", false});

  long close_range = ::syscall(SYS_close_range, ~0U, ~0U, 0);
  out.push_back({"close_range", syscall_exists(close_range), "", "closing the runtime's fds before execve", true});
}

void check_lsms(std::vector<HostCheck>& out) {
  std::string lsms = read_trimmed("/sys/kernel/security/lsm");
  auto has = [&](const char* n) { return ("," + lsms + ",").find(std::string(",") + n + ",") != std::string::npos; };
  out.push_back({"AppArmor", has("apparmor"), lsms.empty() ? "no /sys/kernel/security/lsm" : "LSMs: " + lsms,
                 "process.apparmorProfile", false});
  out.push_back({"SELinux", has("selinux"), "", "process.selinuxLabel, linux.mountLabel", false});
}

}  // namespace

std::vector<HostCheck> check_host() {
  std::vector<HostCheck> out;
  check_namespaces(out);
  check_seccomp(out);
  check_cgroups(out);
  check_kernel_interfaces(out);
  check_lsms(out);
  return out;
}

}  // namespace ocirun::runtime
