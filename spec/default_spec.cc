// The config.json that `ocirun spec` writes: the same defaults as `runc spec`
// (and `runc spec --rootless`), except the hostname.
#include <unistd.h>

#include "parse.h"

namespace ocirun::spec {
namespace {

Spec base_spec() {
  Spec s;
  s.oci_version = "1.2.0";
  s.root = {.path = "rootfs", .readonly = true};

  Process p;
  p.terminal = true;
  p.args = {"sh"};
  p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
  p.cwd = "/";
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  p.capabilities = Capabilities{.bounding = caps, .effective = caps, .permitted = caps};
  p.rlimits = {{.type = "RLIMIT_NOFILE", .hard = 1024, .soft = 1024}};
  p.no_new_privileges = true;
  s.process = std::move(p);

  s.hostname = "ocirun";
  s.mounts = {
      {.destination = "/proc", .type = "proc", .source = "proc"},
      {.destination = "/dev",
       .type = "tmpfs",
       .source = "tmpfs",
       .options = {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {.destination = "/dev/pts",
       .type = "devpts",
       .source = "devpts",
       .options = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {.destination = "/dev/shm",
       .type = "tmpfs",
       .source = "shm",
       .options = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {.destination = "/dev/mqueue", .type = "mqueue", .source = "mqueue", .options = {"nosuid", "noexec", "nodev"}},
      {.destination = "/sys", .type = "sysfs", .source = "sysfs", .options = {"nosuid", "noexec", "nodev", "ro"}},
      {.destination = "/sys/fs/cgroup",
       .type = "cgroup",
       .source = "cgroup",
       .options = {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };

  Linux l;
  l.masked_paths = {"/proc/acpi",          "/proc/asound",    "/proc/kcore",      "/proc/keys",
                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                    "/sys/firmware",       "/proc/scsi",      "/sys/devices/virtual/tpm"};
  l.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  Resources r;
  r.devices = {{.allow = false, .access = "rwm"}};  // deny every device not listed
  l.resources = std::move(r);
  l.namespaces = {{"pid"}, {"network"}, {"ipc"}, {"uts"}, {"mount"}};
  s.linux = std::move(l);
  return s;
}

// What `runc spec --rootless` changes.
void make_rootless(Spec& s) {
  Linux& l = *s.linux;
  std::vector<Namespace> namespaces;
  for (auto& ns : l.namespaces)
    if (ns.type != "network" && ns.type != "user") namespaces.push_back(ns);
  namespaces.push_back({"user"});
  l.namespaces = std::move(namespaces);

  l.uid_mappings = {{.container_id = 0, .host_id = static_cast<uint32_t>(::geteuid()), .size = 1}};
  l.gid_mappings = {{.container_id = 0, .host_id = static_cast<uint32_t>(::getegid()), .size = 1}};

  for (Mount& m : s.mounts) {
    if (m.destination == "/sys") {
      // A new sysfs needs a network namespace we own; bind the host's instead.
      m = {.destination = "/sys", .type = "none", .source = "/sys", .options = {"rbind", "nosuid", "noexec", "nodev", "ro"}};
      continue;
    }
    // Only our own uid/gid are mapped: drop uid=/gid= options.
    std::erase_if(m.options, [](const std::string& o) { return o.rfind("uid=", 0) == 0 || o.rfind("gid=", 0) == 0; });
  }

  l.resources.reset();  // no cgroup limits without cgroup delegation
}

}  // namespace

Spec default_spec(bool rootless, bool cgroup_namespace) {
  Spec s = base_spec();
  if (cgroup_namespace) s.linux->namespaces.push_back({"cgroup"});
  if (rootless) make_rootless(s);
  return s;
}

}  // namespace ocirun::spec
