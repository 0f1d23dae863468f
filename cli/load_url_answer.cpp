#include "cli/load_url_answer.hpp"

#include <cstdlib>
#include <string_view>

#include "components/llm_sse.hpp"
#include "flows/value.hpp"

namespace weft::cli {
namespace {

using flows::value;

std::string string_at(const value& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "message (code)" from an {"error": {...}} object, or "" when `j` has none.
std::string error_text(const value& j) {
  auto it = j.find("error");
  if (it == j.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_object()) return it->dump();
  auto msg = string_at(*it, "message");
  auto code = string_at(*it, "code");
  return code.empty() ? msg : msg + " (" + code + ")";
}

const char* cut_note(bool truncated) {
  return truncated ? " (the body was cut at the load tool's size limit)" : "";
}

load_answer read_run(const net::http_response& r, bool truncated) {
  load_answer a;
  auto j = value::parse(r.body, nullptr, false);
  a.trace_id = j.is_object() ? string_at(j, "trace_id") : std::string();
  if (a.trace_id.empty()) {
    a.error = "HTTP " + std::to_string(r.status) + " with a body that is not a run result" +
              cut_note(truncated);
    return a;
  }
  a.run_id = string_at(j, "run_id");
  a.ok = a.complete = true;
  return a;
}

load_answer read_run_stream(const net::http_response& r, bool truncated) {
  load_answer a;
  components::sse_parser sse;
  long expect_id = 1;
  bool finished = false;
  sse.feed(r.body, [&](const components::sse_event& e) {
    ++a.events;
    if (finished) {
      a.error = "event '" + e.type + "' after run_finished";
      return false;
    }
    // The server's last word on an overflow carries no id: read it first.
    if (e.type == "error") {
      auto j = value::parse(e.data, nullptr, false);
      a.error = "the server ended the stream: " + (j.is_object() ? error_text(j) : e.data);
      return false;
    }
    // Ids count 1, 2, 3... per run: a gap is an event lost on the way.
    char* end = nullptr;
    long id = std::strtol(e.id.c_str(), &end, 10);
    if (e.id.empty() || *end != '\0' || id != expect_id) {
      a.error = "event " + std::to_string(a.events) + " has id '" + e.id + "', expected " +
                std::to_string(expect_id);
      return false;
    }
    ++expect_id;
    if (e.type != "run_finished") return true;
    finished = true;
    auto j = value::parse(e.data, nullptr, false);
    if (!j.is_object()) {
      a.error = "run_finished data is not a JSON object";
      return false;
    }
    a.trace_id = string_at(j, "trace_id");
    a.run_id = string_at(j, "run_id");
    if (string_at(j, "status") != "ok") {
      auto node = string_at(j, "node");
      a.error =
          "run failed" + (node.empty() ? "" : " at node '" + node + "'") + ": " + error_text(j);
    }
    return true;
  });
  a.complete = finished && !sse.failed() && sse.pending_bytes() == 0 && !truncated;
  if (a.error.empty() && !a.complete)
    a.error = std::string(finished ? "bytes after run_finished"
                                   : "the stream ended without run_finished") +
              " (" + std::to_string(a.events) + " events read)" + cut_note(truncated);
  a.ok = a.complete && a.error.empty();
  return a;
}

load_answer read_chat(const net::http_response& r, bool truncated) {
  load_answer a;
  auto j = value::parse(r.body, nullptr, false);
  const bool shaped = j.is_object() && string_at(j, "object") == "chat.completion" &&
                      j.contains("choices") && j["choices"].is_array() && !j["choices"].empty();
  if (!shaped) {
    a.error = "HTTP " + std::to_string(r.status) + " with a body that is not a chat.completion" +
              cut_note(truncated);
    return a;
  }
  // weft names a completion after its run: chatcmpl-<run id>.
  auto id = string_at(j, "id");
  if (id.starts_with("chatcmpl-")) a.run_id = id.substr(9);
  a.ok = a.complete = true;
  return a;
}

load_answer read_chat_stream(const net::http_response& r, bool truncated) {
  load_answer a;
  components::sse_parser sse;
  bool done = false;
  std::string last;  // the last chunk's data: where a failure is reported
  sse.feed(r.body, [&](const components::sse_event& e) {
    if (done) {
      a.error = "an event after [DONE]";
      return false;
    }
    if (e.data == "[DONE]") {
      done = true;
      return true;
    }
    ++a.events;
    // Each chunk is JSON; checking that it starts like an object keeps the
    // count cheap. Only a stream that failed is parsed, below.
    if (e.data.empty() || e.data.front() != '{') {
      a.error = "chunk " + std::to_string(a.events) + " is not a JSON object";
      return false;
    }
    last = e.data;
    return true;
  });
  if (a.error.empty() && !done && !last.empty()) {
    auto j = value::parse(last, nullptr, false);
    if (j.is_object()) a.error = error_text(j);
    if (!a.error.empty()) a.error = "the stream ended with an error: " + a.error;
  }
  a.complete = done && !sse.failed() && sse.pending_bytes() == 0 && !truncated;
  if (a.error.empty() && !a.complete)
    a.error = std::string(done ? "bytes after [DONE]" : "the stream ended without [DONE]") + " (" +
              std::to_string(a.events) + " chunks read)" + cut_note(truncated);
  a.ok = a.complete && a.error.empty();
  return a;
}

}  // namespace

load_answer read_answer(load_route route, const net::http_response& r, bool truncated) {
  switch (route) {
    case load_route::runs:
      return read_run(r, truncated);
    case load_route::runs_stream:
      return read_run_stream(r, truncated);
    case load_route::chat:
      return read_chat(r, truncated);
    case load_route::chat_stream:
      return read_chat_stream(r, truncated);
  }
  return {};
}

std::string describe_failure(const net::http_response& r) {
  if (r.error != net::transport_error::none)
    return net::to_string(r.error) + ": " + r.error_message;
  std::string out = "HTTP " + std::to_string(r.status);
  auto j = value::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return out;
  auto& e = j["error"];
  if (e.contains("code") && e["code"].is_string()) out += " " + e["code"].get<std::string>();
  if (e.contains("message") && e["message"].is_string())
    out += ": " + e["message"].get<std::string>();
  if (e.contains("details") && e["details"].is_array())
    for (auto& d : e["details"]) out += "\n  " + (d.is_string() ? d.get<std::string>() : d.dump());
  return out;
}

}  // namespace weft::cli
