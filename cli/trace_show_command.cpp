// `weft trace show PATH`: each trace as an indented tree of spans.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <unordered_map>

#include "cli/commands.hpp"
#include "tracing/otlp_json_reader.hpp"

namespace weft::cli {
namespace {

using tracing::span_record;

std::string attr(const span_record& s, std::string_view key) {
  auto v = s.find(key);
  if (!v) return {};
  return std::visit(
      [](auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) return x;
        else if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else return std::to_string(x);
      },
      *v);
}

std::string duration(const span_record& s) {
  double ms = s.end_unix_ns >= s.start_unix_ns
                  ? static_cast<double>(s.end_unix_ns - s.start_unix_ns) / 1e6
                  : 0.0;
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 1 ? "%.3f ms" : "%.1f ms", ms);
  return buf;
}

const char* status_text(tracing::status_code c) {
  switch (c) {
    case tracing::status_code::ok: return "ok";
    case tracing::status_code::error: return "ERROR";
    default: return "unset";
  }
}

struct tree {
  std::vector<const span_record*> spans;
  std::unordered_map<std::uint64_t, std::vector<const span_record*>> children;
};

void print_span(const tree& t, const span_record& s, const std::string& indent, bool last,
                bool top) {
  std::string line = indent + (top ? "" : (last ? "`- " : "|- ")) + s.name + "  " + duration(s) +
                     "  " + status_text(s.status);
  if (s.status == tracing::status_code::error && !s.status_message.empty())
    line += " (" + s.status_message + ")";
  if (auto type = attr(s, "weft.node.type"); !type.empty()) line += "  type=" + type;
  if (top) {
    for (auto key : {"weft.run.id", "session.id", "user.id"})
      if (auto v = attr(s, key); !v.empty()) line += std::string("  ") + key + "=" + v;
  }
  std::cout << line << '\n';
  auto it = t.children.find(s.id.value);
  if (it == t.children.end()) return;
  auto kids = it->second;
  std::sort(kids.begin(), kids.end(),
            [](auto* a, auto* b) { return a->start_unix_ns < b->start_unix_ns; });
  std::string next = indent + (top ? "" : (last ? "   " : "|  "));
  for (std::size_t i = 0; i < kids.size(); ++i)
    print_span(t, *kids[i], next, i + 1 == kids.size(), false);
}

}  // namespace

int trace_show_command(const trace_show_opts& o) {
  std::optional<tracing::trace_id> only;
  if (!o.trace_id.empty()) {
    only = tracing::trace_id::from_hex(o.trace_id);
    if (!only) {
      std::cerr << "weft: error: --trace-id '" << o.trace_id
                << "' is not a trace id (32 lowercase hex characters, not all zero)\n";
      return exit_usage;
    }
  }
  std::vector<span_record> spans;
  auto summary = tracing::read_otlp_json_file(o.path, spans);
  if (!summary.open_error.empty()) {
    std::cerr << "weft: error: " << summary.open_error << '\n';
    return exit_usage;
  }
  for (auto& e : summary.errors) std::cerr << "weft: warning: " << e.message << '\n';

  // Traces in the order their first span appears in the file.
  std::vector<tracing::trace_id> order;
  std::map<tracing::trace_id, tree> traces;
  for (auto& s : spans) {
    if (only && s.trace != *only) continue;
    auto [it, fresh] = traces.try_emplace(s.trace);
    if (fresh) order.push_back(s.trace);
    it->second.spans.push_back(&s);
  }
  if (only && order.empty()) {
    std::cerr << "weft: error: trace " << o.trace_id << " is not in " << o.path << '\n';
    return exit_run_failed;
  }
  std::size_t first = o.last > 0 && order.size() > static_cast<std::size_t>(o.last)
                          ? order.size() - static_cast<std::size_t>(o.last)
                          : 0;
  for (std::size_t i = first; i < order.size(); ++i) {
    auto& t = traces[order[i]];
    std::unordered_map<std::uint64_t, const span_record*> by_id;
    for (auto* s : t.spans) by_id[s->id.value] = s;
    std::vector<const span_record*> roots;
    for (auto* s : t.spans) {
      if (s->parent.valid() && by_id.count(s->parent.value))
        t.children[s->parent.value].push_back(s);
      else
        roots.push_back(s);
    }
    std::cout << "trace " << order[i].to_hex() << "  (" << t.spans.size() << " spans)\n";
    for (auto* r : roots) {
      if (r->parent.valid()) std::cout << "  (parent " << r->parent.to_hex() << " is remote or missing)\n";
      print_span(t, *r, "  ", true, true);
    }
    if (i + 1 < order.size()) std::cout << '\n';
  }
  return exit_ok;
}

}  // namespace weft::cli
