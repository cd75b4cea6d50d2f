// Linux namespaces: the order they are entered in, joining by path, creating new
// ones, and the user namespace id maps the parent writes for the child.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "spec.h"
#include "unique_fd.h"

namespace ocirun::namespaces {

struct Kind {
  const char* type;       // the spec's name: "network"
  int clone_flag;         // CLONE_NEWNET
  const char* proc_name;  // the file in /proc/PID/ns: "net"
};

// Every namespace kind in the order they must be entered: user first, so that the
// others are owned by it; mount last among the joined ones, so paths still resolve.
const std::vector<Kind>& ordered_kinds();
const Kind* find_kind(const std::string& type);  // nullptr when unknown

// What the container needs, computed and opened in the parent so that a bad path
// fails before any process exists.
struct Plan {
  int new_flags = 0;  // CLONE_NEW* to create (user excluded: see new_user)
  bool new_user = false;
  struct Join {
    int clone_flag;
    std::string path;
    UniqueFd fd;
  };
  std::vector<Join> joins;  // in ordered_kinds() order
  bool has(int clone_flag) const;  // new or joined
};

Plan plan(const spec::Linux& linux_config);

// In the child: setns into every joined namespace (throws naming the path).
void join_all(const Plan& plan);

// In the parent: write setgroups/uid_map/gid_map of `pid` (which has just created its user namespace).
void write_id_maps(pid_t pid, const spec::Linux& linux_config);

// In the child, right after unshare(CLONE_NEWTIME) and before any process enters it.
void write_time_offsets(const spec::Linux& linux_config, int procfs);  // procfs: open_procfs() (rootfs.h)

}  // namespace ocirun::namespaces
