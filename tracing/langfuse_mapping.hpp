// weft spans -> the attributes Langfuse reads from OTLP spans.
//
// Langfuse's OTLP endpoint (/api/public/otel/v1/traces) builds traces and
// observations from `langfuse.*` span attributes. weft's spans carry their
// own attributes (set by the run and node actors):
//
//   weft.run.id, weft.flow.name, session.id, user.id   on every span of a run
//   weft.node.id, weft.node.type                        on node spans
//   weft.inputs, weft.outputs (JSON text)               only with content tracing
//
// and add_langfuse_attributes() derives from them, on every span:
//
//   langfuse.trace.name         = weft.flow.name
//   langfuse.session.id         = session.id     (when present)
//   langfuse.user.id            = user.id        (when present)
//   langfuse.observation.type   = "generation" for LLM calls, else "span"
//   langfuse.observation.level  = "ERROR", and
//   langfuse.observation.status_message = the status message, on failures
//   langfuse.observation.input / .output = weft.inputs / weft.outputs
//                                 (only with langfuse_options::content)
//   langfuse.environment, langfuse.release (when configured)
//
// and on the run's root span also langfuse.trace.input / langfuse.trace.output
// (with content). A span that already has one of these keys keeps its value.
//
// Putting session and user on every span (not only the root) is what
// Langfuse asks for, and what LangFlow got wrong (design invariant 2).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tracing/span.hpp"

namespace weft::tracing {

struct langfuse_options {
  /// Langfuse environment ("production", "staging"...); empty: not sent.
  std::string environment;
  /// Release (version) of the application; empty: not sent.
  std::string release;
  /// Send inputs and outputs. Off by default: they may hold user data. (weft
  /// only records them when content tracing is on, and then redacted.)
  bool content = false;
};

/// The Langfuse observation type of a span: "generation" when it is an LLM
/// call, "span" otherwise. A span is an LLM call when it has a `gen_ai.*`
/// attribute (OpenTelemetry's GenAI conventions) or its weft.node.type
/// contains "llm" (any case). A span's own langfuse.observation.type wins.
std::string langfuse_observation_type(const span_record& span);

/// True for the span that stands for the whole run: one without a parent,
/// or (when the run continued a remote traceparent) the span named after
/// the flow that is not a node.
bool is_langfuse_root(const span_record& span);

/// Adds the langfuse.* attributes above to every span of `batch`.
void add_langfuse_attributes(std::vector<span_record>& batch, const langfuse_options& options);

/// The string value of `key` on `span`, or nullptr when absent or not a
/// string. Shared by the Langfuse encoders.
const std::string* string_attribute(const span_record& span, std::string_view key);

}  // namespace weft::tracing
