#include "components/llm_call.hpp"

#include <chrono>
#include <random>

#include "components/child_flow.hpp"
#include "components/genai_messages.hpp"
#include "components/llm_sse.hpp"
#include "components/thread_rng.hpp"
#include "components/url_parts.hpp"

namespace weft::components {
namespace {

using namespace flows;
using clock_type = std::chrono::steady_clock;

// Of an error body kept from a stream whose status said it failed.
constexpr std::size_t max_error_head = 4096;
// What a streamed reply may add up to before the call gives up on it.
constexpr std::size_t max_stream_content = 16 << 20;

void add_error(diagnostics& errs, const node_spec& n, const std::string& param, std::string msg) {
  errs.push_back(
      {param_at(n, param), "node '" + n.id + "': param '" + param + "': " + std::move(msg)});
}

std::optional<double> number_param(const node_spec& n, const char* key, double lo, double hi,
                                   diagnostics& errs, bool& ok) {
  auto i = n.params.find(key);
  if (i == n.params.end() || i->is_null()) return std::nullopt;
  if (!i->is_number() || i->get<double>() < lo || i->get<double>() > hi) {
    add_error(errs, n, key,
              "want a number from " + value(lo).dump() + " to " + value(hi).dump() + ", got " +
                  i->dump());
    ok = false;
    return std::nullopt;
  }
  return i->get<double>();
}

std::string without_trailing_slashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// One call: its attempts, its stream, its span. Lives on the node's actor;
// the callbacks keep it alive.
struct chat_call : std::enable_shared_from_this<chat_call> {
  node_context* ctx = nullptr;
  const llm_settings* s = nullptr;
  http_request req;
  span chat;
  std::function<void(llm_call_result)> done;
  std::string model;  // of this call
  int retries = 0;
  bool finished = false;
  clock_type::time_point started = clock_type::now();
  // The stream of the current attempt.
  std::unique_ptr<sse_parser> sse;
  std::unique_ptr<chat_stream> stream;
  std::string error_head;  // the first bytes, in case the status says error
  std::string stream_error;
  std::size_t content_bytes = 0;
  std::int64_t chunks = 0;  // content deltas delivered, over all attempts

  void attempt() {
    auto hs = chat.recording() ? chat.child("HTTP POST", span_kind::client)
                               : ctx->start_span("HTTP POST", span_kind::client);
    hs.set("http.request.method", "POST");
    hs.set("url.full", s->url);
    hs.set("server.address", s->host);
    hs.set("server.port", s->port);
    if (retries > 0) hs.set("http.request.resend_count", static_cast<std::int64_t>(retries));
    auto self = shared_from_this();
    std::function<void(std::string_view)> on_chunk;
    if (s->request.stream) {
      sse = std::make_unique<sse_parser>();
      stream = std::make_unique<chat_stream>(s->max_depth);
      error_head.clear();
      stream_error.clear();
      on_chunk = [self](std::string_view bytes) { self->chunk(bytes); };
    }
    ctx->http(
        req, [self, hs](const http_response& r) mutable { self->response(r, hs); },
        std::move(on_chunk), hs);
  }

  void chunk(std::string_view bytes) {
    if (finished || !stream_error.empty()) return;
    if (error_head.size() < max_error_head)
      error_head.append(bytes.substr(0, max_error_head - error_head.size()));
    bool ok = sse->feed(bytes, [this](const sse_event& e) {
      std::string delta;
      if (stream->add(e.data, delta) == chat_stream::step::failed) {
        stream_error = stream->error();
        return false;
      }
      if (delta.empty()) return true;
      content_bytes += delta.size();
      if (content_bytes > max_stream_content) {
        stream_error =
            "the streamed reply grew past " + std::to_string(max_stream_content >> 20) + " MiB";
        return false;
      }
      if (chunks++ == 0) {
        auto ms = std::chrono::duration<double, std::milli>(clock_type::now() - started).count();
        chat.set("weft.llm.time_to_first_chunk_ms", ms);
      }
      if (ctx->observed()) ctx->emit(value(std::move(delta)));
      return true;
    });
    if (!ok && stream_error.empty())
      stream_error = "malformed stream: an event is larger than 1 MiB";
  }

