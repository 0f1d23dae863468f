// The messages between the exporter and its sink workers, and the
// inspect() overloads CAF needs to carry spans. Actors (run actors, the
// engine) send to the exporter with these same types; actors/messages.hpp
// includes this file, never the other way round.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
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

// Attributes go over the wire as parallel lists: key, kind and the text of
// the value (numbers in decimal), which keeps the variant out of CAF.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, span_record& x) {
  std::vector<std::string> keys, texts;
  std::vector<std::uint8_t> kinds;
  if constexpr (Inspector::reads_state) {
    for (auto& a : x.attributes) {
      keys.push_back(a.key);
      kinds.push_back(static_cast<std::uint8_t>(a.value.index()));
      std::visit(
          [&](auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) texts.push_back(v);
            else if constexpr (std::is_same_v<T, bool>) texts.push_back(v ? "1" : "0");
            else texts.push_back(std::to_string(v));
          },
          a.value);
    }
  }
  int kind = static_cast<int>(x.kind), status = static_cast<int>(x.status);
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.kind = static_cast<span_kind>(kind);
    x.status = static_cast<status_code>(status);
    x.attributes.clear();
    for (std::size_t i = 0; i < keys.size() && i < kinds.size() && i < texts.size(); ++i) {
      attribute_value v;
      switch (kinds[i]) {
        case 1: v = static_cast<std::int64_t>(std::stoll(texts[i])); break;
        case 2: v = std::stod(texts[i]); break;
        case 3: v = texts[i] == "1"; break;
        default: v = texts[i];
      }
      x.attributes.push_back({keys[i], std::move(v)});
    }
    return caf::none;
  });
  return f(caf::meta::type_name("span_record"), x.trace, x.id, x.trace_state, x.parent, x.name, kind,
           x.start_unix_ns, x.end_unix_ns, status, x.status_message, keys, kinds, texts, load);
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
