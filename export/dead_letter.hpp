// The dead-letter file of an HTTP sink: one JSON line per batch the backend
// rejected for good, for an operator to inspect and resend by hand.
//
// It lives in the sink's spool directory and shares the spool's budget:
// `dead-letter.jsonl` grows to half of `max_bytes`, then becomes
// `dead-letter.1.jsonl` (replacing the one before) and a new file starts, so
// the two never hold more than `max_bytes`. A line that would not fit half
// the budget is written without its body (its size is noted instead). Files
// are created 0600: rejected spans hold the same content as the spool.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace weft::exporting {

class dead_letter_file {
 public:
  /// `dir` empty: nothing is ever written.
  dead_letter_file(std::string dir, std::uint64_t max_bytes);

  /// Appends `line` (one object). Returns an error for the log, or empty.
  std::string write(nlohmann::json line);

  /// Bytes of both files, as last written.
  std::uint64_t bytes() const { return current_bytes_ + previous_bytes_; }

  static constexpr const char* file_name = "dead-letter.jsonl";
  static constexpr const char* previous_name = "dead-letter.1.jsonl";

 private:
  std::string dir_;
  std::uint64_t max_bytes_;
  std::uint64_t current_bytes_ = 0;
  std::uint64_t previous_bytes_ = 0;
  bool sized_ = false;  // current/previous sizes read from disk once
};

}  // namespace weft::exporting