  bool retry_after(const http_response& r) {
    // A stream that has delivered content cannot be asked again: the
    // observer has seen the first attempt's chunks.
    if (chunks > 0 || retries >= s->retry.max_retries || !llm_should_retry(r)) return false;
    auto wait = llm_retry_wait_ms(r, s->retry, retries, thread_rng());
    ++retries;
    auto self = shared_from_this();
    ctx->after(std::chrono::milliseconds(wait), [self] {
      if (!self->finished) self->attempt();
    });
    return true;
  }

  void response(const http_response& r, span hs) {
    if (finished) {
      hs.end();
      return;
    }
    const std::string attempts = std::to_string(retries + 1) + " attempt(s)";
    if (!r.error.empty()) {
      hs.set("error.type", r.error_type);
      hs.status(span_status::error, r.error);
      hs.end();
      if (retry_after(r)) return;
      if (chunks > 0)
        return fail("the stream broke after " + std::to_string(chunks) + " chunk(s): " + r.error,
                    r.error_type == "timeout" ? "timeout" : "stream_broken");
      return fail("POST " + s->url + " failed after " + attempts + ": " + r.error, r.error_type);
    }
    hs.set("http.response.status_code", static_cast<std::int64_t>(r.status));
    if (r.status < 200 || r.status >= 300) {
      const std::string code = std::to_string(r.status);
      hs.set("error.type", code);
      hs.status(span_status::error, "HTTP " + code);
      hs.end();
      if (retry_after(r)) return;
      const std::string& body = s->request.stream ? error_head : r.body;
      return fail(
          "the server answered " + code + " after " + attempts + ": " + error_message_of(body),
          code);
    }
    hs.end();
    chat_reply reply;
    if (!s->request.stream) {
      if (auto e = parse_chat_reply(r.body, s->max_depth, reply)) return fail(*e, "invalid_reply");
    } else {
      if (!stream_error.empty()) return fail(stream_error, "invalid_stream");
      // A body cut mid-event is as truncated as one that never said [DONE].
      if (!stream->done())
        return fail("truncated stream: the reply ended before data: [DONE] (after " +
                        std::to_string(chunks) + " chunk(s))",
                    "truncated_stream");
      reply = stream->take();
    }
    succeed(std::move(reply));
  }

  // The call for the run's usage and the engine's GenAI metrics.
  void record(const chat_usage& u, const std::string& error_type) {
    llm_call_record rec;
    rec.provider = s->provider;
    rec.model = model;
    rec.input_tokens = u.input;
    rec.output_tokens = u.output;
    rec.duration_s = std::chrono::duration<double>(clock_type::now() - started).count();
    rec.error_type = error_type;
    ctx->record_llm_call(rec);
  }

  void succeed(chat_reply reply) {
    finished = true;
    record(reply.usage, {});
    if (!reply.id.empty()) chat.set("gen_ai.response.id", reply.id);
    if (!reply.model.empty()) chat.set("gen_ai.response.model", reply.model);
    if (!reply.finish_reason.empty())
      chat.set("gen_ai.response.finish_reasons", std::vector<std::string>{reply.finish_reason});
    if (reply.usage.present) {
      chat.set("gen_ai.usage.input_tokens", reply.usage.input);
      chat.set("gen_ai.usage.output_tokens", reply.usage.output);
      if (reply.usage.cache_read)
        chat.set("gen_ai.usage.cache_read.input_tokens", *reply.usage.cache_read);
      if (reply.usage.reasoning)
        chat.set("gen_ai.usage.reasoning.output_tokens", *reply.usage.reasoning);
      if (s->price_input && s->price_output) {
        chat.set("weft.llm.cost.input",
                 static_cast<double>(reply.usage.input) * *s->price_input / 1e6);
        chat.set("weft.llm.cost.output",
                 static_cast<double>(reply.usage.output) * *s->price_output / 1e6);
        chat.set("weft.llm.cost.total", *llm_cost(*s, reply.usage));
      }
    }
    if (s->content && chat.recording())
      chat.set("gen_ai.output.messages",
               genai_output_messages(reply.message, reply.finish_reason)
                   .dump(-1, ' ', false, value::error_handler_t::replace));
    chat.end();
    llm_call_result out;
    out.ok = true;
    out.reply = std::move(reply);
    auto fn = std::move(done);
    fn(std::move(out));
  }

