// A minimal D-Bus client for the systemd cgroup driver: the wire format (little-endian
// marshalling with the spec's alignment rules), AUTH EXTERNAL over a unix socket, and
// blocking method calls. No libdbus/sd-bus: systemd's private socket
// (/run/systemd/private, peer-to-peer, no Hello) or a bus daemon's socket (Hello first).
//
// Alignment counts from the start of the message; a body starts on an 8-byte boundary,
// so a Writer/Reader over the body alone aligns the same way.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "unique_fd.h"

namespace ocirun::cgroups::dbus {

enum class Type : uint8_t { MethodCall = 1, MethodReturn = 2, Error = 3, Signal = 4 };

// Flag bits of the header.
inline constexpr uint8_t kNoReplyExpected = 0x1;

class Writer {
 public:
  void align(size_t n);
  void byte(uint8_t v) { buf_.push_back(v); }
  void boolean(bool v) { u32(v ? 1 : 0); }
  void u32(uint32_t v);
  void u64(uint64_t v);
  void string(std::string_view s);       // 's'
  void object_path(std::string_view s);  // 'o'
  void signature(std::string_view s);    // 'g'
  // An array: begin_array(alignment of the element type) returns what end_array needs to
  // fill in the byte length (padding before the first element not counted).
  struct Array {
    size_t length_at = 0, start = 0;
  };
  Array begin_array(size_t element_alignment);
  void end_array(Array a);
  void begin_struct() { align(8); }  // also dict entries
  const std::vector<uint8_t>& bytes() const { return buf_; }

 private:
  std::vector<uint8_t> buf_;
};

class Reader {
 public:
  // `base` is the offset of data[0] in the message (for alignment).
  explicit Reader(std::string_view data, size_t base = 0) : data_(data), base_(base) {}
  void align(size_t n);
  uint8_t byte();
  bool boolean() { return u32() != 0; }
  uint32_t u32();
  uint64_t u64();
  std::string string();  // 's' and 'o'
  std::string signature();
  // Returns the offset where the array ends; loop while pos() < end.
  size_t begin_array(size_t element_alignment);
  void begin_struct() { align(8); }
  size_t pos() const { return pos_; }
  bool at_end() const { return pos_ >= data_.size(); }
  // Skips one value of each complete type in `signature`.
  void skip(std::string_view signature);
  // A variant holding a string or object path ('s', 'o', 'g'); InvalidArgument otherwise.
  std::string variant_string();

 private:
  void need(size_t n) const;
  size_t skip_type(std::string_view sig, size_t i);  // returns the index after the type
  std::string_view data_;
  size_t base_ = 0;
  size_t pos_ = 0;
};

// The index just past the complete type starting at sig[i] ("a(sv)" from 0 -> 5).
size_t type_end(std::string_view sig, size_t i);
// Alignment of the first type in a signature ('(' and '{' -> 8, 's' -> 4, 'y' -> 1, ...).
size_t alignment_of(char type_code);

struct Message {
  Type type = Type::MethodCall;
  uint8_t flags = 0;
  uint32_t serial = 0;
  std::string path, interface, member, error_name, destination, sender, signature;
  uint32_t reply_serial = 0;
  std::vector<uint8_t> body;  // marshalled per `signature`
};

// The whole message: the 12-byte fixed header, the header fields a(yv), padding to 8, the body.
std::vector<uint8_t> encode(const Message& m);
// Parses one message from the front of `data`. Returns the bytes it took, or 0 when `data`
// holds only part of one. InvalidArgument for a malformed or big-endian message.
size_t decode(std::string_view data, Message& out);

Message method_call(std::string destination, std::string path, std::string interface, std::string member);

// An error reply: name() is the D-Bus error name ("org.freedesktop.systemd1.NoSuchUnit").
class CallError : public Error {
 public:
  CallError(std::string name, const std::string& message)
      : Error(ErrorKind::Syscall, name + ": " + message), name_(std::move(name)) {}
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

class Connection {
 public:
  // connect() the unix socket, AUTH EXTERNAL with the effective uid, BEGIN; with `hello`
  // (a bus daemon) also org.freedesktop.DBus.Hello. Syscall on failure (errno kept).
  static Connection open(const std::string& socket_path, bool hello);
  // Sends the call (serial assigned here) and returns its method return, skipping signals
  // and other traffic. Throws CallError for an error reply, Syscall on I/O errors or after
  // timeout_ms.
  Message call(Message m, int timeout_ms = 25000);
  const std::string& unique_name() const { return unique_name_; }

 private:
  explicit Connection(UniqueFd fd) : fd_(std::move(fd)) {}
  void send_all(const void* data, size_t size);
  std::string read_line(int timeout_ms);
  Message read_message(int timeout_ms);
  UniqueFd fd_;
  uint32_t next_serial_ = 1;
  std::string in_;  // received, not yet parsed
  std::string unique_name_;
};

}  // namespace ocirun::cgroups::dbus
