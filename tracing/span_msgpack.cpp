// MessagePack encoding of span batches (see span_msgpack.hpp for the layout).
#include "tracing/span_msgpack.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <type_traits>
#include <variant>

// weft uses msgpack-c without Boost: it needs none of the Boost adaptors, and
// this keeps Boost out of the build's dependencies.
#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

namespace weft::tracing {
namespace {

// Version 1: the fields of a span; the last (trace_state) only when it is
// not empty. Version 2 always writes all twelve (trace_state, then events).
constexpr std::uint32_t v1_span_fields = 11;
constexpr std::uint32_t v1_span_fields_without_state = 10;
constexpr std::uint32_t v2_span_fields = 12;
constexpr unsigned oldest_version = 1;

// msgpack::packer wants a stream with write(); this one appends to a string
// so the spool can frame the payload without another copy.
struct string_stream {
  std::string& out;
  void write(const char* data, std::size_t n) { out.append(data, n); }
};
using packer = msgpack::packer<string_stream>;

void pack_string(packer& p, const std::string& s) {
  p.pack_str(static_cast<std::uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

// Always a float 64 (0xcb + big-endian bits); see the header for why the
// packer's pack_double is not used.
void pack_float64(std::string& out, double d) {
  std::uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  char buf[9];
  buf[0] = static_cast<char>(0xcb);
  for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
  out.append(buf, sizeof buf);
}

void pack_attributes(packer& p, std::string& out, const std::vector<attribute>& attributes) {
  p.pack_array(static_cast<std::uint32_t>(attributes.size()));
  for (const auto& a : attributes) {
    p.pack_array(2);
    pack_string(p, a.key);
    std::visit(
        [&](const auto& v) {
          using t = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<t, std::string>) {
            pack_string(p, v);
          } else if constexpr (std::is_same_v<t, std::int64_t>) {
            p.pack_int64(v);
          } else if constexpr (std::is_same_v<t, double>) {
            pack_float64(out, v);
          } else if constexpr (std::is_same_v<t, bool>) {
            p.pack(v);
          } else {
            static_assert(std::is_same_v<t, std::vector<std::string>>);
            p.pack_array(static_cast<std::uint32_t>(v.size()));
            for (const auto& item : v) pack_string(p, item);
          }
        },
        a.value);
  }
}

void pack_span(packer& p, std::string& out, const span_record& s, unsigned version) {
  if (version == 1)
    p.pack_array(s.trace_state.empty() ? v1_span_fields_without_state : v1_span_fields);
  else p.pack_array(v2_span_fields);
  p.pack_bin(static_cast<std::uint32_t>(s.trace.bytes.size()));
  p.pack_bin_body(reinterpret_cast<const char*>(s.trace.bytes.data()),
                  static_cast<std::uint32_t>(s.trace.bytes.size()));
  p.pack_uint64(s.id.value);
  p.pack_uint64(s.parent.value);
  pack_string(p, s.name);
  p.pack_int(static_cast<int>(s.kind));
  p.pack_uint64(s.start_unix_ns);
  p.pack_uint64(s.end_unix_ns);
  p.pack_int(static_cast<int>(s.status));
  pack_string(p, s.status_message);
  pack_attributes(p, out, s.attributes);
  if (version == 1) {
    if (!s.trace_state.empty()) pack_string(p, s.trace_state);
    return;
  }
  pack_string(p, s.trace_state);
  p.pack_array(static_cast<std::uint32_t>(s.events.size()));
  for (const auto& e : s.events) {
    p.pack_array(3);
    pack_string(p, e.name);
    p.pack_uint64(e.time_unix_ns);
    pack_attributes(p, out, e.attributes);
  }
}

// Decoding walks msgpack::object trees by hand, so that every type mismatch
// becomes a message instead of an exception from object::as<T>().
struct decoder {
  std::string error;

  bool fail(std::string what) {
    if (error.empty()) error = std::move(what);
    return false;
  }
  // "field: problem". Appended piece by piece: GCC 12 at -O2 warns
  // (-Warray-bounds, a false positive) on std::string(what) + "literal".
  bool fail(const char* field, const char* problem) {
    if (error.empty()) error.append(field).append(": ").append(problem);
    return false;
  }

  bool array(const msgpack::object& o, std::uint32_t want, const char* what) {
    if (o.type != msgpack::type::ARRAY) return fail(what, "not an array");
    if (want != 0 && o.via.array.size != want)
      return fail(std::string(what) + ": " + std::to_string(o.via.array.size) +
                  " fields, expected " + std::to_string(want));
    return true;
  }

  bool u64(const msgpack::object& o, std::uint64_t& v, const char* what) {
    if (o.type != msgpack::type::POSITIVE_INTEGER) return fail(what, "not an unsigned integer");
    v = o.via.u64;
    return true;
  }

  bool i64(const msgpack::object& o, std::int64_t& v, const char* what) {
    if (o.type == msgpack::type::NEGATIVE_INTEGER) {
      v = o.via.i64;
      return true;
    }
    if (o.type == msgpack::type::POSITIVE_INTEGER &&
        o.via.u64 <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      v = static_cast<std::int64_t>(o.via.u64);
      return true;
    }
    return fail(what, "not a 64-bit signed integer");
  }

  bool small_int(const msgpack::object& o, int& v, const char* what) {
    std::int64_t wide = 0;
    if (!i64(o, wide, what)) return false;
    if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max())
      return fail(what, "out of range");
    v = static_cast<int>(wide);
    return true;
  }

  bool str(const msgpack::object& o, std::string& v, const char* what) {
    if (o.type != msgpack::type::STR) return fail(what, "not a string");
    v.assign(o.via.str.ptr, o.via.str.size);
    return true;
  }

  // `arrays`: whether a string array is a value (version 2 on); version 1
  // had none, so an array there is damage, not data.
  bool value(const msgpack::object& o, attribute_value& v, bool arrays) {
    switch (o.type) {
      case msgpack::type::STR:
        v = std::string(o.via.str.ptr, o.via.str.size);
        return true;
      case msgpack::type::FLOAT64:
      case msgpack::type::FLOAT32:
        v = o.via.f64;
        return true;
      case msgpack::type::BOOLEAN:
        v = o.via.boolean;
        return true;
      case msgpack::type::POSITIVE_INTEGER:
      case msgpack::type::NEGATIVE_INTEGER: {
        std::int64_t i = 0;
        if (!i64(o, i, "attribute value")) return false;
        v = i;
        return true;
      }
      case msgpack::type::ARRAY: {
        if (!arrays) return fail("attribute value: unsupported type");
        std::vector<std::string> items(o.via.array.size);
        for (std::uint32_t i = 0; i < o.via.array.size; ++i)
          if (!str(o.via.array.ptr[i], items[i], "attribute array item")) return false;
        v = std::move(items);
        return true;
      }
      default:
        return fail("attribute value: unsupported type");
    }
  }

  bool attributes(const msgpack::object& o, std::vector<attribute>& out, bool arrays,
                  const char* what) {
    if (!array(o, 0, what)) return false;
    const auto& attrs = o.via.array;
    out.resize(attrs.size);
    for (std::uint32_t i = 0; i < attrs.size; ++i) {
      const auto& pair = attrs.ptr[i];
      if (!array(pair, 2, "attribute") ||
          !str(pair.via.array.ptr[0], out[i].key, "attribute key") ||
          !value(pair.via.array.ptr[1], out[i].value, arrays))
        return false;
    }
    return true;
  }

  bool events(const msgpack::object& o, std::vector<span_event>& out) {
    if (!array(o, 0, "span.events")) return false;
    out.resize(o.via.array.size);
    for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
      const auto& e = o.via.array.ptr[i];
      if (!array(e, 3, "event") || !str(e.via.array.ptr[0], out[i].name, "event name") ||
          !u64(e.via.array.ptr[1], out[i].time_unix_ns, "event time") ||
          !attributes(e.via.array.ptr[2], out[i].attributes, true, "event attributes"))
        return false;
    }
    return true;
  }

