// The GenAI client metrics of the OpenTelemetry semantic conventions
// (v1.41.1), in Prometheus form, from every model call the engine's
// components make (engine_options::on_llm_call):
//
//   gen_ai_client_token_usage{gen_ai_operation_name, gen_ai_provider_name,
//                             gen_ai_request_model, gen_ai_token_type="input"|"output"}
//       histogram of tokens per call, buckets 1, 4, 16, ... 4^13 (the
//       conventions' advice)
//   gen_ai_client_operation_duration_seconds{gen_ai_operation_name,
//                             gen_ai_provider_name, gen_ai_request_model, error_type}
//       histogram of call durations, buckets 0.01, 0.02, ... 81.92 s
//
// error_type is empty for calls that succeeded. A call that failed records
// its duration but no tokens.
//
// Cardinality: models can come from requests (an llm.chat `model` input),
// so at most max_series label sets are kept; calls past that are counted
// under gen_ai_request_model="other".
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "weft/component.hpp"

namespace weft::serve {

class genai_metrics {
 public:
  static constexpr std::array<double, 14> token_buckets = {
      1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
  static constexpr std::array<double, 14> duration_buckets = {
      0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
  static constexpr std::size_t max_series = 1000;

  /// One call. Thread-safe; a short critical section per call.
  void record(const llm_call_record& call);
  /// The two families, with HELP and TYPE (nothing before the first call).
  std::string render() const;

 private:
  template <std::size_t N>
  struct histogram {
    std::array<std::uint64_t, N + 1> buckets{};  // not cumulative; the last is +Inf
    double sum = 0;
  };
  using key = std::tuple<std::string, std::string, std::string,
                         std::string>;  // op, provider, model, 4th label
  template <std::size_t N>
  static void observe(histogram<N>& h, const std::array<double, N>& bounds, double v);

  mutable std::mutex mu_;
  std::map<key, histogram<token_buckets.size()>> tokens_;        // 4th: token type
  std::map<key, histogram<duration_buckets.size()>> durations_;  // 4th: error type
};

}  // namespace weft::serve
