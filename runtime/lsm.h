// AppArmor profiles and SELinux labels for the container's processes (create and exec).
// A label the host cannot apply would leave the process less confined than asked: refused.
#pragma once
#include <string>

namespace ocirun::runtime {

// How runc's apparmor.IsEnabled and selinux.GetEnabled tell (securityfs may not be mounted).
bool apparmor_enabled();
bool selinux_enabled();

// Throws Unsupported naming `field` ("config.json: /process/apparmorProfile", "exec --apparmor")
// when `value` is set and the host lacks the LSM.
void require_apparmor(const std::string& value, const std::string& field);
void require_selinux(const std::string& value, const std::string& field);

// In the process that execs the program: the labels its next execve takes on, written (as runc
// does) through `procfs`, a handle from namespaces::open_procfs.
void set_exec_labels(const std::string& apparmor_profile, const std::string& selinux_label, int procfs);

}  // namespace ocirun::runtime
