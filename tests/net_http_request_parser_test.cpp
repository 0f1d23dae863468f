// request_parser and encode_response: the byte-level half of weft's HTTP
// server. Requests are fed the way the connection broker feeds them (keep
// the unconsumed bytes, feed again after take_request), in one piece, in
// every two-piece split and one byte at a time, and hostile input must end
// in a clean error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <http_parser.h>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "net/http_request_parser.hpp"
#include "net/http_response.hpp"

using namespace weft;
using net::request_parser;
using state = request_parser::state;

namespace {

// What feeding a byte stream produced.
struct outcome {
  std::vector<net::server_request> requests;
  state last = state::need_more;
  int continues = 0;  // expect_continue reports
  std::string unconsumed;
};

// Feeds `input` in pieces of `chunk` bytes (0: all at once) the way the
// broker does: unconsumed bytes stay in a buffer that is fed again.
outcome feed_stream(request_parser& p, std::string_view input, std::size_t chunk = 0) {
  outcome out;
  std::string buf;
  std::size_t pos = 0;
  if (chunk == 0) chunk = input.size() + 1;
  while (pos < input.size() || !buf.empty()) {
    if (pos < input.size()) {
      auto n = std::min(chunk, input.size() - pos);
      buf.append(input.substr(pos, n));
      pos += n;
    }
    // Each pass must end in need_more, error or a state that consumed or
    // changed something; a bound catches a parser that would spin.
    for (int guard = 0;; ++guard) {
      REQUIRE(guard < 1000);
      std::size_t consumed = 12345;
      out.last = p.feed(buf.data(), buf.size(), consumed);
      REQUIRE(consumed <= buf.size());
      buf.erase(0, consumed);
      if (out.last == state::need_more) {
        REQUIRE(buf.empty());
        break;
      }
      if (out.last == state::error) {
        out.unconsumed = buf;
        return out;
      }
      if (out.last == state::expect_continue) {
        ++out.continues;
        continue;
      }
      out.requests.push_back(p.take_request());
      if (buf.empty()) break;
    }
    if (pos >= input.size() && out.last == state::need_more) break;
  }
  out.unconsumed = buf;
  return out;
}

outcome feed_all(std::string_view input, std::size_t chunk = 0, net::parse_limits limits = {}) {
  request_parser p{limits};
  return feed_stream(p, input, chunk);
}

// The error a single feed of `input` ends in.
net::parse_error error_of(std::string_view input, net::parse_limits limits = {}) {
  request_parser p{limits};
  std::size_t consumed = 0;
  auto s = p.feed(input.data(), input.size(), consumed);
  INFO(input.substr(0, 80));
  REQUIRE(s == state::error);
  return p.error();
}

const std::string get_a = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string post_b = "POST /b?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
const std::string get_c = "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

void check_three(const std::vector<net::server_request>& rs) {
  REQUIRE(rs.size() == 3);
  CHECK(rs[0].method == "GET");
  CHECK(rs[0].path == "/a");
  CHECK(rs[0].body.empty());
  CHECK(rs[0].keep_alive);
  CHECK(rs[1].method == "POST");
  CHECK(rs[1].path == "/b");
  CHECK(rs[1].query == "q=1");
  CHECK(rs[1].body == "hello");
  CHECK(rs[1].keep_alive);
  CHECK(rs[2].path == "/c");
  CHECK_FALSE(rs[2].keep_alive);
}

}  // namespace

