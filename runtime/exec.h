// `exec`: a new process inside a running container.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "state.h"

namespace ocirun::runtime {

struct ExecOptions {
  std::string id;
  std::string process_file;  // --process: a spec Process JSON; else built from the flags below
  std::vector<std::string> args;
  bool tty = false;
  std::string console_socket;
  bool detach = false;
  std::string pid_file;
  int preserve_fds = 0;
  std::string cwd;
  std::vector<std::string> env;
  std::optional<std::pair<uint32_t, std::optional<uint32_t>>> user;  // --user UID[:GID]
  std::vector<uint32_t> additional_gids;
  std::vector<std::string> caps;
  bool no_new_privs = false;
  std::string apparmor, process_label;
  bool ignore_paused = false;  // exec into a paused container (the process waits for resume)
  // --cgroup: hierarchy -> a path below the container's cgroup there ("memory" -> "sub"), or
  // "" -> the same path below it in every hierarchy. Empty: the container's own cgroup.
  std::map<std::string, std::string> sub_cgroups;
};

// Runs the process; unless detached waits for it and returns its exit status.
int exec_process(const StateStore& store, const ExecOptions& opts);

}  // namespace ocirun::runtime
