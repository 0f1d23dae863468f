// Secrets never leave: key-based redaction.
#include <catch2/catch.hpp>

#include "tracing/redaction.hpp"

using namespace weft::tracing;
using nlohmann::json;

TEST_CASE("redaction: secret keys", "[tracing]") {
  for (const char* key :
       {"api_key", "API_KEY", "apiKey", "api-key", "x-api-key", "openai_api_key", "ApiKey", "token",
        "access_token", "refresh_token", "authToken", "x-auth-token", "Token", "secret",
        "client_secret", "AWS_SECRET_ACCESS_KEY", "password", "db_password", "passwd", "pwd",
        "Authorization", "proxy-authorization", "private_key", "privateKey", "credentials",
        "google_application_credentials", "cookie", "Set-Cookie", "auth", "passphrase"}) {
    INFO(key);
    CHECK(is_secret_key(key));
  }
}

TEST_CASE("redaction: ordinary keys, including token counts", "[tracing]") {
  for (const char* key :
       {"name", "model", "temperature", "author", "authorship", "session_id", "user_id",
        "max_tokens", "tokens", "prompt_tokens", "completion_tokens", "total_tokens",
        "token_count", "tokenCount", "max_token", "token_usage", "tokenizer", "input",
        "output", "keywords", "passage", "secretary_name_is_not_here_but", ""}) {
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
      {"steps",
       json::array({{{"name", "a"}, {"token", "t-1"}},
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
