// The component SDK: how a node type does its work.
//
//   class shout final : public weft::component {
//    public:
//     void start(weft::node_context& ctx, weft::value_map in) const override {
//       auto s = ctx.start_span("shout.upper");          // a child of the node's span
//       s.set("text.length", static_cast<std::int64_t>(in["text"].get<std::string>().size()));
//       std::string text = in["text"];
//       for (auto& c : text) c = static_cast<char>(std::toupper(c));
//       s.end();
//       ctx.complete({{"text", text}});
//     }
//   };
//
// One instance per node of a loaded flow serves every run of that flow at
// once, so `start` is const and keeps per-execution state in the context or
// in what its callbacks capture.
//
// The rules of a node context (they are what makes tracing correct by
// construction, and components lock-free):
//   - It belongs to the node's actor. Every call, and every callback it
//     makes (after, on_cancel, post, span handles), happens on that actor's
//     thread, one at a time. The one exception is post(), which any thread
//     may call on a context it keeps alive with shared_from_this().
//   - A component ends its node by calling complete() or fail() exactly once,
//     now or later. The engine ends it too on a timeout or a cancel.
//   - Once the node has ended, every call is a harmless no-op: a late timer,
//     a late post, a span handle kept somewhere. Nothing leaks into the next
//     run, and nothing a late callback does reaches a trace.
//   - Spans only come from the context: there is no "current span". A child
//     span's parent is the node's span, a grandchild's is the span it came
//     from, and all of them carry the run's trace, session and user. Spans
//     travel back with the node's result; one the component never ended is
//     ended with the node, with status error and the message "unfinished".
//   - A component never blocks its thread. One that must (a library with no
//     callback API) says so in its descriptor and gets a thread of its own.
//   - An exception that escapes `start` or a callback fails the node with its
//     message; it never escapes the run.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "weft/api.hpp"
#include "weft/value.hpp"

namespace weft {

/// OpenTelemetry span kinds.
enum class span_kind { internal, server, client, producer, consumer };

/// OpenTelemetry span statuses.
enum class span_status { unset, ok, error };

/// A span attribute: the OpenTelemetry scalar kinds and string arrays.
using attribute_value =
    std::variant<std::string, std::int64_t, double, bool, std::vector<std::string>>;

/// Where a node's work belongs in its trace.
struct trace_info {
  std::string trace_id;  // 32 lower-case hex digits
  std::string span_id;   // 16 hex digits: the node's own span
  bool sampled = false;  // false: spans are not recorded (handles still work)
  std::string session_id;
  std::string user_id;
  std::string tracestate;  // the W3C tracestate of the run, often empty
};

class node_context;

namespace flows {
struct plan;  // a loaded flow (weft::engine::load_file); opaque to components
}

/// An HTTP request a component makes through the engine (node_context::http).
struct http_request {
  std::string method = "GET";
  std::string url;  // http:// or https:// only
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};  // the whole exchange, connect included
};

/// What came back. `error` is empty when the server answered (any status,
/// 4xx and 5xx included); otherwise it says why nothing came back, and
/// `error_type` is "connect", "dns", "timeout", "aborted", "invalid" (the
/// request is malformed: a URL that does not parse) or "other".
struct http_response {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;  // empty when an on_chunk callback took the body
  std::string error;
  std::string error_type;
  bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

/// One model call a component made, for the run's token usage
/// (run_result::input_tokens, weft serve's OpenAI answers) and the
/// engine's GenAI metrics (engine_options::on_llm_call).
struct llm_call_record {
  std::string operation = "chat";  // gen_ai.operation.name
  std::string provider;            // gen_ai.provider.name
  std::string model;               // gen_ai.request.model
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  double duration_s = 0;   // the whole call, retries included
  std::string error_type;  // empty when it succeeded
};

/// A handle to a span a component opened. Cheap to copy; every copy refers
/// to the same span. Inert when default-constructed, when the run is not
/// sampled, and after the node has ended.
class WEFT_API span {
 public:
  span() = default;

  span& set(std::string key, attribute_value v);
  // One overload per kind, so that an int or a string literal lands on the
  // kind it looks like (and never on bool).
  span& set(std::string key, std::string v) {
    return set(std::move(key), attribute_value(std::move(v)));
  }
  span& set(std::string key, const char* v) {
    return set(std::move(key), attribute_value(std::string(v)));
  }
  span& set(std::string key, std::int64_t v) { return set(std::move(key), attribute_value(v)); }
  span& set(std::string key, int v) {
    return set(std::move(key), attribute_value(std::int64_t{v}));
  }
  span& set(std::string key, double v) { return set(std::move(key), attribute_value(v)); }
  span& set(std::string key, bool v) { return set(std::move(key), attribute_value(v)); }
  span& set(std::string key, std::vector<std::string> v) {
    return set(std::move(key), attribute_value(std::move(v)));
  }
  /// A timestamped event on the span, with optional attributes.
  span& event(std::string name, std::vector<std::pair<std::string, attribute_value>> attrs = {});
  /// The span's status; `message` is kept for error only (as OpenTelemetry does).
  span& status(span_status s, std::string message = {});
  /// Ends the span now. A second call does nothing.
  void end();
  /// A span whose parent is this one.
  span child(std::string name, span_kind kind = span_kind::internal);
  /// The W3C traceparent naming this span, for an outgoing request; empty
  /// for an inert handle.
  std::string traceparent() const;
  /// True while the span records (sampled, not ended, node running).
  bool recording() const;

