// CVE-2019-5736: the commands that fork processes into a container (create, run, exec) first
// run themselves again from a view of this binary that no process can write through, so that
// /proc/PID/exe of every process they fork is that view, never the host's writable file.
#pragma once

namespace ocirun::runtime {

// Returns at once when /proc/self/exe is already unwritable: on a read-only mount, or a
// write-sealed memfd. Otherwise execs this binary again, with the same argv, environment and
// fds, from a detached read-only bind mount of it (open_tree + mount_setattr + execveat), or,
// where the kernel or the caller's privileges do not allow that, from a sealed memfd copy.
// Does not return then; throws if neither works (nothing is forked from a writable binary).
void reexec_from_readonly_view(char** argv);

}  // namespace ocirun::runtime
