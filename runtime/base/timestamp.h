// Time stamps as ocirun writes them: the OCI state's "created" and the log's "time".
#pragma once
#include <string>

namespace ocirun {

// The current time, UTC, RFC 3339 with nanoseconds: "2024-01-02T03:04:05.123456789Z".
std::string now_rfc3339();

}  // namespace ocirun
