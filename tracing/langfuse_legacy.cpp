// Langfuse legacy batch ingestion (see langfuse_legacy.hpp).
#include "tracing/langfuse_legacy.hpp"

#include <time.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "tracing/otlp_json.hpp"

namespace weft::tracing {
namespace {

using nlohmann::json;

// The smallest field limit the shrinking of an oversized event goes down to.
constexpr std::size_t min_field_bytes = 64;
// Metadata integers beyond 2^53 lose precision in JavaScript, so they go as
// strings.
constexpr std::int64_t max_exact_json_int = std::int64_t{1} << 53;

bool is_excluded_from_metadata(std::string_view key) {
  // These become fields of their own (or are Langfuse instructions already
  // reflected in the fields). The GenAI content keys go only into
  // input/output, and only with content: in the metadata they would leak
  // user data when content is off.
  return key == "weft.inputs" || key == "weft.outputs" || key == "session.id" || key == "user.id" ||
         key.starts_with("langfuse.") || is_genai_content_key(key);
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r'))
    s.remove_prefix(1);
  return s;
}

// The longest prefix of s of at most `limit` bytes that does not end inside
// a UTF-8 sequence.
std::size_t utf8_prefix(std::string_view s, std::size_t limit) {
  if (s.size() <= limit) return s.size();
  std::size_t n = limit;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

// Writes the string fields of one event, applying the field limit and
// remembering whether anything was cut (for the metadata flag).
struct field_writer {
  std::size_t limit;
  bool truncated = false;

  void string(std::string& out, std::string_view s) {
    if (s.size() <= limit) {
      append_json_string(out, s);
      return;
    }
    truncated = true;
    std::string cut(s.substr(0, utf8_prefix(s, limit)));
    cut += "\xE2\x80\xA6[truncated by weft: kept " + std::to_string(cut.size()) + " of " +
           std::to_string(s.size()) + " bytes]";
    append_json_string(out, cut);
  }

  // Inputs and outputs are JSON text; they go in as JSON when they are valid
  // JSON (nlohmann's parser also checks the UTF-8) and fit, else as a string.
  void content(std::string& out, std::string_view text) {
    if (text.size() <= limit && json::accept(text)) out.append(text);
    else string(out, text);
  }
};

void append_key(std::string& out, std::string_view key) {
  append_json_string(out, key);
  out += ':';
}

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    append_json_string(out, std::isnan(d) ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"));
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, end);
}

// A string array goes as a JSON array; its items are cut like any string,
// and once the metadata object (which starts at `start`) has outgrown the
// field limit the remaining items are left out and counted in a last item,
// so that no array can make an event unbounded.
void append_value(std::string& out, const attribute_value& v, field_writer& fields,
                  std::size_t start) {
  if (auto* s = std::get_if<std::string>(&v)) {
    fields.string(out, *s);
  } else if (auto* i = std::get_if<std::int64_t>(&v)) {
    if (*i > max_exact_json_int || *i < -max_exact_json_int)
      append_json_string(out, std::to_string(*i));
    else out += std::to_string(*i);
  } else if (auto* d = std::get_if<double>(&v)) {
    append_double(out, *d);
  } else if (auto* b = std::get_if<bool>(&v)) {
    out += *b ? "true" : "false";
  } else {
    const auto& items = std::get<std::vector<std::string>>(v);
    out += '[';
    for (std::size_t k = 0; k < items.size(); ++k) {
      if (k) out += ',';
      if (out.size() - start > fields.limit) {
        fields.truncated = true;
        append_json_string(out,
                           "[weft: " + std::to_string(items.size() - k) + " more items left out]");
        break;
      }
      fields.string(out, items[k]);
    }
    out += ']';
  }
}

// "key":value pairs of `attributes` (less those that have fields of their
// own when `skip_excluded`), as long as the metadata object stays within the
// field limit; returns how many were left out.
std::size_t append_attribute_members(std::string& out, const std::vector<attribute>& attributes,
                                     field_writer& fields, std::size_t start, bool skip_excluded,
                                     bool& first) {
  std::size_t dropped = 0;
  for (const attribute& a : attributes) {
    if (skip_excluded && is_excluded_from_metadata(a.key)) continue;
    if (out.size() - start > fields.limit) {
      ++dropped;
      continue;
    }
    if (!first) out += ',';
    first = false;
    fields.string(out, a.key);
    out += ':';
    append_value(out, a.value, fields, start);
  }
  return dropped;
}

// "weft.events":[{"name","time","attributes":{...}}, ...]: the legacy API
// has no span events, so they ride in the metadata, bounded like the rest.
std::size_t append_events(std::string& out, const span_record& span, field_writer& fields,
                          std::size_t start) {
  append_key(out, "weft.events");
  out += '[';
  std::size_t dropped = 0;
  bool first_event = true;
  for (const span_event& e : span.events) {
    if (out.size() - start > fields.limit) {
      ++dropped;
      continue;
    }
    if (!first_event) out += ',';
    first_event = false;
    out += "{\"name\":";
    fields.string(out, e.name);
    out += ",\"time\":";
    append_json_string(out, iso8601_utc(e.time_unix_ns));
    out += ",\"attributes\":{";
    bool first = true;
    const std::size_t left_out =
        append_attribute_members(out, e.attributes, fields, start, false, first);
    if (left_out > 0) {
      fields.truncated = true;
      out += first ? "" : ",";
      out += "\"weft.dropped_attributes\":" + std::to_string(left_out);
    }
    out += "}}";
  }
  out += ']';
  return dropped;
}

// "metadata":{...}: the attributes that have no field of their own, then the
// span's events. The whole object is bounded by the field limit too; keys
// and events beyond it are counted.
void append_metadata(std::string& out, const span_record& span, field_writer& fields) {
  append_key(out, "metadata");
  out += '{';
  const std::size_t start = out.size();
  bool first = true;
  const std::size_t dropped =
      append_attribute_members(out, span.attributes, fields, start, true, first);
  std::size_t dropped_events = 0;
  if (!span.events.empty()) {
    out += first ? "" : ",";
    first = false;
    dropped_events = append_events(out, span, fields, start);
  }
  if (dropped > 0) {
    fields.truncated = true;
    out += first ? "" : ",";
    out += "\"weft.dropped_metadata_keys\":" + std::to_string(dropped);
    first = false;
  }
  if (dropped_events > 0) {
    fields.truncated = true;
    out += first ? "" : ",";
    out += "\"weft.dropped_events\":" + std::to_string(dropped_events);
    first = false;
  }
  if (fields.truncated) out += first ? "\"weft.truncated\":true" : ",\"weft.truncated\":true";
  out += '}';
}

void append_envelope_start(std::string& out, std::string_view type, const std::string& now) {
  out += "{\"id\":\"";
  out += random_uuid_v4();
  out += "\",\"type\":\"";
  out += type;
  out += "\",\"timestamp\":\"";
  out += now;
  out += "\",\"body\":{";
}

void append_string_field(std::string& out, std::string_view key, std::string_view value,
                         field_writer& fields) {
  out += ',';
  append_key(out, key);
  fields.string(out, value);
}

void append_plain_field(std::string& out, std::string_view key, std::string_view value) {
  out += ',';
  append_key(out, key);
  append_json_string(out, value);
}

void append_content(std::string& out, const std::string* input, const std::string* output,
                    field_writer& fields) {
  if (input) {
    out += ",\"input\":";
    fields.content(out, *input);
  }
  if (output) {
    out += ",\"output\":";
    fields.content(out, *output);
  }
}

std::string trace_name(const span_record& span) {
  if (const std::string* n = string_attribute(span, "langfuse.trace.name")) return *n;
  if (const std::string* n = string_attribute(span, "weft.flow.name")) return *n;
  return span.name;
}

std::string encode_trace_event(const span_record& span, const langfuse_options& o,
                               const std::string& now, std::size_t field_limit) {
  field_writer fields{field_limit};
  std::string out;
  append_envelope_start(out, "trace-create", now);
  append_key(out, "id");
  append_json_string(out, span.trace.to_hex());
  append_plain_field(out, "timestamp", iso8601_utc(span.start_unix_ns));
  append_string_field(out, "name", trace_name(span), fields);
  if (const std::string* v = string_attribute(span, "session.id"))
    append_string_field(out, "sessionId", *v, fields);
  if (const std::string* v = string_attribute(span, "user.id"))
    append_string_field(out, "userId", *v, fields);
  if (o.content)
    append_content(out, string_attribute(span, "weft.inputs"),
                   string_attribute(span, "weft.outputs"), fields);
  if (!o.environment.empty()) append_plain_field(out, "environment", o.environment);
  if (!o.release.empty()) append_plain_field(out, "release", o.release);
  out += ',';
  append_metadata(out, span, fields);
  out += "}}";
  return out;
}

// A JSON object field: the span's own langfuse.* attribute when it holds a
// JSON object (a component's explicit choice, as on the OTLP path), else
// what weft derived. It goes in as JSON, so it cannot be cut like a string:
// one over the field limit is left out (and the event marked truncated).
void append_object_field(std::string& out, std::string_view key, const span_record& span,
                         std::string_view own_key, const std::string& derived,
                         field_writer& fields) {
  const std::string* own = string_attribute(span, own_key);
  const bool own_ok =
      own && !trim_left(*own).empty() && trim_left(*own)[0] == '{' && json::accept(*own);
  const std::string& value = own_ok ? *own : derived;
  if (value.empty()) return;
  if (value.size() > fields.limit) {
    fields.truncated = true;
    return;
  }
  out += ',';
  append_key(out, key);
  out += value;
}

void append_generation_fields(std::string& out, const span_record& span, field_writer& fields) {
  const langfuse_generation g = langfuse_generation_fields(span);
  if (const std::string* own = string_attribute(span, "langfuse.observation.model.name"))
    append_string_field(out, "model", *own, fields);
  else if (!g.model.empty()) append_string_field(out, "model", g.model, fields);
  append_object_field(out, "modelParameters", span, "langfuse.observation.model.parameters",
                      g.model_parameters, fields);
  append_object_field(out, "usageDetails", span, "langfuse.observation.usage_details",
                      g.usage_details, fields);
  append_object_field(out, "costDetails", span, "langfuse.observation.cost_details", g.cost_details,
                      fields);
  if (const std::string* own = string_attribute(span, "langfuse.observation.completion_start_time"))
    append_string_field(out, "completionStartTime", *own, fields);
  else if (g.completion_start_unix_ns != 0)
    append_plain_field(out, "completionStartTime", iso8601_utc(g.completion_start_unix_ns));
}

std::string encode_observation_event(const span_record& span, const langfuse_options& o,
                                     const std::string& now, std::size_t field_limit) {
  field_writer fields{field_limit};
  // Model calls (embeddings too) go as generations: older servers, the ones
  // this encoder is for, know no embedding-create, and a generation keeps
  // the model, usage and cost. Agents and tools go as spans for the same
  // reason (agent-create and tool-create came with Langfuse's observation
  // types, after its OTLP endpoint); their gen_ai.* attributes stay in the
  // metadata, and without usage fields they count nothing twice.
  const bool generation = is_langfuse_model_call(langfuse_observation_type(span));
  std::string out;
  append_envelope_start(out, generation ? "generation-create" : "span-create", now);
  append_key(out, "id");
  append_json_string(out, span.id.to_hex());
  append_plain_field(out, "traceId", span.trace.to_hex());
  // The root's parent, when there is one, is a remote span Langfuse never
  // sees; pointing at it would detach the tree.
  if (span.parent.valid() && !is_langfuse_root(span))
    append_plain_field(out, "parentObservationId", span.parent.to_hex());
  append_string_field(out, "name", span.name, fields);
  append_plain_field(out, "startTime", iso8601_utc(span.start_unix_ns));
  append_plain_field(out, "endTime", iso8601_utc(span.end_unix_ns));
  if (span.status == status_code::error) {
    append_plain_field(out, "level", "ERROR");
    if (!span.status_message.empty())
      append_string_field(out, "statusMessage", span.status_message, fields);
  }
  if (o.content) {
    const langfuse_content content = langfuse_observation_content(span);
    append_content(out, content.input ? &*content.input : nullptr,
                   content.output ? &*content.output : nullptr, fields);
  }
  if (generation) append_generation_fields(out, span, fields);
  if (!o.environment.empty()) append_plain_field(out, "environment", o.environment);
  out += ',';
  append_metadata(out, span, fields);
  out += "}}";
  return out;
}

std::string batch_metadata(std::size_t events) {
  return "{\"batch_size\":" + std::to_string(events) +
         ",\"sdk_name\":\"weft\",\"sdk_integration\":\"weft\"}";
}

// Collects events into bodies that stay within the byte limit.
class batch_builder {
 public:
  explicit batch_builder(std::size_t max_bytes)
      : max_bytes_(max_bytes),
        overhead_(std::string_view("{\"batch\":[],\"metadata\":}").size() +
                  batch_metadata(SIZE_MAX).size()) {}