  bool span(const msgpack::object& o, span_record& s, unsigned version) {
    if (!array(o, 0, "span")) return false;
    const auto fields = o.via.array.size;
    if (version == 1 && fields != v1_span_fields && fields != v1_span_fields_without_state)
      return fail("span: " + std::to_string(fields) + " fields, expected " +
                  std::to_string(v1_span_fields_without_state) + " or " +
                  std::to_string(v1_span_fields));
    if (version >= 2 && fields != v2_span_fields)
      return fail("span: " + std::to_string(fields) + " fields, expected " +
                  std::to_string(v2_span_fields));
    const msgpack::object* f = o.via.array.ptr;
    if (f[0].type != msgpack::type::BIN || f[0].via.bin.size != s.trace.bytes.size())
      return fail("span.trace: not 16 bytes");
    std::memcpy(s.trace.bytes.data(), f[0].via.bin.ptr, s.trace.bytes.size());
    int kind = 0, status = 0;
    if (!u64(f[1], s.id.value, "span.id") || !u64(f[2], s.parent.value, "span.parent") ||
        !str(f[3], s.name, "span.name") || !small_int(f[4], kind, "span.kind") ||
        !u64(f[5], s.start_unix_ns, "span.start") || !u64(f[6], s.end_unix_ns, "span.end") ||
        !small_int(f[7], status, "span.status") ||
        !str(f[8], s.status_message, "span.status_message") ||
        !attributes(f[9], s.attributes, version >= 2, "span.attributes"))
      return false;
    // Any int is kept, not only the enumerators weft names today, so that
    // what goes in comes out.
    s.kind = static_cast<span_kind>(kind);
    s.status = static_cast<status_code>(status);
    if (fields > 10 && !str(f[10], s.trace_state, "span.trace_state")) return false;
    if (fields > 11 && !events(f[11], s.events)) return false;
    return true;
  }

