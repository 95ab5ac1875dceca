// cli/activity_input.h — the activity input of `kiln activity start|execute`, as the `temporal`
// CLI takes it: `--input` JSON values or `--input-file` paths (one argument each, in order; not
// both), and `--input-meta KEY=VALUE` payload metadata. A key given once applies to every input;
// a key given several times applies its values to the inputs in order. `encoding` defaults to
// json/plain, whose data must be valid JSON; any other encoding (e.g. binary/plain) sends the
// bytes as given. The payload codec (--codec-key) is applied last.
//
//   absl::StatusOr<payload::Payloads> input =
//       BuildActivityInput({.inputs = {"42"}, .meta = {"encoding=json/plain"}}, converter);
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "payload/data_converter.h"

namespace kiln::cli {

struct ActivityInputFlags {
  std::vector<std::string> inputs{};       // --input, JSON text
  std::vector<std::string> input_files{};  // --input-file, paths
  std::vector<std::string> meta{};         // --input-meta, KEY=VALUE
};

// Errors: INVALID_ARGUMENT for --input with --input-file, a file that cannot be read (naming
// it), --input-meta without '=' or with an empty key, more values of a key than inputs, and
// json/plain data that is not JSON (naming the flag and the value or file).
absl::StatusOr<payload::Payloads> BuildActivityInput(const ActivityInputFlags& flags,
                                                     const payload::DataConverter& converter);

}  // namespace kiln::cli
