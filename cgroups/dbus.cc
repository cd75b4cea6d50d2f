#include "dbus.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

namespace ocirun::cgroups::dbus {

namespace {

[[noreturn]] void malformed(const std::string& what) { fail(ErrorKind::InvalidArgument, "D-Bus message: " + what); }

// Header field codes (D-Bus spec, "Message Format").
enum Field : uint8_t {
  kPath = 1,
  kInterface = 2,
  kMember = 3,
  kErrorName = 4,
  kReplySerial = 5,
  kDestination = 6,
  kSender = 7,
  kSignature = 8,
};

void put_field(Writer& w, Field code, char type, const std::string& value) {
  if (value.empty()) return;
  w.begin_struct();
  w.byte(code);
  w.signature(std::string(1, type));
  if (type == 'g')
    w.signature(value);
  else
    w.string(value);
}

int64_t now_ms() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

size_t type_end(std::string_view sig, size_t i) {
  if (i >= sig.size()) malformed("signature ends inside a type");
  if (sig[i] == 'a') return type_end(sig, i + 1);
  if (sig[i] != '(' && sig[i] != '{') return i + 1;
  char close = sig[i] == '(' ? ')' : '}';
  size_t j = i + 1;
  while (j < sig.size() && sig[j] != close) j = type_end(sig, j);
  if (j >= sig.size()) malformed("unterminated struct in signature");
  return j + 1;
}

size_t alignment_of(char c) {
  switch (c) {
    case 'y':
    case 'g':
    case 'v':
      return 1;
    case 'n':
    case 'q':
      return 2;
    case 'b':
    case 'i':
    case 'u':
    case 'h':
    case 's':
    case 'o':
    case 'a':
      return 4;
    case 'x':
    case 't':
    case 'd':
    case '(':
    case '{':
      return 8;
  }
  fail(ErrorKind::InvalidArgument, fmt::format("D-Bus signature: unknown type code '{}'", c));
}

// --- Writer -----------------------------------------------------------------

void Writer::align(size_t n) {
  while (buf_.size() % n) buf_.push_back(0);
}

void Writer::u32(uint32_t v) {
  align(4);
  for (int i = 0; i < 4; ++i) buf_.push_back(uint8_t(v >> (8 * i)));
}

void Writer::u64(uint64_t v) {
  align(8);
  for (int i = 0; i < 8; ++i) buf_.push_back(uint8_t(v >> (8 * i)));
}

void Writer::string(std::string_view s) {
  u32(static_cast<uint32_t>(s.size()));
  buf_.insert(buf_.end(), s.begin(), s.end());
  buf_.push_back(0);
}

void Writer::object_path(std::string_view s) { string(s); }

void Writer::signature(std::string_view s) {
  if (s.size() > 255) fail(ErrorKind::InvalidArgument, "D-Bus signature longer than 255 bytes");
  buf_.push_back(static_cast<uint8_t>(s.size()));
  buf_.insert(buf_.end(), s.begin(), s.end());
  buf_.push_back(0);
}

Writer::Array Writer::begin_array(size_t element_alignment) {
  u32(0);
  Array a;
  a.length_at = buf_.size() - 4;
  align(element_alignment);
  a.start = buf_.size();
  return a;
}

void Writer::end_array(Array a) {
  uint32_t len = static_cast<uint32_t>(buf_.size() - a.start);
  for (int i = 0; i < 4; ++i) buf_[a.length_at + i] = uint8_t(len >> (8 * i));
}

// --- Reader -----------------------------------------------------------------

void Reader::need(size_t n) const {
  if (pos_ + n > data_.size()) malformed("truncated");
}

void Reader::align(size_t n) {
  size_t abs = base_ + pos_;
  size_t pad = (n - abs % n) % n;
  need(pad);
  pos_ += pad;
}

uint8_t Reader::byte() {
  need(1);
  return static_cast<uint8_t>(data_[pos_++]);
}

uint32_t Reader::u32() {
  align(4);
  need(4);
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(uint8_t(data_[pos_ + i])) << (8 * i);
  pos_ += 4;
  return v;
}

uint64_t Reader::u64() {
  align(8);
  need(8);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(uint8_t(data_[pos_ + i])) << (8 * i);
  pos_ += 8;
  return v;
}

std::string Reader::string() {
  uint32_t len = u32();
  need(size_t(len) + 1);
  std::string s(data_.substr(pos_, len));
  if (data_[pos_ + len] != '\0') malformed("string without its NUL");
  pos_ += size_t(len) + 1;
  return s;
}

std::string Reader::signature() {
  uint8_t len = byte();
  need(size_t(len) + 1);
  std::string s(data_.substr(pos_, len));
  pos_ += size_t(len) + 1;
  return s;
}

size_t Reader::begin_array(size_t element_alignment) {
  uint32_t len = u32();
  if (len > 64u * 1024 * 1024) malformed("array longer than 64 MiB");
  align(element_alignment);
  need(len);
  return pos_ + len;
}

size_t Reader::skip_type(std::string_view sig, size_t i) {
  if (i >= sig.size()) malformed("signature ends inside a type");
  char c = sig[i];
  switch (c) {
    case 'y':
      byte();
      return i + 1;
    case 'n':
    case 'q':
      align(2);
      need(2);
      pos_ += 2;
      return i + 1;
    case 'b':
    case 'i':
    case 'u':
    case 'h':
      u32();
      return i + 1;
    case 'x':
    case 't':
    case 'd':
      u64();
      return i + 1;
    case 's':
    case 'o':
      string();
      return i + 1;
    case 'g':
      signature();
      return i + 1;
    case 'v': {
      std::string inner = signature();
      skip(inner);
      return i + 1;
    }
    case 'a': {
      if (i + 1 >= sig.size()) malformed("array without an element type");
      size_t end = begin_array(alignment_of(sig[i + 1]));
      size_t after = type_end(sig, i + 1);
      while (pos_ < end) after = skip_type(sig, i + 1);
      if (pos_ != end) malformed("array length does not match its elements");
      return after;
    }
    case '(':
    case '{': {
      char close = c == '(' ? ')' : '}';
      begin_struct();
      size_t j = i + 1;
      while (j < sig.size() && sig[j] != close) j = skip_type(sig, j);
      if (j >= sig.size()) malformed("unterminated struct in signature");
      return j + 1;
    }
  }
  malformed(fmt::format("unknown type code '{}'", c));
}

void Reader::skip(std::string_view sig) {
  for (size_t i = 0; i < sig.size();) i = skip_type(sig, i);
}

std::string Reader::variant_string() {
  std::string sig = signature();
  if (sig == "s" || sig == "o") return string();
  if (sig == "g") return signature();
  malformed("expected a string variant, got signature \"" + sig + "\"");
}

// --- Messages ---------------------------------------------------------------

std::vector<uint8_t> encode(const Message& m) {
  Writer w;
  w.byte('l');
  w.byte(static_cast<uint8_t>(m.type));
  w.byte(m.flags);
  w.byte(1);  // protocol version
  w.u32(static_cast<uint32_t>(m.body.size()));
  w.u32(m.serial);
  Writer::Array fields = w.begin_array(8);
  put_field(w, kPath, 'o', m.path);
  put_field(w, kInterface, 's', m.interface);
  put_field(w, kMember, 's', m.member);
  put_field(w, kErrorName, 's', m.error_name);
  if (m.reply_serial) {
    w.begin_struct();
    w.byte(kReplySerial);
    w.signature("u");
    w.u32(m.reply_serial);
  }
  put_field(w, kDestination, 's', m.destination);
  put_field(w, kSender, 's', m.sender);
  put_field(w, kSignature, 'g', m.signature);
  w.end_array(fields);
  w.align(8);
  std::vector<uint8_t> out = w.bytes();
  out.insert(out.end(), m.body.begin(), m.body.end());
  return out;
}

size_t decode(std::string_view data, Message& out) {
  if (data.size() < 16) return 0;
  if (data[0] != 'l') malformed(data[0] == 'B' ? "big-endian messages are not supported" : "bad endianness byte");
  Reader fixed(data.substr(0, 16));
  fixed.byte();
  uint8_t type = fixed.byte();
  uint8_t flags = fixed.byte();
  if (fixed.byte() != 1) malformed("protocol version is not 1");
  uint32_t body_len = fixed.u32();
  uint32_t serial = fixed.u32();
  uint32_t fields_len = fixed.u32();
  if (body_len > 128u * 1024 * 1024 || fields_len > 64u * 1024 * 1024) malformed("message too long");
  size_t header_end = 16 + size_t(fields_len);
  size_t body_start = (header_end + 7) / 8 * 8;
  size_t total = body_start + body_len;
  if (data.size() < total) return 0;

  Message m;
  if (type < 1 || type > 4) malformed(fmt::format("unknown message type {}", type));
  m.type = static_cast<Type>(type);
  m.flags = flags;
  m.serial = serial;
  Reader r(data.substr(0, header_end));
  r.u32(), r.u32(), r.u32();  // skip the fixed part; the fields array starts at 12
  size_t end = r.begin_array(8);
  while (r.pos() < end) {
    r.begin_struct();
    uint8_t code = r.byte();
    std::string sig = r.signature();
    auto want = [&](const char* s) {
      if (sig != s) malformed(fmt::format("header field {} has signature \"{}\"", code, sig));
    };
    switch (code) {
      case kPath: want("o"); m.path = r.string(); break;
      case kInterface: want("s"); m.interface = r.string(); break;
      case kMember: want("s"); m.member = r.string(); break;
      case kErrorName: want("s"); m.error_name = r.string(); break;
      case kReplySerial: want("u"); m.reply_serial = r.u32(); break;
      case kDestination: want("s"); m.destination = r.string(); break;
      case kSender: want("s"); m.sender = r.string(); break;
      case kSignature: want("g"); m.signature = r.signature(); break;
      default: r.skip(sig);  // unknown fields are ignored (spec)
    }
  }
  m.body.assign(data.begin() + body_start, data.begin() + total);
  out = std::move(m);
  return total;
}

Message method_call(std::string destination, std::string path, std::string interface, std::string member) {
  Message m;
  m.type = Type::MethodCall;
  m.destination = std::move(destination);
  m.path = std::move(path);
  m.interface = std::move(interface);
  m.member = std::move(member);
  return m;
}

// --- Connection -------------------------------------------------------------

Connection Connection::open(const std::string& socket_path, bool hello) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) fail(ErrorKind::InvalidArgument, "socket path too long: " + socket_path);
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket");
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) < 0)
    throw_errno("connect " + socket_path);
  Connection c(std::move(fd));

  // SASL: a NUL byte, then AUTH EXTERNAL with the uid as ASCII digits, hex-encoded. The
  // server checks it against the socket's peer credentials.
  std::string uid = std::to_string(::geteuid());
  std::string hex;
  for (char ch : uid) hex += fmt::format("{:02x}", static_cast<unsigned char>(ch));
  // BEGIN goes in the same write, before the server's OK, as sd-bus clients pipeline it:
  // with BEGIN sent after the OK, systemd 252's private socket left a call sent right
  // behind it unanswered (seen in tests/systemd, every time without a delay).
  std::string auth = std::string(1, '\0') + "AUTH EXTERNAL " + hex + "\r\nBEGIN\r\n";
  c.send_all(auth.data(), auth.size());
  std::string line = c.read_line(5000);
  if (line.rfind("OK ", 0) != 0)
    fail(ErrorKind::Syscall, fmt::format("D-Bus authentication at {} failed: server said \"{}\"", socket_path, line));

  if (hello) {
    Message reply = c.call(method_call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello"));
    std::string_view body(reinterpret_cast<const char*>(reply.body.data()), reply.body.size());
    Reader r(body);
    c.unique_name_ = r.string();
  }
  return c;
}

