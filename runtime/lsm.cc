#include "lsm.h"

#include "error.h"
#include "fs.h"
#include "rootfs.h"

namespace ocirun::runtime {

bool apparmor_enabled() {
  try {
    return fs::read_file("/sys/module/apparmor/parameters/enabled").rfind('Y', 0) == 0;
  } catch (const std::exception&) {
    return false;
  }
}

bool selinux_enabled() { return fs::exists("/sys/fs/selinux/enforce"); }

void require_apparmor(const std::string& value, const std::string& field) {
  if (!value.empty() && !apparmor_enabled())
    fail(ErrorKind::Unsupported, field + ": \"" + value + "\" asked for, but AppArmor is not enabled on this host");
}

void require_selinux(const std::string& value, const std::string& field) {
  if (!value.empty() && !selinux_enabled())
    fail(ErrorKind::Unsupported, field + ": \"" + value + "\" asked for, but SELinux is not enabled on this host");
}

void set_exec_labels(const std::string& apparmor_profile, const std::string& selinux_label, int procfs) {
  if (!apparmor_profile.empty()) {
    with_context("process.apparmorProfile", [&] {
      try {
        namespaces::write_proc_file(procfs, "thread-self/attr/apparmor/exec", "exec " + apparmor_profile);
      } catch (const Error& e) {
        if (e.sys_errno() != ENOENT) throw;
        namespaces::write_proc_file(procfs, "thread-self/attr/exec", "exec " + apparmor_profile);
      }
    });
  }
  if (!selinux_label.empty())
    with_context("process.selinuxLabel",
                 [&] { namespaces::write_proc_file(procfs, "thread-self/attr/exec", selinux_label); });
}

}  // namespace ocirun::runtime
