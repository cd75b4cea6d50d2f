// Linux control groups for ocirun: host detection, the cgroupsPath rule, the pure
// translation of linux.resources into cgroup file writes, and one Manager per
// container over cgroup v1, v2, or hybrid (v1 controllers + a cgroup2 mount).
//
// Errors are ocirun::Error (runtime/base/error.h):
//   Unsupported  the host lacks what a set field needs ("linux.resources.pids: ... no pids controller")
//   InvalidSpec  the values cannot be applied on any host (swap < limit, bad device rule, bad path)
//   Syscall      a cgroupfs operation failed; sys_errno() says why, the message names the file
//
// Every driver takes its hierarchy roots from Host, so tests run against a temp
// directory that mimics cgroupfs (create the files first, as the kernel would).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "spec.h"

namespace ocirun::cgroups {

// ---------------------------------------------------------------------------
// The host
// ---------------------------------------------------------------------------

enum class Layout {
  V1,      // only v1 hierarchies under root
  V2,      // root itself is cgroup2
  Hybrid,  // v1 hierarchies + a cgroup2 mount under root (usually <root>/unified)
};

struct Host {
  Layout layout = Layout::V2;
  std::string root = "/sys/fs/cgroup";
  // v1 hierarchy name -> mount point. Co-mounted controllers ("cpu,cpuacct") map to the
  // same directory; named hierarchies keep their "name=" prefix ("name=systemd").
  std::map<std::string, std::string> v1;
  // The cgroup2 mount point: root on V2, e.g. root + "/unified" on Hybrid, "" on V1.
  std::string v2;
  // Controllers <v2>/cgroup.controllers offers (on this host's hybrid mount: only hugetlb).
  std::set<std::string> v2_controllers;
  // Mount point of each hierarchy above (v1 and v2) -> its super options from mountinfo
  // without rw/ro ("cpu,cpuacct", "xattr,name=systemd", "nsdelegate"): a container's
  // "cgroup" mount mounts the same hierarchies with these.
  std::map<std::string, std::string> mount_options;
  // This process's own cgroup, from /proc/self/cgroup: v1 hierarchy name -> path, and
  // "" -> the v2 path. Relative cgroupsPaths are resolved under these.
  std::map<std::string, std::string> self;
  // With the systemd driver: the unit's cgroup2 directory. systemd owns every cgroup above
  // it, so no cgroup.subtree_control outside it is written; a controller systemd has not
  // enabled for the unit is refused instead. Empty: the cgroupfs driver enables what it needs.
  std::string v2_delegated;

