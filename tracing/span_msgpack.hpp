// Batches of span records <-> MessagePack, for the disk spool.
//
// The encoding is private to weft (only the spool reads it back), but it is
// versioned so that a spool written by one release can be replayed by the
// next. A batch is
//
//   [format_version, [span, span, ...]]
//
// Version 2 (spans with events or string-array attributes):
//   span = [trace_id (bin 16), span_id (uint), parent (uint), name (str),
//           kind (int), start_unix_ns (uint), end_unix_ns (uint),
//           status (int), status_message (str), attributes,
//           trace_state (str, "" for none), [event, ...]]
//   event = [name (str), time_unix_ns (uint), attributes]
//   attributes = [[key (str), value], ...]
//
// Version 1: the same span without events, with trace_state optional (it
// came later as an 11th field, written only when not empty), and without
// array values. It is still read, so a spool written by an older weft
// replays after an upgrade; and it is still written for every batch that
// needs nothing of version 2 (nearly all of them), so an older weft can
// replay those after a downgrade. It refuses a version 2 batch by its
// version rather than misreading it.
//
// Attribute values keep their variant alternative through the MessagePack
// type: str -> std::string, int -> std::int64_t, float 64 -> double,
// bool -> bool, array of str -> std::vector<std::string> (version 2 only).
// Doubles are always written as float 64, even integral ones
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

/// The newest batch format version, which encode_span_batch writes when a
/// span of the batch has events or string arrays (version 1 otherwise).
inline constexpr unsigned span_msgpack_version = 2;

/// Appends the MessagePack encoding of `batch` to `out`.
void encode_span_batch(std::string& out, const std::vector<span_record>& batch);

/// The same, as a fresh string.
std::string encode_span_batch(const std::vector<span_record>& batch);

/// Decodes one batch that encode_span_batch wrote. `data` must hold exactly
/// one batch (trailing bytes are an error). On any problem (truncation, a
/// wrong type, a version other than 1 or 2, out-of-range enums) returns false, sets
/// `error` and leaves `batch` empty. Never throws, and never allocates more
/// than a small multiple of data.size(), whatever the bytes claim.
bool decode_span_batch(std::string_view data, std::vector<span_record>& batch, std::string* error);

}  // namespace weft::tracing
