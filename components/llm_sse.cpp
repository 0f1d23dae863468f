#include "components/llm_sse.hpp"

namespace weft::components {

bool sse_parser::feed(std::string_view bytes,
                      const std::function<bool(const sse_event&)>& on_event) {
  if (failed_) return false;
  std::size_t i = 0;
  if (!started_) {
    // A byte order mark may only open the stream, and may itself arrive split.
    static constexpr std::string_view bom = "\xEF\xBB\xBF";
    while (i < bytes.size() && bom_held_.size() < bom.size() && bytes[i] == bom[bom_held_.size()])
      bom_held_ += bytes[i++];
    if (bom_held_.size() < bom.size() && i == bytes.size()) return true;  // still maybe a BOM
    started_ = true;
    std::string held = std::move(bom_held_);
    bom_held_.clear();
    // Not a whole BOM after all: those bytes are ordinary data.
    if (held.size() < bom.size() && !held.empty() && !feed(held, on_event)) return false;
    bytes.remove_prefix(i);
    i = 0;
  }
  while (i < bytes.size()) {
    const char c = bytes[i];
    if (after_cr_ && c == '\n') {  // the LF of a CR LF
      after_cr_ = false;
      ++i;
      continue;
    }
    after_cr_ = false;
    // Take the run of ordinary bytes at once.
    std::size_t end = bytes.find_first_of("\r\n", i);
    if (end == std::string_view::npos) end = bytes.size();
    if (end > i) {
      line_.append(bytes.data() + i, end - i);
      if (line_.size() + event_.data.size() > max_event_bytes_) {
        failed_ = true;
        return false;
      }
      i = end;
      continue;
    }
    after_cr_ = c == '\r';
    ++i;
    if (!line_done(on_event)) {
      failed_ = true;
      return false;
    }
  }
  return true;
}

bool sse_parser::line_done(const std::function<bool(const sse_event&)>& on_event) {
  if (line_.empty()) {  // a blank line: dispatch
    bool ok = true;
    if (has_data_) ok = on_event(event_);
    event_ = sse_event{};
    has_data_ = false;
    return ok;
  }
  if (line_[0] == ':') {  // a comment (a heartbeat)
    line_.clear();
    return true;
  }
  std::string_view line(line_);
  std::string_view field = line, value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) event_.data += '\n';
    event_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.type = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) event_.id = std::string(value);
  }
  line_.clear();
  return event_.data.size() <= max_event_bytes_;
}

}  // namespace weft::components