  bool batch(const msgpack::object& o, std::vector<span_record>& out) {
    if (!array(o, 2, "batch")) return false;
    std::uint64_t version = 0;
    if (!u64(o.via.array.ptr[0], version, "batch version")) return false;
    if (version < oldest_version || version > span_msgpack_version)
      return fail("batch version " + std::to_string(version) +
                  " is not supported (this weft reads " + std::to_string(oldest_version) + " to " +
                  std::to_string(span_msgpack_version) + ")");
    const auto& spans = o.via.array.ptr[1];
    if (!array(spans, 0, "batch spans")) return false;
    out.resize(spans.via.array.size);
    for (std::uint32_t i = 0; i < spans.via.array.size; ++i)
      if (!span(spans.via.array.ptr[i], out[i], static_cast<unsigned>(version))) {
        error = "span " + std::to_string(i) + ": " + error;
        return false;
      }
    return true;
  }
};

// Version 1 holds a batch without events and string arrays exactly, and a
// weft from before version 2 can replay it after a downgrade; so it is
// written whenever it suffices.
unsigned version_needed(const std::vector<span_record>& batch) {
  auto has_array = [](const attribute& a) {
    return std::holds_alternative<std::vector<std::string>>(a.value);
  };
  for (const auto& s : batch)
    if (!s.events.empty() || std::any_of(s.attributes.begin(), s.attributes.end(), has_array))
      return span_msgpack_version;
  return oldest_version;
}

}  // namespace

void encode_span_batch(std::string& out, const std::vector<span_record>& batch) {
  const unsigned version = version_needed(batch);
  string_stream stream{out};
  packer p(stream);
  p.pack_array(2);
  p.pack_uint32(version);
  p.pack_array(static_cast<std::uint32_t>(batch.size()));
  for (const auto& s : batch) pack_span(p, out, s, version);
}

std::string encode_span_batch(const std::vector<span_record>& batch) {
  std::string out;
  encode_span_batch(out, batch);
  return out;
}

bool decode_span_batch(std::string_view data, std::vector<span_record>& batch, std::string* error) {
  batch.clear();
  decoder d;
  try {
    // No container can hold more elements than there are bytes, so capping
    // every size at data.size() stops a corrupt length from asking msgpack-c
    // for gigabytes.
    const std::size_t n = data.size();
    const msgpack::unpack_limit limit(n, n, n, n, n, 16);
    std::size_t offset = 0;
    msgpack::object_handle h =
        msgpack::unpack(data.data(), data.size(), offset, nullptr, nullptr, limit);
    if (offset != data.size())
      d.fail(std::to_string(data.size() - offset) + " trailing bytes after the batch");
    else d.batch(h.get(), batch);
  } catch (const std::exception& e) {
    d.fail(std::string("not MessagePack: ") + e.what());
  }
  if (d.error.empty()) return true;
  batch.clear();
  if (error) *error = d.error;
  return false;
}

}  // namespace weft::tracing
