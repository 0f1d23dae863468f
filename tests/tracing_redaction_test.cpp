// Secrets never leave: key-based redaction.
#include <catch2/catch.hpp>

#include "tracing/redaction.hpp"

using namespace weft::tracing;
using nlohmann::json;

TEST_CASE("redaction: secret keys", "[tracing]") {
  for (const char* key : {"api_key",       "API_KEY",
                          "apiKey",        "api-key",
                          "x-api-key",     "openai_api_key",
                          "ApiKey",        "token",
                          "access_token",  "refresh_token",
                          "authToken",     "x-auth-token",
                          "Token",         "secret",
                          "client_secret", "AWS_SECRET_ACCESS_KEY",
                          "password",      "db_password",
                          "passwd",        "pwd",
                          "Authorization", "proxy-authorization",
                          "private_key",   "privateKey",
                          "credentials",   "google_application_credentials",
                          "cookie",        "Set-Cookie",
                          "auth",          "passphrase"}) {
    INFO(key);
    CHECK(is_secret_key(key));
  }
}

TEST_CASE("redaction: ordinary keys, including token counts", "[tracing]") {
  for (const char* key : {"name",
                          "model",
                          "temperature",
                          "author",
                          "authorship",
                          "session_id",
                          "user_id",
                          "max_tokens",
                          "tokens",
                          "prompt_tokens",
                          "completion_tokens",
                          "total_tokens",
                          "token_count",
                          "tokenCount",
                          "max_token",
                          "token_usage",
                          "tokenizer",
                          "input",
                          "output",
                          "keywords",
                          "passage",
                          "secretary_name_is_not_here_but",
                          ""}) {
    INFO(key);
    if (std::string_view(key).find("secret") != std::string_view::npos) {
      // Documented choice: anything containing "secret" is redacted.
      CHECK(is_secret_key(key));
    } else {
      CHECK_FALSE(is_secret_key(key));
    }
  }
}

TEST_CASE("redaction: nested objects and arrays", "[tracing]") {
  const json in = {
      {"model", "gpt-4o"},
      {"api_key", "sk-live-123"},
      {"headers", {{"Authorization", "Bearer abc"}, {"Accept", "application/json"}}},
      {"steps", json::array({{{"name", "a"}, {"token", "t-1"}},
                             {{"name", "b"}, {"nested", {{"deeper", {{"password", "hunter2"}}}}}},
                             "plain",
                             42})},
      {"credentials", {{"user", "me"}, {"pass", "x"}}},  // whole subtree goes
      {"usage", {{"prompt_tokens", 12}, {"completion_tokens", 30}}},
  };
  const json out = redact(in);
  CHECK(out["model"] == "gpt-4o");
  CHECK(out["api_key"] == "***");
  CHECK(out["headers"]["Authorization"] == "***");
  CHECK(out["headers"]["Accept"] == "application/json");
  CHECK(out["steps"][0]["name"] == "a");
  CHECK(out["steps"][0]["token"] == "***");
  CHECK(out["steps"][1]["nested"]["deeper"]["password"] == "***");
  CHECK(out["steps"][2] == "plain");
  CHECK(out["steps"][3] == 42);
  CHECK(out["credentials"] == "***");
  CHECK(out["usage"]["prompt_tokens"] == 12);
  CHECK(out["usage"]["completion_tokens"] == 30);
  // A deep copy: the input is untouched.
  CHECK(in["api_key"] == "sk-live-123");

  const auto text = redacted_dump(in);
  CHECK(text.find("sk-live-123") == std::string::npos);
  CHECK(text.find("hunter2") == std::string::npos);
  CHECK(text.find("Bearer abc") == std::string::npos);
  CHECK(json::parse(text) == out);
}

TEST_CASE("redaction: scalars and arrays at the top", "[tracing]") {
  CHECK(redact(json("api_key")) == json("api_key"));  // a value, not a key
  CHECK(redact(json::array({{{"secret", 1}}})) == json::array({{{"secret", "***"}}}));
  CHECK(redact(json()) == json());
}

