// Server-Sent Events, parsed incrementally as the body arrives.
//
// A streamed chat reply is an event stream (the WHATWG HTML "event stream"
// format): lines of `field: value`, events ended by a blank line, comments
// starting with ':'. The bytes come from the HTTP client in whatever pieces
// the network made, so a line, a field name, a CR LF pair or a UTF-8
// character may be split anywhere; the parser keeps what it has not yet seen
// the end of, and hands over each event once its blank line arrives.
//
//   sse_parser p;
//   p.feed("data: {\"a\"", on_event);   // nothing yet
//   p.feed(": 1}\n\n", on_event);        // on_event({"message", "{\"a\": 1}", ""})
//
// Lines end with LF, CR LF or a lone CR. A `data` field's value joins the
// event's data with "\n" between values; one space after the colon is
// dropped. An event with no data is not dispatched. A leading UTF-8 byte
// order mark is skipped. `retry` is ignored (the client does not reconnect).
//
// Bounded: an event larger than `max_event_bytes` (line and data together)
// fails the stream instead of growing a buffer for a server that never
// sends a blank line.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace weft::components {

struct sse_event {
  std::string type = "message";  // the `event` field, if any
  std::string data;
  std::string id;
};

class sse_parser {
 public:
  explicit sse_parser(std::size_t max_event_bytes = 1 << 20) : max_event_bytes_(max_event_bytes) {}

  /// Parses `bytes`, calling `on_event` for each event it completes, in
  /// order. Returns false (and stops) when an event outgrows the bound or
  /// `on_event` returns false; every later call then returns false too.
  bool feed(std::string_view bytes, const std::function<bool(const sse_event&)>& on_event);

  /// Bytes of an unfinished line or event held back: not zero at the end of
  /// a body means the stream stopped mid-event.
  std::size_t pending_bytes() const { return bom_held_.size() + line_.size() + event_.data.size(); }
  bool failed() const { return failed_; }

 private:
  bool line_done(const std::function<bool(const sse_event&)>& on_event);

  std::size_t max_event_bytes_;
  std::string bom_held_;
  std::string line_;
  sse_event event_;
  bool has_data_ = false;
  bool after_cr_ = false;  // the last byte was a CR: a following LF is part of it
  bool started_ = false;   // past a possible byte order mark
  bool failed_ = false;
};

}  // namespace weft::components
