#include "payload/failure_converter.h"

#include <stdexcept>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "payload/aes_gcm_codec.h"

namespace kiln::payload {
namespace {

using ::testing::HasSubstr;

Failure Thrown(auto&& throw_it, const DataConverter& converter = DataConverter()) {
  try {
    throw_it();
  } catch (...) {
    return ExceptionToFailure(std::current_exception(), converter);
  }
  return Failure();
}

TEST(FailureConverterTest, ApplicationErrorCarriesTypeFlagsDetailsAndDelay) {
  Failure f = Thrown([] {
    throw kiln::ApplicationError("file empty", "EmptyInput")
        .NonRetryable()
        .WithNextRetryDelay(absl::Milliseconds(1500))
        .WithDetails(std::string("s3://b/in.csv"), 0);
  });
  EXPECT_EQ(f.message(), "file empty");
  EXPECT_EQ(f.source(), "KilnCpp");
  ASSERT_TRUE(f.has_application_failure_info());
  const auto& info = f.application_failure_info();
  EXPECT_EQ(info.type(), "EmptyInput");
  EXPECT_TRUE(info.non_retryable());
  EXPECT_EQ(info.next_retry_delay().seconds(), 1);
  EXPECT_EQ(info.next_retry_delay().nanos(), 500'000'000);
  ASSERT_EQ(info.details().payloads_size(), 2);
  EXPECT_EQ(info.details().payloads(0).data(), "\"s3://b/in.csv\"");
}

TEST(FailureConverterTest, StandardExceptionIsRetryableWithItsTypeName) {
  Failure f = Thrown([] { throw std::out_of_range("index 7"); });
  EXPECT_EQ(f.message(), "index 7");
  EXPECT_EQ(f.application_failure_info().type(), "std::out_of_range");
  EXPECT_FALSE(f.application_failure_info().non_retryable());
}

TEST(FailureConverterTest, NonStandardExceptionStillBecomesAFailure) {
  Failure f = Thrown([] { throw 42; });
  EXPECT_EQ(f.application_failure_info().type(), "UnknownException");
}

TEST(FailureConverterTest, StatusCodesMapToRetryability) {
  Failure bad = StatusToFailure(absl::FailedPreconditionError("no GPU"));
  EXPECT_EQ(bad.application_failure_info().type(), "FAILED_PRECONDITION");
  EXPECT_TRUE(bad.application_failure_info().non_retryable());
  EXPECT_FALSE(StatusToFailure(absl::UnavailableError("x")).application_failure_info()
                   .non_retryable());
}

TEST(FailureConverterTest, DetailsAreEncryptedWithTheCodecAndDecodedBack) {
  auto codec = AesGcmCodec::Create({{"k", std::string(32, 'q')}});
  DataConverter converter({.codec = *codec});
  Failure f = Thrown([] { throw kiln::ApplicationError("m", "T").WithDetails(std::string("pii")); },
                     converter);
  const Payload& wire = f.application_failure_info().details().payloads(0);
  EXPECT_EQ(wire.metadata().at("encoding"), "binary/encrypted");
  ApplicationError back = FailureToApplicationError(f, converter);
  EXPECT_EQ(back.type(), "T");
  EXPECT_EQ(*DataConverter().FromPayloads<std::string>(back.details(), 0), "pii");
}

TEST(FailureConverterTest, ApplicationFailureRoundTrips) {
  DataConverter converter;
  Failure f = ApplicationErrorToFailure(
      ApplicationError("boom", "Kaput").NonRetryable().WithNextRetryDelay(absl::Seconds(3)),
      converter);
  ApplicationError e = FailureToApplicationError(f, converter);
  EXPECT_EQ(e.message(), "boom");
  EXPECT_EQ(e.type(), "Kaput");
  EXPECT_TRUE(e.non_retryable());
  EXPECT_EQ(e.next_retry_delay(), absl::Seconds(3));
}

TEST(FailureConverterTest, DescribeShowsKindTypeDetailsAndCauses) {
  DataConverter converter;
  Failure outer;
  outer.set_message("activity timed out");
  outer.mutable_timeout_failure_info()->set_timeout_type(
      ::temporal::api::enums::v1::TIMEOUT_TYPE_HEARTBEAT);
  *outer.mutable_cause() = ApplicationErrorToFailure(
      ApplicationError("disk full", "IOError").NonRetryable().WithDetails(7), converter);
  outer.mutable_cause()->set_stack_trace("at a\nat b");
  std::string text = DescribeFailure(outer, converter);
  EXPECT_THAT(text, HasSubstr("TimeoutFailure(TIMEOUT_TYPE_HEARTBEAT): activity timed out"));
  EXPECT_THAT(text, HasSubstr("caused by:\n  ApplicationFailure(type=IOError, non_retryable): "
                              "disk full"));
  EXPECT_THAT(text, HasSubstr("    at a\n    at b"));
  EXPECT_THAT(text, HasSubstr("details: 7"));
}

TEST(FailureConverterTest, DescribeUsesEncodedAttributesWhenPresent) {
  DataConverter converter;
  Failure f;
  f.set_message("Encoded failure");
  *f.mutable_encoded_attributes() =
      *converter.ToPayload(nlohmann::json{{"message", "real message"}, {"stack_trace", ""}});
  EXPECT_THAT(DescribeFailure(f, converter), HasSubstr("real message"));
}

}  // namespace
}  // namespace kiln::payload
