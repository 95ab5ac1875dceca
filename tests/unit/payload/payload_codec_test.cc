#include "payload/payload_codec.h"

#include <string>

#include "gtest/gtest.h"

namespace kiln::payload {
namespace {

// Appends its tag to each payload's data on Encode and strips it on Decode (checking it).
class TagCodec : public PayloadCodec {
 public:
  explicit TagCodec(std::string tag) : tag_(std::move(tag)) {}
  absl::StatusOr<Payloads> Encode(Payloads payloads) const override {
    for (Payload& p : *payloads.mutable_payloads()) p.set_data(p.data() + tag_);
    return payloads;
  }
  absl::StatusOr<Payloads> Decode(Payloads payloads) const override {
    for (Payload& p : *payloads.mutable_payloads()) {
      const std::string& d = p.data();
      if (d.size() < tag_.size() || d.substr(d.size() - tag_.size()) != tag_) {
        return absl::InvalidArgumentError("expected tag " + tag_ + " at the end of " + d);
      }
      p.set_data(d.substr(0, d.size() - tag_.size()));
    }
    return payloads;
  }

 private:
  std::string tag_;
};

TEST(CodecChainTest, EncodesInListOrderAndDecodesInReverse) {
  CodecChain chain({std::make_shared<TagCodec>("A"), std::make_shared<TagCodec>("B")});
  Payloads in;
  in.add_payloads()->set_data("x");
  absl::StatusOr<Payloads> encoded = chain.Encode(in);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(encoded->payloads(0).data(), "xAB");
  absl::StatusOr<Payloads> decoded = chain.Decode(*encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->payloads(0).data(), "x");
}

TEST(CodecChainTest, StopsAtTheFirstDecodeError) {
  CodecChain chain({std::make_shared<TagCodec>("A")});
  Payloads in;
  in.add_payloads()->set_data("no tag");
  EXPECT_EQ(chain.Decode(in).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CodecChainTest, EmptyChainIsTheIdentity) {
  CodecChain chain({});
  Payloads in;
  in.add_payloads()->set_data("x");
  EXPECT_EQ(chain.Encode(in)->payloads(0).data(), "x");
}

}  // namespace
}  // namespace kiln::payload
