// Helpers for tests that run flows on a real engine and look at its spans.
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "actors/engine_internals.hpp"
#include "support/memory_sink.hpp"

namespace weft::test {

/// A flow of two passthrough nodes in a line: input x -> first -> second -> y.
inline const char* const two_node_flow = R"(
flow: pair
inputs: {x: {type: any}}
nodes:
  first: {type: passthrough, inputs: {value: $inputs.x}}
  second: {type: passthrough, inputs: {value: first.value}}
outputs: {y: second.value}
)";

/// Engine options with a memory sink only (no file), batches flushed fast.
inline engine_options memory_options(const std::shared_ptr<span_store>& store, int threads = 0) {
  engine_options o;
  o.settings.threads = threads;
  o.settings.tracing.batch_delay_ms = 20;
  o.extra_sinks.push_back(std::make_unique<memory_sink>(store));
  return o;
}

/// Loads flow text, failing the test with the diagnostics if it is invalid.
inline std::shared_ptr<const flows::plan> must_load(engine& eng, const std::string& text) {
  auto r = eng.load_string(text, "test.yaml");
  std::string errs;
  for (auto& d : r.errors) errs += d.to_string() + "\n";
  INFO(errs);
  REQUIRE(r.flow);
  return r.flow.plan();
}

inline std::string str_attr(const tracing::span_record& s, std::string_view key) {
  auto v = s.find(key);
  if (!v) return "<absent>";
  if (auto p = std::get_if<std::string>(v)) return *p;
  return "<non-string>";
}

/// The top-level run a span belongs to: weft.root_run.id, which only spans
/// of child runs carry, else its own weft.run.id.
inline std::string root_run_of(const tracing::span_record& s) {
  auto root = str_attr(s, "weft.root_run.id");
  return root == "<absent>" ? str_attr(s, "weft.run.id") : root;
}

inline std::vector<tracing::span_record> spans_of(const std::vector<tracing::span_record>& all,
                                                  const std::string& trace_hex) {
  std::vector<tracing::span_record> out;
  for (auto& s : all)
    if (s.trace.to_hex() == trace_hex) out.push_back(s);
  return out;
}

/// The spans of `trace_hex`, once at least `n` have arrived (or after 3 s).
inline std::vector<tracing::span_record> wait_spans(span_store& s, const std::string& trace_hex,
                                                    std::size_t n) {
  for (int i = 0; i < 300; ++i) {
    auto got = spans_of(s.snapshot(), trace_hex);
    if (got.size() >= n) return got;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return spans_of(s.snapshot(), trace_hex);
}

inline const tracing::span_record* find_span(const std::vector<tracing::span_record>& spans,
                                             std::string_view name) {
  for (auto& s : spans)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace weft::test
