// UTF-8 checks for strings that end up in JSON (state.json, the OCI state, log lines):
// JSON text is UTF-8, and nlohmann::json refuses to write anything else.
#pragma once
#include <string>
#include <string_view>

namespace ocirun::utf8 {

// Well-formed UTF-8 as RFC 3629 has it: no overlong forms, no surrogates, nothing past
// U+10FFFF (exactly what nlohmann::json's strict dump accepts).
bool valid(std::string_view s);

// `s` for an error message: each byte that is not part of a well-formed sequence becomes
// "\xNN", so the message itself stays valid UTF-8 and shows what was wrong.
std::string escape_invalid(std::string_view s);

}  // namespace ocirun::utf8
