#include "namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <fmt/format.h>

#include "error.h"
#include "fs.h"
#include "rootfs.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace ocirun::namespaces {

const std::vector<Kind>& ordered_kinds() {
  static const std::vector<Kind> kinds = {
      {"user", CLONE_NEWUSER, "user"},     {"pid", CLONE_NEWPID, "pid"},
      {"uts", CLONE_NEWUTS, "uts"},        {"ipc", CLONE_NEWIPC, "ipc"},
      {"network", CLONE_NEWNET, "net"},    {"cgroup", CLONE_NEWCGROUP, "cgroup"},
      {"time", CLONE_NEWTIME, "time"},     {"mount", CLONE_NEWNS, "mnt"},
  };
  return kinds;
}

const Kind* find_kind(const std::string& type) {
  for (const auto& k : ordered_kinds())
    if (type == k.type) return &k;
  return nullptr;
}

bool Plan::has(int clone_flag) const {
  if (clone_flag == CLONE_NEWUSER && new_user) return true;
  if (new_flags & clone_flag) return true;
  for (const auto& j : joins)
    if (j.clone_flag == clone_flag) return true;
  return false;
}

Plan plan(const spec::Linux& linux_config) {
  Plan p;
  for (const auto& kind : ordered_kinds()) {
    const spec::Namespace* ns = linux_config.find_namespace(kind.type);
    if (!ns) continue;
    if (ns->path.empty()) {
      if (kind.clone_flag == CLONE_NEWUSER)
        p.new_user = true;
      else
        p.new_flags |= kind.clone_flag;
      continue;
    }
    UniqueFd fd(::open(ns->path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno(fmt::format("open {} namespace {}", kind.type, ns->path));
    p.joins.push_back({kind.clone_flag, ns->path, std::move(fd)});
  }
  if (p.new_flags & CLONE_NEWTIME && ::access("/proc/self/ns/time", F_OK) != 0)
    fail(ErrorKind::Unsupported, "linux.namespaces: the kernel has no time namespaces");
  return p;
}

void join_all(const Plan& plan) {
  for (const auto& j : plan.joins)
    if (::setns(j.fd.get(), j.clone_flag) < 0) throw_errno("setns " + j.path);
}

namespace {
std::string map_text(const std::vector<spec::IdMapping>& maps) {
  std::string text;
  for (const auto& m : maps) text += fmt::format("{} {} {}\n", m.container_id, m.host_id, m.size);
  return text;
}
}  // namespace

void write_id_maps(pid_t pid, const spec::Linux& linux_config) {
  std::string proc = fmt::format("/proc/{}/", pid);
  // Without any mapping the namespace still works: everything shows as the overflow id.
  if (!linux_config.gid_mappings.empty())
    with_context("write gid_map", [&] { fs::write_file_at(AT_FDCWD, proc + "gid_map", map_text(linux_config.gid_mappings)); });
  if (!linux_config.uid_mappings.empty())
    with_context("write uid_map", [&] { fs::write_file_at(AT_FDCWD, proc + "uid_map", map_text(linux_config.uid_mappings)); });
}

void write_time_offsets(const spec::Linux& linux_config, int procfs) {
  std::string text;
  for (const auto& [clock, off] : linux_config.time_offsets) text += fmt::format("{} {} {}\n", clock, off.secs, off.nanosecs);
  if (!text.empty())
    with_context("write time offsets", [&] { write_proc_file(procfs, "self/timens_offsets", text); });
}

}  // namespace ocirun::namespaces