TEST_CASE("request_parser: a simple GET", "[http_parser]") {
  request_parser p;
  CHECK_FALSE(p.in_progress());
  std::string in =
      "GET /v1/health HTTP/1.1\r\nHost: localhost\r\nX-Trace:  a b \r\nx-trace: second\r\n\r\n";
  std::size_t consumed = 0;
  REQUIRE(p.feed(in.data(), in.size(), consumed) == state::request_ready);
  CHECK(consumed == in.size());
  CHECK_FALSE(p.in_progress());
  // Until the request is taken, nothing more is consumed.
  CHECK(p.feed(in.data(), in.size(), consumed) == state::request_ready);
  CHECK(consumed == 0);
  auto r = p.take_request();
  CHECK(r.method == "GET");
  CHECK(r.target == "/v1/health");
  CHECK(r.path == "/v1/health");
  CHECK(r.query.empty());
  CHECK(r.http_major == 1);
  CHECK(r.http_minor == 1);
  CHECK(r.keep_alive);
  REQUIRE(r.headers.size() == 3);
  CHECK(r.headers[0] == std::pair<std::string, std::string>{"Host", "localhost"});
  CHECK(r.headers[1] == std::pair<std::string, std::string>{"X-Trace", "a b"});
  CHECK(r.header("x-TRACE") == "a b");  // the first one, any case
  CHECK(r.header("HOST") == "localhost");
  CHECK_FALSE(r.header("Content-Length"));
  CHECK(r.body.empty());
  // A taken parser is empty again; a second take gives nothing.
  CHECK(p.take_request().method.empty());
}

TEST_CASE("request_parser: a POST with a body", "[http_parser]") {
  request_parser p;
  std::string head =
      "POST /v1/flows/echo/runs HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: "
      "13\r\n\r\n";
  std::size_t consumed = 0;
  REQUIRE(p.feed(head.data(), head.size(), consumed) == state::need_more);
  CHECK(consumed == head.size());
  CHECK(p.in_progress());
  std::string body = "{\"x\": \"abc\"}\n";
  REQUIRE(p.feed(body.data(), body.size(), consumed) == state::request_ready);
  CHECK(consumed == body.size());
  auto r = p.take_request();
  CHECK(r.method == "POST");
  CHECK(r.body == body);
  CHECK(r.header("content-type") == "application/json");
  // PUT, PATCH and a GET that carries a body are framed the same way.
  auto o = feed_all(
      "PUT /p HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET /g HTTP/1.1\r\nContent-Length: "
      "1\r\n\r\nz");
  REQUIRE(o.requests.size() == 2);
  CHECK(o.requests[0].body == "ab");
  CHECK(o.requests[1].body == "z");
  CHECK(feed_all("DELETE /d HTTP/1.1\r\n\r\n").requests.size() == 1);
}

TEST_CASE("request_parser: path is percent-decoded, query split off raw", "[http_parser]") {
  auto o = feed_all("GET /v1/flows/a%20b/%41%2f?x=1&y=%41+b#frag HTTP/1.1\r\n\r\n");
  REQUIRE(o.requests.size() == 1);
  auto& r = o.requests[0];
  CHECK(r.target == "/v1/flows/a%20b/%41%2f?x=1&y=%41+b#frag");
  CHECK(r.path == "/v1/flows/a b/A/");
  CHECK(r.query == "x=1&y=%41+b");
  CHECK(feed_all("GET /a+b?%zz HTTP/1.1\r\n\r\n").requests.at(0).path ==
        "/a+b");  // query stays raw
  CHECK(feed_all("GET /? HTTP/1.1\r\n\r\n").requests.at(0).query.empty());
  CHECK(feed_all("GET http://example.com:8080/p%20q?z=1 HTTP/1.1\r\n\r\n").requests.at(0).path ==
        "/p q");
  CHECK(feed_all("GET http://example.com HTTP/1.1\r\n\r\n").requests.at(0).path == "/");
  CHECK(feed_all("OPTIONS * HTTP/1.1\r\n\r\n").requests.at(0).path == "*");
}

