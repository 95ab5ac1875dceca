// <kiln/payload.h> — how activity arguments and results travel: JSON by default
// (payload::DataConverter, set as WorkerOptions::data_converter to add a codec such as AES-GCM),
// and kiln::ApplicationError for failures with a type, details and retry meaning.
// See docs/SDK.md.
#pragma once

#include "payload/aes_gcm_codec.h"
#include "payload/application_error.h"
#include "payload/data_converter.h"