  /// Room for one event in a body of its own.
  std::size_t room() const { return max_bytes_ > overhead_ ? max_bytes_ - overhead_ : 0; }

  void add(std::string event) {
    const std::size_t needed = event.size() + (events_.empty() ? 0 : 1);
    if (!events_.empty() && events_bytes_ + needed > room()) flush();
    events_bytes_ += event.size() + (events_.empty() ? 0 : 1);
    events_.push_back(std::move(event));
  }

  std::vector<std::string> finish() {
    flush();
    return std::move(bodies_);
  }

 private:
  void flush() {
    if (events_.empty()) return;
    std::string body;
    body.reserve(events_bytes_ + overhead_);
    body += "{\"batch\":[";
    for (std::size_t i = 0; i < events_.size(); ++i) {
      if (i) body += ',';
      body += events_[i];
    }
    body += "],\"metadata\":";
    body += batch_metadata(events_.size());
    body += '}';
    bodies_.push_back(std::move(body));
    events_.clear();
    events_bytes_ = 0;
  }

  std::size_t max_bytes_;
  std::size_t overhead_;
  std::vector<std::string> events_;
  std::size_t events_bytes_ = 0;
  std::vector<std::string> bodies_;
};

// Encodes one event with ever smaller field limits until it fits `room`.
template <class Encode>
std::string fitted_event(Encode encode, std::size_t field_limit, std::size_t room) {
  std::string event = encode(field_limit);
  while (event.size() > room && field_limit > min_field_bytes) {
    field_limit = std::max(min_field_bytes, field_limit / 2);
    event = encode(field_limit);
  }
  return event;
}

std::vector<std::string> event_ids_of(const json& request) {
  std::vector<std::string> ids;
  if (!request.is_object()) return ids;
  auto it = request.find("batch");
  if (it == request.end() || !it->is_array()) return ids;
  for (const auto& e : *it)
    if (e.is_object())
      if (auto id = e.find("id"); id != e.end() && id->is_string())
        ids.push_back(id->get<std::string>());
  return ids;
}

std::string short_text(std::string_view s, std::size_t limit = 300) {
  std::string out(s.substr(0, utf8_prefix(s, limit)));
  if (s.size() > limit) out += "...";
  return out;
}

std::string error_message(const json& e) {
  if (auto m = e.find("message"); m != e.end() && m->is_string())
    return short_text(m->get<std::string>());
  if (auto m = e.find("error"); m != e.end()) {
    if (m->is_string()) return short_text(m->get<std::string>());
    return short_text(m->dump(-1, ' ', false, json::error_handler_t::replace));
  }
  return "rejected by Langfuse";
}

bool retryable(long status) {
  return status == 429 || status == 408 || status >= 500 || status <= 0;
}

}  // namespace

std::string iso8601_utc(std::uint64_t unix_ns) {
  const auto secs = static_cast<time_t>(unix_ns / 1000000000ULL);
  const auto micros = static_cast<unsigned>((unix_ns % 1000000000ULL) / 1000ULL);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, micros);
  return buf;
}