  void fail(std::string message, std::string type) {
    finished = true;
    record({}, type);
    chat.set("error.type", type);
    chat.status(span_status::error, message);
    chat.end();
    llm_call_result out;
    out.error = std::move(message);
    out.error_type = std::move(type);
    auto fn = std::move(done);
    fn(std::move(out));
  }
};

// The transcript as the span shows it. A system prompt given on its own
// (the node's `system` input, sent first) is the call's system
// instructions; system messages inside the transcript stay input messages,
// as the conventions ask for instructions that are part of the history.
void set_content(span& chat, const value& messages, bool first_is_instructions) {
  value rest = value::array();
  auto text = [](const value& v) {
    return v.dump(-1, ' ', false, value::error_handler_t::replace);
  };
  std::size_t from = 0;
  if (first_is_instructions && !messages.empty() && messages[0].is_object()) {
    auto c = messages[0].find("content");
    if (c != messages[0].end() && c->is_string()) {
      chat.set("gen_ai.system_instructions",
               text(genai_system_instructions(c->get<std::string>())));
      from = 1;
    }
  }
  for (std::size_t i = from; i < messages.size(); ++i) rest.push_back(messages[i]);
  chat.set("gen_ai.input.messages", text(genai_input_messages(rest)));
}

}  // namespace

std::vector<param_spec> llm_param_specs() {
  return {{"model", value_type::string, true},
          {"base_url", value_type::string, false},
          {"api_key", value_type::string, false},
          {"provider", value_type::string, false},
          {"temperature", value_type::number, false},
          {"top_p", value_type::number, false},
          {"max_tokens", value_type::integer, false},
          {"max_tokens_field", value_type::string, false},
          {"stop", value_type::any, false},
          {"seed", value_type::integer, false},
          {"response_format", value_type::object, false},
          {"retry_invalid", value_type::integer, false},
          {"tools", value_type::array, false},
          {"stream", value_type::boolean, false},
          {"timeout_ms", value_type::integer, false},
          {"retry", value_type::object, false},
          {"price_per_mtok", value_type::object, false}};
}

std::optional<std::string> normalise_tools(const value& in, value& out) {
  out = value::array();
  if (!in.is_array()) return "want an array of function tools";
  for (std::size_t i = 0; i < in.size(); ++i) {
    const value& t = in[i];
    const std::string where = "tool " + std::to_string(i) + ": ";
    if (!t.is_object()) return where + "want an object";
    const value* fn = &t;
    if (auto f = t.find("function"); f != t.end()) {
      if (t.value("type", "function") != "function")
        return where + "only type 'function' is supported";
      fn = &*f;
    }
    if (!fn->is_object()) return where + "'function' must be an object";
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string() || name->get<std::string>().empty())
      return where + "needs a 'name'";
    value f = {{"name", *name}};
    if (auto d = fn->find("description"); d != fn->end()) {
      if (!d->is_string()) return where + "'description' must be a string";
      f["description"] = *d;
    }
    if (auto p = fn->find("parameters"); p != fn->end()) {
      if (!p->is_object()) return where + "'parameters' must be a JSON Schema object";
      f["parameters"] = *p;
    }
    out.push_back({{"type", "function"}, {"function", std::move(f)}});
  }
  return std::nullopt;
}

