// compile_cached(): compiled filters kept on disk, keyed by the exact profile.
//
// Entry layout (native byte order; the key pins the binary, so the machine too):
//   "OCIRUNSC" | u32 format | u64 key size | key | u32 flags | u8 needs_listener
//   | u32 n | n x (u32 size, bytes) skipped names | u32 n | n x (u32 size, bytes) warnings
//   | u32 n | n x sock_filter | u64 FNV-1a of everything before it
#include <fcntl.h>
#include <linux/filter.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <cstring>
#include <seccomp.h>  // libseccomp: seccomp_version, seccomp_api_get

#include "error.h"
#include "fs.h"
#include "seccomp.h"
#include "unique_fd.h"
#include "warning.h"

namespace ocirun::seccomp {

namespace {

constexpr char kMagic[8] = {'O', 'C', 'I', 'R', 'U', 'N', 'S', 'C'};
constexpr uint32_t kFormat = 1;

uint64_t fnv1a(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

class Writer {
 public:
  template <typename T>
  void put(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(std::string_view s) {
    put(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void strs(const std::vector<std::string>& v) {
    put(static_cast<uint32_t>(v.size()));
    for (const auto& s : v) str(s);
  }
  void raw(std::string_view s) { out_.append(s); }
  std::string& text() { return out_; }

 private:
  std::string out_;
};

// Reads what Writer wrote; any overrun sets bad() and yields zeros.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  T get() {
    T v{};
    if (!take(sizeof v)) return v;
    std::memcpy(&v, in_.data() + pos_ - sizeof v, sizeof v);
    return v;
  }
  std::string_view bytes(size_t n) {
    if (!take(n)) return {};
    return in_.substr(pos_ - n, n);
  }
  std::string str() { return std::string(bytes(get<uint32_t>())); }
  std::vector<std::string> strs() {
    std::vector<std::string> out;
    uint32_t n = get<uint32_t>();
    for (uint32_t i = 0; i < n && !bad_; ++i) out.push_back(str());
    return out;
  }
  size_t pos() const { return pos_; }
  bool bad() const { return bad_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  bool take(size_t n) {
    if (bad_ || in_.size() - pos_ < n) {
      bad_ = true;
      return false;
    }
    pos_ += n;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool bad_ = false;
};

// What else the compiled program depends on: the libseccomp that compiled it, the kernel
// API level it probed, and this binary (a rebuilt ocirun may compile differently).
void environment_key(Writer& w) {
  const scmp_version* v = seccomp_version();
  w.put(static_cast<uint32_t>(v ? v->major : 0));
  w.put(static_cast<uint32_t>(v ? v->minor : 0));
  w.put(static_cast<uint32_t>(v ? v->micro : 0));
  w.put(static_cast<uint32_t>(seccomp_api_get()));
  w.put(static_cast<uint32_t>(seccomp_arch_native()));
  struct stat st{};
  ::stat("/proc/self/exe", &st);
  w.put(static_cast<uint64_t>(st.st_dev));
  w.put(static_cast<uint64_t>(st.st_ino));
  w.put(static_cast<uint64_t>(st.st_size));
  w.put(static_cast<int64_t>(st.st_mtim.tv_sec));
  w.put(static_cast<int64_t>(st.st_mtim.tv_nsec));
}

// "<dir>/<16 hex digits>": the file name is the key's hash; the file holds the key itself.
std::string entry_path(const std::string& dir, const std::string& key) {
  char name[24];
  std::snprintf(name, sizeof name, "/%016llx", static_cast<unsigned long long>(fnv1a(key)));
  return dir + name;
}

std::optional<Program> read_entry(const std::string& path, const std::string& key) {
  std::string text;
  try {
    text = fs::read_file(path);
  } catch (const Error&) {
    return std::nullopt;
  }
  if (text.size() < sizeof kMagic + sizeof(uint64_t)) return std::nullopt;
  std::string_view body(text.data(), text.size() - sizeof(uint64_t));
  uint64_t sum;
  std::memcpy(&sum, text.data() + body.size(), sizeof sum);
  if (sum != fnv1a(body)) return std::nullopt;
  Reader r(body);
  if (r.bytes(sizeof kMagic) != std::string_view(kMagic, sizeof kMagic) || r.get<uint32_t>() != kFormat)
    return std::nullopt;
  if (r.bytes(r.get<uint64_t>()) != key) return std::nullopt;
  Program p;
  p.flags = r.get<uint32_t>();
  p.needs_listener = r.get<uint8_t>() != 0;
  p.skipped_syscalls = r.strs();
  p.warnings = r.strs();
  uint32_t n = r.get<uint32_t>();
  if (r.bad() || n == 0 || n > BPF_MAXINSNS) return std::nullopt;
  std::string_view insns = r.bytes(size_t{n} * sizeof(struct sock_filter));
  if (r.bad() || !r.at_end()) return std::nullopt;
  p.bpf.resize(n);
  std::memcpy(p.bpf.data(), insns.data(), insns.size());
  return p;
}

void write_entry(const std::string& dir, const std::string& path, const std::string& key, const Program& p) {
  Writer w;
  w.raw(std::string_view(kMagic, sizeof kMagic));
  w.put(kFormat);
  w.put(static_cast<uint64_t>(key.size()));
  w.raw(key);
  w.put(static_cast<uint32_t>(p.flags));
  w.put(static_cast<uint8_t>(p.needs_listener));
  w.strs(p.skipped_syscalls);
  w.strs(p.warnings);
  w.put(static_cast<uint32_t>(p.bpf.size()));
  w.raw(std::string_view(reinterpret_cast<const char*>(p.bpf.data()), p.bpf.size() * sizeof(struct sock_filter)));
  w.put(fnv1a(w.text()));
  // Best effort: a cache we cannot write only costs the next container a compile.
  try {
    fs::make_private_dir(dir);
    UniqueFd dirfd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dirfd) return;
    fs::write_file_atomic_at(dirfd.get(), path.substr(path.rfind('/') + 1), w.text(), 0600);
  } catch (const Error&) {
  }
}

}  // namespace

std::string cache_key(const spec::Seccomp& profile) {
  Writer w;
  environment_key(w);
  w.str(profile.default_action);
  w.put(static_cast<uint8_t>(profile.default_errno_ret.has_value()));
  w.put(profile.default_errno_ret.value_or(0));
  w.strs(profile.architectures);
  w.strs(profile.flags);
  // listenerPath and listenerMetadata do not change the program: left out, so they may vary.
  w.put(static_cast<uint32_t>(profile.syscalls.size()));
  for (const auto& rule : profile.syscalls) {
    w.strs(rule.names);
    w.str(rule.action);
    w.put(static_cast<uint8_t>(rule.errno_ret.has_value()));
    w.put(rule.errno_ret.value_or(0));
    w.put(static_cast<uint32_t>(rule.args.size()));
    for (const auto& a : rule.args) {
      w.put(a.index);
      w.put(a.value);
      w.put(a.value_two);
      w.str(a.op);
    }
  }
  return std::move(w.text());
}

std::string cache_path(const std::string& cache_dir, const spec::Seccomp& profile) {
  return entry_path(cache_dir, cache_key(profile));
}

Program compile_cached(const spec::Seccomp& profile, const std::string& cache_dir) {
  const std::string key = cache_key(profile);
  const std::string path = entry_path(cache_dir, key);
  if (auto hit = read_entry(path, key)) {
    for (const auto& w : hit->warnings) ocirun::warn(w);
    return std::move(*hit);
  }
  Program p = compile(profile);
  write_entry(cache_dir, path, key, p);
  return p;
}

}  // namespace ocirun::seccomp
