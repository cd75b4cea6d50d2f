// config.json -> spec::Spec, and the pure checks on the result.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "spec.h"

namespace ocirun::spec {

// Parses a config.json document. No IO. Throws ocirun::Error(ErrorKind::InvalidSpec)
// whose message names the JSON path of the bad field, e.g.
//   "config.json: /process/args/0: expected string, got number".
// Unknown fields are ignored (the spec allows extensions).
Spec parse(std::string_view json);

// Parses a document holding one Process object (exec --process FILE). Errors name
// `document` and the field's path inside the process: "--process p.json: /user/uid: ...".
Process parse_process(std::string_view json, const std::string& document);

// The text of <bundle>/config.json; the error names the file.
std::string read_config(const std::string& bundle_dir);
// read_config, parsed.
Spec load(const std::string& bundle_dir);

// Serializes back to config.json JSON (used by `ocirun spec` and round-trip tests).
std::string to_json(const Spec& spec);

struct Problem {
  std::string field;    // JSON path: "/linux/namespaces/2/type"
  std::string message;  // "unknown namespace type \"foo\""
};

// Pure checks (no host access): required fields, absolute paths, known names,
// duplicate namespaces, mappings only with a user namespace, ...
// `need_process`: create/run require `process`; other uses do not.
std::vector<Problem> validate(const Spec& spec, bool need_process);

// Throws InvalidSpec with the first problem ("/process/cwd: must be an absolute path").
void validate_or_throw(const Spec& spec, bool need_process);

// The default config.json written by `ocirun spec`, with runc spec's defaults. As runc, it
// asks for a cgroup namespace only on a pure cgroup v2 host (`cgroup_namespace`): on a v1 or
// hybrid host `exec` and `delete` of a container in its own cgroup namespace would differ from runc.
Spec default_spec(bool rootless, bool cgroup_namespace);

}  // namespace ocirun::spec
