// config.json -> spec::parse -> spec::validate, and the round trip through to_json.
// The contract (spec/parse.h): any input either parses or throws ocirun::Error;
// anything else escaping, a sanitizer report or a failed round trip is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "error.h"
#include "parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ocirun::spec::Spec spec;
  try {
    spec = ocirun::spec::parse(text);
  } catch (const ocirun::Error&) {
    return 0;
  }
  auto problems = ocirun::spec::validate(spec, /*need_process=*/true);
  ocirun::spec::validate(spec, /*need_process=*/false);
  // What ocirun writes it must read back, with the same verdict.
  ocirun::spec::Spec again = ocirun::spec::parse(ocirun::spec::to_json(spec));
  if (ocirun::spec::validate(again, true).size() != problems.size()) std::abort();
  return 0;
}