 private:
  friend class node_context;
  span(std::shared_ptr<node_context> owner, std::uint32_t index)
      : owner_(std::move(owner)), index_(index) {}
  std::shared_ptr<node_context> owner_;
  std::uint32_t index_ = 0;
};

/// A child run a composite node starts (node_context::run_child): a sub-flow,
/// a map item, a loop iteration. Its root span is a child of `under` (or of
/// the node's span), in the same trace, with the same session, user and
/// tracestate; it has a run id of its own, and every span of it carries the
/// top-level run's id as `weft.root_run.id`.
struct child_run {
  std::shared_ptr<const flows::plan> flow;
  /// Checked against the flow's declared inputs, defaults applied, as for a
  /// top-level run.
  value_map inputs;
  /// Attributes of the child's root span that tell it from its siblings
  /// ({"weft.map.index", 3}).
  std::vector<std::pair<std::string, attribute_value>> attributes;
  /// Its segment in the path of its events ("3"): its nodes' events reach
  /// the observer as [this node, label, child node]. Empty: no segment.
  std::string label;
  /// The span the child's root span hangs under: a span this node opened
  /// (an agent's `execute_tool` span), or inert for the node's own span.
  span under;
};

/// How a child run ended.
struct child_result {
  bool ok = false;
  value_map outputs;  // the child flow's declared outputs, when ok
  std::string error;  // when not ok: why (masked)
  std::string failed_node;
};

/// What a running node can do. Implemented by the engine's node actor.
class WEFT_API node_context : public std::enable_shared_from_this<node_context> {
 public:
  virtual ~node_context() = default;

  /// The node's id in its flow.
  virtual std::string_view node_id() const = 0;
  /// The node's trace context: its trace, its span, session and user.
  virtual const trace_info& trace() const = 0;
  /// The W3C traceparent of the node's span.
  std::string traceparent() const;

  /// Opens a child span of the node's span.
  span start_span(std::string name, span_kind kind = span_kind::internal);
  /// Adds an attribute to the node's own span (strings are masked like every
  /// text that leaves a run).
  virtual void set_attribute(std::string key, attribute_value value) = 0;
  // One overload per kind, as on span::set.
  void set_attribute(std::string key, std::string v) {
    set_attribute(std::move(key), attribute_value(std::move(v)));
  }
  void set_attribute(std::string key, const char* v) {
    set_attribute(std::move(key), attribute_value(std::string(v)));
  }
  void set_attribute(std::string key, std::int64_t v) {
    set_attribute(std::move(key), attribute_value(v));
  }
  void set_attribute(std::string key, double v) {
    set_attribute(std::move(key), attribute_value(v));
  }
  void set_attribute(std::string key, bool v) { set_attribute(std::move(key), attribute_value(v)); }

  /// Sends a partial output (a text chunk, a progress note) to the run's
  /// observer, in order. Nothing is sent when the run has no observer.
  virtual void emit(value data) = 0;
  /// Whether the run has an observer: a component can skip building chunks
  /// nobody will read.
  virtual bool observed() const = 0;
  /// Runs `fn` on this node's actor. Safe from any thread (keep the context
  /// alive with shared_from_this()); dropped if the node has ended by then.
  virtual void post(std::function<void()> fn) = 0;
  /// Calls `fn` when the node is cancelled (its timeout, the run failing or
  /// timing out, a client gone), before the node ends with an error. A
  /// complete() or fail() from inside it is ignored: the node is cancelled.
  virtual void on_cancel(std::function<void()> fn) = 0;
  /// Calls `fn` on this node's actor after `delay`, without blocking a
  /// thread; nothing runs if the node has ended by then. For a repeating
  /// step, give each timer a copy of the next step (a small struct holding
  /// the context): a std::function that captures a shared pointer to
  /// itself is a cycle that keeps the node's context, and the run's state
  /// with it, alive for good.
  virtual void after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;

  /// Sends `req` through the engine's shared HTTP client without blocking.
  /// The request carries the W3C traceparent (and tracestate) of `under`,
  /// or of the node's span when `under` is inert: give it the span that
  /// stands for the call. `on_response` runs on this node's actor once;
  /// `on_chunk`, when given, receives the body as it arrives (in order,
  /// on this node's actor, before on_response). When the node ends for any
  /// reason first, the request is aborted (the server sees the connection
  /// close) and neither callback runs.
  virtual void http(http_request req, std::function<void(http_response)> on_response,
                    std::function<void(std::string_view)> on_chunk = {},
                    const span& under = {}) = 0;