bool read_llm_settings(const node_spec& n, const component_services& svc, diagnostics& errs,
                       llm_settings& out) {
  bool ok = true;
  const value& p = n.params;
  out.max_depth = svc.max_value_depth;
  out.content = svc.settings.tracing.content;
  out.request.model = p.value("model", std::string{});
  if (out.request.model.empty()) {
    add_error(errs, n, "model", "must name a model");
    ok = false;
  }
  std::string base;
  if (auto b = p.find("base_url"); b != p.end()) base = b->get<std::string>();
  else if (auto e = svc.env("OPENAI_BASE_URL"); e && !e->empty()) base = *e;
  else base = "https://api.openai.com/v1";
  base = without_trailing_slashes(base);
  if (!http_scheme(base)) {
    add_error(errs, n, "base_url",
              "'" + base + "' must start with http:// or https:// (it comes from " +
                  (p.contains("base_url") ? "the param" : "OPENAI_BASE_URL") + ")");
    ok = false;
  }
  out.url = base + "/chat/completions";
  server_of(out.url, out.host, out.port);
  if (auto k = p.find("api_key"); k != p.end()) out.api_key = k->get<std::string>();
  else if (auto e = svc.env("OPENAI_API_KEY")) out.api_key = *e;
  // Masked in every run of the flow, whatever text it turns up in.
  if (!out.api_key.empty()) svc.add_secret_value(out.api_key);
  if (out.api_key.find_first_of("\r\n") != std::string::npos) {
    add_error(errs, n, "api_key", "the key has a line break in it (check how it was set)");
    ok = false;
  }
  out.provider = p.value("provider", std::string("openai"));
  out.request.temperature = number_param(n, "temperature", 0, 2, errs, ok);
  out.request.top_p = number_param(n, "top_p", 0, 1, errs, ok);
  if (auto m = p.find("max_tokens"); m != p.end()) {
    if (m->get<std::int64_t>() < 1) {
      add_error(errs, n, "max_tokens", "must be at least 1");
      ok = false;
    }
    out.request.max_tokens = m->get<std::int64_t>();
  }
  out.request.max_tokens_field = p.value("max_tokens_field", std::string("max_completion_tokens"));
  if (out.request.max_tokens_field != "max_completion_tokens" &&
      out.request.max_tokens_field != "max_tokens") {
    add_error(errs, n, "max_tokens_field",
              "want max_completion_tokens (the default) or max_tokens");
    ok = false;
  }
  if (auto st = p.find("stop"); st != p.end()) {
    if (st->is_string()) {
      out.request.stop.push_back(st->get<std::string>());
    } else if (st->is_array() &&
               std::all_of(st->begin(), st->end(), [](const value& x) { return x.is_string(); })) {
      for (auto& x : *st) out.request.stop.push_back(x.get<std::string>());
    } else {
      add_error(errs, n, "stop", "want a string or a list of strings");
      ok = false;
    }
  }
  if (auto sd = p.find("seed"); sd != p.end()) out.request.seed = sd->get<std::int64_t>();
  if (auto rf = p.find("response_format"); rf != p.end()) {
    auto schema = rf->find("schema");
    if (schema == rf->end() || !schema->is_object()) {
      add_error(errs, n, "response_format", "needs 'schema': a JSON Schema object");
      ok = false;
    } else {
      std::string why;
      out.schema = json_schema::compile(*schema, why);
      if (!out.schema) {
        add_error(errs, n, "response_format", "'schema' is " + why);
        ok = false;
      }
      out.request.schema = *schema;
    }
    out.request.schema_name = rf->value("name", std::string("response"));
    if (auto st = rf->find("strict"); st != rf->end()) {
      if (!st->is_boolean()) {
        add_error(errs, n, "response_format", "'strict' must be true or false");
        ok = false;
      } else {
        out.request.schema_strict = st->get<bool>();
      }
    }
  }
  out.retry_invalid = static_cast<int>(int_param(n, "retry_invalid", 0, 0, 10, errs, ok));
  if (out.retry_invalid > 0 && !out.schema) {
    add_error(errs, n, "retry_invalid",
              "only applies with response_format (a schema to check replies against)");
    ok = false;
  }
  if (auto t = p.find("tools"); t != p.end()) {
    if (auto why = normalise_tools(*t, out.tools)) {
      add_error(errs, n, "tools", *why);
      ok = false;
    }
  }
  out.request.stream = p.value("stream", false);
  out.timeout_ms = int_param(n, "timeout_ms", 600000, 1, 24LL * 3600 * 1000, errs, ok);
  if (auto r = p.find("retry"); r != p.end()) {
    out.retry.max_retries = static_cast<int>(r->value("max_retries", std::int64_t{2}));
    out.retry.initial_ms = r->value("initial_ms", std::int64_t{500});
    out.retry.max_ms = r->value("max_ms", std::int64_t{8000});
    if (out.retry.max_retries < 0 || out.retry.max_retries > 10 || out.retry.initial_ms < 0 ||
        out.retry.max_ms < out.retry.initial_ms) {
      add_error(errs, n, "retry", "want max_retries 0..10 and 0 <= initial_ms <= max_ms");
      ok = false;
    }
  }
  if (auto pr = p.find("price_per_mtok"); pr != p.end()) {
    auto in = pr->find("input"), outp = pr->find("output");
    if (in == pr->end() || outp == pr->end() || !in->is_number() || !outp->is_number() ||
        in->get<double>() < 0 || outp->get<double>() < 0) {
      add_error(errs, n, "price_per_mtok",
                "want {input: N, output: N}, prices per million tokens, N >= 0");
      ok = false;
    } else {
      out.price_input = in->get<double>();
      out.price_output = outp->get<double>();
    }
  }
  return ok;
}

