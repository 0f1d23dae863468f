// A sink that keeps spans in memory, for tests that assert on spans without
// going through a file. It is a real sink (embedders can write the same):
// the exporter drives it exactly as it drives the file sink.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "tracing/sink.hpp"

namespace weft::test {

struct span_store {
  std::mutex mu;
  std::vector<tracing::span_record> spans;
  std::size_t batches = 0;
  /// False: spans are counted (in `batches`) but not kept, for tests that
  /// measure memory over many runs.
  bool keep = true;

  std::vector<tracing::span_record> snapshot() {
    std::lock_guard<std::mutex> lk(mu);
    return spans;
  }
};

class memory_sink final : public tracing::sink {
 public:
  explicit memory_sink(std::shared_ptr<span_store> store) : store_(std::move(store)) {}
  std::string name() const override { return "memory"; }
  std::string write(const std::vector<tracing::span_record>& batch) override {
    std::lock_guard<std::mutex> lk(store_->mu);
    if (store_->keep) store_->spans.insert(store_->spans.end(), batch.begin(), batch.end());
    ++store_->batches;
    return {};
  }

 private:
  std::shared_ptr<span_store> store_;
};

}  // namespace weft::test
