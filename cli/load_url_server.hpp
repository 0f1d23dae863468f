// What `weft load --url` asks a server before the load starts: the flow's
// declared inputs and shape (GET /v1/flows/NAME), whether a model exists
// (GET /v1/models, for --openai), and the inputs to send. Each check that
// fails prints one error with a hint and gives the exit code, so a wrong
// name or key is one message, not one failure per run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cli/commands.hpp"
#include "flows/spec.hpp"
#include "net/http_types.hpp"

namespace weft::cli {

// What GET /v1/flows/NAME said.
struct flow_info {
  std::vector<flows::input_decl> inputs;
  std::size_t nodes = 0;  // 0: unknown
  // Whether every run has 1 + nodes spans. A server that does not say is
  // taken to mean yes: servers from before branches and child runs.
  bool fixed_shape = true;
};

/// RFC 3986 percent-encoding of a path segment.
std::string percent_encode(std::string_view s);

/// One request, sent through the same driver as the load itself.
net::http_response fetch(net::http_request req, std::int64_t timeout_ms);

/// GET /v1/flows/NAME. Prints the error and returns the exit code on failure.
std::variant<flow_info, int> describe_flow(const std::string& base, const load_opts& o,
                                           const net::header_list& auth);

/// setup.hpp's make_inputs against the inputs the server declared, then a
/// check that each required one is given. Prints the error and returns
/// nullopt.
std::optional<flows::value> make_remote_inputs(const flow_info& flow, const load_opts& o);

/// For --openai: GET {api}/models, where `api` is the base ending in /v1.
/// Fails (printing why, returning the exit code) when the server cannot be
/// reached, refuses the key, or lists models without this one; a server
/// without the route passes, since only POST /chat/completions is needed.
int check_model(const std::string& api, const load_opts& o, const net::header_list& auth);

}  // namespace weft::cli