TEST_CASE("request_parser: pipelined requests come out one at a time", "[http_parser]") {
  SECTION("two in one buffer") {
    request_parser p;
    std::string in = get_a + post_b;
    std::size_t consumed = 0;
    REQUIRE(p.feed(in.data(), in.size(), consumed) == state::request_ready);
    CHECK(consumed == get_a.size());
    CHECK(p.take_request().path == "/a");
    REQUIRE(p.feed(in.data() + get_a.size(), in.size() - get_a.size(), consumed) ==
            state::request_ready);
    CHECK(consumed == post_b.size());
    CHECK(p.take_request().body == "hello");
  }
  SECTION("three in one buffer, then part of a fourth") {
    request_parser p;
    std::string partial = "GET /d HT";
    std::string in = get_a + post_b + get_c + partial;
    std::size_t pos = 0, consumed = 0;
    std::vector<net::server_request> rs;
    for (auto* part : {&get_a, &post_b, &get_c}) {
      REQUIRE(p.feed(in.data() + pos, in.size() - pos, consumed) == state::request_ready);
      CHECK(consumed == part->size());
      pos += consumed;
      rs.push_back(p.take_request());
    }
    check_three(rs);
    REQUIRE(p.feed(in.data() + pos, in.size() - pos, consumed) == state::need_more);
    CHECK(consumed == partial.size());
    CHECK(p.in_progress());
  }
}

TEST_CASE("request_parser: any split of the input gives the same requests", "[http_parser]") {
  std::string in = get_a + post_b + get_c;
  SECTION("one byte at a time") {
    auto o = feed_all(in, 1);
    CHECK(o.last == state::request_ready);
    check_three(o.requests);
  }
  SECTION("every two-piece split") {
    for (std::size_t k = 1; k < in.size(); ++k) {
      INFO("split at " << k);
      request_parser p;
      std::vector<net::server_request> rs;
      auto a = feed_stream(p, std::string_view(in).substr(0, k));
      auto b = feed_stream(p, std::string_view(in).substr(k));
      for (auto* o : {&a, &b})
        for (auto& r : o->requests) rs.push_back(std::move(r));
      // feed_stream leaves nothing unconsumed on need_more, so the split is
      // invisible to the parser.
      check_three(rs);
    }
  }
  SECTION("in_progress while a request is partial, not between requests") {
    request_parser p;
    std::size_t consumed = 0;
    CHECK(p.feed("\r\n", 2, consumed) == state::need_more);  // blank lines between requests
    CHECK_FALSE(p.in_progress());
    CHECK(p.feed("G", 1, consumed) == state::need_more);
    CHECK(p.in_progress());
  }
}