  bool has_v1(const std::string& hierarchy) const { return v1.count(hierarchy) != 0; }
  bool has_v2(const std::string& controller) const { return !v2.empty() && v2_controllers.count(controller) != 0; }
  // This process's cgroup in a hierarchy ("" = v2); "/" when unknown.
  std::string self_path(const std::string& hierarchy) const;
};

// Pure: builds a Host from /proc/self/mountinfo and /proc/self/cgroup text. Only mounts
// under `root` count. A cgroup2 mount at root -> V2; v1 mounts plus a cgroup2 mount below
// root -> Hybrid; v1 mounts only -> V1. v2_controllers is left empty (it needs the file).
// Throws Unsupported when no cgroup filesystem is mounted under root.
Host parse_host(std::string_view mountinfo, std::string_view proc_self_cgroup, const std::string& root);

// statfs(root) + /proc/self/mountinfo + /proc/self/cgroup + <v2>/cgroup.controllers, read once
// per process (a fork inherits the answer).
Host detect_host(const std::string& root = "/sys/fs/cgroup");

// linux.cgroupsPath -> an absolute path inside each hierarchy:
//   ""      -> "/ocirun/<id>"
//   "/a/b"  -> "/a/b" (relative to each hierarchy's root)
//   "a/b"   -> <self>/a/b, under the caller's own cgroup in that hierarchy (runc's rule)
//   "slice:prefix:name" (systemd driver form) -> Unsupported: needs open_systemd().
// "." and empty components are dropped; ".." is InvalidSpec; so is a path that is the root.
std::string resolve_path(std::string_view cgroups_path, std::string_view id, std::string_view self = "/");

// ---------------------------------------------------------------------------
// Pure translation: linux.resources -> file writes, in the order they must happen
// ---------------------------------------------------------------------------

struct FileWrite {
  // v1: the hierarchy that owns the file ("memory", "cpu", "cpuset", "blkio", ...).
  // v2: the controller that must be enabled for the file ("memory", "io", ...), "" for
  //     the core cgroup.* files.
  std::string controller;
  std::string file;   // "memory.limit_in_bytes"
  std::string value;  // written as is, one write() per FileWrite
  bool operator==(const FileWrite&) const = default;
};

// Unset fields produce no write. Where runc treats 0 as "unset" (memory limit/reservation/
// swap, cpu shares/quota/period/realtime, blkio weight) so do these. Warnings (ignored
// fields such as memory.kernel) go to *warnings, or to stderr when warnings is null.
//   v1 only:  swappiness, disableOOMKiller (memory.oom_control=1), realtime, network, devices
//   v2:       swap is memory+swap in the spec, so memory.swap.max = swap - limit (runc's
//             rules); realtime and network are Unsupported; swappiness, disableOOMKiller
//             and leaf weights are ignored; devices have no file: Manager::apply loads a
//             BPF_CGROUP_DEVICE program instead (device_filter below).
//   pids:     limit > 0 -> "N", 0 -> "1", < 0 -> "max" (runtime-spec after #1279, runc 1.4,
//             youki: 0 is a real limit and the kernel treats 0 and 1 alike).
// translate_v1 refuses a non-empty `unified` (Unsupported).
std::vector<FileWrite> translate_v1(const spec::Resources&, std::vector<std::string>* warnings = nullptr);
std::vector<FileWrite> translate_v2(const spec::Resources&, std::vector<std::string>* warnings = nullptr);

// cpu.shares [2, 262144] -> cpu.weight [1, 10000] by the quadratic in log2(shares) that
// runc (opencontainers/cgroups), crun and youki share: 2 -> 1, 1024 -> 100, 262144 -> 10000.
// 0 stays 0 ("unset").
uint64_t cpu_shares_to_weight(uint64_t shares);
// blkio.weight [10, 1000] -> io.weight [1, 10000], linearly (runc). 0 stays 0.
uint64_t blkio_weight_to_io_weight(uint64_t weight);

// The spec field a v1 hierarchy or v2 controller serves, for messages:
// "memory" -> "linux.resources.memory", "blkio"/"io" -> "linux.resources.blockIO".
std::string resource_field(const std::string& controller);

// ---------------------------------------------------------------------------
// cgroup v2 devices: a BPF_CGROUP_DEVICE program
// ---------------------------------------------------------------------------

// One eBPF instruction, laid out as the kernel's struct bpf_insn.
struct BpfInsn {
  uint8_t code = 0;
  uint8_t dst : 4 = 0;
  uint8_t src : 4 = 0;
  int16_t off = 0;
  int32_t imm = 0;
  bool operator==(const BpfInsn& o) const {
    return code == o.code && dst == o.dst && src == o.src && off == o.off && imm == o.imm;
  }
};
static_assert(sizeof(BpfInsn) == 8);

// linux.resources (empty without one) with runc's default device rules appended: mknod of
// any node (c *:* m, b *:* m) and rwm on null, random, full, tty, zero, urandom, /dev/pts/*,
// ptmx and tun, minus the rule of a default node that linux.devices lists again. The
// config's rules stay first, as given; linux.devices entries get no rule of their own.
spec::Resources with_default_device_rules(const spec::Linux& linux_config);

// linux.resources.devices -> a program with v1's list semantics, for cgroup v2:
//   - a rule of type "a" (or no type) resets, as writing "a" to devices.allow/deny does
//     on v1: allow -> everything allowed, deny -> everything denied; earlier rules no
//     longer count. Without such a rule the default is allow (a new v1 cgroup allows all).
//   - after it, the last rule matching the device (type, major or *, minor or *) wins, per
//     access bit: a request (e.g. read+write) is allowed only if, for each bit asked, the
//     last matching rule that names that bit allows it; bits no rule names get the default.
// Rules that cannot match any Linux device (major/minor above 2^31-1) are dropped. An
// empty program means "allows everything" (nothing to attach). InvalidSpec for a bad
// type or access string.
std::vector<BpfInsn> device_filter(const std::vector<spec::DeviceCgroupRule>& rules);
// Readable text of a program, one instruction a line ("r2 &= 0xffff", "if r4 != 1 goto +3"),
// for tests and --debug logs.
std::string disassemble(const std::vector<BpfInsn>& program);
// True when the rules contain a reset ("a" rule): the program stands for the whole device
// policy and replaces earlier programs. Otherwise it narrows what earlier ones allow.
bool device_rules_reset(const std::vector<spec::DeviceCgroupRule>& rules);
// bpf(BPF_PROG_LOAD) the program, then bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE,
// BPF_F_ALLOW_MULTI) it to the cgroup2 directory. With `replace`, the device programs
// attached to that cgroup before are detached afterwards (so there is no gap). An empty
// program attaches nothing (but still replaces). Syscall errors carry the verifier log.
void attach_device_filter(const std::string& cgroup2_dir, const std::vector<BpfInsn>& program, bool replace);
// Ids of the BPF_CGROUP_DEVICE programs attached to a cgroup2 directory.
std::vector<uint32_t> attached_device_programs(const std::string& cgroup2_dir);

// ---------------------------------------------------------------------------
// Statistics (runc's `events --stats` data)
// ---------------------------------------------------------------------------

// Unknown or unreadable values stay 0; a limit of "max"/unlimited is UINT64_MAX (v2) or
// what the v1 file says (9223372036854771712 for no limit).
struct MemoryEntry {
  uint64_t limit = 0, usage = 0, max = 0, failcnt = 0;
};

struct BlkioEntry {
  uint64_t major = 0, minor = 0;
  std::string op;  // "Read", "Write", "Sync", "Async", "Discard", "Total"; "" for sectors
  uint64_t value = 0;
  bool operator==(const BlkioEntry&) const = default;
};

struct HugetlbEntry {
  uint64_t usage = 0, max = 0, failcnt = 0;
};

struct Stats {
  struct Cpu {
    // Nanoseconds. v2 has no per-cpu numbers.
    uint64_t total = 0, kernel = 0, user = 0;
    std::vector<uint64_t> percpu, percpu_kernel, percpu_user;
    uint64_t periods = 0, throttled_periods = 0, throttled_time = 0;
  } cpu;
  struct Memory {
    uint64_t cache = 0;  // v1 "cache", v2 "file" from memory.stat
    // v1: memory.*, memory.memsw.* (memory+swap), memory.kmem.*, memory.kmem.tcp.*
    // v2: memory.current/max/peak/events "max"; swap = memory.swap.* + memory.* (as v1).
    MemoryEntry usage, swap, kernel, kernel_tcp;
    std::map<std::string, uint64_t> raw;  // memory.stat
    uint64_t oom_kill = 0;                // processes the OOM killer killed in this cgroup
    uint64_t oom = 0;                     // v2 memory.events "oom": times the limit was hit hard
    bool under_oom = false;               // v1 memory.oom_control (with the OOM killer disabled)
  } memory;
  struct Pids {
    uint64_t current = 0, limit = 0;  // limit 0: "max"
  } pids;
  struct Blkio {
    std::vector<BlkioEntry> io_service_bytes_recursive, io_serviced_recursive, io_queue_recursive,
        io_service_time_recursive, io_wait_time_recursive, io_merged_recursive, io_time_recursive,
        sectors_recursive;
  } blkio;
  std::map<std::string, HugetlbEntry> hugetlb;  // page size ("2MB") -> usage
};

// The parsers behind Manager::stats(), pure, for tests and other tools.
// "key value" lines (memory.stat, cpu.stat, memory.events, oom_control) -> map.
std::map<std::string, uint64_t> parse_flat_keyed(std::string_view text);
// v1 blkio "MAJ:MIN Op value" lines ("Total N" lines are skipped); "MAJ:MIN value" (sectors)
// gives an entry with an empty op.
std::vector<BlkioEntry> parse_blkio_v1(std::string_view text);
// v2 io.stat "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N": bytes go to
// io_service_bytes_recursive, ios to io_serviced_recursive, as Read/Write/Discard.
void parse_io_stat(std::string_view text, Stats::Blkio& out);
// "max" -> UINT64_MAX, a number -> itself (v1's -1 -> UINT64_MAX), else 0.
uint64_t parse_limit(std::string_view text);

// ---------------------------------------------------------------------------
// A container's cgroup
// ---------------------------------------------------------------------------

// What a later command needs to reopen the cgroup exactly (store it in the container state):
// `dirs` because relative cgroupsPaths depend on the caller's own cgroup, `created` because
// destroy() removes only directories this runtime made.
struct Saved {
  std::string path;                         // the resolved cgroupsPath (see Manager::path)
  std::map<std::string, std::string> dirs;  // hierarchy ("" = v2/unified) -> absolute directory
  std::vector<std::string> created;         // directories create() made, parents first, and
                                            // the default path's shared "/ocirun" parents
  // The systemd unit holding the cgroup ("ocirun-abc.scope") when the systemd driver made
  // it; "" for the cgroupfs driver. destroy() stops it.
  std::string systemd_unit;
  bool operator==(const Saved&) const = default;
};

class Manager {
 public:
  virtual ~Manager() = default;

