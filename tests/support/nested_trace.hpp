// Synthetic traces of nested runs, built span by span as the engine's span
// contract describes them: every span has weft.run.id (its own run) and
// weft.root_run.id (the top-level run); a child run's root hangs from the
// composite node's span and names its parent run in weft.parent_run.id,
// with weft.map.index or weft.loop.iteration for items and iterations.
// For audit and `weft trace show` tests, which then break them on purpose.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tracing/span.hpp"

namespace weft::test {

class nested_trace {
 public:
  explicit nested_trace(tracing::trace_id trace, std::string session = "s1",
                        std::string user = "u1")
      : trace_(trace), session_(std::move(session)), user_(std::move(user)) {}

  std::vector<tracing::span_record> spans;

  /// The top-level run's span (its id is the root run's id); its index.
  std::size_t top(const std::string& flow, const std::string& run_id,
                  tracing::span_id remote_parent = {}) {
    root_run_ = run_id;
    return add(flow, remote_parent, run_id);
  }

  /// A node span of the run whose span (or node span) is spans[parent].
  std::size_t node(std::size_t parent, const std::string& id, const std::string& type) {
    auto i = add(id, spans[parent].id, run_of(parent));
    spans[i].set("weft.node.id", id);
    spans[i].set("weft.node.type", type);
    return i;
  }

  /// The root of a child run of the node spans[node], with its own run id;
  /// `key` is "weft.map.index", "weft.loop.iteration" or empty.
  std::size_t child_run(std::size_t node, const std::string& flow, const std::string& run_id,
                        const std::string& key = "", std::int64_t n = 0) {
    auto parent_run = run_of(node);
    auto i = add(flow, spans[node].id, run_id);
    spans[i].set("weft.parent_run.id", parent_run);
    if (!key.empty()) spans[i].set(key, n);
    return i;
  }

  /// The weft.run.id of spans[i].
  std::string run_of(std::size_t i) const {
    auto v = spans[i].find("weft.run.id");
    return v ? std::get<std::string>(*v) : std::string();
  }

  /// Replaces (or adds) a string attribute of spans[i].
  void set(std::size_t i, const std::string& key, const std::string& value) {
    for (auto& a : spans[i].attributes)
      if (a.key == key) {
        a.value = value;
        return;
      }
    spans[i].set(key, value);
  }

  /// Drops an attribute of spans[i].
  void drop(std::size_t i, const std::string& key) {
    auto& a = spans[i].attributes;
    for (auto it = a.begin(); it != a.end(); ++it)
      if (it->key == key) {
        a.erase(it);
        return;
      }
  }

 private:
  std::size_t add(const std::string& name, tracing::span_id parent, const std::string& run) {
    tracing::span_record s;
    s.trace = trace_;
    s.id.value = ++next_id_;
    s.parent = parent;
    s.name = name;
    s.start_unix_ns = 1'000'000 + next_id_ * 1000;
    s.end_unix_ns = s.start_unix_ns + 500;
    s.status = tracing::status_code::ok;
    s.set("weft.run.id", run);
    s.set("weft.root_run.id", root_run_);
    s.set("session.id", session_);
    s.set("user.id", user_);
    spans.push_back(std::move(s));
    return spans.size() - 1;
  }

  tracing::trace_id trace_;
  std::string session_, user_, root_run_;
  std::uint64_t next_id_ = 0;
};

}  // namespace weft::test