void Connection::send_all(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::send(fd_.get(), p, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("D-Bus send");
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

namespace {

// Reads what is available into `in`, waiting until the deadline; Syscall on EOF or timeout.
void read_more(int fd, std::string& in, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) throw Error(ErrorKind::Syscall, "D-Bus: timed out waiting for a reply", ETIMEDOUT);
    struct pollfd p = {fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_errno("D-Bus poll");
    }
    if (r == 0) continue;
    char buf[16384];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw_errno("D-Bus recv");
    }
    if (n == 0) throw Error(ErrorKind::Syscall, "D-Bus: the peer closed the connection", ECONNRESET);
    in.append(buf, static_cast<size_t>(n));
    return;
  }
}

}  // namespace

std::string Connection::read_line(int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    size_t eol = in_.find("\r\n");
    if (eol != std::string::npos) {
      std::string line = in_.substr(0, eol);
      in_.erase(0, eol + 2);
      return line;
    }
    if (in_.size() > 4096) fail(ErrorKind::Syscall, "D-Bus authentication: line too long");
    read_more(fd_.get(), in_, deadline);
  }
}

Message Connection::read_message(int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    Message m;
    if (size_t used = decode(in_, m)) {
      in_.erase(0, used);
      return m;
    }
    read_more(fd_.get(), in_, deadline);
  }
}

Message Connection::call(Message m, int timeout_ms) {
  m.serial = next_serial_++;
  std::vector<uint8_t> wire = encode(m);
  send_all(wire.data(), wire.size());
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) throw Error(ErrorKind::Syscall, "D-Bus: timed out waiting for the reply to " + m.member, ETIMEDOUT);
    Message reply = read_message(static_cast<int>(left));
    if (reply.reply_serial != m.serial || (reply.type != Type::MethodReturn && reply.type != Type::Error)) continue;
    if (reply.type == Type::Error) {
      std::string text;
      if (!reply.signature.empty() && reply.signature[0] == 's') {
        Reader r(std::string_view(reinterpret_cast<const char*>(reply.body.data()), reply.body.size()));
        text = r.string();
      }
      throw CallError(reply.error_name, text);
    }
    return reply;
  }
}

}  // namespace ocirun::cgroups::dbus