std::string random_uuid_v4() {
  // 16 random bytes from the id generator, with the version and variant
  // bits of RFC 9562 set.
  auto b = trace_id::random().bytes;
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
  std::string out;
  out.reserve(36);
  const std::size_t groups[] = {4, 2, 2, 2, 6};
  std::size_t at = 0;
  for (std::size_t g = 0; g < 5; ++g) {
    if (g) out += '-';
    append_hex(out, b.data() + at, groups[g]);
    at += groups[g];
  }
  return out;
}

std::vector<std::string> encode_legacy_batches(const std::vector<span_record>& spans,
                                               const langfuse_options& options,
                                               std::size_t max_batch_bytes,
                                               std::size_t max_field_bytes) {
  batch_builder batches(max_batch_bytes);
  const std::string now = iso8601_utc(now_unix_ns());
  for (const span_record& span : spans) {
    if (is_langfuse_root(span))
      batches.add(fitted_event(
          [&](std::size_t limit) { return encode_trace_event(span, options, now, limit); },
          max_field_bytes, batches.room()));
    batches.add(fitted_event(
        [&](std::size_t limit) { return encode_observation_event(span, options, now, limit); },
        max_field_bytes, batches.room()));
  }
  return batches.finish();
}

legacy_result parse_legacy_response(long http_status, std::string_view body,
                                    const std::string& request_body) {
  legacy_result result;
  const json request = json::parse(request_body, nullptr, false);
  const std::vector<std::string> ids = event_ids_of(request);

  if (http_status >= 200 && http_status < 300 && http_status != 207) {
    result.succeeded = ids.size();
    return result;
  }
  if (http_status != 207) {
    if (retryable(http_status)) {
      result.retry_event_ids = ids;
    } else {
      const std::string message = "HTTP " + std::to_string(http_status) + ": " + short_text(body);
      for (const auto& id : ids) result.rejected.emplace_back(id, message);
    }
    return result;
  }

  const json response = json::parse(body, nullptr, false);
  if (!response.is_object()) {
    // Langfuse deduplicates on event ids, so sending everything again is
    // safe, while guessing "all fine" could lose spans.
    result.retry_event_ids = ids;
    return result;
  }
  std::unordered_set<std::string> answered;
  if (auto it = response.find("successes"); it != response.end() && it->is_array()) {
    for (const auto& s : *it) {
      if (!s.is_object()) continue;
      auto id = s.find("id");
      if (id == s.end() || !id->is_string() || !answered.insert(id->get<std::string>()).second)
        continue;
      ++result.succeeded;
    }
  }
  if (auto it = response.find("errors"); it != response.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (!e.is_object()) continue;
      auto id = e.find("id");
      if (id == e.end() || !id->is_string() || !answered.insert(id->get<std::string>()).second)
        continue;
      long status = 500;  // an error without a status: assume the server's fault
      if (auto st = e.find("status"); st != e.end() && st->is_number_integer())
        status = st->get<long>();
      if (retryable(status)) result.retry_event_ids.push_back(id->get<std::string>());
      else result.rejected.emplace_back(id->get<std::string>(), error_message(e));
    }
  }
  // Events the answer does not mention have an unknown fate: send them again.
  for (const auto& id : ids)
    if (!answered.count(id)) result.retry_event_ids.push_back(id);
  return result;
}

std::string subset_batch(const std::string& request_body,
                         const std::vector<std::string>& event_ids) {
  json request = json::parse(request_body, nullptr, false);
  if (!request.is_object()) return {};
  auto batch = request.find("batch");
  if (batch == request.end() || !batch->is_array()) return {};
  const std::unordered_set<std::string> wanted(event_ids.begin(), event_ids.end());
  json kept = json::array();
  for (auto& e : *batch)
    if (e.is_object())
      if (auto id = e.find("id");
          id != e.end() && id->is_string() && wanted.count(id->get<std::string>()))
        kept.push_back(std::move(e));
  if (kept.empty()) return {};
  const std::size_t n = kept.size();
  *batch = std::move(kept);
  if (auto meta = request.find("metadata"); meta != request.end() && meta->is_object())
    (*meta)["batch_size"] = n;
  return request.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace weft::tracing
