#include "config/settings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include <yaml-cpp/yaml.h>

namespace weft::config {
namespace {

std::optional<std::int64_t> parse_int(const std::string& t) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(const std::string& t) {
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size()) return std::nullopt;
  return v;
}

// One setting: how to apply a text value, and what to say when it is bad.
struct setting_def {
  const char* env;
  const char* key;
  const char* accepted;
  std::function<bool(engine_settings&, const std::string&)> apply;
};

const std::vector<setting_def>& definitions() {
  static const std::vector<setting_def> defs = {
      {"WEFT_THREADS", "threads", "an integer from 0 (every core) to 1024",
       [](engine_settings& s, const std::string& t) {
         auto v = parse_int(t);
         if (!v || *v < 0 || *v > 1024) return false;
         s.threads = static_cast<int>(*v);
         return true;
       }},
      {"WEFT_TRACE_FILE", "trace_file", "a file path",
       [](engine_settings& s, const std::string& t) {
         if (t.empty()) return false;
         s.tracing.trace_file = t;
         return true;
       }},
      {"WEFT_TRACE_CONTENT", "trace_content", "true or false",
       [](engine_settings& s, const std::string& t) {
         auto v = parse_bool(t);
         if (!v) return false;
         s.tracing.content = *v;
         return true;
       }},
      {"WEFT_TRACE_SAMPLE", "trace_sample", "a number from 0 to 1",
       [](engine_settings& s, const std::string& t) {
         auto v = parse_double(t);
         if (!v || !(*v >= 0.0 && *v <= 1.0)) return false;
         s.tracing.sample = *v;
         return true;
       }},
      {"OTEL_SERVICE_NAME", "service_name", "a non-empty name",
       [](engine_settings& s, const std::string& t) {
         if (t.empty()) return false;
         s.tracing.service_name = t;
         return true;
       }},
      {"WEFT_EXPORT_BATCH_SPANS", "export_batch_spans", "an integer from 1 to 1000000",
       [](engine_settings& s, const std::string& t) {
         auto v = parse_int(t);
         if (!v || *v < 1 || *v > 1000000) return false;
         s.tracing.batch_max_spans = *v;
         return true;
       }},
      {"WEFT_EXPORT_BATCH_BYTES", "export_batch_bytes", "an integer from 1024 to 1073741824",
       [](engine_settings& s, const std::string& t) {
         auto v = parse_int(t);
         if (!v || *v < 1024 || *v > (1LL << 30)) return false;
         s.tracing.batch_max_bytes = *v;
         return true;
       }},
      {"WEFT_EXPORT_BATCH_DELAY_MS", "export_batch_delay_ms", "an integer from 1 to 600000",
       [](engine_settings& s, const std::string& t) {
         auto v = parse_int(t);
         if (!v || *v < 1 || *v > 600000) return false;
         s.tracing.batch_delay_ms = *v;
         return true;
       }},
      {"WEFT_HTTP_MAX_CONNECTIONS", "http_max_connections", "an integer from 1 to 100000",
       [](engine_settings& s, const std::string& t) {
         auto v = parse_int(t);
         if (!v || *v < 1 || *v > 100000) return false;
         s.http.max_connections = *v;
         return true;
       }},
      {"WEFT_HTTP_MAX_HOST_CONNECTIONS", "http_max_host_connections", "an integer from 1 to 100000",
       [](engine_settings& s, const std::string& t) {
         auto v = parse_int(t);
         if (!v || *v < 1 || *v > 100000) return false;
         s.http.max_host_connections = *v;
         return true;
       }},
      {"WEFT_HTTP_MAX_RESPONSE_BYTES", "http_max_response_bytes",
       "an integer from 1024 to 4294967296",
       [](engine_settings& s, const std::string& t) {
         auto v = parse_int(t);
         if (!v || *v < 1024 || *v > (1LL << 32)) return false;
         s.http.max_response_bytes = *v;
         return true;
       }},
      {"WEFT_HTTP_STREAM_WINDOW_BYTES", "http_stream_window_bytes",
       "an integer from 1024 to 1073741824",
       [](engine_settings& s, const std::string& t) {
         auto v = parse_int(t);
         if (!v || *v < 1024 || *v > (1LL << 30)) return false;
         s.http.stream_window_bytes = *v;
         return true;
       }},
  };
  return defs;
}

}  // namespace

std::string default_trace_file() { return "weft-traces.jsonl"; }

env_getter process_env() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::optional<bool> parse_bool(const std::string& text) {
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return std::nullopt;
}

void apply_env(engine_settings& s, std::vector<std::string>& errors, const env_getter& env) {
  for (auto& d : definitions()) {
    auto v = env(d.env);
    if (!v) continue;
    if (!d.apply(s, *v))
      errors.push_back(std::string("environment variable ") + d.env + "='" + *v +
                       "' is not valid: expected " + d.accepted);
  }
  apply_export_env(s.exporter, errors, env);
}

void apply_file(engine_settings& s, const std::string& path, std::vector<std::string>& errors) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    errors.push_back(path + ": cannot read settings file");
    return;
  } catch (const YAML::Exception& e) {
    errors.push_back(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                     std::to_string(e.mark.column + 1) + ": " + e.msg);
    return;
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) {
    errors.push_back(path + ": a settings file must be a mapping of key: value");
    return;
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    auto key = it->first.Scalar();
    auto where = path + ":" + std::to_string(it->first.Mark().line + 1) + ":" +
                 std::to_string(it->first.Mark().column + 1);
    auto d = std::find_if(definitions().begin(), definitions().end(),
                          [&](const setting_def& x) { return key == x.key; });
    if (d == definitions().end()) {
      std::string valid;
      for (auto& x : definitions()) valid += std::string(valid.empty() ? "" : ", ") + x.key;
      errors.push_back(where + ": unknown setting '" + key + "'; valid settings are: " + valid);
      continue;
    }
    if (!it->second.IsScalar() || !d->apply(s, it->second.Scalar()))
      errors.push_back(where + ": setting '" + key + "' is not valid: expected " + d->accepted);
  }
}

}  // namespace weft::config
