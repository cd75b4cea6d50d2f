// `ocirun events` (runc's JSON event stream) and `ocirun stats` (a human one-shot view).
#pragma once
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "cgroups.h"
#include "state.h"

namespace ocirun::cli {

// Go's time.ParseDuration syntax as runc's --interval takes it: "5s", "100ms", "1m30s",
// "1.5s", "250us"/"250µs", "10ns", "2h". InvalidArgument otherwise.
std::chrono::nanoseconds parse_duration(const std::string& flag, const std::string& text);

// runc's types.Stats as JSON (types/events.go), in runc's field order and with Go's
// omitempty rules: zero numbers and empty lists tagged omitempty are left out.
nlohmann::ordered_json stats_json(const cgroups::Stats&);

// events: with `stats_once`, one {"type":"stats","id":ID,"data":{...}} line and exit.
// Otherwise a stats line every `interval` and an {"type":"oom","id":ID} line each time the
// OOM killer kills in the container's cgroup, until the container stops. Stopped or
// cgroup-less containers are refused.
int events_command(const runtime::StateStore& store, const std::string& id, bool stats_once,
                   std::chrono::nanoseconds interval);

// stats: CPU % over `sample`, memory used / limit, pids, block I/O, as aligned lines.
int stats_command(const runtime::StateStore& store, const std::string& id, std::chrono::nanoseconds sample);

}  // namespace ocirun::cli
