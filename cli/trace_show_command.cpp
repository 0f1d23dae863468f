// `weft trace show PATH`: each trace as an indented tree of spans.
//
// A trace file is input like any other (DESIGN invariant 6): a span may name
// itself or a descendant as its parent, and a chain may be 100,000 spans
// deep. So the tree is walked with an explicit stack and a visited set, the
// indentation stops growing past a fixed depth, and spans that no root
// reaches (parent cycles) are printed under a heading of their own instead
// of being dropped.
//
// Child runs nest in the same trace (sub-flows, map items, loop iterations,
// 16 levels deep), so a map of 1,000 items would be 1,000 subtrees: past
// the first few items, the rest of a map are one line that counts them,
// unless --expand.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "cli/commands.hpp"
#include "tracing/otlp_json_reader.hpp"

namespace weft::cli {
namespace {

using tracing::span_record;

// Past this depth lines stop moving right and say their depth instead, so
// a deep chain prints in linear space.
constexpr std::size_t max_indent_depth = 32;

// A value as one line of text: string arrays as [a, b].
std::string value_text(const tracing::attribute_value& v) {
  return std::visit(
      [](auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return x;
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::string out = "[";
          for (std::size_t i = 0; i < x.size(); ++i) out += (i ? ", " : "") + x[i];
          return out + "]";
        } else if constexpr (std::is_same_v<T, double>) {
          char buf[32];
          auto r = std::to_chars(buf, buf + sizeof buf, x);
          return std::string(buf, r.ptr);
        } else {
          return std::to_string(x);
        }
      },
      v);
}

std::string attr(const span_record& s, std::string_view key) {
  auto v = s.find(key);
  return v ? value_text(*v) : std::string();
}

// A value for a one-line summary: cut short, so that one huge attribute
// does not flood the tree.
std::string short_value(const tracing::attribute_value& v) {
  constexpr std::size_t max = 80;
  std::string text = value_text(v);
  if (text.size() > max) {
    // resize + append rather than substr(...) + "...": GCC 12 at -O2 warns
    // (falsely) about the temporary the latter builds.
    text.resize(max);
    text.append("...");
  }
  return text;
}

// Past this many events a span's event lines stop and are counted.
constexpr std::size_t max_events_shown = 20;

std::string offset_text(std::uint64_t at, std::uint64_t start) {
  const bool before = at < start;
  const double ms = static_cast<double>(before ? start - at : at - start) / 1e6;
  char buf[40];
  std::snprintf(buf, sizeof buf, ms < 1 ? "%c%.3f ms" : "%c%.1f ms", before ? '-' : '+', ms);
  return buf;
}

// The span's events, one line each under it: name, offset from the span's
// start, attributes.
void print_events(const span_record& s, const std::string& indent) {
  std::size_t shown = 0;
  for (const auto& e : s.events) {
    if (shown++ == max_events_shown) {
      std::cout << indent << "  (" << s.events.size() - max_events_shown << " more events)\n";
      break;
    }
    std::cout << indent << "  event " << e.name << "  "
              << offset_text(e.time_unix_ns, s.start_unix_ns);
    for (const auto& a : e.attributes) std::cout << "  " << a.key << '=' << short_value(a.value);
    std::cout << '\n';
  }
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
    case tracing::status_code::ok:
      return "ok";
    case tracing::status_code::error:
      return "ERROR";
    default:
      return "unset";
  }
}

// Map items shown under one node before the rest are counted instead.
constexpr std::size_t max_items_shown = 5;

struct tree {
  bool expand = false;  // every map item, not just the first max_items_shown
  std::vector<const span_record*> spans;
  std::unordered_map<std::uint64_t, const span_record*> by_id;  // first span with the id
  std::unordered_map<std::uint64_t, std::vector<const span_record*>> children;
  // Printed, or folded into a "more items" line: either way, accounted for
  // (and so not printed again under the parent cycle heading).
  std::unordered_set<const span_record*> shown;
};

std::optional<std::int64_t> int_attr(const span_record& s, std::string_view key) {
  auto v = s.find(key);
  if (!v) return std::nullopt;
  if (auto p = std::get_if<std::int64_t>(v)) return *p;
  return std::nullopt;
}

// Which item or iteration a child run is, in front of its root's name.
std::string run_label(const span_record& s) {
  if (auto i = int_attr(s, "weft.map.index")) return "[item " + std::to_string(*i) + "] ";
  if (auto i = int_attr(s, "weft.loop.iteration")) return "[iteration " + std::to_string(*i) + "] ";
  return {};
}

