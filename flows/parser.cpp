#include "flows/parser.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <tuple>

#include "flows/flow_checks.hpp"
#include "flows/spec_reader.hpp"
#include "flows/yaml_reader.hpp"

namespace weft::flows {
namespace {

// Diagnostics in file order, as compilers print them; those with no line
// (0) first. Stable, so two problems at one place keep the order found.
void sort_by_position(diagnostics& errs, std::size_t from) {
  std::stable_sort(errs.begin() + static_cast<std::ptrdiff_t>(from), errs.end(),
                   [](const diagnostic& a, const diagnostic& b) {
                     return std::tie(a.loc.line, a.loc.col) < std::tie(b.loc.line, b.loc.col);
                   });
  auto same = [](const diagnostic& a, const diagnostic& b) {
    return a.loc.line == b.loc.line && a.loc.col == b.loc.col && a.message == b.message;
  };
  errs.erase(std::unique(errs.begin() + static_cast<std::ptrdiff_t>(from), errs.end(), same),
             errs.end());
}

std::optional<flow_spec> parse_checked(std::string_view text, const std::string& file,
                                       const registry& components, diagnostics& errs,
                                       const env_lookup& env) {
  auto root = load_yaml(text, file, errs);
  if (!root) return std::nullopt;
  read_flow flow = read_flow_document(*root, file, env, errs, text);
  check_flow(flow, components, errs);
  return std::move(flow.spec);
}

}  // namespace

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    // getenv is safe here: nothing in weft calls setenv after start-up.
    if (const char* v = std::getenv(name.c_str())) return std::string{v};
    return std::nullopt;
  };
}

std::optional<flow_spec> parse_flow(std::string_view text, const std::string& file,
                                    const registry& components, diagnostics& errs,
                                    const env_lookup& env) {
  const std::size_t before = errs.size();
  std::optional<flow_spec> spec;
  // The promise is "never throws": whatever slipped past the checks (a
  // yaml-cpp surprise, bad_alloc) becomes one more diagnostic.
  try {
    spec = parse_checked(text, file, components, errs, env);
  } catch (const std::exception& e) {
    errs.push_back(diagnostic_at(
        file, 0, 0, std::string{"internal error while loading the flow: "} + e.what()));
  } catch (...) {
    errs.push_back(diagnostic_at(file, 0, 0, "internal error while loading the flow"));
  }
  if (errs.size() == before) {
    if (spec) spec->content_hash = content_hash(text);
    return spec;
  }
  sort_by_position(errs, before);
  return std::nullopt;
}

std::string content_hash(std::string_view text) {
  // FNV-1a, 64 bits: it tells two versions of a file apart; it is not a
  // defence against someone forging one (the cluster key is that).
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  static const char* digits = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<std::size_t>(i)] = digits[h & 0xf];
  return out;
}

std::optional<flow_spec> parse_flow_file(const std::string& path, const registry& components,
                                         diagnostics& errs, const env_lookup& env) {
  auto cannot_read = [&](int e) {
    errs.push_back(diagnostic_at(path, 0, 0, std::string{"cannot read file: "} + std::strerror(e)));
    return std::nullopt;
  };
  errno = 0;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f{std::fopen(path.c_str(), "rb"), &std::fclose};
  if (!f) return cannot_read(errno);
  // One byte past the limit is enough for parse_flow to say "too large";
  // reading on would let /dev/zero or a huge file eat the memory.
  std::string text;
  char buf[64 * 1024];
  while (text.size() <= max_flow_bytes) {
    std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
    text.append(buf, n);
    if (n < sizeof buf) break;
  }
  // A directory opens fine and fails on the first read (EISDIR).
  if (std::ferror(f.get())) return cannot_read(errno ? errno : EIO);
  return parse_flow(text, path, components, errs, env);
}

}  // namespace weft::flows
