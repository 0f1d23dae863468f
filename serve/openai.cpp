// The OpenAI-compatible routes of weft serve (serve/openai.hpp).
#include "serve/openai.hpp"

#include <ctime>
#include <optional>
#include <string_view>

#include "net/json_text.hpp"
#include "serve/json_body.hpp"
#include "serve/service.hpp"
#include "tracing/ids.hpp"

namespace weft::serve {

namespace {

using flows::value;

const flows::input_decl* input_named(const flows::plan& p, std::string_view name) {
  for (const auto& d : p.spec.inputs)
    if (d.name == name) return &d;
  return nullptr;
}

bool has_output(const flows::plan& p, std::string_view name) {
  for (const auto& o : p.outputs)
    if (o.name == name) return true;
  return false;
}

bool takes_messages(const flows::plan& p) {
  auto d = input_named(p, "messages");
  return d && (d->type == flows::value_type::array || d->type == flows::value_type::any);
}

bool takes_prompt(const flows::plan& p) {
  auto d = input_named(p, "prompt");
  return d && (d->type == flows::value_type::string || d->type == flows::value_type::any);
}

// The node whose output is the flow's `text`: its chunk events (and those
// of child runs under it) are the content deltas of a stream. Empty when
// `text` comes straight from an input.
std::string text_node(const flows::plan& p) {
  for (const auto& o : p.outputs)
    if (o.name == "text" && o.source.node >= 0)
      return p.nodes[static_cast<std::size_t>(o.source.node)].id;
  return {};
}

// The content of a message as one string: a string, or its text parts joined.
std::string content_text(const value& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array())
    for (const auto& part : content)
      if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
          part["text"].is_string())
        out += part["text"].get<std::string>();
  return out;
}

std::string text_of(const value& v) { return v.is_string() ? v.get<std::string>() : dump(v); }

value usage_of(const run_result& r) {
  return {{"prompt_tokens", r.input_tokens},
          {"completion_tokens", r.output_tokens},
          {"total_tokens", r.input_tokens + r.output_tokens}};
}

// The error of a failed run, as OpenAI words errors.
net::server_response run_error(const run_result& r) {
  std::string msg = r.error;
  if (!r.failed_node.empty() && msg.find(r.failed_node) == std::string::npos)
    msg = "node '" + r.failed_node + "' failed: " + msg;
  if (r.worker_lost) return openai_error(502, "server_error", msg, {}, "worker_lost");
  if (r.no_worker) return openai_error(503, "server_error", msg, {}, "no_worker");
  return r.timed_out ? openai_error(504, "server_error", msg, {}, "run_timeout")
                     : openai_error(500, "server_error", msg, {}, "run_failed");
}

// One chat.completion.chunk.
value chunk(const std::string& id, std::int64_t created, const std::string& model, value delta,
            const value& finish, bool with_usage) {
  value c = {
      {"id", id},
      {"object", "chat.completion.chunk"},
      {"created", created},
      {"model", model},
      {"choices",
       value::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish}}})}};
  if (with_usage) c["usage"] = nullptr;
  return c;
}

std::string data_line(const value& v) { return "data: " + dump(v) + "\n\n"; }

// A content chunk's event is the same for the whole stream but for the
// text: printed once with a marker where the text goes and split there,
// each delta then costs one escape and two appends instead of a JSON
// object built and printed (weft_stream_bench, bench/RESULTS.md). The
// marker is the first string in the dump because "choices" sorts before
// the keys that hold caller-chosen strings (id, model).
struct content_frame {
  std::string head, tail;

  content_frame(const std::string& id, std::int64_t created, const std::string& model,
                bool with_usage) {
    const auto line =
        data_line(chunk(id, created, model, {{"content", "\x01"}}, nullptr, with_usage));
    const std::string marker = "\"\\u0001\"";
    const auto at = line.find(marker);
    head = line.substr(0, at) + '"';
    tail = '"' + line.substr(at + marker.size());
  }

  std::string with(std::string_view text) const {
    std::string out;
    out.reserve(head.size() + text.size() + tail.size() + 8);
    out += head;
    net::append_json_escaped(out, text);
    out += tail;
    return out;
  }
};

}  // namespace

