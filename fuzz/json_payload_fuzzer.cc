// fuzz/json_payload_fuzzer.cc — libFuzzer target: the JSON payload paths of the CLI.
// The first byte picks one:
//   0  `kiln activity start|execute --input/--input-meta` (cli/activity_input.h), with the inputs
//      and metadata taken from the input: an error is INVALID_ARGUMENT; every json/plain payload
//      the CLI accepts decodes as JSON on the worker's side (payload::DataConverter) to the value
//      the CLI parsed.
//   1  payloads from the wire as `kiln activity describe|result` print them (cli/client_output.h
//      PayloadsToJson, then dump as the commands do): whatever a worker or another SDK stored
//      (any data, any metadata bytes), printing never throws.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/activity_input.h"
#include "cli/client_output.h"
#include "nlohmann/json.hpp"
#include "payload/data_converter.h"

namespace {

using namespace kiln;  // NOLINT: a fuzzer entry point

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "JSON payload fuzzer: %s\n", what.c_str());
  std::abort();
}

void CliInput(FuzzedDataProvider& in, const payload::DataConverter& converter) {
  cli::ActivityInputFlags flags;
  for (int n = in.ConsumeIntegralInRange(0, 3); n > 0; --n) {
    flags.meta.push_back(in.ConsumeRandomLengthString(40));
  }
  while (in.remaining_bytes() > 0) flags.inputs.push_back(in.ConsumeRandomLengthString(2000));
  auto built = cli::BuildActivityInput(flags, converter);
  if (!built.ok()) {
    if (built.status().code() != absl::StatusCode::kInvalidArgument) Fail("not INVALID_ARGUMENT");
    return;
  }
  if (built->payloads_size() != static_cast<int>(flags.inputs.size())) Fail("inputs lost");
  for (int i = 0; i < built->payloads_size(); ++i) {
    const payload::Payload& p = built->payloads(i);
    if (payload::EncodingOf(p) != payload::kEncodingJson) continue;
    auto json = converter.FromPayload<nlohmann::json>(p);
    if (!json.ok()) Fail("the CLI sent JSON the worker cannot read: " + json.status().ToString());
    if (*json != nlohmann::json::parse(flags.inputs[static_cast<size_t>(i)])) Fail("JSON changed");
  }
  (void)cli::PayloadsToJson(*built, converter).dump(2);
}

void Print(FuzzedDataProvider& in, const payload::DataConverter& converter) {
  const std::string wire = in.ConsumeRemainingBytesAsString();
  payload::Payloads payloads;
  if (!payloads.ParseFromString(wire)) return;
  try {
    (void)cli::PayloadsToJson(payloads, converter).dump(2);
  } catch (const nlohmann::json::exception& e) {
    Fail(std::string("printing payloads throws: ") + e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const payload::DataConverter converter;
  if (in.ConsumeIntegralInRange(0, 1) == 0) {
    CliInput(in, converter);
  } else {
    Print(in, converter);
  }
  return 0;
}
