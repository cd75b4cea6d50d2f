#include "rootfs.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <fmt/format.h>

#include "error.h"
#include "fs.h"

namespace ocirun::namespaces {

namespace {

std::string fd_path(int fd) { return fmt::format("/proc/self/fd/{}", fd); }

std::deque<std::string> path_components(const std::string& path) {
  std::deque<std::string> out;
  for (auto& c : fs::split(path, '/'))
    if (!c.empty() && c != ".") out.push_back(std::move(c));
  return out;
}

// Creates the missing component `name` in `dir`: a directory, or an empty file when last.
void create_component(int dir, const std::string& name, bool as_file) {
  if (as_file) {
    int fd = ::openat(dir, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) throw_errno("create " + name);
    if (fd >= 0) ::close(fd);
  } else if (::mkdirat(dir, name.c_str(), 0755) < 0 && errno != EEXIST) {
    throw_errno("mkdir " + name);
  }
}

unsigned long parse_propagation_or_zero(const std::string& name) {
  static const std::pair<const char*, unsigned long> table[] = {
      {"private", MS_PRIVATE},         {"rprivate", MS_PRIVATE | MS_REC},
      {"shared", MS_SHARED},           {"rshared", MS_SHARED | MS_REC},
      {"slave", MS_SLAVE},             {"rslave", MS_SLAVE | MS_REC},
      {"unbindable", MS_UNBINDABLE},   {"runbindable", MS_UNBINDABLE | MS_REC},
  };
  for (const auto& [n, flag] : table)
    if (name == n) return flag;
  return 0;
}

}  // namespace

unsigned long parse_propagation(const std::string& name) {
  if (name.empty()) return 0;
  unsigned long flag = parse_propagation_or_zero(name);
  if (!flag) fail(ErrorKind::InvalidSpec, "linux.rootfsPropagation: unknown propagation \"" + name + "\"");
  return flag;
}

namespace {
// The kernel's own resolution with the same rules as the walk below: symlinks and ".."
// stay inside `root`, magic links refused. One syscall instead of three per component.
// Returns an invalid fd with errno set; any failure is left to the walk, which gives the
// same answer (or the error text) the slow way.
UniqueFd openat2_in_root(int root, const std::string& path) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const char* rel = path.c_str();
  while (*rel == '/') ++rel;
  return UniqueFd(static_cast<int>(::syscall(SYS_openat2, root, *rel ? rel : ".", &how, sizeof how)));
}

// The walk: one component at a time from root, or from the directory inside it that
// `walked` ends with (then a symlink met gives ELOOP and an invalid fd: the caller walks
// again from root), creating what `create` asks for.
UniqueFd walk_in_root(int root, const std::string& path, std::deque<std::string> todo,
                      std::vector<UniqueFd> walked, Create create, bool missing_ok);

// open_in_root; with missing_ok, a missing component gives an invalid fd instead of an
// Error. (A throw is not free: in the static binary the first one in a process sorts the
// unwinder's table of every function, ~1 ms, and maskedPaths are mostly missing.)
UniqueFd resolve_in_root(int root, const std::string& path, Create create, bool missing_ok) {
  if (UniqueFd fd = openat2_in_root(root, path)) return fd;
  const int error = errno;
  if (error == ENOENT && missing_ok && create == Create::None) return UniqueFd();
  std::deque<std::string> todo = path_components(path);
  // Only the last component missing (mkdir of a mount point): resolve its parent in one
  // call and walk the rest, unless ".." or a symlink there needs the whole walk.
  if (error == ENOENT && create != Create::None && todo.size() >= 2 && todo.back() != "..") {
    std::string parent;
    for (size_t i = 0; i + 1 < todo.size(); ++i) parent += "/" + todo[i];
    if (UniqueFd dir = openat2_in_root(root, parent)) {
      struct stat st;
      if (::fstat(dir.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
        std::vector<UniqueFd> walked;
        walked.push_back(std::move(dir));
        UniqueFd fd = walk_in_root(root, path, {todo.back()}, std::move(walked), create, missing_ok);
        if (fd || errno != ELOOP) return fd;
      }
    }
  }
  return walk_in_root(root, path, std::move(todo), {}, create, missing_ok);
}

UniqueFd walk_in_root(int root, const std::string& path, std::deque<std::string> todo,
                      std::vector<UniqueFd> walked, Create create, bool missing_ok) {
  const bool shortcut = !walked.empty();
  int symlinks = 0;
  auto current = [&] { return walked.empty() ? root : walked.back().get(); };
  auto where = [&] { return "resolve " + path + " in " + "the container rootfs"; };

  while (!todo.empty()) {
    std::string name = std::move(todo.front());
    todo.pop_front();
    if (name == "..") {  // ".." at the root stays at the root, as in a chroot
      if (!walked.empty()) walked.pop_back();
      continue;
    }
    const bool last = todo.empty();
    UniqueFd fd(::openat(current(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd && errno == ENOENT && create != Create::None) {
      with_context(where(), [&] { create_component(current(), name, last && create == Create::File); });
      fd.reset(::openat(current(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!fd) {
      if (missing_ok && errno == ENOENT) return UniqueFd();
      throw_errno(where() + ": " + name);
    }

    struct stat st;
    check(::fstat(fd.get(), &st), where());
    if (S_ISLNK(st.st_mode)) {
      if (shortcut) {
        errno = ELOOP;
        return UniqueFd();
      }
      if (++symlinks > 40) throw_errno(ELOOP, where());
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(current(), name.c_str(), target, sizeof target - 1);
      if (n < 0) throw_errno(where() + ": readlink " + name);
      std::string link(target, static_cast<size_t>(n));
      if (!link.empty() && link[0] == '/') walked.clear();  // absolute links restart at the rootfs
      auto parts = path_components(link);
      todo.insert(todo.begin(), parts.begin(), parts.end());
      continue;
    }
    if (!last && !S_ISDIR(st.st_mode)) throw_errno(ENOTDIR, where() + ": " + name);
    walked.push_back(std::move(fd));
  }
  if (walked.empty()) return UniqueFd(check(::openat(root, ".", O_PATH | O_CLOEXEC), where()));
  return std::move(walked.back());
}
}  // namespace

UniqueFd open_in_root(int root, const std::string& path, Create create) {
  return resolve_in_root(root, path, create, false);
}

UniqueFd open_in_root_if_exists(int root, const std::string& path) {
  return resolve_in_root(root, path, Create::None, true);
}

MountFlags parse_mount_options(const std::vector<std::string>& options) {
  struct Opt {
    const char* name;
    unsigned long set, clear;
  };
  static const Opt flag_options[] = {
      {"ro", MS_RDONLY, 0},          {"rw", 0, MS_RDONLY},
      {"nosuid", MS_NOSUID, 0},      {"suid", 0, MS_NOSUID},
      {"nodev", MS_NODEV, 0},        {"dev", 0, MS_NODEV},
      {"noexec", MS_NOEXEC, 0},      {"exec", 0, MS_NOEXEC},
      {"sync", MS_SYNCHRONOUS, 0},   {"async", 0, MS_SYNCHRONOUS},
      {"dirsync", MS_DIRSYNC, 0},    {"mand", MS_MANDLOCK, 0},
      {"nomand", 0, MS_MANDLOCK},    {"noatime", MS_NOATIME, 0},
      {"atime", 0, MS_NOATIME},      {"nodiratime", MS_NODIRATIME, 0},
      {"diratime", 0, MS_NODIRATIME}, {"relatime", MS_RELATIME, 0},
      {"norelatime", 0, MS_RELATIME}, {"strictatime", MS_STRICTATIME, 0},
      {"nostrictatime", 0, MS_STRICTATIME}, {"lazytime", MS_LAZYTIME, 0},
      {"nolazytime", 0, MS_LAZYTIME}, {"defaults", 0, 0},
      {"remount", 0, 0},
  };
  MountFlags out;
  for (const auto& o : options) {
    if (o == "bind" || o == "rbind") {
      out.bind = true;
      out.recursive = out.recursive || o == "rbind";
      continue;
    }
    if (unsigned long prop = parse_propagation_or_zero(o)) {
      out.propagation = prop;
      continue;
    }
    bool known = false;
    for (const auto& f : flag_options) {
      if (o == f.name) {
        out.flags = (out.flags & ~f.clear) | f.set;
        out.clear = (out.clear & ~f.set) | f.clear;
        known = true;
        break;
      }
    }
    // crun's copy-up and idmap options are not filesystem data; the rest is.
    if (!known && o != "tmpcopyup" && o != "idmap" && o != "ridmap" && o != "private-copy") {
      if (!out.data.empty()) out.data += ",";
      out.data += o;
    }
  }
  return out;
}

namespace {

// Flags a remount must keep: inside a user namespace the kernel refuses to drop
// nosuid/nodev/noexec/atime flags that the outer mount has ("locked" flags).
unsigned long mount_flags_of(const struct statvfs& sv) {
  static const std::pair<unsigned long, unsigned long> table[] = {
      {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV}, {ST_NOEXEC, MS_NOEXEC}, {ST_NOATIME, MS_NOATIME},
      {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME}, {ST_RDONLY, MS_RDONLY},
  };
  unsigned long flags = 0;
  for (const auto& [st, ms] : table)
    if (sv.f_flag & st) flags |= ms;
  return flags;
}

void do_mount(const std::string& source, const std::string& target, const char* type, unsigned long flags,
              const std::string& data, const std::string& what) {
  if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(), type, flags,
              data.empty() ? nullptr : data.c_str()) < 0)
    throw_errno(what);
}

// mount(2) onto what `fd` (an O_PATH handle from open_in_root) names; 0 or the errno.
// mount has no dirfd: a directory target becomes the cwd and is mounted on as ".", which
// the kernel resolves at once, where /proc/self/fd/N costs a procfs lookup per component
// and a magic link (~35 times per container). A file target goes by /proc/self/fd/N.
int try_mount_on(const std::string& source, int fd, const char* type, unsigned long flags, const std::string& data) {
  const char* src = source.empty() ? nullptr : source.c_str();
  const char* opts = data.empty() ? nullptr : data.c_str();
  if (::fchdir(fd) == 0) return ::mount(src, ".", type, flags, opts) == 0 ? 0 : errno;
  return ::mount(src, fd_path(fd).c_str(), type, flags, opts) == 0 ? 0 : errno;
}

void mount_on(const std::string& source, int fd, const char* type, unsigned long flags, const std::string& data,
              const std::string& what) {
  if (int err = try_mount_on(source, fd, type, flags, data)) throw_errno(err, what);
}

// Bind-remounts the mount `fd` is the root of with `flags`, keeping its other flags
// (needed for ro binds).
void remount_bind(int fd, unsigned long flags, unsigned long clear, const std::string& what) {
  struct statvfs sv;
  unsigned long current = ::fstatvfs(fd, &sv) == 0 ? mount_flags_of(sv) : 0;
  mount_on("", fd, nullptr, MS_BIND | MS_REMOUNT | (current & ~clear & ~MS_RDONLY) | flags, "", what);
}

struct Context {
  const spec::Spec& spec;
  const RootfsOptions& opts;
  UniqueFd root;  // O_PATH fd of the rootfs
};

bool is_bind(const spec::Mount& m, const MountFlags& mf) { return mf.bind || m.type == "bind"; }

std::string bind_source(const Context& ctx, const spec::Mount& m) {
  if (m.source.empty() || m.source[0] == '/') return m.source;
  return ctx.opts.bundle + "/" + m.source;
}

// `path` made absolute and ".."-free the way a chroot sees it, symlinks left alone.
std::string lexical_path(const std::string& path) {
  std::vector<std::string> parts;
  for (auto& c : path_components(path)) {
    if (c != "..")
      parts.push_back(std::move(c));
    else if (!parts.empty())
      parts.pop_back();
  }
  std::string out;
  for (const auto& c : parts) out += "/" + c;
  return out.empty() ? "/" : out;
}

// Where `fd` (opened by open_in_root) is, as a path inside the rootfs.
std::string path_in_rootfs(const Context& ctx, int fd) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(fd_path(fd).c_str(), buf, sizeof buf - 1);
  if (n < 0) throw_errno("readlink " + fd_path(fd));
  std::string path(buf, static_cast<size_t>(n));
  const std::string& root = ctx.opts.rootfs;
  if (path == root) return "/";
  if (path.rfind(root + "/", 0) != 0) fail(ErrorKind::Syscall, "resolved " + path + " outside the rootfs " + root);
  return path.substr(root.size());
}

bool source_fs_is(const std::string& source, long magic) {
  struct statfs sf;
  return !source.empty() && ::statfs(source.c_str(), &sf) == 0 && sf.f_type == magic;
}

// What may be mounted at /proc and /sys, checked on the destination as resolved (runc's
// checkProcMount; CVE-2019-16884, CVE-2023-27561): the rootfs's /proc and /sys must be real
// directories, not symlinks to a fake proc that would swallow the runtime's writes; only a
// procfs (fresh, or a bind of one) goes on /proc and only a sysfs on /sys; under /proc only
// the files lxcfs emulates may be bind-mounted.
void check_proc_sys_destination(const Context& ctx, const spec::Mount& m, const MountFlags& mf, int dest,
                                const std::string& what) {
  const std::string literal = lexical_path(m.destination);
  const std::string resolved = path_in_rootfs(ctx, dest);
  const bool bind = is_bind(m, mf);
  const std::string source = bind ? bind_source(ctx, m) : "";
  const bool special = literal == "/proc" || literal == "/sys" || (!bind && (m.type == "proc" || m.type == "sysfs"));
  if (special && resolved != literal)
    fail(ErrorKind::InvalidSpec, fmt::format("{}: {} in the rootfs resolves to {} (a symlink): it must be a real directory",
                                             what, literal, resolved));
  if (resolved == "/proc") {
    if (bind ? source_fs_is(source, PROC_SUPER_MAGIC) : m.type == "proc") return;
    fail(ErrorKind::InvalidSpec, what + ": only a procfs may be mounted on /proc");
  }
  if (resolved == "/sys") {
    if (bind ? source_fs_is(source, SYSFS_MAGIC) : m.type == "sysfs") return;
    fail(ErrorKind::InvalidSpec, what + ": only a sysfs may be mounted on /sys");
  }
  if (resolved.rfind("/proc/", 0) == 0) {
    static const char* const lxcfs[] = {"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
                                        "/proc/swaps",   "/proc/uptime",    "/proc/loadavg", "/proc/slabinfo",
                                        "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
    for (const char* allowed : lxcfs)
      if (resolved == allowed) return;
    fail(ErrorKind::InvalidSpec, what + ": " + resolved + " is inside /proc; only " +
                                     "the files lxcfs emulates (/proc/meminfo, ...) may be mounted there");
  }
}

// The destination of a spec mount, resolved (and created) inside the rootfs, then checked.
UniqueFd open_destination(const Context& ctx, const spec::Mount& m, const MountFlags& mf, Create create,
                          const std::string& what) {
  UniqueFd dest = with_context(what, [&] { return open_in_root(ctx.root.get(), m.destination, create); });
  check_proc_sys_destination(ctx, m, mf, dest.get(), what);
  return dest;
}


void mount_bind(const Context& ctx, const spec::Mount& m, const MountFlags& mf, const std::string& what) {
  std::string source = bind_source(ctx, m);
  struct stat st;
  if (::stat(source.c_str(), &st) < 0) throw_errno(what + ": source " + source);
  UniqueFd dest = open_destination(ctx, m, mf, S_ISDIR(st.st_mode) ? Create::Dir : Create::File, what);
  mount_on(source, dest.get(), nullptr, MS_BIND | (mf.recursive ? MS_REC : 0), "", what);
  unsigned long extra = mf.flags & ~(MS_BIND | MS_REC);
  if (extra || mf.clear) {
    // The new mount sits on top of `dest`: reopen to reach it rather than what it covers.
    UniqueFd mounted = open_in_root(ctx.root.get(), m.destination, Create::None);
    remount_bind(mounted.get(), extra, mf.clear, what + ": remount");
  }
}

std::vector<CgroupMount> host_cgroup_mounts(const RootfsOptions& opts) {
  if (opts.host_cgroups) return *opts.host_cgroups;
  std::vector<CgroupMount> out;
  for (const auto& line : fs::split(fs::read_file("/proc/self/mountinfo"), '\n')) {
    auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    auto left = fs::split(line.substr(0, sep), ' ');
    auto right = fs::split(line.substr(sep + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    if (right[0] != "cgroup" && right[0] != "cgroup2") continue;
    std::string opts;
    for (const auto& o : fs::split(right[2], ',')) {
      if (o == "rw" || o == "ro") continue;
      opts += (opts.empty() ? "" : ",") + o;
    }
    out.push_back({left[4], right[0], opts});
  }
  return out;
}

// The caller's own cgroup path in the hierarchy whose options name `controllers`.
std::string own_cgroup(const CgroupMount& cg) {
  for (const auto& line : fs::split(fs::read_file("/proc/self/cgroup"), '\n')) {
    auto f = fs::split(line, ':');
    if (f.size() < 3) continue;
    bool v2 = f[1].empty();
    if ((cg.fstype == "cgroup2") == v2 && (v2 || ("," + cg.options + ",").find("," + f[1] + ",") != std::string::npos))
      return f[2];
  }
  return "/";
}

// A "cgroup" mount: cgroup2 on a unified host; on v1/hybrid a tmpfs holding one mount
// per host hierarchy, as runc lays it out. Without a cgroup namespace the container's
// own cgroup directories are bind-mounted, so it never sees the host's tree.
void mount_cgroup(const Context& ctx, const spec::Mount& m, const MountFlags& mf, const std::string& what) {
  const std::string base = "/sys/fs/cgroup";
  auto hierarchies = host_cgroup_mounts(ctx.opts);
  UniqueFd dest = open_destination(ctx, m, mf, Create::Dir, what);
  bool unified = hierarchies.size() == 1 && hierarchies[0].mount_point == base;
  // `in_root`: where the hierarchy goes, as a path inside the rootfs.
  auto mount_one = [&](const CgroupMount& cg, const std::string& in_root) {
    UniqueFd at = open_in_root(ctx.root.get(), in_root, Create::Dir);
    if (ctx.opts.new_cgroup_namespace) {
      int err = try_mount_on(cg.fstype, at.get(), cg.fstype.c_str(), mf.flags, cg.options);
      if (err == 0) return;
      if (err != EPERM && err != EBUSY) throw_errno(err, what + ": mount " + cg.mount_point);
    }
    mount_on(cg.mount_point + own_cgroup(cg), at.get(), nullptr, MS_BIND | MS_REC, "", what + ": bind " + cg.mount_point);
    // The bind sits on top of `at`: reopen to reach it rather than what it covers.
    UniqueFd mounted = open_in_root(ctx.root.get(), in_root, Create::None);
    remount_bind(mounted.get(), mf.flags, mf.clear, what + ": remount " + cg.mount_point);
  };
  if (unified) {
    mount_one(hierarchies[0], m.destination);
    return;
  }
  mount_on("tmpfs", dest.get(), "tmpfs", mf.flags & ~MS_RDONLY, "mode=755", what);
  for (const auto& cg : hierarchies) {
    if (cg.mount_point.rfind(base + "/", 0) != 0) continue;
    mount_one(cg, m.destination + "/" + cg.mount_point.substr(base.size() + 1));
  }
  if (mf.flags & MS_RDONLY) {
    UniqueFd top = open_in_root(ctx.root.get(), m.destination, Create::None);
    remount_bind(top.get(), MS_RDONLY, 0, what + ": remount read-only");
  }
}

void mount_one(const Context& ctx, const spec::Mount& m, size_t index) {
  std::string what = fmt::format("mounts[{}] {} on {}", index, m.type.empty() ? "bind" : m.type, m.destination);
  MountFlags mf = parse_mount_options(m.options);
  if (is_bind(m, mf)) {
    mount_bind(ctx, m, mf, what);
  } else if (m.type == "cgroup" || m.type == "cgroup2") {
    mount_cgroup(ctx, m, mf, what);
  } else {
    UniqueFd dest = open_destination(ctx, m, mf, Create::Dir, what);
    std::string source = m.source.empty() ? m.type : m.source;
    if (int err = try_mount_on(source, dest.get(), m.type.c_str(), mf.flags, mf.data)) {
      // sysfs needs a network namespace of the user namespace's own; like runc, fall back to a bind of the host's /sys.
      if (m.type == "sysfs" && err == EPERM && ctx.opts.in_user_namespace) {
        mount_on("/sys", dest.get(), nullptr, MS_BIND | MS_REC, "", what);
        UniqueFd mounted = open_in_root(ctx.root.get(), m.destination, Create::None);
        remount_bind(mounted.get(), mf.flags, mf.clear, what + ": remount");
      } else {
        throw_errno(err, what);
      }
    }
  }
  if (mf.propagation) {
    UniqueFd mounted = open_in_root(ctx.root.get(), m.destination, Create::None);
    mount_on("", mounted.get(), nullptr, mf.propagation, "", what + ": propagation");
  }
}

struct DefaultDevice {
  const char* path;
  unsigned major, minor;
};
const DefaultDevice kDefaultDevices[] = {
    {"/dev/null", 1, 3}, {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

std::string dirname_of(const std::string& path) {
  auto pos = path.rfind('/');
  return pos == std::string::npos || pos == 0 ? "/" : path.substr(0, pos);
}
std::string basename_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }

void create_device(const Context& ctx, const spec::Device& d) {
  std::string what = "create device " + d.path;
  UniqueFd parent = open_in_root(ctx.root.get(), dirname_of(d.path), Create::Dir);
  std::string name = basename_of(d.path);
  if (ctx.opts.in_user_namespace) {
    // mknod is not allowed in a user namespace: bind the host's node instead, onto an
    // empty file of our own (whatever the rootfs had there, a symlink included, goes).
    ::unlinkat(parent.get(), name.c_str(), 0);
    with_context(what, [&] { create_component(parent.get(), name, true); });
    UniqueFd node = UniqueFd(check(::openat(parent.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC), what));
    mount_on(d.path, node.get(), nullptr, MS_BIND, "", what);
    return;
  }
  mode_t type = d.type == "b" ? S_IFBLK : d.type == "p" ? S_IFIFO : S_IFCHR;
  mode_t perm = d.file_mode ? (*d.file_mode & 07777) : 0666;
  ::unlinkat(parent.get(), name.c_str(), 0);
  check(::mknodat(parent.get(), name.c_str(), type | perm, makedev(d.major, d.minor)), what);
  check(::fchownat(parent.get(), name.c_str(), d.uid.value_or(0), d.gid.value_or(0), AT_SYMLINK_NOFOLLOW), what + ": chown");
}

void create_dev_symlinks(const Context& ctx) {
  std::vector<std::pair<std::string, std::string>> links = {
      {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
      {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}};
  if (fs::exists("/proc/kcore")) links.push_back({"/proc/kcore", "core"});
  UniqueFd dev = open_in_root(ctx.root.get(), "/dev", Create::Dir);
  for (const auto& [target, name] : links)
    if (::symlinkat(target.c_str(), dev.get(), name.c_str()) < 0 && errno != EEXIST)
      throw_errno("create /dev/" + name);
}

bool dev_is_bind_mounted(const spec::Spec& spec) {
  for (const auto& m : spec.mounts)
    if (m.destination == "/dev" && is_bind(m, parse_mount_options(m.options))) return true;
  return false;
}

void create_devices(const Context& ctx) {
  const auto& spec_devices = ctx.spec.linux->devices;
  if (!dev_is_bind_mounted(ctx.spec)) {
    for (const auto& dd : kDefaultDevices) {
      bool overridden = std::any_of(spec_devices.begin(), spec_devices.end(), [&](const auto& d) { return d.path == dd.path; });
      if (!overridden) create_device(ctx, spec::Device{"c", dd.path, dd.major, dd.minor, 0666, 0, 0});
    }
    create_dev_symlinks(ctx);
  }
  for (const auto& d : spec_devices) create_device(ctx, d);
}

void pivot_into(const std::string& rootfs, bool no_pivot) {
  if (no_pivot) {
    check(::chdir(rootfs.c_str()), "chdir " + rootfs);
    do_mount(rootfs, "/", nullptr, MS_MOVE, "", "move " + rootfs + " to /");
    check(::chroot("."), "chroot " + rootfs);
    check(::chdir("/"), "chdir /");
    return;
  }
  UniqueFd old_root(check(::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC), "open /"));
  UniqueFd new_root(check(::open(rootfs.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC), "open " + rootfs));
  check(::fchdir(new_root.get()), "chdir " + rootfs);
  // pivot_root(".", ".") stacks the old root on top of the new one; it is then detached.
  check(static_cast<int>(::syscall(SYS_pivot_root, ".", ".")), "pivot_root " + rootfs);
  check(::fchdir(old_root.get()), "chdir to the old root");
  // Keep the unmount from propagating to the host.
  do_mount("", ".", nullptr, MS_SLAVE | MS_REC, "", "make the old root a slave");
  check(::umount2(".", MNT_DETACH), "unmount the old root");
  check(::chdir("/"), "chdir /");
}

}  // namespace

void mount_rootfs(const spec::Spec& spec, const RootfsOptions& opts, const std::function<void()>& before_pivot) {
  const std::string& rootfs = opts.rootfs;
  unsigned long prop = parse_propagation(spec.linux->rootfs_propagation);
  // Nothing mounted from here on may reach the host: start from a slave (or private) copy.
  unsigned long initial = (prop & MS_PRIVATE) ? (MS_PRIVATE | MS_REC) : (MS_SLAVE | MS_REC);
  do_mount("", "/", nullptr, initial, "", "set propagation of /");
  // pivot_root needs the new root to be a mount point.
  do_mount(rootfs, rootfs, nullptr, MS_BIND | MS_REC, "", "bind " + rootfs + " onto itself");

  Context ctx{spec, opts, UniqueFd(check(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC), "open " + rootfs))};
  for (size_t i = 0; i < spec.mounts.size(); ++i) mount_one(ctx, spec.mounts[i], i);
  create_devices(ctx);
  // The createContainer hooks start in the rootfs, as with runc (mount_on moved the cwd).
  check(::fchdir(ctx.root.get()), "chdir " + rootfs);
  ctx.root.reset();
  if (before_pivot) before_pivot();
  pivot_into(rootfs, opts.no_pivot);
}

void create_cwd(const std::string& rootfs, const std::string& cwd) {
  UniqueFd root(check(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC), "open " + rootfs));
  with_context("process.cwd " + cwd, [&] { open_in_root(root.get(), cwd, Create::Dir); });
}

namespace {

// The container's /dev/null, checked to be the real 1:3 character device and not a
// symlink, before it is bind-mounted over masked paths (CVE-2025-31133): a /dev/null
// swapped for a link to /proc/sys/kernel/core_pattern would otherwise unmask it.
UniqueFd open_dev_null(int root) {
  UniqueFd dev = open_in_root(root, "/dev", Create::None);
  UniqueFd null(::openat(dev.get(), "null", O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!null) throw_errno("open /dev/null");
  struct stat st;
  check(::fstat(null.get(), &st), "stat /dev/null");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
    fail(ErrorKind::InvalidSpec, "/dev/null in the container is not the 1:3 character device");
  return null;
}

}  // namespace

void finish_rootfs(const spec::Spec& spec, const RootfsOptions&) {
  UniqueFd root(check(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), "open /"));
  UniqueFd dev_null;  // opened and checked when a file is masked
  UniqueFd empty_dir;  // the read-only tmpfs of the first masked directory, bound on the others
  auto open_existing = [&](const std::string& path) { return open_in_root_if_exists(root.get(), path); };
  for (const auto& path : spec.linux->masked_paths) {
    UniqueFd fd = open_existing(path);
    if (!fd) continue;
    struct stat st;
    check(::fstat(fd.get(), &st), "mask " + path);
    if (S_ISDIR(st.st_mode)) {
      // One superblock for all: a bind of a read-only mount is read-only, and nothing can
      // be written to any of them. Fewer tmpfs instances to make now and destroy at exit.
      if (empty_dir) {
        mount_on(fd_path(empty_dir.get()), fd.get(), nullptr, MS_BIND, "", "mask " + path);
        continue;
      }
      mount_on("tmpfs", fd.get(), "tmpfs", MS_RDONLY, "", "mask " + path);
      empty_dir = open_existing(path);  // the tmpfs now on top
    } else {
      if (!dev_null) dev_null = with_context("mask " + path, [&] { return open_dev_null(root.get()); });
      mount_on(fd_path(dev_null.get()), fd.get(), nullptr, MS_BIND, "", "mask " + path);
    }
  }
  for (const auto& path : spec.linux->readonly_paths) {
    UniqueFd fd = open_existing(path);
    if (!fd) continue;
    mount_on(fd_path(fd.get()), fd.get(), nullptr, MS_BIND | MS_REC, "", "read-only path " + path);
    UniqueFd mounted = open_existing(path);
    remount_bind(mounted.get(), MS_RDONLY, 0, "read-only path " + path);
  }
  if (spec.root.readonly) remount_bind(root.get(), MS_RDONLY, 0, "make the root read-only");
  if (unsigned long prop = parse_propagation(spec.linux->rootfs_propagation))
    do_mount("", "/", nullptr, prop, "", "set propagation of / to " + spec.linux->rootfs_propagation);
}

void mount_console(int master, int slave) {
  // The slave fd must be the peer of our master on a devpts, not whatever a path in the
  // container led to (CVE-2025-52565): the bind source is the fd itself.
  struct stat st;
  struct statfs sf;
  unsigned int n = 0;
  check(::fstat(slave, &st), "stat the pty slave");
  check(::fstatfs(slave, &sf), "statfs the pty slave");
  check(::ioctl(master, TIOCGPTN, &n), "ioctl TIOCGPTN");
  // Unix98 pty slaves: majors 136-143, 256 minors each.
  const unsigned slave_major = major(st.st_rdev), slave_minor = minor(st.st_rdev);
  if (!S_ISCHR(st.st_mode) || sf.f_type != DEVPTS_SUPER_MAGIC || slave_major < 136 || slave_major > 143 ||
      (slave_major - 136) * 256 + slave_minor != n)
    fail(ErrorKind::Syscall, fmt::format("the pty slave is not /dev/pts/{} of our master", n));

  UniqueFd root(check(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), "open /"));
  UniqueFd dev = open_in_root(root.get(), "/dev", Create::Dir);
  // An empty file of our own to bind onto: never a node or link the rootfs put there.
  ::unlinkat(dev.get(), "console", 0);
  create_component(dev.get(), "console", true);
  UniqueFd console(check(::openat(dev.get(), "console", O_PATH | O_NOFOLLOW | O_CLOEXEC), "open /dev/console"));
  mount_on(fd_path(slave), console.get(), nullptr, MS_BIND, "", fmt::format("bind /dev/pts/{} to /dev/console", n));
}

UniqueFd open_cwd(const std::string& cwd) {
  UniqueFd root(check(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), "open /"));
  UniqueFd fd = with_context("process.cwd " + cwd, [&] { return open_in_root(root.get(), cwd, Create::None); });
  struct stat st;
  check(::fstat(fd.get(), &st), "process.cwd: stat " + cwd);
  if (!S_ISDIR(st.st_mode)) throw_errno(ENOTDIR, "process.cwd " + cwd);
  return fd;
}

void enter_cwd(int cwd_fd, const std::string& cwd) {
  if (::fchdir(cwd_fd) < 0) throw_errno("process.cwd: chdir " + cwd);
  // A directory outside the root reads as "(unreachable)/..." (CVE-2024-21626).
  char buf[PATH_MAX];
  if (!::getcwd(buf, sizeof buf) || buf[0] != '/')
    fail(ErrorKind::InvalidSpec, "process.cwd " + cwd + ": not inside the container");
}

UniqueFd open_procfs() {
  UniqueFd proc(::open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!proc) throw_errno("open /proc");
  struct statfs sf;
  struct stat st;
  check(::fstatfs(proc.get(), &sf), "statfs /proc");
  check(::fstat(proc.get(), &st), "stat /proc");
  // PROC_ROOT_INO: the root of a procfs, not a directory inside one bind-mounted there.
  if (sf.f_type != PROC_SUPER_MAGIC || st.st_ino != 1)
    fail(ErrorKind::InvalidSpec, "/proc in the container is not a procfs (mount one at /proc)");
  return proc;
}

UniqueFd open_proc_file(int procfs, const std::string& path, int flags) {
  // Beneath the handle, no mount crossed (a bind over the file is refused), no magic link.
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, procfs, path.c_str(), &how, sizeof how)));
  if (!fd && errno == ENOSYS) fd.reset(::openat(procfs, path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw_errno("open /proc/" + path);
  struct statfs sf;
  check(::fstatfs(fd.get(), &sf), "statfs /proc/" + path);
  if (sf.f_type != PROC_SUPER_MAGIC) fail(ErrorKind::Syscall, "/proc/" + path + " is not on procfs");
  return fd;
}

void write_proc_file(int procfs, const std::string& path, const std::string& value) {
  UniqueFd fd = open_proc_file(procfs, path, O_WRONLY);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    throw_errno("write " + value + " to /proc/" + path);
}

}  // namespace ocirun::namespaces
