// Batches of span records <-> MessagePack, for the disk spool.
//
// The encoding is private to weft (only the spool reads it back), but it is
// versioned so that a spool written by one release can be replayed by the
// next. A batch is
//
//   [format_version, [span, span, ...]]
//   span = [trace_id (bin 16), span_id (uint), parent (uint), name (str),
//           kind (int), start_unix_ns (uint), end_unix_ns (uint),
//           status (int), status_message (str), [[key, value], ...],
//           trace_state (str, optional)]
//
// trace_state came later, as an 11th field at the end, so the version did
// not change: it is written only when it is not empty, and a span of 10
// fields reads as one without it. Spools written before it existed replay
// as they are, and spans without a tracestate (nearly all) stay readable by
// a release from before it.
//
// Attribute values keep their variant alternative through the MessagePack
// type: str -> std::string, int -> std::int64_t, float 64 -> double,
// bool -> bool. Doubles are always written as float 64, even integral ones
// (msgpack-c's packer would turn 2.0 into the integer 2 and lose -0.0), so
// every value round-trips bit for bit, NaN payloads included. Strings are
// stored as raw bytes: invalid UTF-8 also comes back unchanged.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tracing/span.hpp"

namespace weft::tracing {

/// The batch format version that encode_span_batch writes.
inline constexpr unsigned span_msgpack_version = 1;

/// Appends the MessagePack encoding of `batch` to `out`.
void encode_span_batch(std::string& out, const std::vector<span_record>& batch);

/// The same, as a fresh string.
std::string encode_span_batch(const std::vector<span_record>& batch);

/// Decodes one batch that encode_span_batch wrote. `data` must hold exactly
/// one batch (trailing bytes are an error). On any problem (truncation, a
/// wrong type, an unknown version, out-of-range enums) returns false, sets
/// `error` and leaves `batch` empty. Never throws, and never allocates more
/// than a small multiple of data.size(), whatever the bytes claim.
bool decode_span_batch(std::string_view data, std::vector<span_record>& batch, std::string* error);

}  // namespace weft::tracing
