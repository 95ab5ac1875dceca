// fuzz/quiet_logging.cc — linked into every libFuzzer target: logging off before the first input
// (spdlog, and protobuf's complaints about bad UTF-8 in parsed strings), so that the code under
// test does not spend the fuzzer's time writing log lines.
#include "google/protobuf/stubs/logging.h"
#include "spdlog/spdlog.h"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  spdlog::set_level(spdlog::level::off);
  static google::protobuf::LogSilencer quiet_protobuf;  // for the life of the process
  return 0;
}
