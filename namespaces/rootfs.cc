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
#include <cctype>
#include <cstring>
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

namespace {
// rro, rnosuid, ...: runc 1.1's recursive options, as mount_setattr attributes. The atime
// mode is one field: setting one mode clears the others; turning one off leaves relatime,
// the kernel's default.
bool parse_recursive_option(const std::string& name, MountFlags& out) {
  struct Opt {
    const char* name;
    uint64_t attr;
    bool clear;
  };
  static const Opt table[] = {
      {"rro", MOUNT_ATTR_RDONLY, false},         {"rrw", MOUNT_ATTR_RDONLY, true},
      {"rnosuid", MOUNT_ATTR_NOSUID, false},     {"rsuid", MOUNT_ATTR_NOSUID, true},
      {"rnodev", MOUNT_ATTR_NODEV, false},       {"rdev", MOUNT_ATTR_NODEV, true},
      {"rnoexec", MOUNT_ATTR_NOEXEC, false},     {"rexec", MOUNT_ATTR_NOEXEC, true},
      {"rnodiratime", MOUNT_ATTR_NODIRATIME, false}, {"rdiratime", MOUNT_ATTR_NODIRATIME, true},
      {"rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, false}, {"rsymfollow", MOUNT_ATTR_NOSYMFOLLOW, true},
      {"rrelatime", MOUNT_ATTR_RELATIME, false}, {"rnorelatime", MOUNT_ATTR_RELATIME, true},
      {"rnoatime", MOUNT_ATTR_NOATIME, false},   {"ratime", MOUNT_ATTR_NOATIME, true},
      {"rstrictatime", MOUNT_ATTR_STRICTATIME, false}, {"rnostrictatime", MOUNT_ATTR_STRICTATIME, true},
  };
  for (const auto& o : table) {
    if (name != o.name) continue;
    const bool atime = o.attr == MOUNT_ATTR_RELATIME || (o.attr & MOUNT_ATTR__ATIME);
    if (atime) {
      out.recursive_clear |= MOUNT_ATTR__ATIME;
      out.recursive_set = (out.recursive_set & ~MOUNT_ATTR__ATIME) | (o.clear ? MOUNT_ATTR_RELATIME : o.attr);
    } else if (o.clear) {
      out.recursive_clear |= o.attr;
      out.recursive_set &= ~o.attr;
    } else {
      out.recursive_set |= o.attr;
      out.recursive_clear &= ~o.attr;
    }
    return true;
  }
  return false;
}
}  // namespace

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
      {"nolazytime", 0, MS_LAZYTIME}, {"nosymfollow", MS_NOSYMFOLLOW, 0},
      {"symfollow", 0, MS_NOSYMFOLLOW}, {"defaults", 0, 0},
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
    if (parse_recursive_option(o, out)) continue;
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

// ---- Mounts through fds ----------------------------------------------------------------
// A mount is made detached (open_tree for a bind, fsopen + fsmount for a new filesystem),
// given its flags on its own fd (mount_setattr) and attached onto the destination's fd
// (move_mount); whatever follows (propagation, a read-only remount, mounts inside it) goes
// through that fd too. The destination looked up again by name after the mount could lead
// elsewhere: through a link inside the new mount, or one a container sharing the volume
// swapped in (CVE-2021-30465), leaving the real mount writable.

// MS_* per-mount flags to set, and those options turn off (rw, suid, ...), as mount_attr.
struct mount_attr mount_attr_of(unsigned long set, unsigned long clear) {
  static const std::pair<unsigned long, uint64_t> table[] = {
      {MS_RDONLY, MOUNT_ATTR_RDONLY}, {MS_NOSUID, MOUNT_ATTR_NOSUID},         {MS_NODEV, MOUNT_ATTR_NODEV},
      {MS_NOEXEC, MOUNT_ATTR_NOEXEC}, {MS_NODIRATIME, MOUNT_ATTR_NODIRATIME}, {MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW},
  };
  struct mount_attr attr {};
  for (const auto& [ms, bit] : table) {
    if (set & ms) attr.attr_set |= bit;
    else if (clear & ms) attr.attr_clr |= bit;
  }
  // The atime mode is one field: noatime, strictatime or (the kernel's default) relatime.
  if ((set & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) || (clear & MS_NOATIME)) {
    attr.attr_clr |= MOUNT_ATTR__ATIME;
    attr.attr_set |= (set & MS_NOATIME) ? MOUNT_ATTR_NOATIME : (set & MS_STRICTATIME) ? MOUNT_ATTR_STRICTATIME : MOUNT_ATTR_RELATIME;
  }
  return attr;
}

// Changes only the flags named: those a user namespace locks stay as they are.
void set_mount_flags(int mount_fd, unsigned long set, unsigned long clear, const std::string& what) {
  struct mount_attr attr = mount_attr_of(set, clear);
  if (!attr.attr_set && !attr.attr_clr) return;
  if (::mount_setattr(mount_fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) throw_errno(what);
}

void set_recursive_flags(int mount_fd, const MountFlags& mf, const std::string& what) {
  if (!mf.recursive_set && !mf.recursive_clear) return;
  struct mount_attr attr {};
  attr.attr_set = mf.recursive_set;
  attr.attr_clr = mf.recursive_clear;
  if (::mount_setattr(mount_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) throw_errno(what);
}

void set_propagation(int mount_fd, unsigned long propagation, const std::string& what) {
  struct mount_attr attr {};
  attr.propagation = propagation & ~MS_REC;
  unsigned flags = AT_EMPTY_PATH | ((propagation & MS_REC) ? AT_RECURSIVE : 0);
  if (::mount_setattr(mount_fd, "", flags, &attr, sizeof attr) < 0) throw_errno(what);
}

// A detached copy of the mount at `path` under `dirfd` ("": dirfd itself), with the mounts
// below it when `recursive`. The source must be attached (kernels before 6.15).
UniqueFd clone_mount(int dirfd, const std::string& path, bool recursive, const std::string& what) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) | (path.empty() ? AT_EMPTY_PATH : 0);
  UniqueFd fd(::open_tree(dirfd, path.c_str(), flags));
  if (!fd) throw_errno(what);
  return fd;
}

void attach_mount(int mount_fd, int dest, const std::string& what) {
  if (::move_mount(mount_fd, "", dest, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) throw_errno(what);
}

// The option a filesystem refused and what it said (its fs_context log), for the error.
struct RefusedOption {
  std::string option, message;
};

// The last error the filesystem logged on `fs_fd` ("e tmpfs: Unknown parameter 'x'"), or "".
std::string filesystem_error(int fs_fd) {
  std::string last;
  char buf[512];
  for (ssize_t n; (n = ::read(fs_fd, buf, sizeof buf)) > 0;)
    if (n > 2 && buf[0] == 'e' && buf[1] == ' ') last.assign(buf + 2, static_cast<size_t>(n - 2));
  return last;
}

// mount(2)'s source, superblock flags and data as fsconfig calls, the way mount(2) hands
// them to the filesystem: "key=value" a string, a bare "key" a flag. 0 or the errno; an
// option the filesystem refused is named in `refused`.
int configure_filesystem(int fs_fd, const std::string& source, unsigned long flags, const std::string& data,
                         RefusedOption* refused) {
  auto set = [&](unsigned cmd, const std::string& key, const char* value) {
    return ::fsconfig(fs_fd, cmd, key.c_str(), value, 0) == 0;
  };
  if (!source.empty() && !set(FSCONFIG_SET_STRING, "source", source.c_str())) return errno;
  static const std::pair<unsigned long, const char*> superblock_flags[] = {
      {MS_RDONLY, "ro"}, {MS_SYNCHRONOUS, "sync"}, {MS_DIRSYNC, "dirsync"}, {MS_LAZYTIME, "lazytime"}, {MS_MANDLOCK, "mand"}};
  for (const auto& [ms, name] : superblock_flags)
    if ((flags & ms) && !set(FSCONFIG_SET_FLAG, name, nullptr)) return errno;
  for (const auto& option : fs::split(data, ',')) {
    if (option.empty()) continue;
    auto eq = option.find('=');
    bool ok = eq == std::string::npos ? set(FSCONFIG_SET_FLAG, option, nullptr)
                                      : set(FSCONFIG_SET_STRING, option.substr(0, eq), option.substr(eq + 1).c_str());
    if (!ok) {
      const int err = errno;
      if (refused) *refused = {option, filesystem_error(fs_fd)};
      return err;
    }
  }
  return ::fsconfig(fs_fd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0 ? 0 : errno;
}

// A new filesystem, detached, in `out`; 0 or the errno (the caller may fall back).
int try_new_filesystem(const std::string& type, const std::string& source, unsigned long flags,
                       const std::string& data, UniqueFd& out, RefusedOption* refused = nullptr) {
  UniqueFd fs_fd(::fsopen(type.c_str(), FSOPEN_CLOEXEC));
  if (!fs_fd) return errno;
  if (int err = configure_filesystem(fs_fd.get(), source, flags, data, refused)) return err;
  out.reset(::fsmount(fs_fd.get(), FSMOUNT_CLOEXEC, static_cast<unsigned>(mount_attr_of(flags, 0).attr_set)));
  return out ? 0 : errno;
}

UniqueFd new_filesystem(const std::string& type, unsigned long flags, const std::string& data, const std::string& what) {
  UniqueFd mount;
  if (int err = try_new_filesystem(type, type, flags, data, mount)) throw_errno(err, what);
  return mount;
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
    fail(ErrorKind::InvalidSpec,
         fmt::format("{}: {} in the rootfs resolves to {} (a symlink): it must be a real directory: "
                     "filesystem \"{}\" must be mounted on ordinary directory", what, literal, resolved, m.type.empty() ? "bind" : m.type));
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


// The source `create` opened for this mount, or one opened here.
UniqueFd bind_source_fd(const Context& ctx, const spec::Mount& m, size_t index, const std::string& what) {
  if (auto it = ctx.opts.bind_source_fds.find(index); it != ctx.opts.bind_source_fds.end())
    return UniqueFd(check(::fcntl(it->second, F_DUPFD_CLOEXEC, 0), what + ": source " + m.source));
  UniqueFd root(check(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), "open /"));
  return with_context(what, [&] { return open_bind_source(root.get(), m, ctx.opts.bundle); });
}

// Returns the fd of the mount made, as every mount_* below does.
UniqueFd mount_bind(const Context& ctx, const spec::Mount& m, const MountFlags& mf, size_t index, const std::string& what) {
  UniqueFd source_fd = bind_source_fd(ctx, m, index, what);
  struct stat st;
  if (::fstat(source_fd.get(), &st) < 0) throw_errno(what + ": source " + m.source);
  UniqueFd dest = open_destination(ctx, m, mf, S_ISDIR(st.st_mode) ? Create::Dir : Create::File, what);
  UniqueFd mount = clone_mount(source_fd.get(), "", mf.recursive, what);
  set_mount_flags(mount.get(), mf.flags, mf.clear, what + ": mount flags");
  attach_mount(mount.get(), dest.get(), what);
  return mount;
}

// One line of /proc/self/mountinfo: what the mount shows of its filesystem (root), where,
// the filesystem type and its superblock options.
struct MountinfoLine {
  std::string root, mount_point, fstype, super_options;
};

std::vector<MountinfoLine> read_mountinfo() {
  std::vector<MountinfoLine> out;
  for (const auto& line : fs::split(fs::read_file("/proc/self/mountinfo"), '\n')) {
    auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    auto left = fs::split(line.substr(0, sep), ' ');
    auto right = fs::split(line.substr(sep + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    out.push_back({fs::unescape_mountinfo(left[3]), fs::unescape_mountinfo(left[4]), right[0], right[2]});
  }
  return out;
}

std::vector<CgroupMount> host_cgroup_mounts(const RootfsOptions& opts) {
  if (opts.host_cgroups) return *opts.host_cgroups;
  std::vector<CgroupMount> out;
  for (const auto& m : read_mountinfo()) {
    if (m.fstype != "cgroup" && m.fstype != "cgroup2") continue;
    std::string options;
    for (const auto& o : fs::split(m.super_options, ',')) {
      if (o == "rw" || o == "ro") continue;
      options += (options.empty() ? "" : ",") + o;
    }
    out.push_back({m.mount_point, m.fstype, options});
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
UniqueFd mount_cgroup(const Context& ctx, const spec::Mount& m, const MountFlags& mf, const std::string& what) {
  const std::string base = "/sys/fs/cgroup";
  auto hierarchies = host_cgroup_mounts(ctx.opts);
  UniqueFd dest = open_destination(ctx, m, mf, Create::Dir, what);
  bool unified = hierarchies.size() == 1 && hierarchies[0].mount_point == base;
  // One hierarchy onto `at`: its own mount in a cgroup namespace, else a bind of our cgroup.
  auto mount_hierarchy = [&](const CgroupMount& cg, int at) {
    UniqueFd mount;
    int err = ctx.opts.new_cgroup_namespace ? try_new_filesystem(cg.fstype, cg.fstype, mf.flags, cg.options, mount) : EPERM;
    if (err && err != EPERM && err != EBUSY) throw_errno(err, what + ": mount " + cg.mount_point);
    if (err) {
      mount = clone_mount(AT_FDCWD, cg.mount_point + own_cgroup(cg), true, what + ": bind " + cg.mount_point);
      set_mount_flags(mount.get(), mf.flags, mf.clear, what + ": remount " + cg.mount_point);
    }
    attach_mount(mount.get(), at, what + ": " + cg.mount_point);
    return mount;
  };
  if (unified) return mount_hierarchy(hierarchies[0], dest.get());
  UniqueFd tmpfs = new_filesystem("tmpfs", mf.flags & ~MS_RDONLY, "mode=755", what);
  attach_mount(tmpfs.get(), dest.get(), what);
  for (const auto& cg : hierarchies) {
    if (cg.mount_point.rfind(base + "/", 0) != 0) continue;
    UniqueFd at = open_in_root(tmpfs.get(), cg.mount_point.substr(base.size() + 1), Create::Dir);
    mount_hierarchy(cg, at.get());
  }
  if (mf.flags & MS_RDONLY) set_mount_flags(tmpfs.get(), MS_RDONLY, 0, what + ": remount read-only");
  return tmpfs;
}

std::string options_path(size_t index) { return fmt::format("config.json: /mounts/{}/options", index); }

[[noreturn]] void fail_unknown_option(size_t index, const std::string& option) {
  fail(ErrorKind::InvalidSpec, fmt::format("{}: unknown mount option \"{}\"", options_path(index), option));
}

// An option the filesystem refused, by name: unknown to it, or a value it does not take.
[[noreturn]] void fail_refused_option(size_t index, const spec::Mount& m, const RefusedOption& refused, int err) {
  if (refused.message.find("Unknown parameter") != std::string::npos) fail_unknown_option(index, refused.option);
  const std::string why = refused.message.empty() ? std::strerror(err) : refused.message;
  fail(ErrorKind::InvalidSpec, fmt::format("{}: {} refuses \"{}\": {}", options_path(index), m.type, refused.option, why));
}

UniqueFd mount_filesystem(const Context& ctx, const spec::Mount& m, const MountFlags& mf, size_t index,
                          const std::string& what) {
  UniqueFd dest = open_destination(ctx, m, mf, Create::Dir, what);
  UniqueFd mount;
  RefusedOption refused;
  if (int err = try_new_filesystem(m.type, m.source.empty() ? m.type : m.source, mf.flags, mf.data, mount, &refused)) {
    if (!refused.option.empty()) fail_refused_option(index, m, refused, err);
    // sysfs needs a network namespace of the user namespace's own; like runc, fall back to a bind of the host's /sys.
    if (m.type != "sysfs" || err != EPERM || !ctx.opts.in_user_namespace) throw_errno(err, what);
    mount = clone_mount(AT_FDCWD, "/sys", true, what);
    set_mount_flags(mount.get(), mf.flags, mf.clear, what + ": remount");
  }
  attach_mount(mount.get(), dest.get(), what);
  return mount;
}

// /dev is filled after it is mounted (device nodes, symlinks, /dev/pts, /dev/console): a
// read-only /dev is mounted writable and made read-only by finish_rootfs, as runc does.
bool is_read_only_dev(const spec::Mount& m) {
  return lexical_path(m.destination) == "/dev" && (parse_mount_options(m.options).flags & MS_RDONLY);
}

void mount_one(const Context& ctx, const spec::Mount& m, size_t index) {
  std::string what = fmt::format("mounts[{}] {} on {}", index, m.type.empty() ? "bind" : m.type, m.destination);
  MountFlags mf = parse_mount_options(m.options);
  if (is_read_only_dev(m)) mf.flags &= ~MS_RDONLY;
  const bool cgroup = m.type == "cgroup" || m.type == "cgroup2";
  // A bind and ocirun's cgroup layout take no filesystem data: what is left is unknown.
  if ((is_bind(m, mf) || cgroup) && !mf.data.empty()) fail_unknown_option(index, fs::split(mf.data, ',').front());
  UniqueFd mount = is_bind(m, mf) ? mount_bind(ctx, m, mf, index, what)
                   : cgroup       ? mount_cgroup(ctx, m, mf, what)
                                  : mount_filesystem(ctx, m, mf, index, what);
  set_recursive_flags(mount.get(), mf, what + ": recursive mount flags");
  if (mf.propagation) set_propagation(mount.get(), mf.propagation, what + ": propagation");
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

// --no-pivot leaves the host's mounts under the container's root, where the kernel still
// sees them: a fully visible procfs or sysfs there lets a new user namespace in the
// container mount a fresh, unmasked one (mnt_already_visible). As runc's msMoveRoot: each
// procfs and sysfs mounted whole outside the rootfs is unmounted (each made a
// slave first: nothing reaches the host), or covered with an empty tmpfs where it cannot be.
void hide_host_proc_and_sys(const std::string& rootfs) {
  auto mounts = read_mountinfo();
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {  // the mounts on top first
    const auto& m = *it;
    if (m.root != "/" || (m.fstype != "proc" && m.fstype != "sysfs")) continue;
    if (m.mount_point == rootfs || m.mount_point.rfind(rootfs + "/", 0) == 0) continue;
    // A slave first: with a shared rootfsPropagation the mount can still be the host's peer.
    ::mount(nullptr, m.mount_point.c_str(), nullptr, MS_SLAVE, nullptr);
    if (::umount2(m.mount_point.c_str(), MNT_DETACH) == 0 || errno == ENOENT) continue;
    if (errno != EINVAL && errno != EPERM) throw_errno("--no-pivot: unmount " + m.mount_point);
    do_mount("tmpfs", m.mount_point, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "",
             "--no-pivot: cover " + m.mount_point);
  }
}

// Gives the mount that holds `dir` (the nearest mount root at or above it) `propagation`,
// not recursively, as runc's rootfsParentMountPropagation.
void isolate_mount_holding(int dir, unsigned long propagation, const std::string& rootfs) {
  UniqueFd at(check(::openat(dir, ".", O_PATH | O_DIRECTORY | O_CLOEXEC), "open " + rootfs));
  for (;;) {
    struct mount_attr attr {};
    attr.propagation = propagation;
    if (::mount_setattr(at.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) == 0) return;
    // EINVAL: not a mount root; the mount holding it is further up.
    if (errno != EINVAL) throw_errno("make the mount holding " + rootfs + " private");
    UniqueFd up(check(::openat(at.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC), "open a parent of " + rootfs));
    struct stat here, above;
    check(::fstat(at.get(), &here), "stat " + rootfs);
    check(::fstat(up.get(), &above), "stat " + rootfs);
    if (here.st_dev == above.st_dev && here.st_ino == above.st_ino)
      fail(ErrorKind::Syscall, "no mount holding " + rootfs + " could be made private");
    at = std::move(up);
  }
}

// Makes `new_root` (the rootfs's mount, at `rootfs`) the root and the cwd.
void pivot_into(int new_root, const std::string& rootfs, bool no_pivot) {
  if (no_pivot) {
    hide_host_proc_and_sys(rootfs);
    // Moved onto a shared / (a shared rootfsPropagation), the rootfs would appear on the host.
    do_mount("", "/", nullptr, MS_SLAVE, "", "make / a slave");
    check(::fchdir(new_root), "chdir " + rootfs);
    if (::move_mount(new_root, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0) throw_errno("move " + rootfs + " to /");
    check(::chroot("."), "chroot " + rootfs);
    check(::chdir("/"), "chdir /");
    return;
  }
  UniqueFd old_root(check(::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC), "open /"));
  check(::fchdir(new_root), "chdir " + rootfs);
  // pivot_root(".", ".") stacks the old root on top of the new one; it is then detached.
  check(static_cast<int>(::syscall(SYS_pivot_root, ".", ".")), "pivot_root " + rootfs);
  check(::fchdir(old_root.get()), "chdir to the old root");
  // Keep the unmount from propagating to the host.
  do_mount("", ".", nullptr, MS_SLAVE | MS_REC, "", "make the old root a slave");
  check(::umount2(".", MNT_DETACH), "unmount the old root");
  check(::chdir("/"), "chdir /");
}

}  // namespace

bool is_bind_mount(const spec::Mount& m) { return is_bind(m, parse_mount_options(m.options)); }

UniqueFd open_bind_source(int root, const spec::Mount& m, const std::string& bundle) {
  auto resolve = [](int dir, const std::string& path, uint64_t resolve_flags) {
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = resolve_flags;
    return UniqueFd(static_cast<int>(::syscall(SYS_openat2, dir, path.c_str(), &how, sizeof how)));
  };
  const std::string what = "source " + m.source;
  if (m.source.empty() || m.source[0] == '/') {
    UniqueFd fd = resolve(root, m.source.empty() ? "/" : m.source, RESOLVE_IN_ROOT);
    // A magic link (/proc/PID/ns/net) cannot be followed in a scoped lookup: the path as
    // the host's administrator wrote it, below `root` all the same.
    if (!fd && errno == EXDEV) fd.reset(::openat(root, ("./" + m.source).c_str(), O_PATH | O_CLOEXEC));
    if (!fd) throw_errno(what);
    return fd;
  }
  UniqueFd bundle_fd = resolve(root, bundle, RESOLVE_IN_ROOT);
  if (!bundle_fd) throw_errno("open the bundle " + bundle);
  UniqueFd fd = resolve(bundle_fd.get(), m.source, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
  if (!fd && errno == EXDEV) fail(ErrorKind::InvalidSpec, what + ": leads out of the bundle " + bundle);
  if (!fd) throw_errno(what + " in the bundle " + bundle);
  return fd;
}

void mount_rootfs(const spec::Spec& spec, const RootfsOptions& opts, const std::function<void()>& before_pivot) {
  const std::string& rootfs = opts.rootfs;
  // As runc: / of the new namespace takes rootfsPropagation (default rslave) at once, so that
  // with "shared" a volume's bind stays in its source's peer group, the host's own, and mounts
  // propagate both ways as Docker's and Kubernetes' rshared ask. The mount holding the rootfs
  // is then made private (or a slave): the rootfs's copy and what is mounted on it never
  // reach the host.
  unsigned long prop = parse_propagation(spec.linux->rootfs_propagation);
  do_mount("", "/", nullptr, prop ? prop : (MS_SLAVE | MS_REC), "", "set propagation of /");
  UniqueFd below(check(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC), "open " + rootfs));
  isolate_mount_holding(below.get(), (prop & MS_SLAVE) ? MS_SLAVE : MS_PRIVATE, rootfs);
  // pivot_root needs the new root to be a mount point: a copy of the rootfs's mounts on top
  // of it, used through its fd from here on.
  UniqueFd root = clone_mount(below.get(), "", true, "bind " + rootfs + " onto itself");
  attach_mount(root.get(), below.get(), "bind " + rootfs + " onto itself");

  Context ctx{spec, opts, std::move(root)};
  for (size_t i = 0; i < spec.mounts.size(); ++i) mount_one(ctx, spec.mounts[i], i);
  create_devices(ctx);
  // The createContainer hooks start in the rootfs, as with runc.
  check(::fchdir(ctx.root.get()), "chdir " + rootfs);
  if (before_pivot) before_pivot();
  pivot_into(ctx.root.get(), rootfs, opts.no_pivot);
}

void chroot_into(const std::string& rootfs, const std::function<void()>& before_chroot) {
  UniqueFd root(check(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC), "open " + rootfs));
  check(::fchdir(root.get()), "chdir " + rootfs);
  if (before_chroot) before_chroot();
  check(::chroot("."), "chroot " + rootfs);
  check(::chdir("/"), "chdir /");
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

// Masks each existing path: a directory with an empty read-only tmpfs, a file with /dev/null.
void mask_paths(int root, const std::vector<std::string>& paths) {
  UniqueFd dev_null;   // opened and checked when a file is masked
  UniqueFd empty_dir;  // the read-only tmpfs of the first masked directory, cloned onto the others
  for (const auto& path : paths) {
    UniqueFd fd = open_in_root_if_exists(root, path);
    if (!fd) continue;
    const std::string what = "mask " + path;
    struct stat st;
    check(::fstat(fd.get(), &st), what);
    if (S_ISDIR(st.st_mode) && !empty_dir) {
      // One superblock for all: fewer tmpfs instances to make now and destroy at exit.
      empty_dir = new_filesystem("tmpfs", MS_RDONLY, "", what);
      attach_mount(empty_dir.get(), fd.get(), what);
      continue;
    }
    if (!S_ISDIR(st.st_mode) && !dev_null) dev_null = with_context(what, [&] { return open_dev_null(root); });
    UniqueFd mask = clone_mount(S_ISDIR(st.st_mode) ? empty_dir.get() : dev_null.get(), "", false, what);
    attach_mount(mask.get(), fd.get(), what);
  }
}

}  // namespace

void finish_rootfs(const spec::Spec& spec, const RootfsOptions&) {
  UniqueFd root(check(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), "open /"));
  mask_paths(root.get(), spec.linux->masked_paths);
  for (const auto& path : spec.linux->readonly_paths) {
    UniqueFd fd = open_in_root_if_exists(root.get(), path);
    if (!fd) continue;
    const std::string what = "read-only path " + path;
    UniqueFd copy = clone_mount(fd.get(), "", true, what);
    set_mount_flags(copy.get(), MS_RDONLY, 0, what);
    attach_mount(copy.get(), fd.get(), what);
  }
  if (std::any_of(spec.mounts.begin(), spec.mounts.end(), is_read_only_dev)) {
    UniqueFd dev = open_in_root(root.get(), "/dev", Create::None);
    set_mount_flags(dev.get(), MS_RDONLY, 0, "make /dev read-only");
  }
  if (spec.root.readonly) set_mount_flags(root.get(), MS_RDONLY, 0, "make the root read-only");
  // The new root takes rootfsPropagation too, as runc; private and slave it already has
  // (mount_rootfs), and they would undo a volume's own "rshared".
  unsigned long prop = parse_propagation(spec.linux->rootfs_propagation);
  if (prop && !(prop & (MS_PRIVATE | MS_SLAVE)))
    set_propagation(root.get(), prop, "set propagation of / to " + spec.linux->rootfs_propagation);
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

namespace {
void check_cwd_inside_root(const std::string& cwd) {
  // A directory outside the root reads as "(unreachable)/..." (CVE-2024-21626).
  char buf[PATH_MAX];
  if (!::getcwd(buf, sizeof buf) || buf[0] != '/')
    fail(ErrorKind::InvalidSpec, "process.cwd " + cwd + ": not inside the container");
}

// runc's words, lower case as Go writes errno texts.
[[noreturn]] void fail_chdir(int err, const std::string& cwd) {
  throw Error(ErrorKind::Syscall,
              fmt::format("chdir to cwd (\"{}\") set in config.json failed: {}", cwd, fs::lower_first(std::strerror(err))), err);
}
}  // namespace

bool try_enter_cwd(int cwd_fd, const std::string& cwd) {
  if (::fchdir(cwd_fd) < 0) {
    if (errno == EACCES || errno == EPERM) return false;
    fail_chdir(errno, cwd);
  }
  check_cwd_inside_root(cwd);
  return true;
}

void enter_cwd(int cwd_fd, const std::string& cwd) {
  if (::fchdir(cwd_fd) < 0) fail_chdir(errno, cwd);
  check_cwd_inside_root(cwd);
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
