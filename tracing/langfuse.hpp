// Langfuse support, for the exporter's Langfuse sink.
//
// Two ways in, one per Langfuse endpoint:
//   - OTLP (/api/public/otel/v1/traces, Langfuse 3.x): encode with
//     otlp_json.hpp after add_langfuse_attributes() (langfuse_mapping.hpp).
//   - Legacy batch ingestion (/api/public/ingestion), for older servers:
//     encode_legacy_batches() and parse_legacy_response()
//     (langfuse_legacy.hpp).
// Both describe a run the same way: one trace (id = the run's trace id) whose
// observations are the run's spans (id = span id).
#pragma once

#include "tracing/langfuse_legacy.hpp"
#include "tracing/langfuse_mapping.hpp"
