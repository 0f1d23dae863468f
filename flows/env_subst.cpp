#include "flows/env_subst.hpp"

#include "flows/names.hpp"

namespace weft::flows {
namespace {

// The POSIX rule for environment variable names (upper and lower case).
bool is_env_name(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(s[0])) return false;
  for (char c : s)
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

}  // namespace

bool substitute_env(std::string& text, const env_lookup& env, std::vector<std::string>& problems) {
  if (text.find('$') == std::string::npos) return true;
  const std::size_t problems_before = problems.size();
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    std::size_t close = text.find('}', i + 2);
    if (close == std::string::npos) {
      problems.emplace_back("'${' is never closed by '}' (write '$${' for a literal '${')");
      break;
    }
    std::string name = text.substr(i + 2, close - i - 2);
    if (!is_env_name(name)) {
      problems.push_back("bad environment variable name " + quote(name) +
                         " in '${...}'; names match [A-Za-z_][A-Za-z0-9_]*");
    } else if (auto v = env ? env(name) : std::nullopt) {
      out += *v;
    } else {
      problems.push_back("environment variable " + quote(name) + " is not set");
    }
    i = close + 1;
  }
  if (problems.size() != problems_before) return false;
  text = std::move(out);
  return true;
}

env_lookup recording_env(const env_lookup& env, std::vector<std::string>& values) {
  return [&env, &values](const std::string& name) -> std::optional<std::string> {
    auto v = env ? env(name) : std::nullopt;
    if (v) values.push_back(*v);
    return v;
  };
}

}  // namespace weft::flows
