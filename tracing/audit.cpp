#include "tracing/audit.hpp"

#include <map>
#include <unordered_map>
#include <unordered_set>

namespace weft::tracing {
namespace {

std::string attr_text(const span_record& s, std::string_view key) {
  auto v = s.find(key);
  if (!v) return {};
  if (auto p = std::get_if<std::string>(v)) return *p;
  return "<non-string>";
}

}  // namespace

audit_report audit_traces(const std::vector<span_record>& spans,
                          const std::vector<audit_expectation>& runs) {
  audit_report rep;
  auto problem = [&](std::string p) {
    if (rep.problems.size() < audit_report::max_problems) rep.problems.push_back(std::move(p));
    ++rep.problem_count;
  };

  std::map<trace_id, const audit_expectation*> wanted;
  for (auto& r : runs) {
    if (!wanted.emplace(r.trace, &r).second)
      problem("trace " + r.trace.to_hex() + ": expected by more than one run");
  }
  std::map<trace_id, std::vector<const span_record*>> by_trace;
  for (auto& s : spans)
    if (wanted.count(s.trace)) by_trace[s.trace].push_back(&s);

  for (auto& [tid, exp] : wanted) {
    auto t = tid.to_hex();
    auto it = by_trace.find(tid);
    if (it == by_trace.end()) {
      problem("trace " + t + ": no spans found");
      continue;
    }
    ++rep.traces;
    auto& list = it->second;
    rep.spans += list.size();
    if (exp->expected_spans && list.size() != exp->expected_spans)
      problem("trace " + t + ": " + std::to_string(list.size()) + " spans, expected " +
              std::to_string(exp->expected_spans));

    std::unordered_set<std::uint64_t> ids;
    for (auto* s : list)
      if (!ids.insert(s->id.value).second)
        problem("trace " + t + ": span id " + s->id.to_hex() + " appears twice");

    const span_record* root = nullptr;
    std::size_t roots = 0;
    for (auto* s : list) {
      bool is_root = exp->remote_parent.valid() ? s->parent == exp->remote_parent
                                                : !s->parent.valid();
      if (is_root) {
        ++roots;
        root = s;
      } else if (!ids.count(s->parent.value)) {
        problem("trace " + t + ": span '" + s->name + "' (" + s->id.to_hex() +
                ") has parent " + (s->parent.valid() ? s->parent.to_hex() : "(none)") +
                ", which is not a span of this trace");
      }
    }
    if (roots != 1)
      problem("trace " + t + ": " + std::to_string(roots) + " root spans, expected exactly 1");

    auto run_id = exp->run_id.empty() && root ? attr_text(*root, "weft.run.id") : exp->run_id;
    for (auto* s : list) {
      auto where = "trace " + t + ": span '" + s->name + "' (" + s->id.to_hex() + ")";
      if (attr_text(*s, "weft.run.id") != run_id)
        problem(where + " belongs to run '" + attr_text(*s, "weft.run.id") + "', expected '" +
                run_id + "'");
      if (attr_text(*s, "session.id") != exp->session_id)
        problem(where + ": session.id is '" + attr_text(*s, "session.id") + "', expected '" +
                exp->session_id + "'");
      if (attr_text(*s, "user.id") != exp->user_id)
        problem(where + ": user.id is '" + attr_text(*s, "user.id") + "', expected '" +
                exp->user_id + "'");
    }
  }
  return rep;
}

}  // namespace weft::tracing
