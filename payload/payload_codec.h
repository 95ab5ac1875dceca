// payload/payload_codec.h — `PayloadCodec`: a reversible transformation of already-converted
// payloads (encryption, compression), applied between the data converter and the wire, and
// `CodecChain`, which composes several codecs into one.
//
// Thread safety: codecs are immutable after construction; Encode/Decode may be called from any
// thread concurrently.
//
//   auto chain = std::make_shared<kiln::payload::CodecChain>(
//       std::vector<std::shared_ptr<const kiln::payload::PayloadCodec>>{compression, encryption});
//   absl::StatusOr<kiln::payload::Payloads> wire = chain->Encode(std::move(payloads));
//   absl::StatusOr<kiln::payload::Payloads> back = chain->Decode(*std::move(wire));
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "temporal/api/common/v1/message.pb.h"

namespace kiln::payload {

using Payload = ::temporal::api::common::v1::Payload;
using Payloads = ::temporal::api::common::v1::Payloads;

class PayloadCodec {
 public:
  virtual ~PayloadCodec() = default;

  // Encodes every payload (same count, same order). Errors: INTERNAL when the transformation
  // itself fails (e.g. the crypto library); never partially encodes.
  virtual absl::StatusOr<Payloads> Encode(Payloads payloads) const = 0;

  // Reverses Encode. Payloads this codec did not produce (by their `encoding` metadata) pass
  // through unchanged. Errors: INVALID_ARGUMENT for corrupt or tampered data, NOT_FOUND for an
  // unknown key id (the message names the id and what to configure).
  virtual absl::StatusOr<Payloads> Decode(Payloads payloads) const = 0;
};

// Applies codecs in list order on Encode (first codec first) and in reverse order on Decode, so
// {compress, encrypt} compresses and then encrypts. An empty chain is the identity.
class CodecChain : public PayloadCodec {
 public:
  explicit CodecChain(std::vector<std::shared_ptr<const PayloadCodec>> codecs);

  // PayloadCodec
  absl::StatusOr<Payloads> Encode(Payloads payloads) const override;
  absl::StatusOr<Payloads> Decode(Payloads payloads) const override;

 private:
  std::vector<std::shared_ptr<const PayloadCodec>> codecs_;
};

}  // namespace kiln::payload
