// The messages between `ocirun create` (the parent), stage 1 (joins and creates
// namespaces) and the container's init (stage 2), over one SOCK_SEQPACKET pair:
//
//   parent                       stage 1                         init
//   fork stage 1 ------------->  waits for Go
//   [cgroup: add stage 1]
//   Go ----------------------->  setns(joined), unshare(user)
//                       <------- UsernsReady
//   write uid_map/gid_map
//   UsernsMapped ------------->  unshare(other new namespaces)
//                       <------- MountSourcesRequest, in a user namespace with bind mounts
//   open each bind source in
//   stage 1's mount namespace
//   MountSource(index) x N --->  (SCM_RIGHTS, O_PATH; the init inherits them)
//   MountSourcesDone --------->
//                                clone(CLONE_PARENT) ---------->  (PID 1 of the new pid namespace)
//                                                                 waits on a pipe from stage 1
//                       <------- InitPid(pid), then releases the init; exit
//                       <--------------------------------------  HooksRequest, when there are hooks
//   run prestart, createRuntime                                   (mounts done, before pivot_root)
//   HooksDone(state JSON) ------------------------------------->  run createContainer
//                       <--------------------------------------  PtyMaster (SCM_RIGHTS), when terminal
//                       <--------------------------------------  SeccompListener (SCM_RIGHTS), when a rule
//   connect to listenerPath,                                      is SCMP_ACT_NOTIFY: sent right after the
//   send the fd + process state                                   filter is loaded
//                       <--------------------------------------  Ready: set up, waiting for `start`
//   write state.json, exit
//   Any side may send Error(text) instead; the parent then rolls everything back.
//
// Without a user namespace, a pid or user namespace to join, a time namespace or the
// systemd driver (init.h: can_clone_init_directly), there is no stage 1: the parent clones
// the init with the new namespaces as clone flags, sends no Go, and gets no InitPid; the
// init joins the cgroup and the namespaces given by path itself, then goes on as above.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "unique_fd.h"

namespace ocirun::runtime::sync {

enum class Msg : uint32_t { Go = 1, UsernsReady, UsernsMapped, InitPid, PtyMaster, Ready, Error, HooksRequest, HooksDone,
                         SeccompListener, MountSourcesRequest, MountSource, MountSourcesDone };

struct Message {
  Msg type{};
  int32_t value = 0;
  std::string text;
  UniqueFd fd;  // PtyMaster, SeccompListener and MountSource only
};

// Both throw Syscall on a socket error. recv returns false at EOF (the peer is gone).
void send(int sock, Msg type, int32_t value = 0, const std::string& text = {}, int fd = -1);
// One sendmsg of `data`, with `fd` (if >= 0) as SCM_RIGHTS; retries EINTR, throws naming
// `what`. Returns the bytes sent (a stream socket may take fewer).
size_t send_with_fd(int sock, const void* data, size_t len, int fd, const std::string& what);
bool recv(int sock, Message& out);
// recv that must get `expected` (Error messages become exceptions).
void expect(int sock, Msg expected);

}  // namespace ocirun::runtime::sync