TEST_CASE("redaction: redacted_dump survives invalid UTF-8", "[tracing]") {
  const json in = {{"text", std::string("bad \xff byte")}, {"token", "x"}};
  std::string text;
  REQUIRE_NOTHROW(text = redacted_dump(in, 2));
  CHECK(text.find("\"token\": \"***\"") != std::string::npos);
}

TEST_CASE("redaction: span attributes", "[tracing]") {
  std::vector<attribute> attrs = {{"llm.model", std::string("m")},
                                  {"http.header.authorization", std::string("Bearer x")},
                                  {"api_key", std::int64_t{12345}},
                                  {"llm.max_tokens", std::int64_t{256}}};
  redact_attributes(attrs);
  CHECK(std::get<std::string>(attrs[0].value) == "m");
  CHECK(std::get<std::string>(attrs[1].value) == "***");
  CHECK(std::get<std::string>(attrs[2].value) == "***");
  CHECK(std::get<std::int64_t>(attrs[3].value) == 256);
}

// --- by value: secret_set ------------------------------------------------------

TEST_CASE("secret_set: whole values, and runs of 6 or more of their characters",
          "[tracing][redaction]") {
  secret_set s;
  CHECK(s.empty());
  CHECK(s.mask("nothing registered") == "nothing registered");
  REQUIRE(s.add("sk-live-0123456789abcdef"));
  CHECK_FALSE(s.add("sk-live-0123456789abcdef"));  // once is enough
  CHECK(s.size() == 1);

  CHECK(s.mask("key sk-live-0123456789abcdef here") == "key *** here");
  CHECK(s.mask("sk-live-0123456789abcdef") == "***");
  CHECK(s.mask("twice: sk-live-0123456789abcdefsk-live-0123456789abcdef.") == "twice: ***.");
  // Any 6 consecutive characters of it, anywhere: a template showing a part.
  CHECK(s.mask("tail=89abcdef;") == "tail=***;");
  CHECK(s.mask("mid 456789 end") == "mid *** end");
  CHECK(s.mask("[345678]") == "[***]");
  // Five in a row is not a run; ordinary text stays as it is.
  CHECK(s.mask("45678 and sk-li and live") == "45678 and sk-li and live");
  CHECK(s.mask("") == "");
  std::string in_place = "no secret here at all";
  s.mask_in_place(in_place);
  CHECK(in_place == "no secret here at all");
}

TEST_CASE("secret_set: short values only whole, trivial ones never", "[tracing][redaction]") {
  secret_set s;
  CHECK_FALSE(s.add("abc"));   // shorter than min_length
  CHECK_FALSE(s.add("true"));  // would garble every JSON text
  CHECK_FALSE(s.add("null"));
  REQUIRE(s.add("k9Zq"));
  REQUIRE(s.add("pin42"));
  CHECK(s.mask("k9Zq and pin42 and k9Z and pin4") == "*** and *** and k9Z and pin4");
  CHECK(s.mask("xk9Zqx") == "x***x");
  CHECK(s.mask("true abc") == "true abc");
}

TEST_CASE("secret_set: masks keep UTF-8 whole and merge overlaps", "[tracing][redaction]") {
  secret_set s;
  REQUIRE(s.add("\xc3\xa9t\xc3\xa9-secret-\xe2\x82\xac\xe2\x82\xac"));  // "été-secret-€€"
  // The part "-secret-\xe2\x82" ends inside the euro sign: the whole sign goes.
  const auto out = s.mask("x-secret-\xe2\x82\xac!");
  CHECK(out == "x***!");
  CHECK(nlohmann::json(out).dump().size() > 0);  // valid UTF-8, or dump would throw

  secret_set two;
  REQUIRE(two.add("alpha-bravo"));
  REQUIRE(two.add("bravo-charlie"));
  CHECK(two.mask("<alpha-bravo-charlie>") == "<***>");
}

