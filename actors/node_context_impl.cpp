#include "actors/node_context_impl.hpp"

#include <cctype>

#include "actors/messages.hpp"
#include "net/http_client.hpp"
#include "tracing/traceparent.hpp"

namespace weft::actors {

namespace {

tracing::span_kind record_kind(span_kind k) {
  switch (k) {
    case span_kind::server:
      return tracing::span_kind::server;
    case span_kind::client:
      return tracing::span_kind::client;
    case span_kind::producer:
      return tracing::span_kind::producer;
    case span_kind::consumer:
      return tracing::span_kind::consumer;
    case span_kind::internal:
      break;
  }
  return tracing::span_kind::internal;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const char* error_type_of(net::transport_error e) {
  switch (e) {
    case net::transport_error::none:
      return "";
    case net::transport_error::connect:
      return "connect";
    case net::transport_error::dns:
      return "dns";
    case net::transport_error::timeout:
      return "timeout";
    case net::transport_error::aborted:
      return "aborted";
    case net::transport_error::invalid:
      return "invalid";
    case net::transport_error::other:
      break;
  }
  return "other";
}

}  // namespace

actor_node_context::actor_node_context(caf::stateful_actor<node_state>* self,
                                       const tracing::trace_context& ctx)
    : self_(self),
      addr_(self->address()),
      rs_(self->state.rs),
      node_id_(self->state.node().id),
      tctx_(ctx) {
  // Unsampled runs record nothing, but the node still has a span id, so the
  // traceparent it hands on is well formed (with the sampled flag off).
  if (rs_->sampled) node_span_ = rs_->open_span(tctx_, node_id_);
  else node_span_.id = tracing::span_id::random();
}

const trace_info& actor_node_context::trace() const {
  // Built on first use: most components never ask, and five strings per
  // node add up at tens of thousands of nodes a second.
  if (!info_built_) {
    info_.trace_id = tctx_.trace.to_hex();
    info_.span_id = node_span_.id.to_hex();
    info_.sampled = rs_->sampled;
    info_.session_id = tctx_.session_id;
    info_.user_id = tctx_.user_id;
    info_.tracestate = tctx_.trace_state;
    info_built_ = true;
  }
  return info_;
}

void actor_node_context::set_attribute(std::string key, attribute_value value) {
  if (ended() || !rs_->sampled) return;
  node_span_.set(std::move(key), to_record(std::move(value)));
}

void actor_node_context::emit(value data) {
  if (ended() || !rs_->observed) return;
  self_->send(self_->state.run, chunk_atom::value, self_->state.index, chunk_data{std::move(data)});
}

void actor_node_context::record_llm_call(const llm_call_record& call) {
  if (ended() || !rs_->llm) return;
  rs_->llm->input.fetch_add(call.input_tokens, std::memory_order_relaxed);
  rs_->llm->output.fetch_add(call.output_tokens, std::memory_order_relaxed);
  if (rs_->llm->on_call && *rs_->llm->on_call) (*rs_->llm->on_call)(call);
}

void actor_node_context::post(std::function<void()> fn) {
  if (ended() || !fn) return;
  // Any thread: the actor may be gone, in which case the message is dropped.
  if (auto a = caf::actor_cast<caf::actor>(addr_))
    caf::anon_send(a, post_atom::value, posted_fn{std::move(fn)});
}

void actor_node_context::on_cancel(std::function<void()> fn) {
  if (ended() || cancelling_ || !fn) return;
  cancel_handlers_.push_back(std::move(fn));
}

void actor_node_context::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  if (ended() || !fn) return;
  auto id = next_timer_++;
  timers_.emplace(id, std::move(fn));
  self_->delayed_send(self_, delay, timer_atom::value, id);
}

void actor_node_context::http(http_request req, std::function<void(http_response)> on_response,
                              std::function<void(std::string_view)> on_chunk, const span& under) {
  if (ended() || cancelling_) return;
  auto tag = next_http_++;
  pending_http p;
  p.on_response = std::move(on_response);
  if (on_chunk)
    p.on_chunk = std::make_shared<std::function<void(std::string_view)>>(std::move(on_chunk));
  p.span = index_of(under);
  const bool stream = static_cast<bool>(p.on_chunk);
  if (http_.size() >= max_pending_http) {
    http_.emplace(tag, std::move(p));
    fail_http(tag, "too many HTTP requests in flight on node '" + node_id_ + "' (limit " +
                       std::to_string(max_pending_http) + ")");
    return;
  }
  if (!http_client_ && rs_->http) http_client_ = rs_->http->get();
  if (!http_client_) {
    http_.emplace(tag, std::move(p));
    fail_http(tag, "no HTTP client: the engine is shutting down");
    return;
  }
  net::http_request nr;
  nr.method = std::move(req.method);
  nr.url = std::move(req.url);
  nr.body = std::move(req.body);
  nr.timeout_ms = req.timeout.count();
  nr.headers.reserve(req.headers.size() + 2);
  // The trace headers are the engine's to set: a stale copy from the
  // component would put the server's spans under the wrong parent.
  for (auto& h : req.headers)
    if (!iequals(h.first, "traceparent") && !iequals(h.first, "tracestate"))
      nr.headers.push_back(std::move(h));
  nr.headers.emplace_back("traceparent", span_traceparent(p.span));
  if (!tctx_.trace_state.empty()) nr.headers.emplace_back("tracestate", tctx_.trace_state);
  http_.emplace(tag, std::move(p));
  self_->send(http_client_, net::http_start_atom::value, caf::actor_cast<caf::actor>(self_), tag,
              stream, std::move(nr));
}

void actor_node_context::fail_http(std::uint64_t tag, std::string message) {
  net::http_response r;
  r.error = net::transport_error::other;
  r.error_message = std::move(message);
  self_->send(self_, net::http_result_atom::value, tag, std::move(r));
}

std::shared_ptr<std::function<void(std::string_view)>> actor_node_context::http_chunk_fn(
    std::uint64_t tag) {
  if (ended()) return nullptr;
  auto i = http_.find(tag);
  return i == http_.end() ? nullptr : i->second.on_chunk;
}

std::function<void(http_response)> actor_node_context::take_http(std::uint64_t tag) {
  if (ended()) return {};
  auto i = http_.find(tag);
  if (i == http_.end()) return {};
  auto fn = std::move(i->second.on_response);
  http_.erase(i);
  // A request without a response callback still ends here; callers run
  // whatever comes back, so give them something callable.
  if (!fn) fn = [](const http_response&) {};
  return fn;
}

http_response actor_node_context::to_public(net::http_response r) {
  http_response out;
  out.status = r.status;
  out.headers.reserve(r.headers.size());
  for (auto& [k, v] : r.headers) out.headers.emplace_back(lower(std::move(k)), std::move(v));
  out.body = std::move(r.body);
  if (r.error != net::transport_error::none) {
    out.status = 0;
    out.error = r.error_message.empty() ? net::to_string(r.error) : std::move(r.error_message);
    out.error_type = error_type_of(r.error);
  }
  return out;
}

void actor_node_context::abort_http() {
  if (http_.empty()) return;
  auto me = caf::actor_cast<caf::actor>(self_);
  for (auto& [tag, p] : http_) {
    if (http_client_) self_->send(http_client_, net::http_abort_atom::value, me, tag);
    if (auto* c = open_child(p.span); c && rs_->sampled) {
      c->rec.status = tracing::status_code::error;
      c->rec.status_message = "aborted: the node ended before the HTTP response";
      c->rec.set("error.type", std::string("aborted"));
    }
    if (auto* c = open_child(p.span)) {
      c->ended = true;
      c->rec.end_unix_ns = tracing::now_unix_ns();
    }
  }
  http_.clear();
}

std::uint32_t actor_node_context::index_of(const span& s) const {
  auto i = span_index_of(s);
  return i <= children_.size() ? i : 0;
}

void actor_node_context::complete(value_map outputs) {
  if (ended() || cancelling_ || !on_finish) return;
  // Outputs travel on to other nodes, spans and callers, and some of what
  // walks them (JSON dump, copies) recurses: a component that built a value
  // deeper than any input may be fails here, before anything walks it.
  const auto limit = rs_->max_value_depth;
  for (const auto& [name, v] : outputs)
    if (value_depth(v, limit + 1) > limit) {
      on_finish(false, {},
                "output '" + name + "' nests arrays and objects deeper than " +
                    std::to_string(limit) + " levels (engine_options::max_value_depth)",
                "output.depth");
      return;
    }
  on_finish(true, std::move(outputs), {}, {});
}

void actor_node_context::fail(std::string message, std::string error_type) {
  if (ended() || cancelling_ || !on_finish) return;
  on_finish(false, {}, message.empty() ? "failed" : std::move(message), std::move(error_type));
}

void actor_node_context::mark_ended() {
  abort_http();  // first: it ends spans, which needs the node still running
  cancel_children();
  http_client_ = nullptr;  // a context kept alive by a component must not pin the client
  ended_.store(true, std::memory_order_release);
  // Callbacks may capture the context itself (a component keeping it alive
  // for post): dropping them here breaks that cycle.
  timers_.clear();
  cancel_handlers_.clear();
  on_finish = nullptr;
  if (rs_->sampled) {
    if (spans_dropped_ > 0)
      node_span_.set("weft.spans_dropped", static_cast<std::int64_t>(spans_dropped_));
    if (events_dropped_ > 0)
      node_span_.set("weft.events_dropped", static_cast<std::int64_t>(events_dropped_));
  }
}

std::vector<tracing::span_record> actor_node_context::take_children() {
  std::vector<tracing::span_record> out;
  out.reserve(children_.size());
  auto now = tracing::now_unix_ns();
  for (auto& c : children_) {
    if (!c.ended) {
      c.rec.status = tracing::status_code::error;
      c.rec.status_message = "unfinished";
      c.rec.end_unix_ns = now;
    }
    out.push_back(std::move(c.rec));
  }
  children_.clear();
  return out;
}

std::vector<std::function<void()>> actor_node_context::begin_cancel() {
  cancelling_ = true;
  return std::exchange(cancel_handlers_, {});
}

std::function<void()> actor_node_context::take_timer(std::uint64_t id) {
  if (ended()) return {};
  auto i = timers_.find(id);
  if (i == timers_.end()) return {};
  // Taken out first: the callback may end the node, which clears the map.
  auto fn = std::move(i->second);
  timers_.erase(i);
  return fn;
}

actor_node_context::child* actor_node_context::open_child(std::uint32_t index) {
  if (ended() || index == 0 || index > children_.size()) return nullptr;
  auto& c = children_[index - 1];
  return c.ended ? nullptr : &c;
}

tracing::attribute_value actor_node_context::to_record(attribute_value v) const {
  // Strings are masked (a secret may reach an attribute by value); the
  // alternatives are the same as the record's, in the same order.
  if (auto* s = std::get_if<std::string>(&v)) return rs_->mask(std::move(*s));
  if (auto* a = std::get_if<std::vector<std::string>>(&v)) {
    for (auto& s : *a) s = rs_->mask(std::move(s));
    return std::move(*a);
  }
  if (auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (auto* d = std::get_if<double>(&v)) return *d;
  return std::get<bool>(v);
}

std::uint32_t actor_node_context::span_open(std::uint32_t parent, std::string name,
                                            span_kind kind) {
  if (ended()) return 0;
  tracing::span_id parent_id;
  if (parent == 0) {
    parent_id = node_span_.id;
  } else if (parent <= children_.size()) {
    parent_id = children_[parent - 1].rec.id;  // an ended span may still have children
  } else {
    return 0;
  }
  if (children_.size() >= max_child_spans) {
    ++spans_dropped_;
    return 0;
  }
  child c;
  if (rs_->sampled) {
    c.rec = rs_->open_span(tctx_.child_of(parent_id), std::move(name));
  } else {
    c.rec.trace = tctx_.trace;
    c.rec.id = tracing::span_id::random();
    c.rec.parent = parent_id;
  }
  c.rec.kind = record_kind(kind);
  children_.push_back(std::move(c));
  return static_cast<std::uint32_t>(children_.size());
}

void actor_node_context::span_set(std::uint32_t index, std::string key, attribute_value v) {
  auto* c = open_child(index);
  if (!c || !rs_->sampled) return;
  c->rec.set(std::move(key), to_record(std::move(v)));
}

void actor_node_context::span_event(std::uint32_t index, std::string name,
                                    std::vector<std::pair<std::string, attribute_value>> attrs) {
  auto* c = open_child(index);
  if (!c || !rs_->sampled) return;
  if (c->rec.events.size() >= max_span_events) {
    ++events_dropped_;
    return;
  }
  tracing::span_event e;
  e.name = std::move(name);
  e.time_unix_ns = tracing::now_unix_ns();
  e.attributes.reserve(attrs.size());
  for (auto& kv : attrs) {
    tracing::attribute a;
    a.key = std::move(kv.first);
    a.value = to_record(std::move(kv.second));
    e.attributes.push_back(std::move(a));
  }
  c->rec.events.push_back(std::move(e));
}

void actor_node_context::span_set_status(std::uint32_t index, span_status s, std::string message) {
  auto* c = open_child(index);
  if (!c || !rs_->sampled) return;
  switch (s) {
    case span_status::unset:
      c->rec.status = tracing::status_code::unset;
      c->rec.status_message.clear();
      break;
    case span_status::ok:
      c->rec.status = tracing::status_code::ok;
      c->rec.status_message.clear();
      break;
    case span_status::error:
      c->rec.status = tracing::status_code::error;
      c->rec.status_message = rs_->mask(std::move(message));
      break;
  }
}

void actor_node_context::span_end(std::uint32_t index) {
  auto* c = open_child(index);
  if (!c) return;
  c->ended = true;
  c->rec.end_unix_ns = tracing::now_unix_ns();
}

bool actor_node_context::span_recording(std::uint32_t index) const {
  if (ended() || !rs_->sampled || index == 0 || index > children_.size()) return false;
  return !children_[index - 1].ended;
}

std::string actor_node_context::span_traceparent(std::uint32_t index) const {
  if (index == 0) return tracing::format_traceparent(tctx_.trace, node_span_.id, rs_->sampled);
  if (index > children_.size()) return {};
  return tracing::format_traceparent(tctx_.trace, children_[index - 1].rec.id, rs_->sampled);
}

}  // namespace weft::actors
