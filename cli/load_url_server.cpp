#include "cli/load_url_server.hpp"

#include <cctype>
#include <iostream>

#include "cli/engine_setup.hpp"
#include "cli/interrupt.hpp"
#include "cli/load_url_answer.hpp"
#include "cli/run_inputs.hpp"
#include "net/http_load.hpp"

namespace weft::cli {

using flows::value;

namespace {

std::optional<flows::value_type> parse_type(const std::string& name) {
  using flows::value_type;
  for (auto t : {value_type::string, value_type::number, value_type::integer, value_type::boolean,
                 value_type::object, value_type::array, value_type::any})
    if (name == flows::to_string(t)) return t;
  return std::nullopt;
}

// "a, b, c" from GET /v1/flows; empty when that fails (it is only a hint).
std::string served_flows(const std::string& base, const net::header_list& auth) {
  net::http_request req;
  req.method = "GET";
  req.url = base + "/v1/flows";
  req.headers = auth;
  auto r = fetch(std::move(req), 10000);
  if (!r.ok()) return {};
  auto j = value::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("flows") || !j["flows"].is_array()) return {};
  std::string names;
  for (auto& f : j["flows"])
    if (f.is_object() && f.contains("name") && f["name"].is_string())
      names += (names.empty() ? "" : ", ") + f["name"].get<std::string>();
  return names;
}

// A transport failure before the load: refused or unresolvable is "not
// there"; accepted and then silent is there but stuck.
int unreachable(const std::string& base, const net::http_response& r) {
  const bool gone =
      r.error == net::transport_error::connect || r.error == net::transport_error::dns;
  std::cerr << "weft: error: " << (gone ? "cannot reach " : "no answer from ") << base << ": "
            << r.error_message << '\n';
  return exit_run_failed;
}

int refused(const std::string& base, const net::http_response& r, const load_opts& o,
            const net::header_list& auth) {
  std::cerr << "weft: error: " << base << " refused the request (" << describe_failure(r) << ")\n"
            << (auth.empty() ? "weft: hint: set " + o.api_key_env + " to the server's API key\n"
                             : "weft: hint: check the API key in " + o.api_key_env + "\n");
  return exit_usage;
}

}  // namespace

std::string percent_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// One request, sent through the same driver as the load itself.
net::http_response fetch(net::http_request req, std::int64_t timeout_ms) {
  net::http_load one({.concurrency = 1, .total = 1, .timeout_ms = timeout_ms});
  net::http_response got;
  one.run([&](std::int64_t) { return req; },
          [&](net::http_load_sample&& s) { got = std::move(s.response); });
  return got;
}

// GET /v1/flows/NAME. Prints the error and returns the exit code on failure.
std::variant<flow_info, int> describe_flow(const std::string& base, const load_opts& o,
                                           const net::header_list& auth) {
  net::http_request req;
  req.method = "GET";
  req.url = base + "/v1/flows/" + percent_encode(o.flow_name);
  req.headers = auth;
  req.headers.emplace_back("Accept", "application/json");
  auto r = fetch(std::move(req), 10000);
  if (r.error != net::transport_error::none) return unreachable(base, r);
  if (r.status == 401 || r.status == 403) return refused(base, r, o, auth);
  if (r.status == 404) {
    std::cerr << "weft: error: " << base << " has no flow '" << o.flow_name
              << "' (the server said: " << describe_failure(r) << ")\n";
    if (auto names = served_flows(base, auth); !names.empty())
      std::cerr << "weft: hint: the flows it serves: " << names << '\n';
    return exit_usage;
  }
  if (r.status != 200) {
    std::cerr << "weft: error: GET /v1/flows/" << o.flow_name << ": " << describe_failure(r)
              << '\n';
    return exit_run_failed;
  }
  auto j = value::parse(r.body, nullptr, false);
  if (!j.is_object()) {
    std::cerr << "weft: error: GET /v1/flows/" << o.flow_name
              << ": the answer is not a JSON object; is " << base << " a weft server?\n";
    return exit_run_failed;
  }
  flow_info info;
  if (j.contains("nodes") && j["nodes"].is_number_unsigned())
    info.nodes = j["nodes"].get<std::size_t>();
  if (j.contains("fixed_shape") && j["fixed_shape"].is_boolean())
    info.fixed_shape = j["fixed_shape"].get<bool>();
  if (j.contains("inputs") && j["inputs"].is_array()) {
    for (auto& d : j["inputs"]) {
      if (!d.is_object() || !d.contains("name") || !d["name"].is_string()) continue;
      flows::input_decl in;
      in.name = d["name"].get<std::string>();
      // The server applies the default; here only whether there is one
      // matters (none: the input is required).
      if (!d.value("required", false)) in.default_value = d.value("default", value());
      if (d.contains("type") && d["type"].is_string()) {
        auto t = parse_type(d["type"].get<std::string>());
        if (!t)
          std::cerr << "weft: warning: input '" << in.name << "' has type '"
                    << d["type"].get<std::string>()
                    << "', unknown here; sending -i values as 'any'\n";
        in.type = t.value_or(flows::value_type::any);
      }
      info.inputs.push_back(std::move(in));
    }
  }
  return info;
}

// setup.hpp's make_inputs against the inputs the server declared, then a
// check that each required one is given: one error here, not one per run.
// Prints the error and returns nullopt.
std::optional<value> make_remote_inputs(const flow_info& flow, const load_opts& o) {
  auto in = make_inputs(o.flow_name, flow.inputs, o);
  if (!in) return std::nullopt;
  for (auto& d : flow.inputs) {
    if (!d.default_value && !in->contains(d.name)) {
      std::cerr << "weft: error: flow '" << o.flow_name << "' needs input '" << d.name << "' ("
                << flows::to_string(d.type) << "); give -i " << d.name << "=VALUE\n";
      return std::nullopt;
    }
  }
  return flows::to_object(*in);
}

int check_model(const std::string& api, const load_opts& o, const net::header_list& auth) {
  net::http_request req;
  req.method = "GET";
  req.url = api + "/models";
  req.headers = auth;
  auto r = fetch(std::move(req), 10000);
  if (r.error != net::transport_error::none) return unreachable(api, r);
  if (r.status == 401 || r.status == 403) return refused(api, r, o, auth);
  if (r.status != 200) return exit_ok;  // no model list here: the completions will tell
  auto j = value::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) return exit_ok;
  std::string names;
  for (auto& m : j["data"]) {
    if (!m.is_object() || !m.contains("id") || !m["id"].is_string()) continue;
    auto id = m["id"].get<std::string>();
    if (id == o.flow_name) return exit_ok;
    names += (names.empty() ? "" : ", ") + id;
  }
  std::cerr << "weft: error: " << api << "/models does not list '" << o.flow_name << "'\n"
            << (names.empty()
                    ? std::string("weft: hint: it lists no models; a weft flow is one when it has a"
                                  " prompt or messages input and a text output\n")
                    : "weft: hint: the models it lists: " + names + "\n");
  return exit_usage;
}

}  // namespace weft::cli
