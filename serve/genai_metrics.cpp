#include "serve/genai_metrics.hpp"

#include "serve/prometheus_writer.hpp"

namespace weft::serve {

template <std::size_t N>
void genai_metrics::observe(histogram<N>& h, const std::array<double, N>& bounds, double v) {
  std::size_t i = 0;
  while (i < N && v > bounds[i]) ++i;
  ++h.buckets[i];
  h.sum += v;
}

void genai_metrics::record(const llm_call_record& call) {
  std::lock_guard<std::mutex> lk(mu_);
  // A new label set past the bound is folded into model "other".
  auto bounded = [&](key k, auto& map) {
    if (map.size() >= max_series && !map.count(k)) std::get<2>(k) = "other";
    return k;
  };
  auto d = bounded({call.operation, call.provider, call.model, call.error_type}, durations_);
  observe(durations_[d], duration_buckets, call.duration_s);
  if (!call.error_type.empty()) return;
  auto in = bounded({call.operation, call.provider, call.model, "input"}, tokens_);
  observe(tokens_[in], token_buckets, static_cast<double>(call.input_tokens));
  auto out = bounded({call.operation, call.provider, call.model, "output"}, tokens_);
  observe(tokens_[out], token_buckets, static_cast<double>(call.output_tokens));
}

std::string genai_metrics::render() const {
  std::string out;
  writer w(out);
  std::lock_guard<std::mutex> lk(mu_);
  auto emit = [&](const char* name, const char* fourth, const auto& map, const auto& bounds) {
    for (const auto& [k, h] : map) {
      const auto& [op, provider, model, extra] = k;
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < h.buckets.size(); ++i) {
        cumulative += h.buckets[i];
        const std::string le = i < bounds.size() ? writer::format(bounds[i]) : "+Inf";
        w.sample(std::string(name) + "_bucket",
                 {"gen_ai_operation_name", op, "gen_ai_provider_name", provider,
                  "gen_ai_request_model", model, fourth, extra, "le", le},
                 cumulative);
      }
      w.sample(std::string(name) + "_sum",
               {"gen_ai_operation_name", op, "gen_ai_provider_name", provider,
                "gen_ai_request_model", model, fourth, extra},
               h.sum);
      w.sample(std::string(name) + "_count",
               {"gen_ai_operation_name", op, "gen_ai_provider_name", provider,
                "gen_ai_request_model", model, fourth, extra},
               cumulative);
    }
  };
  w.family("gen_ai_client_token_usage", "histogram",
           "Tokens per model call, by operation, provider, requested model and token type (input "
           "or output).");
  emit("gen_ai_client_token_usage", "gen_ai_token_type", tokens_, token_buckets);
  w.family("gen_ai_client_operation_duration_seconds", "histogram",
           "Duration of model calls (retries included), by operation, provider, requested model "
           "and error type.");
  emit("gen_ai_client_operation_duration_seconds", "error_type", durations_, duration_buckets);
  return out;
}

}  // namespace weft::serve
