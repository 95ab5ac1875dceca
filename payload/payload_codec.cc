#include "payload/payload_codec.h"

#include <utility>

namespace kiln::payload {

CodecChain::CodecChain(std::vector<std::shared_ptr<const PayloadCodec>> codecs)
    : codecs_(std::move(codecs)) {}

absl::StatusOr<Payloads> CodecChain::Encode(Payloads payloads) const {
  for (const auto& codec : codecs_) {
    absl::StatusOr<Payloads> next = codec->Encode(std::move(payloads));
    if (!next.ok()) return next.status();
    payloads = *std::move(next);
  }
  return payloads;
}

absl::StatusOr<Payloads> CodecChain::Decode(Payloads payloads) const {
  for (auto it = codecs_.rbegin(); it != codecs_.rend(); ++it) {
    absl::StatusOr<Payloads> next = (*it)->Decode(std::move(payloads));
    if (!next.ok()) return next.status();
    payloads = *std::move(next);
  }
  return payloads;
}

}  // namespace kiln::payload
