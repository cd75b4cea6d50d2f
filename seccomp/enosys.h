// Internal to the seccomp module: runc's -ENOSYS prologue (libcontainer/seccomp/patchbpf).
#pragma once
#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ocirun::seccomp::detail {

// A profile written for an older kernel names no syscall newer than it knows, so
// such a syscall falls to defaultAction, typically EPERM. Programs (glibc's clone3
// probe, for one) only fall back to an older call on ENOSYS. The stub answers
// ENOSYS for any syscall number above the largest one the profile names, per
// listed architecture, before the libseccomp filter runs. x86_64 and x32 share
// AUDIT_ARCH_X86_64 and are told apart by bit 30 of the syscall number.
//
// arch_tokens: SCMP_ARCH_* of the profile's architectures (runc, too, leaves the
// unlisted native arch alone); names: every syscall name in the profile.
// Returns an empty vector when no architecture resolves any name.
std::vector<struct sock_filter> enosys_stub(const std::vector<uint32_t>& arch_tokens,
                                            const std::vector<std::string>& names);

}  // namespace ocirun::seccomp::detail