TEST_CASE("request_parser: keep-alive from version and Connection", "[http_parser]") {
  auto keep = [](const std::string& in) { return feed_all(in).requests.at(0).keep_alive; };
  CHECK(keep("GET / HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(keep("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
  CHECK_FALSE(keep("GET / HTTP/1.1\r\nconnection: Close\r\n\r\n"));
  CHECK_FALSE(keep("GET / HTTP/1.0\r\n\r\n"));
  CHECK(keep("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r = feed_all("GET / HTTP/1.0\r\n\r\n").requests.at(0);
  CHECK(r.http_major == 1);
  CHECK(r.http_minor == 0);
}

TEST_CASE("request_parser: bodies need Content-Length (411)", "[http_parser]") {
  auto chunked =
      error_of("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  CHECK(chunked.status == 411);
  CHECK(chunked.code == "length_required");
  CHECK_THAT(chunked.message, Catch::Contains("Transfer-Encoding"));
  CHECK(error_of("PUT /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").status == 411);
  for (std::string m : {"POST", "PUT", "PATCH"}) {
    auto e = error_of(m + " /x HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(e.status == 411);
    CHECK(e.code == "length_required");
    CHECK_THAT(e.message, Catch::Contains(m) && Catch::Contains("Content-Length"));
  }
  // Both framings at once is a smuggling attempt, not a length question.
  CHECK(error_of("POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc")
            .status == 400);
  CHECK(feed_all("POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n").requests.at(0).body.empty());
}

TEST_CASE("request_parser: Content-Length over the limit is 413 before the body", "[http_parser]") {
  // Only the headers are fed: the decision must not wait for the body.
  auto e = error_of("POST /x HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n");
  CHECK(e.status == 413);
  CHECK(e.code == "body_too_large");
  CHECK_THAT(e.message, Catch::Contains("2000000") && Catch::Contains("1048576"));

  net::parse_limits small;
  small.max_body_bytes = 10;
  CHECK(error_of("POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\n", small).status == 413);
  auto o = feed_all("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", 0, small);
  REQUIRE(o.requests.size() == 1);
  CHECK(o.requests[0].body == "0123456789");
  CHECK(error_of("POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n").status ==
        400);
}

TEST_CASE("request_parser: oversized headers are 431", "[http_parser]") {
  SECTION("a 20 KiB header, fed in pieces, fails before it is all read") {
    std::string in = "GET / HTTP/1.1\r\nX-Big: " + std::string(20 * 1024, 'a') + "\r\n\r\n";
    request_parser p;
    std::size_t pos = 0, consumed = 0;
    state s = state::need_more;
    while (pos < in.size() && s == state::need_more) {
      auto n = std::min<std::size_t>(1000, in.size() - pos);
      s = p.feed(in.data() + pos, n, consumed);
      pos += n;
    }
    REQUIRE(s == state::error);
    CHECK(pos <= 17 * 1024);
    CHECK(p.error().status == 431);
    CHECK(p.error().code == "headers_too_large");
    CHECK_THAT(p.error().message, Catch::Contains("16384"));
  }
  SECTION("a long request-target counts too") {
    auto e = error_of("GET /" + std::string(17000, 'u') + " HTTP/1.1\r\n\r\n");
    CHECK(e.status == 431);
  }
  SECTION("200 header fields") {
    std::string in = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 200; ++i) in += "X-H" + std::to_string(i) + ": v\r\n";
    auto e = error_of(in + "\r\n");
    CHECK(e.status == 431);
    CHECK(e.code == "headers_too_large");
    CHECK_THAT(e.message, Catch::Contains("100"));
  }
  SECTION("exactly max_headers is fine") {
    std::string in = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 100; ++i) in += "X-H" + std::to_string(i) + ": v\r\n";
    auto o = feed_all(in + "\r\n");
    REQUIRE(o.requests.size() == 1);
    CHECK(o.requests[0].headers.size() == 100);
  }
}

TEST_CASE("request_parser: garbage is 400 and the error is final", "[http_parser]") {
  SECTION("a garbage request line") {
    request_parser p;
    std::string in = "HELLO WORLD\r\n\r\n";
    std::size_t consumed = 0;
    REQUIRE(p.feed(in.data(), in.size(), consumed) == state::error);
    CHECK(p.error().status == 400);
    CHECK(p.error().code == "bad_request");
    CHECK_THAT(p.error().message, Catch::Contains(http_errno_description(HPE_INVALID_METHOD)));
    CHECK_THAT(p.error().message, Catch::Contains("at offset 2"));  // "HE" could still be HEAD
    CHECK_FALSE(p.in_progress());
    // Final: nothing more is parsed, even a valid request.
    REQUIRE(p.feed(get_a.data(), get_a.size(), consumed) == state::error);
    CHECK(consumed == 0);
    CHECK(p.take_request().method.empty());
  }
  SECTION("a TLS handshake on the plain port") {
    std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    CHECK(error_of(hello).status == 400);
  }
  SECTION("bad request-line pieces") {
    CHECK(error_of("GET / HTTP/1.1 extra\r\n\r\n").status == 400);
    CHECK(error_of("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n").status == 400);
    CHECK(error_of("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n").status == 400);
    CHECK(error_of("GET / HTTP/1.1\r\n: empty\r\n\r\n").status == 400);
  }
  SECTION("a bad percent-escape in the path") {
    for (std::string t : {"/a%zz", "/a%4", "/a%", "/%g0/b"}) {
      auto e = error_of("GET " + t + " HTTP/1.1\r\n\r\n");
      CHECK(e.status == 400);
      CHECK(e.code == "bad_request");
      CHECK_THAT(e.message, Catch::Contains("percent-escape"));
    }
    CHECK(error_of("GET /a%00b HTTP/1.1\r\n\r\n").status == 400);
  }
}

TEST_CASE("request_parser: versions other than 1.0 and 1.1 are 505", "[http_parser]") {
  auto h2 = error_of(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
  CHECK(h2.status == 505);
  CHECK(h2.code == "version_not_supported");
  CHECK_THAT(h2.message, Catch::Contains("HTTP/2"));
  // The preface is recognised when it arrives a byte at a time, too.
  auto o = feed_all("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 1);
  CHECK(o.last == state::error);
  auto e = error_of("GET / HTTP/2.0\r\n\r\n");
  CHECK(e.status == 505);
  CHECK_THAT(e.message, Catch::Contains("HTTP/2.0"));
  CHECK(error_of("GET / HTTP/1.2\r\n\r\n").status == 505);
  CHECK(error_of("GET /\r\n\r\n").status == 505);  // HTTP/0.9: no version at all
  CHECK(error_of("GET / HTTP/x.1\r\n\r\n").status == 400);
}

TEST_CASE("request_parser: Expect: 100-continue is reported once", "[http_parser]") {
  std::string head = "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  SECTION("headers first, body after the 100") {
    request_parser p;
    std::size_t consumed = 0;
    std::string buf = head;
    REQUIRE(p.feed(buf.data(), buf.size(), consumed) == state::expect_continue);
    CHECK(p.in_progress());
    buf.erase(0, consumed);
    // The rest of the headers (if any was held back) and nothing else.
    CHECK(p.feed(buf.data(), buf.size(), consumed) == state::need_more);
    CHECK(consumed == buf.size());
    buf = "body";
    REQUIRE(p.feed(buf.data(), buf.size(), consumed) == state::request_ready);
    CHECK(p.take_request().body == "body");
  }
  SECTION("all in one buffer, or byte by byte") {
    for (std::size_t chunk : {std::size_t(0), std::size_t(1), std::size_t(7)}) {
      INFO("chunk " << chunk);
      auto o = feed_all(head + "body" + get_a, chunk);
      CHECK(o.continues == 1);
      REQUIRE(o.requests.size() == 2);
      CHECK(o.requests[0].body == "body");
      CHECK(o.requests[1].path == "/a");
    }
  }
  SECTION("no body or a refused body: no 100") {
    auto o = feed_all("POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n");
    CHECK(o.continues == 0);
    CHECK(o.requests.size() == 1);
    net::parse_limits small;
    small.max_body_bytes = 3;
    auto big = feed_all(head, 0, small);
    CHECK(big.continues == 0);
    CHECK(big.last == state::error);
  }
}

namespace {

// Parses response bytes back with http_parser, independent of the encoder.
struct parsed_response {
  int status = 0;
  std::string reason;
  net::header_list headers;
  std::string body;
  bool complete = false;
  std::size_t consumed = 0;
};

parsed_response parse_response(const std::string& bytes) {
  parsed_response out;
  http_parser p;
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = &out;
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_status = [](http_parser* p, const char* at, std::size_t n) {
    static_cast<parsed_response*>(p->data)->reason.append(at, n);
    return 0;
  };
  s.on_header_field = [](http_parser* p, const char* at, std::size_t n) {
    auto& h = static_cast<parsed_response*>(p->data)->headers;
    if (h.empty() || !h.back().second.empty()) h.emplace_back();
    h.back().first.append(at, n);
    return 0;
  };
  s.on_header_value = [](http_parser* p, const char* at, std::size_t n) {
    static_cast<parsed_response*>(p->data)->headers.back().second.append(at, n);
    return 0;
  };
  s.on_body = [](http_parser* p, const char* at, std::size_t n) {
    static_cast<parsed_response*>(p->data)->body.append(at, n);
    return 0;
  };
  s.on_message_complete = [](http_parser* p) {
    static_cast<parsed_response*>(p->data)->complete = true;
    return 0;
  };
  out.consumed = http_parser_execute(&p, &s, bytes.data(), bytes.size());
  out.status = static_cast<int>(p.status_code);
  return out;
}

std::optional<std::string> find(const net::header_list& hs, std::string_view name) {
  net::server_request r;
  r.headers = hs;
  return r.header(name);
}

}  // namespace

TEST_CASE("encode_response: what a client parses back", "[http_parser]") {
  SECTION("a keep-alive 200") {
    net::server_response r{200, {{"Content-Type", "application/json"}}, "{\"ok\":true}"};
    auto bytes = net::encode_response(r, true);
    CHECK(bytes.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    auto back = parse_response(bytes);
    REQUIRE(back.complete);
    CHECK(back.consumed == bytes.size());
    CHECK(back.status == 200);
    CHECK(back.reason == "OK");
    CHECK(back.body == r.body);
    CHECK(find(back.headers, "Content-Length") == std::to_string(r.body.size()));
    CHECK(find(back.headers, "Content-Type") == "application/json");
    CHECK(find(back.headers, "Connection") == "keep-alive");
    auto date = find(back.headers, "Date");
    REQUIRE(date);
    CHECK(date->size() == 29);  // "Sun, 06 Nov 1994 08:49:37 GMT"
    CHECK_THAT(*date, Catch::EndsWith(" GMT"));
  }
  SECTION("close when the client or the response says so") {
    net::server_response r{404, {}, "nope"};
    CHECK(find(parse_response(net::encode_response(r, false)).headers, "Connection") == "close");
    r.close = true;
    auto back = parse_response(net::encode_response(r, true));
    CHECK(back.status == 404);
    CHECK(back.reason == "Not Found");
    CHECK(find(back.headers, "Connection") == "close");
  }
  SECTION("the encoder owns framing, and header values cannot inject lines") {
    net::server_response r{413,
                           {{"Content-Length", "999"},
                            {"Connection", "keep-alive"},
                            {"X-Id", "a\r\nSet-Cookie: evil=1"},
                            {"Bad Name", "x"}},
                           "too big"};
    auto back = parse_response(net::encode_response(r, false));
    REQUIRE(back.complete);
    CHECK(back.reason == "Payload Too Large");
    CHECK(back.body == "too big");
    CHECK(find(back.headers, "Content-Length") == "7");
    CHECK(find(back.headers, "Connection") == "close");
    CHECK_FALSE(find(back.headers, "Set-Cookie"));
    CHECK_FALSE(find(back.headers, "Bad Name"));
    CHECK(find(back.headers, "X-Id") == "a  Set-Cookie: evil=1");
    int lengths = 0;
    for (auto& [k, v] : back.headers) lengths += k == "Content-Length";
    CHECK(lengths == 1);
  }
  SECTION("statuses without a body") {
    auto bytes = net::encode_response(net::server_response{204, {}, "ignored"}, true);
    CHECK(bytes.find("ignored") == std::string::npos);
    CHECK(bytes.find("Content-Length") == std::string::npos);
    CHECK(net::encode_response(net::server_response{100, {}, {}}, true) ==
          "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK(net::encode_response(net::server_response{42, {}, {}}, true).rfind("HTTP/1.1 500 ", 0) ==
          0);
  }
  SECTION("reason phrases") {
    CHECK(net::reason_phrase(411) == "Length Required");
    CHECK(net::reason_phrase(413) == "Payload Too Large");
    CHECK(net::reason_phrase(431) == "Request Header Fields Too Large");
    CHECK(net::reason_phrase(503) == "Service Unavailable");
    CHECK(net::reason_phrase(504) == "Gateway Timeout");
    CHECK(net::reason_phrase(422) == "Unprocessable Entity");
    CHECK(net::reason_phrase(415) == "Unsupported Media Type");
    CHECK(net::reason_phrase(408) == "Request Timeout");
    CHECK(net::reason_phrase(405) == "Method Not Allowed");
    CHECK(net::reason_phrase(401) == "Unauthorized");
    CHECK(net::reason_phrase(505) == "HTTP Version Not Supported");
    CHECK(net::reason_phrase(299) == "Unknown");
  }
  SECTION("a parsed request's answer round trip") {
    auto req = feed_all("GET /x HTTP/1.0\r\n\r\n").requests.at(0);
    auto back =
        parse_response(net::encode_response(net::server_response{200, {}, "hi"}, req.keep_alive));
    CHECK(find(back.headers, "Connection") == "close");
  }
}

TEST_CASE("server_request and server_response survive CAF serialization", "[http_parser]") {
  auto req = feed_all(post_b).requests.at(0);
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  net::server_response resp{201, {{"Location", "/runs/1"}}, "made", true};
  REQUIRE(!sink(req, resp));
  net::server_request req2;
  net::server_response resp2;
  caf::binary_deserializer source{nullptr, buf};
  REQUIRE(!source(req2, resp2));
  CHECK(req2.method == req.method);
  CHECK(req2.target == req.target);
  CHECK(req2.path == req.path);
  CHECK(req2.query == req.query);
  CHECK(req2.headers == req.headers);
  CHECK(req2.body == req.body);
  CHECK(req2.keep_alive == req.keep_alive);
  CHECK(resp2.status == 201);
  CHECK(resp2.headers == resp.headers);
  CHECK(resp2.body == "made");
  CHECK(resp2.close);
}

TEST_CASE("request_parser: mutated requests never crash, hang or overrun", "[http_parser]") {
  const std::string valid =
      "POST /v1/flows/a%20b/runs?x=1 HTTP/1.1\r\nHost: localhost:8080\r\n"
      "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 16\r\n\r\n"
      "{\"input\": \"abc\"}" +
      get_a;
  net::parse_limits limits;
  limits.max_header_bytes = 512;
  limits.max_body_bytes = 64;
  limits.max_headers = 8;
  std::mt19937 rng(20240611);
  int errors = 0, complete = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string in = valid;
    int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations; ++m) {
      auto at = rng() % in.size();
      switch (rng() % 4) {
        case 0:
          in[at] = static_cast<char>(rng() % 256);
          break;
        case 1:
          in.erase(at, 1 + rng() % 8);
          break;
        case 2:
          in.insert(at, std::string(1 + rng() % 4, static_cast<char>(rng() % 256)));
          break;
        case 3:
          in.insert(at, in.substr(rng() % in.size(), rng() % 64));
          break;
      }
      if (in.empty()) in = "G";
    }
    INFO("round " << round);
    request_parser p{limits};
    auto o = feed_stream(p, in, 1 + rng() % 40);
    CHECK((o.last == state::need_more || o.last == state::request_ready || o.last == state::error));
    CHECK(o.continues <= static_cast<int>(o.requests.size()) + 1);
    for (auto& r : o.requests) {
      CHECK(r.body.size() <= limits.max_body_bytes);
      CHECK(r.headers.size() <= limits.max_headers);
      CHECK(r.target.size() <= limits.max_header_bytes);
    }
    if (o.last == state::error) {
      ++errors;
      auto st = p.error().status;
      CHECK((st == 400 || st == 411 || st == 413 || st == 431 || st == 505));
      CHECK_FALSE(p.error().message.empty());
    }
    complete += static_cast<int>(o.requests.size());
  }
  // The mutations must exercise both outcomes, or the loop proves little.
  CHECK(errors > 100);
  CHECK(complete > 100);
}