// `s` and the spans below it that the walk would print, marked accounted
// for; returns how many. Iterative, like the walk.
std::size_t fold_subtree(tree& t, const span_record* s) {
  std::size_t n = 0;
  std::vector<const span_record*> stack{s};
  while (!stack.empty()) {
    auto* x = stack.back();
    stack.pop_back();
    if (!t.shown.insert(x).second) continue;
    ++n;
    auto it = t.children.find(x->id.value);
    if (it == t.children.end() || t.by_id[x->id.value] != x) continue;
    stack.insert(stack.end(), it->second.begin(), it->second.end());
  }
  return n;
}

// The children of a span in print order: the others by start time, then
// map items by index. Past max_items_shown items (without --expand) the rest
// are folded; `folded_items` and `folded_spans` say how many.
std::vector<const span_record*> print_order(tree& t, std::vector<const span_record*> kids,
                                            std::size_t& folded_items, std::size_t& folded_spans) {
  std::sort(kids.begin(), kids.end(),
            [](auto* a, auto* b) { return a->start_unix_ns < b->start_unix_ns; });
  auto items = std::stable_partition(kids.begin(), kids.end(),
                                     [](auto* k) { return !int_attr(*k, "weft.map.index"); });
  std::stable_sort(items, kids.end(), [](auto* a, auto* b) {
    return *int_attr(*a, "weft.map.index") < *int_attr(*b, "weft.map.index");
  });
  folded_items = folded_spans = 0;
  const auto n_items = static_cast<std::size_t>(kids.end() - items);
  if (t.expand || n_items <= max_items_shown) return kids;
  for (auto k = items + max_items_shown; k != kids.end(); ++k) {
    ++folded_items;
    folded_spans += fold_subtree(t, *k);
  }
  kids.erase(items + max_items_shown, kids.end());
  return kids;
}

std::string span_line(const span_record& s, bool top) {
  std::string line = s.name + "  " + duration(s) + "  " + status_text(s.status);
  if (s.status == tracing::status_code::error && !s.status_message.empty())
    line += " (" + s.status_message + ")";
  if (auto type = attr(s, "weft.node.type"); !type.empty()) line += "  type=" + type;
  // Arrays are rare and short (finish reasons, stop sequences) and are not
  // shown anywhere else.
  for (const auto& a : s.attributes)
    if (std::holds_alternative<std::vector<std::string>>(a.value))
      line += "  " + a.key + "=" + short_value(a.value);
  // An LLM call's figures, and an HTTP call's answer.
  auto in = int_attr(s, "gen_ai.usage.input_tokens"),
       out = int_attr(s, "gen_ai.usage.output_tokens");
  if (in || out)
    line += "  tokens=" + std::to_string(in.value_or(0)) + "+" + std::to_string(out.value_or(0));
  if (auto c = s.find("weft.llm.cost.total"); c && std::holds_alternative<double>(*c)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", std::get<double>(*c));
    line += std::string("  cost=") + buf;
  }
  if (auto h = int_attr(s, "http.response.status_code")) line += "  http=" + std::to_string(*h);
  if (top) {
    for (auto key : {"weft.run.id", "session.id", "user.id"})
      if (auto v = attr(s, key); !v.empty()) line += std::string("  ") + key + "=" + v;
  }
  return line;
}

// Prints `top` and every span below it not shown yet, depth first, children
// by start time. A child already shown closes a cycle: it gets a one-line
// note instead of a second copy of its subtree.
void print_subtree(tree& t, const span_record& top, const std::string& base) {
  struct frame {
    const span_record* span;  // nullptr: the line for folded map items
    std::string indent;       // the prefix of this span's children
    std::size_t depth;
    bool last;
    std::size_t folded_items, folded_spans;
  };
  std::vector<frame> stack;
  stack.push_back({&top, base, 0, true, 0, 0});
  while (!stack.empty()) {
    frame f = std::move(stack.back());
    stack.pop_back();
    const bool root = f.depth == 0;
    std::string prefix = f.indent;
    std::string child_indent = f.indent;
    if (!root) {
      prefix += f.last ? "`- " : "|- ";
      if (f.depth < max_indent_depth) child_indent += f.last ? "   " : "|  ";
    }
    if (f.depth >= max_indent_depth) prefix += "[depth " + std::to_string(f.depth) + "] ";
    if (!f.span) {
      std::cout << prefix << "\u2026 " << f.folded_items << " more items (" << f.folded_spans
                << " spans; --expand shows them)\n";
      continue;
    }
    const auto& s = *f.span;
    if (!t.shown.insert(&s).second) {
      std::cout << prefix << s.name << "  (span " << s.id.to_hex()
                << " again: its parent chain is a cycle)\n";
      continue;
    }
    std::cout << prefix << run_label(s) << span_line(s, root) << '\n';
    print_events(s, child_indent);
    auto it = t.children.find(s.id.value);
    if (it == t.children.end() || t.by_id[s.id.value] != &s) continue;
    std::size_t folded_items, folded_spans;
    auto kids = print_order(t, it->second, folded_items, folded_spans);
    // Pushed last-first so that the first child is printed first, and the
    // folded items' line after the last.
    if (folded_items)
      stack.push_back({nullptr, child_indent, f.depth + 1, true, folded_items, folded_spans});
    for (std::size_t i = kids.size(); i-- > 0;)
      stack.push_back(
          {kids[i], child_indent, f.depth + 1, i + 1 == kids.size() && !folded_items, 0, 0});
  }
}

