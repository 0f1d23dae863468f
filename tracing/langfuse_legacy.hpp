// weft spans -> Langfuse's legacy batch ingestion API (/api/public/ingestion).
//
// For Langfuse servers without the OTLP endpoint. A request body is
//
//   {"batch":[event, ...], "metadata":{"batch_size":N, "sdk_name":"weft", ...}}
//
// where each event is an envelope {"id", "type", "timestamp", "body"}. The
// envelope id is a fresh UUID v4: Langfuse deduplicates on it, so a retried
// event (see subset_batch) keeps its id. The body id is the object's own id:
// the trace id in hex for traces, the span id in hex for observations, the
// same ids the OTLP endpoint would use, so both paths describe the same
// objects.
//
// Events per span:
//   - the run's root span (is_langfuse_root): a `trace-create` (id, name,
//     timestamp, sessionId, userId, input/output, environment, release,
//     metadata) and an observation event for the span itself;
//   - every span: `span-create`, or `generation-create` when its observation
//     type is a model call, "generation" or "embedding"
//     (langfuse_mapping.hpp), with id, traceId, parentObservationId
//     (omitted on the root), name, startTime, endTime, level "ERROR" and
//     statusMessage on failure, input/output (langfuse_observation_content:
//     GenAI messages or tool arguments and results, else weft.inputs /
//     weft.outputs), metadata (the span's other attributes) and environment.
//     Generations also get model, modelParameters, usageDetails,
//     costDetails and completionStartTime (langfuse_generation_fields, or
//     the span's own langfuse.observation.* values) when known.
//   - Agents and tools go as `span-create`. The ingestion API has had
//     `agent-create` and `tool-create` only since Langfuse's observation
//     types, which came after its OTLP endpoint, so the servers this encoder
//     exists for would refuse them; embeddings go as generations for the
//     same reason. Their gen_ai.* attributes (gen_ai.operation.name says
//     what they are) stay in the metadata.
// The GenAI content attributes (messages, system instructions, tool
// arguments and results) never go into the metadata: they are input and
// output, and leave only with content.
// Times are ISO-8601 UTC with microseconds ("2026-11-21T20:00:00.123456Z"),
// except a completionStartTime taken from the span's langfuse.* attribute
// (the sink maps spans first), which has add_langfuse_attributes' milliseconds.
// Inputs and outputs are sent only with langfuse_options::content; valid
// JSON text goes in as JSON, anything else as a string.
//
// Limits. Langfuse refuses batches over 3.5 MB. A string field (input,
// output, a metadata value, the status message, the name) longer than
// max_field_bytes is cut at a UTF-8 boundary and ends with
// "…[truncated by weft: kept K of N bytes]", and the event's metadata gets
// "weft.truncated": true. An event that still does not fit in a batch is
// encoded again with smaller field limits. Bodies are always valid JSON.
//
// Responses. The endpoint answers 207 Multi-Status with per-event results;
// parse_legacy_response() sorts them into retry / rejected / succeeded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tracing/langfuse_mapping.hpp"
#include "tracing/span.hpp"

namespace weft::tracing {

/// Encodes `spans` as request bodies, each at most max_batch_bytes long
/// (unless a single event cannot be made that small, which only happens for
/// a max_batch_bytes of a few KB). Empty input gives no bodies.
std::vector<std::string> encode_legacy_batches(const std::vector<span_record>& spans,
                                               const langfuse_options& options,
                                               std::size_t max_batch_bytes = 3'500'000,
                                               std::size_t max_field_bytes = 1'000'000);

/// What became of the events of one request.
struct legacy_result {
  /// Events to send again (with subset_batch): per-event errors with status
  /// 5xx or 429, events the response does not mention, or every event when
  /// the whole request failed with 5xx, 429 or 408 or got an unreadable 207.
  std::vector<std::string> retry_event_ids;
  /// Events Langfuse refused for good (other 4xx), as (event id, message).
  std::vector<std::pair<std::string, std::string>> rejected;
  std::size_t succeeded = 0;
};

/// Interprets the response to `request_body` (one of encode_legacy_batches'
/// bodies). A 2xx other than 207 means every event succeeded. For 207 the
/// body is {"successes":[{"id","status"}], "errors":[{"id","status",
/// "message","error"}]}. Other statuses apply to every event, as above.
legacy_result parse_legacy_response(long http_status, std::string_view body,
                                    const std::string& request_body);

/// A request body holding only the events of `request_body` whose envelope
/// id is in `event_ids` (in their original order, ids unchanged so Langfuse
/// can deduplicate), or "" when none match or request_body is not a batch.
std::string subset_batch(const std::string& request_body,
                         const std::vector<std::string>& event_ids);

/// Nanoseconds since the Unix epoch as ISO-8601 UTC with microseconds.
std::string iso8601_utc(std::uint64_t unix_ns);

/// A random UUID, version 4, in its 36-character text form.
std::string random_uuid_v4();

}  // namespace weft::tracing
