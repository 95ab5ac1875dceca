// `--input`, `--input-file` and `--input-meta` build the activity input as the temporal CLI does.
#include "cli/activity_input.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::cli {
namespace {

using ::testing::HasSubstr;

class ActivityInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kiln-input-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return (dir_ / name).string();
  }

  std::filesystem::path dir_;
  payload::DataConverter converter_;
};

TEST_F(ActivityInputTest, InputsAreJsonPayloadsInOrder) {
  auto p = BuildActivityInput({.inputs = {"\"model-a\"", "{\"epochs\": 3}"}}, converter_);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->payloads_size(), 2);
  EXPECT_EQ(p->payloads(0).metadata().at("encoding"), "json/plain");
  EXPECT_EQ(*converter_.FromPayloads<std::string>(*p, 0), "model-a");
  EXPECT_EQ(converter_.FromPayloads<nlohmann::json>(*p, 1)->at("epochs"), 3);
}

TEST_F(ActivityInputTest, EachInputFileIsOneArgument) {
  std::string a = Write("a.json", "{\"rows\": [1, 2, 3]}\n");
  std::string b = Write("b.json", "\"second\"");
  auto p = BuildActivityInput({.input_files = {a, b}}, converter_);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->payloads_size(), 2);
  EXPECT_EQ(converter_.FromPayloads<nlohmann::json>(*p, 0)->at("rows").size(), 3u);
  EXPECT_EQ(*converter_.FromPayloads<std::string>(*p, 1), "second");
}

TEST_F(ActivityInputTest, MetaEncodingSendsOtherDataAsIs) {
  std::string bin = Write("blob.bin", std::string("\x00\x01\xfe not json", 12));
  auto p = BuildActivityInput({.input_files = {bin}, .meta = {"encoding=binary/plain"}},
                              converter_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->payloads(0).metadata().at("encoding"), "binary/plain");
  EXPECT_EQ(p->payloads(0).data(), std::string("\x00\x01\xfe not json", 12));
}

TEST_F(ActivityInputTest, AKeyGivenOnceAppliesToAllAndRepeatedKeysApplyInOrder) {
  auto p = BuildActivityInput({.inputs = {"1", "raw text"},
                               .meta = {"team=vision", "encoding=json/plain",
                                        "encoding=binary/plain"}},
                              converter_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->payloads(0).metadata().at("team"), "vision");
  EXPECT_EQ(p->payloads(1).metadata().at("team"), "vision");
  EXPECT_EQ(p->payloads(0).metadata().at("encoding"), "json/plain");
  EXPECT_EQ(p->payloads(1).metadata().at("encoding"), "binary/plain");
  EXPECT_EQ(p->payloads(1).data(), "raw text");
}

TEST_F(ActivityInputTest, MistakesNameTheFlagAndWhatToDo) {
  auto both = BuildActivityInput({.inputs = {"1"}, .input_files = {Write("x", "2")}}, converter_);
  EXPECT_THAT(both.status().message(), HasSubstr("--input and --input-file cannot be combined"));
  auto missing = BuildActivityInput({.input_files = {(dir_ / "nope.json").string()}}, converter_);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.json' cannot be read"));
  auto not_json = BuildActivityInput({.input_files = {Write("t.txt", "hello")}}, converter_);
  EXPECT_EQ(not_json.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(not_json.status().message(), HasSubstr("t.txt' is not valid JSON"));
  EXPECT_THAT(not_json.status().message(), HasSubstr("--input-meta encoding=binary/plain"));
  auto bad_meta = BuildActivityInput({.inputs = {"1"}, .meta = {"encoding"}}, converter_);
  EXPECT_THAT(bad_meta.status().message(), HasSubstr("--input-meta 'encoding' is not KEY=VALUE"));
  auto too_many = BuildActivityInput({.inputs = {"1"}, .meta = {"k=a", "k=b"}}, converter_);
  EXPECT_THAT(too_many.status().message(), HasSubstr("--input-meta k is given 2 times for 1"));
}

}  // namespace
}  // namespace kiln::cli
