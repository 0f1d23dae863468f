// http.request templates: `{{x}}` is escaped for where it lands (percent-
// encoded in the URL, JSON-escaped in a JSON body, as is in headers), a
// header that renders with a line break fails the node instead of forging a
// header, and a fuzz of random header templates and inputs never crashes the
// engine nor lets an input add a header of its own.
#include <random>

#include <catch2/catch.hpp>

#include "components/template_escape.hpp"
#include "support/engine_fixture.hpp"
#include "support/loopback_server.hpp"

using namespace weft;
using namespace weft::test;

namespace {

std::string one_call(const std::string& params) {
  return "flow: h\ninputs: {p: {type: any, default: 1}}\nnodes:\n  call:\n    type: http.request\n"
         "    params: " +
         params + "\n    inputs: {p: $inputs.p}\noutputs: {status: call.status}\n";
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

TEST_CASE("http.request: {{x}} is percent-encoded in the URL, JSON-escaped in a JSON body",
          "[components][http_request][template]") {
  loopback_server srv;
  engine eng(memory_options(std::make_shared<span_store>()));
  const std::string tricky = "a&b c/\xC3\xA9?#\"q\"\\\n<x>";
  auto flow =
      must_load(eng, one_call(R"({method: POST, url: ")" + srv.url("/e?q={{p}}&raw={{{p}}}") +
                              R"(", body: '{"q": "{{p}}"}'})"));
  auto r = eng.run(flow, {{"p", "a&b=c/d"}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  auto reqs = srv.requests();
  REQUIRE(reqs.size() == 1);
  // The escaped one is one query value; the raw one is the author's choice.
  CHECK(reqs[0].target == "/e?q=a%26b%3Dc%2Fd&raw=a&b=c/d");
  // Spaces and UTF-8 are encoded too.
  r = eng.run(flow, {{"p", "x y\xC3\xA9"}}).get();
  REQUIRE_FALSE(r.ok);  // the raw copy has a space: curl refuses the URL
  // ... at once: a malformed request is not retried.
  CHECK(r.error.find("failed after 1 attempt(s)") != std::string::npos);
  r = eng.run(must_load(eng, one_call(R"({url: ")" + srv.url("/e?q={{p}}") + R"("})")),
              {{"p", "x y\xC3\xA9"}})
          .get();
  REQUIRE(r.ok);
  CHECK(srv.requests().back().target == "/e?q=x%20y%C3%A9");

  r = eng.run(must_load(eng, one_call(R"({method: POST, url: ")" + srv.url("/j") +
                                      R"(", body: '{"q": "{{p}}"}'})")),
              {{"p", tricky}})
          .get();
  REQUIRE(r.ok);
  reqs = srv.requests();
  auto sent = value::parse(reqs.back().body, nullptr, false);
  REQUIRE_FALSE(sent.is_discarded());
  CHECK(sent["q"] == tricky);

  // A form body is percent-encoded; a text body goes as is.
  r = eng.run(
             must_load(
                 eng,
                 one_call(
                     R"({method: POST, url: ")" + srv.url("/f") +
                     R"(", headers: {Content-Type: application/x-www-form-urlencoded}, body: 'q={{p}}'})")),
             {{"p", "a&b=c"}})
          .get();
  REQUIRE(r.ok);
  CHECK(srv.requests().back().body == "q=a%26b%3Dc");
  r = eng.run(must_load(eng,
                        one_call(R"({method: POST, url: ")" + srv.url("/t") +
                                 R"(", headers: {Content-Type: text/plain}, body: 'say {{p}}'})")),
              {{"p", "<a & b>"}})
          .get();
  REQUIRE(r.ok);
  CHECK(srv.requests().back().body == "say <a & b>");
}