std::optional<std::string> model_input(const value_map& in, std::string& model) {
  auto m = in.find("model");
  if (m == in.end() || m->second.is_null()) return std::nullopt;
  if (!m->second.is_string() || m->second.get<std::string>().empty())
    return std::string("input 'model' must be a model name (a non-empty string)");
  model = m->second.get<std::string>();
  return std::nullopt;
}

std::optional<double> llm_cost(const llm_settings& s, const chat_usage& u) {
  if (!s.price_input || !s.price_output) return std::nullopt;
  return (static_cast<double>(u.input) * *s.price_input +
          static_cast<double>(u.output) * *s.price_output) /
         1e6;
}

void llm_chat_call(node_context& ctx, const llm_settings& s, const value& messages,
                   const value& tools, llm_call_options opts,
                   std::function<void(llm_call_result)> done) {
  auto c = std::make_shared<chat_call>();
  c->ctx = &ctx;
  c->s = &s;
  c->model = opts.model.empty() ? s.request.model : opts.model;
  c->done = std::move(done);
  const std::string& model = opts.model.empty() ? s.request.model : opts.model;
  const std::string name = "chat " + model;
  span& parent = opts.parent;
  c->chat = parent.recording() ? parent.child(name, span_kind::client)
                               : ctx.start_span(name, span_kind::client);
  span& chat = c->chat;
  chat.set("gen_ai.operation.name", "chat");
  chat.set("gen_ai.provider.name", s.provider);
  chat.set("gen_ai.request.model", model);
  if (s.request.temperature) chat.set("gen_ai.request.temperature", *s.request.temperature);
  if (s.request.top_p) chat.set("gen_ai.request.top_p", *s.request.top_p);
  if (s.request.max_tokens) chat.set("gen_ai.request.max_tokens", *s.request.max_tokens);
  if (s.request.seed) chat.set("gen_ai.request.seed", *s.request.seed);
  if (!s.request.stop.empty()) chat.set("gen_ai.request.stop_sequences", s.request.stop);
  chat.set("server.address", s.host);
  chat.set("server.port", s.port);
  if (s.content && chat.recording()) set_content(chat, messages, opts.system_first);
  const value& use_tools = tools.is_array() && !tools.empty() ? tools : s.tools;
  c->req.method = "POST";
  c->req.url = s.url;
  c->req.timeout = std::chrono::milliseconds(s.timeout_ms);
  c->req.headers.emplace_back("Content-Type", "application/json");
  if (s.request.stream) c->req.headers.emplace_back("Accept", "text/event-stream");
  if (!s.api_key.empty()) c->req.headers.emplace_back("Authorization", "Bearer " + s.api_key);
  value body = chat_request_body(s.request, messages, use_tools);
  if (!opts.model.empty()) body["model"] = opts.model;
  c->req.body = body.dump(-1, ' ', false, value::error_handler_t::replace);
  c->attempt();
}

}  // namespace weft::components