  /// Starts a child run under this node's span, supervised by this node:
  /// `done` runs on this node's actor once the child has finished. When the
  /// node ends first (it completed, failed, timed out or was cancelled),
  /// every child run still going is cancelled, its open spans closed with
  /// status error, and `done` does not run; the node reports its own end
  /// only once its child runs have let go of every actor and span. Returns
  /// an id for cancel_child (0 when the child could not start: `done` then
  /// runs at once, through the mailbox, with the reason).
  virtual std::uint64_t run_child(child_run run, std::function<void(child_result)> done) = 0;
  /// Cancels child run `id` (its `done` then runs with the error `why`).
  /// Unknown or finished ids are ignored.
  virtual void cancel_child(std::uint64_t id, std::string why) = 0;

  /// Counts a model call (see llm_call_record). Any time while the node runs.
  virtual void record_llm_call(const llm_call_record& call) = 0;

  /// Ends the node with these outputs (one entry per output socket).
  virtual void complete(value_map outputs) = 0;
  /// Ends the node with an error. `error_type` (a short class such as
  /// "timeout" or "http.503") goes to the span as `error.type`.
  virtual void fail(std::string message, std::string error_type = {}) = 0;
  /// True once the node has ended (every other call is then a no-op).
  virtual bool ended() const = 0;

 protected:
  // The span operations behind weft::span. Index 0 is the node's own span;
  // child spans count from 1. Called on the node's thread only.
  virtual std::uint32_t span_open(std::uint32_t parent, std::string name, span_kind kind) = 0;
  virtual void span_set(std::uint32_t index, std::string key, attribute_value v) = 0;
  virtual void span_event(std::uint32_t index, std::string name,
                          std::vector<std::pair<std::string, attribute_value>> attrs) = 0;
  virtual void span_set_status(std::uint32_t index, span_status s, std::string message) = 0;
  virtual void span_end(std::uint32_t index) = 0;
  virtual bool span_recording(std::uint32_t index) const = 0;
  virtual std::string span_traceparent(std::uint32_t index) const = 0;
  /// The index of `s` when it is a span of this context, else 0 (the node's
  /// own span): what an implementation reads a `span` argument as.
  std::uint32_t span_index_of(const span& s) const { return s.owner_.get() == this ? s.index_ : 0; }

  friend class span;
};

/// A node type's behaviour.
class WEFT_API component {
 public:
  virtual ~component() = default;
  virtual void start(node_context& ctx, value_map inputs) const = 0;
};

/// A base for components that compute their outputs at once. An exception
/// thrown by `run` fails the node with its message.
class WEFT_API sync_component : public component {
 public:
  virtual value_map run(const value_map& inputs) const = 0;
  void start(node_context& ctx, value_map inputs) const final;
};

/// What a component type's factory is told about the node it builds for.
struct node_info {
  std::string id;
  std::string type;
  /// The node's `params` from the flow file (an object; `${NAME}` already
  /// substituted from the environment).
  const value& params;
};

/// A component type an embedder adds to an engine (engine::add_component)
/// before loading the flows that use it:
///
///   weft::component_type t;
///   t.type = "acme.delay";
///   t.summary = "waits, then passes its input on";
///   t.inputs = {{"value"}};
///   t.outputs = {"value"};
///   t.params = {{"ms", false}};
///   t.make = [](const weft::node_info& n) {
///     return std::make_shared<delay>(n.params.value("ms", 10));
///   };
///   if (auto errs = eng.add_component(std::move(t)); !errs.empty()) ...
///
/// The flow loader checks every node of the type against these sockets and
/// params, so that a typo is an error at load time, with its line.
struct component_type {
  /// The name flows use in `type:`: letters, digits, '_', '.', '-', not
  /// starting with a digit. Names of built-in types may be replaced.
  std::string type;
  /// One line for `weft components` and error messages.
  std::string summary;
  struct socket {
    std::string name;
    bool required = true;
  };
  struct param {
    std::string name;
    bool required = false;
  };
  std::vector<socket> inputs;
  std::vector<std::string> outputs;
  std::vector<param> params;
  /// The component blocks its thread (a library with no callback API): its
  /// nodes then run on threads of their own, not on the shared scheduler.
  bool blocking = false;
  /// Its nodes open spans of their own (node_context::start_span), so a run's
  /// span count is not fixed: `weft load` then checks trees, not counts.
  bool opens_spans = false;
  /// Builds the instance for one node, once, when its flow loads; one
  /// instance serves every run of the flow. Throw std::invalid_argument to
  /// reject the node's params: the message becomes a load error that points
  /// at the node.
  std::function<std::shared_ptr<const component>(const node_info& node)> make;
};

}  // namespace weft
