// Internal to spec/: JSON-pointer (RFC 6901) path pieces used in error messages.
#pragma once
#include <string>
#include <string_view>

namespace ocirun::spec {

// "/"-prefixed reference token for an object key: '~' -> "~0", '/' -> "~1".
inline std::string pointer_token(std::string_view key) {
  std::string out = "/";
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

inline std::string pointer_token(size_t index) { return "/" + std::to_string(index); }

}  // namespace ocirun::spec
