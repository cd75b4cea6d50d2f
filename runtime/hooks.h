// OCI hooks: each run with its path, args, env and timeout, the container state
// JSON on stdin, in order. Output is captured and shown when a hook fails.
#pragma once
#include <string>
#include <vector>

#include "spec.h"

namespace ocirun::runtime {

// Runs the hooks of one phase ("createRuntime"); throws naming the phase, the hook
// and its output when one fails or times out. With `cwd`, each hook starts there (create
// gives the bundle to prestart and createRuntime, as runc does).
void run_hooks(const std::vector<spec::Hook>& hooks, const std::string& state_json, const char* phase,
               const std::string& cwd = "");
// The same for poststart/poststop, whose failures are warnings only.
void run_hooks_warn_only(const std::vector<spec::Hook>& hooks, const std::string& state_json, const char* phase);

}  // namespace ocirun::runtime