TEST_CASE("http.request: a header rendered with a CR or LF fails the node; nothing is sent",
          "[components][http_request][template]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow =
      must_load(eng, one_call(R"({url: ")" + srv.url("/h") + R"(", headers: {X-Tag: "v-{{p}}"}})"));
  for (const char* evil : {"1\r\nX-Evil: yes", "1\nX-Evil: yes", "1\rX"}) {
    auto r = eng.run(flow, {{"p", evil}}).get();
    CHECK_FALSE(r.ok);
    CHECK(r.error.find("header 'X-Tag' rendered to a value with a CR, LF or NUL byte") !=
          std::string::npos);
    // The value itself is not quoted in the error: it may be a secret.
    CHECK(r.error.find("X-Evil") == std::string::npos);
  }
  CHECK(srv.request_count() == 0);
  // An ordinary value, HTML characters included, goes as is.
  auto r = eng.run(flow, {{"p", "<a&b>"}}).get();
  REQUIRE(r.ok);
  CHECK(srv.requests().back().header("X-Tag") == "v-<a&b>");
}

TEST_CASE("template escapers: percent-encoding and JSON escaping round-trip random bytes",
          "[components][template][fuzz]") {
  std::mt19937 rng(20261202);
  for (int i = 0; i < 5000; ++i) {
    std::string s(rng() % 40, '\0');
    for (auto& c : s) c = static_cast<char>(rng() % 256);
    auto enc = components::percent_encode(s);
    for (char c : enc)
      CHECK((std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-._~%", c)));
    CHECK(percent_decode(enc) == s);
    // JSON escaping of valid UTF-8 parses back to the same string.
    std::string utf8;
    for (char c : s)
      if (static_cast<unsigned char>(c) < 0x80) utf8 += c;
    utf8 += "\xC3\xA9\xE2\x82\xAC";
    auto quoted = "\"" + components::json_string_escape(utf8) + "\"";
    auto back = value::parse(quoted, nullptr, false);
    REQUIRE_FALSE(back.is_discarded());
    CHECK(back.get<std::string>() == utf8);
    // Invalid UTF-8 still gives valid JSON.
    CHECK_FALSE(value::parse("\"" + components::json_string_escape(s) + "\"", nullptr, false)
                    .is_discarded());
  }
}

TEST_CASE("http.request: fuzzed header templates and inputs never crash and never add a header",
          "[components][http_request][template][fuzz]") {
  loopback_server srv;
  engine eng(memory_options(std::make_shared<span_store>()));
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {
      "{{p}}",     "{{{p}}}", "{{& p}}",     "{{#p}}", "{{/p}}",  "{{^p}}", "{{p.a}}", "{{",
      "}}",        "{{!c}}",  "{{=<% %>=}}", "text",   " ",       "\\r\\n", "\\n",     "\\u0000",
      "X-Evil: 1", ":",       "é",           "{{.}}",  "{{p.0}}", "\\t"};
  const std::vector<value> inputs = {"plain",
                                     "a\r\nX-Evil: 1",
                                     "line\nbreak",
                                     std::string("nul\0x", 5),
                                     value::object({{"a", "x\r\ny"}}),
                                     value::array({"\n", 2}),
                                     true,
                                     42,
                                     nullptr,
                                     "\xff\xfe bad utf8"};
  int loaded = 0, ran_ok = 0;
  for (int i = 0; i < 150; ++i) {
    std::string tpl;
    for (int k = 0, n = 1 + static_cast<int>(rng() % 5); k < n; ++k)
      tpl += pieces[rng() % pieces.size()];
    // A YAML double-quoted scalar: backslash escapes above become control bytes.
    std::string quoted;
    for (char c : tpl) quoted += (c == '"') ? std::string("\\\"") : std::string(1, c);
    auto res = eng.load_string(one_call(R"({url: ")" + srv.url("/z") + R"(", headers: {X-Tag: ")" +
                                        quoted + R"("}, retry: {max_attempts: 1}})"),
                               "fuzz.yaml");
    if (!res.flow) {
      CHECK_FALSE(res.errors.empty());  // rejected, with a reason
      continue;
    }
    ++loaded;
    auto r = eng.run(res.flow, {{"p", inputs[rng() % inputs.size()]}}).get();
    if (r.ok) ++ran_ok;
    else CHECK_FALSE(r.error.empty());
  }
  CHECK(loaded > 10);
  CHECK(ran_ok > 0);
  for (auto& req : srv.requests()) {
    CHECK_FALSE(req.header("X-Evil"));
    auto tag = req.header("X-Tag");
    if (tag) CHECK(components::header_breaker(*tag) == std::string::npos);
  }
}
