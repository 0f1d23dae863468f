// The messages between the exporter and its sink workers, and the
// inspect() overloads CAF needs to carry spans. Actors (run actors, the
// engine) send to the exporter with these same types; actors/messages.hpp
// includes this file, never the other way round.
#pragma once

#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <variant>
#include <vector>

#include <caf/all.hpp>

#include "tracing/span.hpp"

namespace weft::exporting {

// Atom names are limited to 10 characters in CAF 0.17.
using tick_atom = caf::atom_constant<caf::atom("wTick")>;
using flush_atom = caf::atom_constant<caf::atom("wFlush")>;
using stats_atom = caf::atom_constant<caf::atom("wStats")>;

/// A batch of spans on its way from the exporter to one sink worker; shared
/// so that several sinks can take the same batch without copying it.
struct span_batch {
  std::shared_ptr<const std::vector<tracing::span_record>> spans;
};

}  // namespace weft::exporting

namespace weft::tracing {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trace_id& x) {
  return f(caf::meta::type_name("trace_id"), x.bytes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, span_id& x) {
  return f(caf::meta::type_name("span_id"), x.value);
}

// Attributes go over the wire as parallel lists: key, kind (the variant
// index) and the text of the value (numbers in their shortest round-trip
// decimal form), plus the items of each string array in order; this keeps
// std::variant, which CAF 0.17 cannot inspect, out of CAF.
struct wire_attributes {
  std::vector<std::string> keys, texts;
  std::vector<std::uint8_t> kinds;
  std::vector<std::vector<std::string>> arrays;

  void store(const std::vector<attribute>& attributes) {
    for (auto& a : attributes) {
      keys.push_back(a.key);
      kinds.push_back(static_cast<std::uint8_t>(a.value.index()));
      std::visit(
          [&](auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) {
              texts.push_back(v);
            } else if constexpr (std::is_same_v<T, bool>) {
              texts.push_back(v ? "1" : "0");
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
              texts.emplace_back();
              arrays.push_back(v);
            } else {
              char buf[32];
              auto r = std::to_chars(buf, buf + sizeof buf, v);
              texts.emplace_back(buf, r.ptr);
            }
          },
          a.value);
    }
  }

  // Entries that do not parse are dropped rather than thrown on: the bytes
  // come from the network.
  void load(std::vector<attribute>& attributes) {
    attributes.clear();
    std::size_t next_array = 0;
    for (std::size_t i = 0; i < keys.size() && i < kinds.size() && i < texts.size(); ++i) {
      const std::string& t = texts[i];
      attribute_value v;
      switch (kinds[i]) {
        case 1: {
          std::int64_t n = 0;
          if (std::from_chars(t.data(), t.data() + t.size(), n).ec != std::errc{}) continue;
          v = n;
          break;
        }
        case 2: {
          double d = 0;
          if (std::from_chars(t.data(), t.data() + t.size(), d).ec != std::errc{}) continue;
          v = d;
          break;
        }
        case 3:
          v = t == "1";
          break;
        case 4:
          if (next_array >= arrays.size()) continue;
          v = std::move(arrays[next_array++]);
          break;
        default:
          v = t;
      }
      attributes.push_back({keys[i], std::move(v)});
    }
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_attributes& x) {
  return f(caf::meta::type_name("wire_attributes"), x.keys, x.kinds, x.texts, x.arrays);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, span_event& x) {
  wire_attributes attrs;
  if constexpr (Inspector::reads_state) attrs.store(x.attributes);
  auto load = caf::meta::load_callback([&]() -> caf::error {
    attrs.load(x.attributes);
    return caf::none;
  });
  return f(caf::meta::type_name("span_event"), x.name, x.time_unix_ns, attrs, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, span_record& x) {
  wire_attributes attrs;
  if constexpr (Inspector::reads_state) attrs.store(x.attributes);
  int kind = static_cast<int>(x.kind), status = static_cast<int>(x.status);
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.kind = static_cast<span_kind>(kind);
    x.status = static_cast<status_code>(status);
    attrs.load(x.attributes);
    return caf::none;
  });
  return f(caf::meta::type_name("span_record"), x.trace, x.id, x.trace_state, x.parent, x.name,
           kind, x.start_unix_ns, x.end_unix_ns, status, x.status_message, attrs, x.events, load);
}

}  // namespace weft::tracing

namespace weft::exporting {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, span_batch& x) {
  std::vector<tracing::span_record> copy;
  if constexpr (Inspector::reads_state)
    if (x.spans) copy = *x.spans;
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.spans = std::make_shared<const std::vector<tracing::span_record>>(std::move(copy));
    return caf::none;
  });
  return f(caf::meta::type_name("span_batch"), copy, load);
}

}  // namespace weft::exporting