// A span on the parent cycle that `s` hangs from: follow parents until one
// repeats. Nullptr when the chain ends instead (possible only when span ids
// repeat in a trace, so that `s` hangs from a copy no walk follows).
const span_record* cycle_member(const tree& t, const span_record* s) {
  std::unordered_set<const span_record*> seen;
  while (seen.insert(s).second) {
    if (s->parent == s->id) return s;
    auto p = t.by_id.find(s->parent.value);
    if (p == t.by_id.end()) return nullptr;
    s = p->second;
  }
  return s;
}

void print_trace(tree& t) {
  for (auto* s : t.spans) t.by_id.try_emplace(s->id.value, s);
  std::vector<const span_record*> roots, orphans;
  for (auto* s : t.spans) {
    if (!s->parent.valid()) roots.push_back(s);
    else if (!t.by_id.count(s->parent.value)) orphans.push_back(s);
    else if (s->parent != s->id) t.children[s->parent.value].push_back(s);
    // A span that is its own parent is no one's child: the cycle pass shows it.
  }
  for (auto* r : roots) print_subtree(t, *r, "  ");
  for (auto* o : orphans) {
    std::cout << "  (parent " << o->parent.to_hex() << " is remote or missing)\n";
    print_subtree(t, *o, "  ");
  }
  bool heading = false;
  for (auto* s : t.spans) {
    if (t.shown.count(s)) continue;
    if (!heading) {
      std::cout << "  (spans in a parent cycle, not under any root:)\n";
      heading = true;
    }
    auto* member = cycle_member(t, s);
    if (!member || t.shown.count(member)) {
      std::cout << "  (span " << s->id.to_hex() << ": its parent " << s->parent.to_hex()
                << " has a duplicate span id)\n";
      member = s;
    } else if (member->parent == member->id) {
      std::cout << "  (span " << member->id.to_hex() << " is its own parent)\n";
    } else {
      std::cout << "  (cycle through span " << member->id.to_hex() << ", whose parent is "
                << member->parent.to_hex() << ")\n";
    }
    print_subtree(t, *member, "  ");
  }
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
  std::string where;  // the files, for "not in ..."
  for (const auto& path : o.paths) {
    auto summary = tracing::read_otlp_json_file(path, spans);
    if (!summary.open_error.empty()) {
      std::cerr << "weft: error: " << summary.open_error << '\n';
      return exit_usage;
    }
    for (auto& e : summary.errors) std::cerr << "weft: warning: " << e.message << '\n';
    if (summary.bad_lines > summary.errors.size())
      std::cerr << "weft: warning: " << path << ": " << summary.bad_lines - summary.errors.size()
                << " more bad lines not shown\n";
    where += (where.empty() ? "" : ", ") + path;
  }

  // Traces in the order their first span appears in the files, in order.
  std::vector<tracing::trace_id> order;
  std::map<tracing::trace_id, tree> traces;
  for (auto& s : spans) {
    if (only && s.trace != *only) continue;
    auto [it, fresh] = traces.try_emplace(s.trace);
    if (fresh) order.push_back(s.trace);
    it->second.spans.push_back(&s);
  }
  if (only && order.empty()) {
    std::cerr << "weft: error: trace " << o.trace_id << " is not in " << where << '\n';
    return exit_run_failed;
  }
  std::size_t first = o.last > 0 && order.size() > static_cast<std::size_t>(o.last)
                          ? order.size() - static_cast<std::size_t>(o.last)
                          : 0;
  for (std::size_t i = first; i < order.size(); ++i) {
    auto& t = traces[order[i]];
    t.expand = o.expand;
    std::cout << "trace " << order[i].to_hex() << "  (" << t.spans.size() << " spans)\n";
    print_trace(t);
    if (i + 1 < order.size()) std::cout << '\n';
  }
  return exit_ok;
}

}  // namespace weft::cli