  // mkdir the cgroup in every hierarchy (v1: each mounted one, named ones included;
  // hybrid: also in the unified mount). Remembers which directories it made. On v1,
  // initialises empty cpuset.cpus/cpuset.mems along the path from the parent (as runc).
  // Rolls back its own mkdirs if it fails.
  virtual void create() = 0;
  // What saved() will say once create() has made every directory that is missing now: the
  // same dirs, and as `created` the directories absent at this call (parents first, with
  // the default path's shared parents). Recorded before create() runs, so a runtime killed
  // among its mkdirs leaves a record of all of them; a directory that already exists (a
  // cgroupsPath naming an existing cgroup) is not in it, so destroy() never removes it.
  virtual Saved planned() const { return saved(); }
  // Writes the limits through a dirfd per hierarchy (openat + write). Checks every
  // controller before the first write: a set field whose controller is missing throws
  // Unsupported naming the field and the controller. v2: enables the controllers the
  // writes need in the ancestors' cgroup.subtree_control (only those).
  // Devices: v1 devices.allow/deny; v2 (and hybrid without a v1 devices hierarchy) a
  // BPF_CGROUP_DEVICE program (device_filter). A rule list with a reset ("a" rule, as
  // create passes) replaces the programs attached before; one without (an update's "deny
  // c 1:7") is added to them, so it can narrow access but not widen it.
  virtual void apply(const spec::Resources&) = 0;
  // Writes pid to cgroup.procs (v1: every hierarchy; hybrid: also the unified one).
  virtual void add_process(pid_t pid) = 0;
  // Moves the calling process, which must be single-threaded, into the cgroup. v1 writes
  // "0" to `tasks` in each hierarchy: the kernel moves the writing thread alone and skips
  // the threadgroup lock, whose write side waits for an RCU grace period (8-10 ms after an
  // idle moment) on every cgroup.procs write. The cgroup2 directory (v2, or the hybrid's
  // unified one) has no such file: unless `v2_done` (the caller was born there through
  // clone3 CLONE_INTO_CGROUP, see v2_dir), it writes "0" to its cgroup.procs.
  virtual void join_self(bool v2_done) = 0;
  // The cgroup2 directory of the container (v2, or the hybrid's unified cgroup), "" when
  // the host has none: a child cloned into it with CLONE_INTO_CGROUP needs no write.
  virtual std::string v2_dir() const = 0;
  // v1 freezer.state FROZEN/THAWED, waiting until FROZEN; v2 cgroup.freeze, waiting for
  // cgroup.events "frozen 1". Hybrid without a v1 freezer uses the unified cgroup.
  virtual void freeze(bool frozen) = 0;
  virtual bool frozen() const = 0;
  // Every process in the cgroup and its descendants.
  virtual std::vector<pid_t> pids() const = 0;
  // SIGKILL through cgroup.kill where the kernel has it (v2, or the unified cgroup on
  // hybrid); otherwise freeze, signal each pid, thaw (thaws for SIGKILL even if it was
  // paused, so the processes can die). ESRCH is not an error.
  virtual void kill_all(int sig) = 0;
  // rmdir what create() made, deepest first. The container's own directory goes with any
  // sub-cgroups the container made inside it, retrying EBUSY briefly (exiting tasks);
  // a parent we made that is still in use (another container) is left in place.
  // Never touches directories it did not create.
  virtual void destroy() = 0;
  // The resolved cgroupsPath ("/ocirun/<id>"). For a relative path on v1, each hierarchy
  // may resolve differently: this is the v2 one (hybrid, v2) or the memory one; dirs in
  // saved() is exact.
  virtual std::string path() const = 0;
  virtual Saved saved() const = 0;
  // cpu, memory, pids, blkio/io and hugetlb usage; what a controller missing from the host
  // would report stays 0. Throws Syscall (ENOENT) once the cgroup is gone.
  virtual Stats stats() const = 0;
  // The OOM killer's kill count for this cgroup (v1 memory.oom_control "oom_kill", v2
  // memory.events "oom_kill"); 0 without a memory controller. Cheap enough to poll.
  virtual uint64_t oom_kills() const = 0;
};

// A Manager for the container; call create() before apply()/add_process(). Without
// create() it operates on an existing cgroup (pause/kill/pids from a later command), and
// destroy() removes nothing: use reopen() to delete a container made by another process.
std::unique_ptr<Manager> open(const Host& host, const std::string& cgroups_path, const std::string& id);
// The processes already in these cgroup directories (hierarchy -> directory, as
// Saved::dirs; sub-cgroups included), each once; a directory that does not exist has none.
// create refuses a cgroup that holds any: it would later kill them as the container's.
std::vector<pid_t> processes_in(const std::map<std::string, std::string>& dirs);
// Reopens the cgroup a previous process described with Manager::saved() (either driver).
std::unique_ptr<Manager> reopen(const Host& host, const Saved& saved);

// ---------------------------------------------------------------------------
// The systemd driver (--systemd-cgroup)
// ---------------------------------------------------------------------------

// linux.cgroupsPath in the systemd form "slice:prefix:name", runc's rules:
//   ""             -> slice "system.slice", prefix "ocirun", name <id>
//   slice ""       -> "system.slice"
//   unit           -> "<prefix>-<name>.scope" ("<name>.scope" with no prefix), or <name>
//                     itself when it ends in ".slice" (the prefix is then ignored)
//   path           -> expand_slice(slice) + "/" + unit, the cgroup systemd makes
// InvalidSpec: not three ':'-separated parts, an empty name, a bad slice name, a '/' in
// the prefix or name.
struct SystemdUnit {
  std::string slice;  // "system.slice", "kubepods-besteffort-pod1.slice"
  std::string unit;   // "docker-abc.scope"
  std::string path;   // "/system.slice/docker-abc.scope"
  bool is_slice() const { return unit.size() > 6 && unit.compare(unit.size() - 6, 6, ".slice") == 0; }
};
SystemdUnit parse_systemd_path(std::string_view cgroups_path, std::string_view id);

// A slice name -> its cgroup path: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice",
// "-.slice" -> "/". InvalidSpec for names systemd rejects ("a--b.slice", "-a.slice",
// "a/b.slice", "x.scope", ".slice").
std::string expand_slice(std::string_view slice);

// A StartTransientUnit property: name and a value of D-Bus type s, b, t, au or ay.
struct UnitProperty {
  std::string name;
  char type = 's';  // 's', 'b', 't', 'u' (au) or 'y' (ay)
  std::string s;
  bool b = false;
  uint64_t t = 0;
  std::vector<uint32_t> au;
  std::vector<uint8_t> ay;
  bool operator==(const UnitProperty&) const = default;
};

// The properties ocirun starts the unit with: Description, Slice (a scope) or Wants (a
// slice), Delegate, DefaultDependencies=no, PIDs (a scope), the *Accounting switches, and
// the resources systemd can express, in the form the host's layout takes (unified: true
// for cgroup v2): MemoryMax/MemoryLimit, CPUWeight/CPUShares, CPUQuotaPerSecUSec (rounded
// up to 10ms, as systemd stores it), CPUQuotaPeriodUSec, TasksMax, AllowedCPUs and
// AllowedMemoryNodes (v2 only). The cgroupfs writes that follow set the exact values.
std::vector<UnitProperty> systemd_properties(const SystemdUnit& unit, pid_t pid, const spec::Resources& resources,
                                             bool unified);
// Only the resource part: what an update sets on the running unit (SetUnitProperties).
std::vector<UnitProperty> systemd_resource_properties(const spec::Resources& resources, bool unified);

// A cpuset list ("0-2,7") -> systemd's CPU bitmask bytes (bit n of byte n/8 for CPU n).
// InvalidSpec for a malformed list.
std::vector<uint8_t> cpuset_to_bitmask(std::string_view list);

// A Manager that asks systemd for the cgroup, then manages it with the cgroupfs driver of
// the host's layout. create() checks that systemd runs and connects to it (Unsupported
// "systemd not running on this host, can't use systemd as cgroups manager" when it does
// not); apply() before the unit exists is kept until add_process(), which starts the
// unit with the pid in it (systemd scopes cannot start empty), waits until it is active,
// then makes any directories systemd did not (v1 hierarchies it does not manage) and
// writes the kept limits. A later apply() (update) writes the files, then sets the
// unit's resource properties to match. destroy() stops the unit (a unit already gone is fine), then
// removes what the cgroupfs side made.
std::unique_ptr<Manager> open_systemd(const Host& host, const std::string& cgroups_path, const std::string& id);

}  // namespace ocirun::cgroups
