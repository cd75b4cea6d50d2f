// The lifecycle operations behind each CLI command. Each takes the state store
// (--root) and throws ocirun::Error on failure, leaving nothing half-made.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "spec.h"
#include "state.h"

namespace ocirun::runtime {

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  bool foreground_terminal = false;  // `run` in the foreground proxies the pty itself
  bool systemd_cgroup = false;       // --systemd-cgroup: systemd makes the cgroup (a scope unit)
};

struct Created {
  pid_t pid;
  int pty_master = -1;  // only with foreground_terminal
};

// Sets the container up and leaves its init waiting for `start`.
Created create_container(const StateStore& store, const CreateOptions& opts);
void start_container(const StateStore& store, const std::string& id);
// create + start; unless detached, waits and returns the container's exit status
// (128+N for signal N) after deleting it.
// `keep`: leave the stopped container (state, cgroup) for `state` and `delete`, as runc --keep.
int run_container(const StateStore& store, const CreateOptions& opts, bool detach, bool keep = false);

std::string container_state_json(const StateStore& store, const std::string& id);
void kill_container(const StateStore& store, const std::string& id, int sig, bool all);
void delete_container(const StateStore& store, const std::string& id, bool force);

void pause_container(const StateStore& store, const std::string& id);
void resume_container(const StateStore& store, const std::string& id);
// Every process of the container (host pids), from its cgroup.
std::vector<pid_t> container_processes(const StateStore& store, const std::string& id);
void update_container(const StateStore& store, const std::string& id, const spec::Resources& resources);

struct ListEntry {
  ContainerState state;
  Status status;
};
std::vector<ListEntry> list_containers(const StateStore& store);

// "TERM", "SIGTERM", "15" -> 15; "0" -> 0 (kill's existence check; "SIG0" is refused, as by
// runc); throws InvalidArgument for anything else.
int parse_signal(const std::string& text);

}  // namespace ocirun::runtime
