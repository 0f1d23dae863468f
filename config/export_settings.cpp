#include "config/export_settings.hpp"

#include <cctype>
#include <charconv>

namespace weft::config {
namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
}

std::optional<std::string> percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      return std::nullopt;
    out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

std::optional<std::int64_t> parse_int(const std::string& t) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
  return v;
}

std::string strip_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

bool is_http_url(const std::string& s) {
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
}

}  // namespace

std::optional<header_list> parse_otlp_headers(const std::string& text, std::string* why) {
  header_list out;
  std::size_t pos = 0, n = 0;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    auto item =
        trim(text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    ++n;
    if (!item.empty()) {
      auto eq = item.find('=');
      auto key = eq == std::string::npos ? std::string{} : trim(item.substr(0, eq));
      auto val = eq == std::string::npos ? std::nullopt : percent_decode(trim(item.substr(eq + 1)));
      if (key.empty() || !val) {
        if (why) *why = "entry " + std::to_string(n) + " is not key=value (with %-encoded value)";
        return std::nullopt;
      }
      out.emplace_back(std::move(key), std::move(*val));
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

void apply_export_env(export_settings& s, std::vector<std::string>& errors,
                      const std::function<std::optional<std::string>(const char*)>& env) {
  auto bad = [&](const char* var, const std::string& expected) {
    errors.push_back(std::string("environment variable ") + var + " is not valid: expected " +
                     expected);
  };

  // OTLP: the traces endpoint wins over the generic one, used as is.
  auto traces_ep = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  auto base_ep = env("OTEL_EXPORTER_OTLP_ENDPOINT");
  if ((traces_ep && !traces_ep->empty()) || (base_ep && !base_ep->empty())) {
    otlp_settings o;
    if (traces_ep && !traces_ep->empty()) {
      o.endpoint = *traces_ep;
      if (!is_http_url(o.endpoint))
        bad("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "an http:// or https:// URL");
    } else {
      o.endpoint = strip_slash(*base_ep) + "/v1/traces";
      if (!is_http_url(*base_ep)) bad("OTEL_EXPORTER_OTLP_ENDPOINT", "an http:// or https:// URL");
    }
    for (const char* var : {"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"}) {
      if (auto h = env(var)) {
        std::string why;
        auto parsed = parse_otlp_headers(*h, &why);
        if (!parsed) {
          bad(var, "k=v,k2=v2 (" + why + ")");
          continue;
        }
        // Signal-specific headers override generic ones of the same name.
        for (auto& header : *parsed) {
          std::erase_if(o.headers, [&](auto& p) { return p.first == header.first; });
          o.headers.push_back(header);
        }
      }
    }
    for (const char* var : {"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"}) {
      if (auto t = env(var)) {
        auto v = parse_int(*t);
        if (!v || *v <= 0) bad(var, "a positive number of milliseconds");
        else o.timeout_ms = *v;
      }
    }
    for (const char* var :
         {"OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"}) {
      if (auto c = env(var)) {
        if (*c == "gzip") o.gzip = true;
        else if (*c == "none" || c->empty()) o.gzip = false;
        else bad(var, "gzip or none");
      }
    }
    s.otlp = std::move(o);
  }

  auto pk = env("LANGFUSE_PUBLIC_KEY");
  auto sk = env("LANGFUSE_SECRET_KEY");
  auto host = env("LANGFUSE_HOST");
  if (!host || host->empty()) host = env("LANGFUSE_BASE_URL");
  if (pk || sk) {
    if (!pk || pk->empty() || !sk || sk->empty()) {
      errors.emplace_back(
          "Langfuse needs both LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY; one of them is missing "
          "or empty");
    } else {
      langfuse_settings l;
      l.public_key = *pk;
      l.secret_key = *sk;
      l.host = strip_slash(host && !host->empty() ? *host : "https://cloud.langfuse.com");
      if (!is_http_url(l.host)) bad("LANGFUSE_HOST", "an http:// or https:// URL");
      if (auto i = env("LANGFUSE_INGESTION")) {
        if (*i == "legacy") l.legacy = true;
        else if (*i != "otlp" && !i->empty()) bad("LANGFUSE_INGESTION", "legacy or otlp");
      }
      if (auto e = env("LANGFUSE_TRACING_ENVIRONMENT")) l.environment = *e;
      if (auto r = env("LANGFUSE_RELEASE")) l.release = *r;
      s.langfuse = std::move(l);
    }
  }

  struct num {
    const char* var;
    std::int64_t lo, hi;
    std::function<void(std::int64_t)> set;
  };
  for (auto& n : std::vector<num>{
           {"WEFT_EXPORT_MAX_QUEUE", 1, 100'000'000,
            [&](std::int64_t v) { s.max_queue_spans = v; }},
           {"WEFT_SPOOL_MAX_BYTES", 0, INT64_MAX,
            [&](std::int64_t v) { s.spool_max_bytes = static_cast<std::uint64_t>(v); }},
           {"WEFT_EXPORT_SHUTDOWN_TIMEOUT_MS", 0, 3'600'000,
            [&](std::int64_t v) { s.shutdown_timeout_ms = v; }},
           {"WEFT_EXPORT_RETRY_INITIAL_MS", 1, 3'600'000,
            [&](std::int64_t v) { s.retry_initial_ms = v; }},
           {"WEFT_EXPORT_RETRY_MAX_MS", 1, 3'600'000, [&](std::int64_t v) { s.retry_max_ms = v; }},
       }) {
    if (auto t = env(n.var)) {
      auto v = parse_int(*t);
      if (!v || *v < n.lo || *v > n.hi)
        bad(n.var, "an integer from " + std::to_string(n.lo) + " to " + std::to_string(n.hi));
      else n.set(*v);
    }
  }
  if (auto d = env("WEFT_SPOOL_DIR")) {
    if (d->empty()) bad("WEFT_SPOOL_DIR", "a directory path");
    else s.spool_dir = *d;
  }
}

}  // namespace weft::config