bool is_chat_model(const flows::plan& flow) {
  return (takes_messages(flow) || takes_prompt(flow)) && has_output(flow, "text");
}

net::server_response openai_error(int status, std::string_view type, std::string_view message,
                                  std::string_view param, std::string_view code) {
  value e = {{"message", message},
             {"type", type},
             {"param", param.empty() ? value(nullptr) : value(param)},
             {"code", code.empty() ? value(nullptr) : value(code)}};
  auto r = json_ok(status, {{"error", std::move(e)}});
  return r;
}

void service::openai_models(const net::responder& reply) {
  value data = value::array();
  for (const auto& [name, flow] : flows_.all())
    if (is_chat_model(*flow))
      data.push_back(
          {{"id", name}, {"object", "model"}, {"created", started_unix_}, {"owned_by", "weft"}});
  reply(json_ok(200, {{"object", "list"}, {"data", std::move(data)}}));
}

void service::openai_chat(net::server_request& req, const net::responder& reply) {
  auto bad = [&](const std::string& msg, const std::string& param, const std::string& code = {}) {
    reply(openai_error(400, "invalid_request_error", msg, param, code));
  };
  auto ct = req.header("content-type");
  if (!ct || !is_json_media_type(*ct))
    return bad("the body must be JSON: send 'Content-Type: application/json'", {});
  value body;
  try {
    body = parse_body(req.body, cfg_.max_depth);
  } catch (const std::exception& e) {
    return bad(std::string("the body is not valid JSON: ") + e.what(), {});
  }
  if (!body.is_object()) return bad("the body must be a JSON object", {});
  auto model = body.find("model");
  if (model == body.end() || !model->is_string() || model->get<std::string>().empty())
    return bad("you must provide a model parameter (a flow name; GET /v1/models lists them)",
               "model");
  auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array() || messages->empty())
    return bad("'messages' must be a non-empty array of messages", "messages");
  for (std::size_t i = 0; i < messages->size(); ++i) {
    const value& m = (*messages)[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return bad(at + " must be an object", at);
    if (!m.contains("role") || !m["role"].is_string())
      return bad(at + ".role must be a string", at + ".role");
  }
  bool stream = false, include_usage = false;
  if (auto s = body.find("stream"); s != body.end() && !s->is_null()) {
    if (!s->is_boolean()) return bad("'stream' must be true or false", "stream");
    stream = s->get<bool>();
  }
  if (auto so = body.find("stream_options"); so != body.end() && !so->is_null()) {
    if (!so->is_object()) return bad("'stream_options' must be an object", "stream_options");
    if (auto iu = so->find("include_usage"); iu != so->end()) {
      if (!iu->is_boolean())
        return bad("'stream_options.include_usage' must be true or false",
                   "stream_options.include_usage");
      include_usage = iu->get<bool>();
    }
  }
  run_options ro;
  if (auto u = body.find("user"); u != body.end() && !u->is_null()) {
    if (!u->is_string()) return bad("'user' must be a string", "user");
    ro.user_id = u->get<std::string>();
    if (ro.user_id.size() > cfg_.max_id_bytes)
      return bad("'user' is longer than " + std::to_string(cfg_.max_id_bytes) + " bytes", "user");
  }
  if (auto h = req.header("x-session-id")) {
    if (h->size() > cfg_.max_id_bytes)
      return bad("X-Session-Id is longer than " + std::to_string(cfg_.max_id_bytes) + " bytes", {});
    ro.session_id = *h;
  }
  trace_headers(req, ro);

  const std::string name = model->get<std::string>();
  auto flow = flows_.find(name);
  if (!flow || !is_chat_model(*flow))
    return reply(openai_error(404, "invalid_request_error",
                              "The model '" + name +
                                  "' does not exist: a model is a flow with a 'messages' or "
                                  "'prompt' input and a 'text' output (GET /v1/models lists them)",
                              "model", "model_not_found"));
  flows::value_map inputs;
  if (takes_messages(*flow)) {
    inputs["messages"] = *messages;
  } else {
    const value* last_user = nullptr;
    for (const auto& m : *messages)
      if (m["role"] == "user") last_user = &m;
    if (!last_user)
      return bad("the model '" + name + "' takes a prompt: send at least one user message",
                 "messages");
    inputs["prompt"] = content_text(last_user->value("content", value()));
  }
  if (auto problems = eng_.prepare_inputs(flow, inputs); !problems.empty()) {
    metrics_.run_rejected(name);
    const auto& p = problems.front();
    return bad(p.message, p.field);
  }
  if (!admit()) {
    metrics_.run_rejected(name);
    auto r = openai_error(
        429, "rate_limit_error",
        std::to_string(cfg_.max_inflight) + " runs are in flight (--max-inflight); retry later", {},
        "rate_limit_exceeded");
    r.headers.emplace_back("retry-after", std::to_string(cfg_.retry_after_s));
    return reply(std::move(r));
  }
  metrics_.run_started();
  const auto created = static_cast<std::int64_t>(std::time(nullptr));
  auto finished = [this, name](const run_result& r) {
    inflight_--;
    auto status = r.ok ? run_status::ok : r.timed_out ? run_status::timeout : run_status::failed;
    metrics_.run_finished(name, status, r.duration_ms / 1000.0);
  };

  if (!stream) {
    eng_.run(flow, std::move(inputs), std::move(ro),
             [reply, name, created, finished](run_result r) {
               finished(r);
               if (!r.ok) return reply(run_error(r));
               auto text = r.outputs.find("text");
               value message = {{"role", "assistant"},
                                {"content", text == r.outputs.end() ? "" : text_of(text->second)}};
               value answer = {{"id", "chatcmpl-" + r.run_id},
                               {"object", "chat.completion"},
                               {"created", created},
                               {"model", name},
                               {"choices", value::array({{{"index", 0},
                                                          {"message", std::move(message)},
                                                          {"finish_reason", "stop"},
                                                          {"logprobs", nullptr}}})},
                               {"usage", usage_of(r)}};
               reply(json_ok(200, answer));
             });
    return;
  }

  // The stream: its id is known before the run starts, so it is a fresh
  // one here (the run id comes back in the trace, not in the chunks).
  struct state {
    net::stream_writer out;
    std::string id;
    std::string text_node;
    std::optional<content_frame> frame;
  };
  auto st = std::make_shared<state>();
  st->id = "chatcmpl-" + tracing::span_id::random().to_hex();
  st->text_node = text_node(*flow);
  st->frame.emplace(st->id, created, name, include_usage);
  auto canceller = std::make_shared<run_canceller>();
  net::stream_options so;
  so.max_buffered_bytes = cfg_.max_stream_buffer_bytes;
  so.overflow_tail = data_line({{"error",
                                 {{"message", "the client read too slowly; the stream ends here"},
                                  {"type", "server_error"},
                                  {"param", nullptr},
                                  {"code", "stream_overflow"}}}});
  so.on_close = cancel_on_close(canceller, streams_, false);
  st->out = reply.stream(sse_head(), std::move(so));
  streams_.active++;
  heartbeat_.add(st->out);
  st->out.write(data_line(chunk(st->id, created, name, {{"role", "assistant"}, {"content", ""}},
                                nullptr, include_usage)));
  ro.canceller = canceller;
  ro.on_event = [st, created, name, include_usage, counters = &streams_](const run_event& e) {
    if (e.type != run_event::kind::chunk || st->text_node.empty() || e.path.empty() ||
        e.path[0] != st->text_node)
      return;
    if (!e.data.is_string() || e.data.get<std::string>().empty()) return;
    if (st->out.write(st->frame->with(e.data.get_ref<const std::string&>()))) counters->events++;
  };
  eng_.run(flow, std::move(inputs), std::move(ro),
           [st, created, name, include_usage, finished, counters = &streams_](const run_result& r) {
             if (r.ok) {
               st->out.write(
                   data_line(chunk(st->id, created, name, value::object(), "stop", include_usage)));
               if (include_usage) {
                 value u = {
                     {"id", st->id},  {"object", "chat.completion.chunk"}, {"created", created},
                     {"model", name}, {"choices", value::array()},         {"usage", usage_of(r)}};
                 st->out.write(data_line(u));
               }
               st->out.write("data: [DONE]\n\n");
             } else {
               auto err = run_error(r);
               st->out.write("data: " + err.body + "\n\n");
             }
             st->out.end();
             counters->active--;
             finished(r);
           });
}

}  // namespace weft::serve