TEST_CASE("secret_set: values under secret keys, at any depth", "[tracing][redaction]") {
  const json inputs = {
      {"question", "what is up"},
      {"config", {{"model", "gpt-4o"}, {"api_key", "sk-nested-000111"}}},
      {"credentials", {{"user", "ann-the-user"}, {"list", json::array({"pw-one-1111", 12345678})}}},
      {"max_tokens", 2048},
  };
  secret_set s;
  for (auto& [k, v] : inputs.items()) s.add_under_secret_keys(k, v);
  CHECK(s.size() == 4);
  CHECK(s.mask("sk-nested-000111 ann-the-user pw-one-1111 12345678") == "*** *** *** ***");
  CHECK(s.mask("what is up gpt-4o 2048") == "what is up gpt-4o 2048");

  secret_set top;
  top.add_under_secret_keys("api_key", json("sk-top-level-1"));
  CHECK(top.mask("sk-top-level-1") == "***");

  // A deep value is walked without recursion.
  json deep = "sk-deep-down-1";
  for (int i = 0; i < 100000; ++i) deep = json::array({std::move(deep)});
  secret_set d;
  d.add_under_secret_keys("token", deep);
  CHECK(d.mask("sk-deep-down-1") == "***");
}

TEST_CASE("secret_set: bounded", "[tracing][redaction]") {
  secret_set s;
  for (std::size_t i = 0; i < secret_set::max_values; ++i)
    REQUIRE(s.add("secret-value-" + std::to_string(i)));
  CHECK_FALSE(s.overflowed());
  CHECK_FALSE(s.add("one-too-many"));
  CHECK(s.overflowed());
  CHECK(s.size() == secret_set::max_values);

  secret_set big;
  CHECK_FALSE(big.add(std::string(secret_set::max_bytes + 1, 'x')));
  CHECK(big.overflowed());
}

TEST_CASE("secret_set: linear in the text", "[tracing][redaction]") {
  secret_set s;
  for (int i = 0; i < 8; ++i)
    REQUIRE(s.add("sk-proj-" + std::to_string(i) + "-abcdefghijklmnopqrstuvwxyz0123456789"));
  // 8 MiB of text that is almost, but not quite, the secrets' alphabet.
  std::string text;
  text.reserve(8 << 20);
  while (text.size() < (8u << 20)) text += "sk-proj abcdefghijklmnopqrstuvwxyz 0123456789 ";
  text += "...sk-proj-3-abcdef...";
  const auto t0 = std::chrono::steady_clock::now();
  const auto out = s.mask(text);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  CHECK(out.size() < text.size());
  CHECK(out.find("sk-proj-3") == std::string::npos);
  // About 50 ms here; generous for sanitizer builds.
  CHECK(ms < 3000);
}

TEST_CASE("redacted_dump with secrets: by key and by value, escaped strings too",
          "[tracing][redaction]") {
  secret_set s;
  REQUIRE(s.add("pa\"ss\\word-123"));
  REQUIRE(s.add("99887766554433"));
  const json v = {
      {"k", "pa\"ss\\word-123"}, {"n", 99887766554433LL}, {"token", "other"}, {"ok", "fine"}};
  const auto text = redacted_dump(v, s);
  CHECK(json::parse(text) == json{{"k", "***"}, {"n", "***"}, {"token", "***"}, {"ok", "fine"}});
  // A secret used as a key is masked too, and the text stays JSON.
  const auto keyed =
      redacted_dump(json{{"99887766554433", 1}, {"x", {{"id-99887766554433", 2}}}}, s);
  CHECK(json::parse(keyed) == json{{"***", 1}, {"x", {{"id-***", 2}}}});
  CHECK(text.find("word-123") == std::string::npos);
  CHECK(text.find("99887766554433") == std::string::npos);
  CHECK(text.find("other") == std::string::npos);
  CHECK(text.find("\"ok\":\"fine\"") != std::string::npos);
}
