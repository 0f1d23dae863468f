#include "serve/json_body.hpp"

#include <strings.h>

namespace weft::serve {

net::server_response json_ok(int status, const flows::value& body) {
  net::server_response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = body.dump(-1, ' ', false, flows::value::error_handler_t::replace);
  return r;
}

bool is_json_media_type(std::string_view ct) {
  auto semi = ct.find(';');
  auto type = ct.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  if (type.size() == 16 && strncasecmp(type.data(), "application/json", 16) == 0) return true;
  // Structured syntax suffix (RFC 6839), e.g. application/vnd.x+json.
  return type.size() > 5 && strncasecmp(type.data() + type.size() - 5, "+json", 5) == 0;
}

std::string dump(const flows::value& v) {
  return v.dump(-1, ' ', false, flows::value::error_handler_t::replace);
}

// Parses a request body, refusing nesting deeper than `max_depth` while it
// parses: a 40 KB body of 20,000 nested arrays would otherwise become a
// value that recursive code (dump, conversions) walks off the stack.
flows::value parse_body(const std::string& text, std::size_t max_depth) {
  auto guard = [max_depth](int depth, flows::value::parse_event_t event, flows::value&) {
    if (static_cast<std::size_t>(depth) >= max_depth &&
        (event == flows::value::parse_event_t::object_start ||
         event == flows::value::parse_event_t::array_start))
      throw too_deep("the body nests arrays and objects deeper than " + std::to_string(max_depth) +
                     " levels; flatten it");
    return true;
  };
  return flows::value::parse(text, guard);
}

}  // namespace weft::serve
