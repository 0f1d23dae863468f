#include "tracing/audit.hpp"

#include <functional>
#include <map>
#include <unordered_map>

namespace weft::tracing {
namespace {

constexpr std::size_t none = static_cast<std::size_t>(-1);

// Names and ids come from spans, which may come from a file: cut them short
// so that one problem line stays one line.
std::string clip(std::string s) {
  constexpr std::size_t max = 120;
  if (s.size() > max) s = s.substr(0, max) + "...";
  return s;
}

std::string attr_text(const span_record& s, std::string_view key) {
  auto v = s.find(key);
  if (!v) return {};
  if (auto p = std::get_if<std::string>(v)) return *p;
  return "<non-string>";
}

// The top-level run a span belongs to. Spans written before child runs
// existed have no weft.root_run.id: their run is the top-level run.
std::string root_run_of(const span_record& s) {
  return s.find("weft.root_run.id") ? attr_text(s, "weft.root_run.id")
                                    : attr_text(s, "weft.run.id");
}

using problem_fn = std::function<void(std::string)>;

// One expected trace, given as its spans in any order.
class trace_audit {
 public:
  trace_audit(const audit_expectation& exp, const std::vector<const span_record*>& list,
              problem_fn problem)
      : exp_(exp), list_(list), problem_(std::move(problem)), t_("trace " + exp.trace.to_hex()) {}

  void run() {
    if (exp_.expected_spans && list_.size() != exp_.expected_spans)
      problem_(t_ + ": " + std::to_string(list_.size()) + " spans, expected " +
               std::to_string(exp_.expected_spans));
    index_spans();
    const span_record* root = root_ == none ? nullptr : list_[root_];
    run_id_ = !exp_.run_id.empty() ? exp_.run_id : root ? attr_text(*root, "weft.run.id") : "";
    if (root) check_root(*root);
    for (std::size_t i = 0; i < list_.size(); ++i) check_span(i);
    check_run_roots();
    check_reachable();
  }

 private:
  std::string span_name(const span_record& s) const {
    return "span '" + clip(s.name) + "' (" + s.id.to_hex() + ")";
  }
  std::string where(const span_record& s) const {
    return t_ + ": " + span_name(s) + " of run '" + clip(attr_text(s, "weft.run.id")) + "'";
  }

  // Ids, the root, and each span's parent (as an index into list_).
  void index_spans() {
    by_id_.reserve(list_.size());
    for (std::size_t i = 0; i < list_.size(); ++i)
      if (!by_id_.emplace(list_[i]->id.value, i).second)
        problem_(t_ + ": span id " + list_[i]->id.to_hex() + " appears twice");
    parent_.assign(list_.size(), none);
    std::size_t roots = 0;
    for (std::size_t i = 0; i < list_.size(); ++i) {
      const auto& s = *list_[i];
      bool is_root = exp_.remote_parent.valid() ? s.parent == exp_.remote_parent
                                                : !s.parent.valid();
      if (is_root) {
        if (roots++ == 0) root_ = i;
        continue;
      }
      auto p = by_id_.find(s.parent.value);
      if (p == by_id_.end()) {
        problem_(where(s) + " has parent " + (s.parent.valid() ? s.parent.to_hex() : "(none)") +
                 ", which is not a span of this trace");
      } else {
        parent_[i] = p->second;
      }
    }
    if (roots != 1)
      problem_(t_ + ": " + std::to_string(roots) + " root spans, expected exactly 1");
  }

  // The root is the top-level run's own span, not a node's or a child run's.
  void check_root(const span_record& root) {
    if (!run_id_.empty() && attr_text(root, "weft.run.id") != run_id_)
      problem_(where(root) + " is the root, but the top-level run is '" + clip(run_id_) + "'");
    if (root.find("weft.node.id"))
      problem_(where(root) + " is the root, but it is a node span, not the run's own");
    if (root.find("weft.parent_run.id"))
      problem_(where(root) + " is the root, but it is a child run's span (weft.parent_run.id '" +
               clip(attr_text(root, "weft.parent_run.id")) + "')");
  }

  void check_span(std::size_t i) {
    const auto& s = *list_[i];
    if (!run_id_.empty()) {
      auto top = root_run_of(s);
      if (top != run_id_)
        problem_(where(s) + " belongs to top-level run '" + clip(top) + "', expected '" +
                 clip(run_id_) + "'");
    }
    if (attr_text(s, "session.id") != exp_.session_id)
      problem_(where(s) + ": session.id is '" + clip(attr_text(s, "session.id")) +
               "', expected '" + exp_.session_id + "'");
    if (attr_text(s, "user.id") != exp_.user_id)
      problem_(where(s) + ": user.id is '" + clip(attr_text(s, "user.id")) + "', expected '" +
               exp_.user_id + "'");
    if (i == root_) {
      ++run_roots_[attr_text(s, "weft.run.id")];
      return;
    }
    if (parent_[i] == none) return;  // reported as not in the trace
    const auto& p = *list_[parent_[i]];
    const auto run = attr_text(s, "weft.run.id");
    const auto parent_run = attr_text(p, "weft.run.id");
    if (!s.find("weft.parent_run.id")) {
      // Supervision: a node's span, an HTTP call's, a tool call's are all in
      // the run of the span that caused them.
      if (run != parent_run)
        problem_(where(s) + " has no weft.parent_run.id, yet its parent " + span_name(p) +
                 " is in run '" + clip(parent_run) + "'");
      return;
    }
    // The root of a child run: it hangs from the composite node that ran it,
    // in the run it names as its parent run.
    ++run_roots_[run];
    const auto named = attr_text(s, "weft.parent_run.id");
    if (!in_node(parent_[i]))
      problem_(where(s) + " is a child run's root, but its parent " + span_name(p) +
               " is neither a node span nor a span a node opened");
    else if (parent_run != named)
      problem_(where(s) + " is a child run of run '" + clip(named) + "', but its parent node " +
               span_name(p) + " is in run '" + clip(parent_run) + "'");
    if (run == named)
      problem_(where(s) + " is a child run's root with the id of its parent run");
  }

  // Whether span `i` is a node's span or one a node opened (an agent's tool
  // call): walking up inside its own run reaches a node span. A run's own
  // span reaches none.
  bool in_node(std::size_t i) const {
    const auto run = attr_text(*list_[i], "weft.run.id");
    for (std::size_t hops = 0; i != none && hops < list_.size(); ++hops) {
      const auto& x = *list_[i];
      if (x.find("weft.node.id")) return true;
      if (x.find("weft.parent_run.id") || attr_text(x, "weft.run.id") != run) return false;
      i = parent_[i];
    }
    return false;
  }

  // Each run, top-level or child, has exactly one root span.
  void check_run_roots() {
    for (auto& [run, n] : run_roots_)
      if (n > 1)
        problem_(t_ + ": run '" + clip(run) + "' has " + std::to_string(n) +
                 " root spans, expected 1 (each child run has an id of its own)");
  }

  // Every span hangs from the root (or from a span already reported as an
  // orphan or an extra root): whatever no walk reaches is in a parent cycle.
  void check_reachable() {
    // Children as one flat array (CSR), filled from the parent indices.
    std::vector<std::size_t> first(list_.size() + 1, 0), kids(list_.size());
    for (std::size_t i = 0; i < list_.size(); ++i)
      if (parent_[i] != none) ++first[parent_[i] + 1];
    for (std::size_t i = 0; i < list_.size(); ++i) first[i + 1] += first[i];
    std::vector<std::size_t> fill(first.begin(), first.end() - 1);
    for (std::size_t i = 0; i < list_.size(); ++i)
      if (parent_[i] != none) kids[fill[parent_[i]]++] = i;

    std::vector<char> reached(list_.size(), 0);
    std::vector<std::size_t> queue;
    for (std::size_t i = 0; i < list_.size(); ++i)
      if (parent_[i] == none) queue.push_back(i), reached[i] = 1;
    while (!queue.empty()) {
      auto i = queue.back();
      queue.pop_back();
      for (auto k = first[i]; k < first[i + 1]; ++k)
        if (!reached[kids[k]]) reached[kids[k]] = 1, queue.push_back(kids[k]);
    }
    std::size_t lost = 0, example = none;
    for (std::size_t i = 0; i < list_.size(); ++i)
      if (!reached[i] && lost++ == 0) example = i;
    if (lost)
      problem_(t_ + ": " + std::to_string(lost) + " spans are in or below a parent cycle, " +
               span_name(*list_[example]) + " among them");
  }

  const audit_expectation& exp_;
  const std::vector<const span_record*>& list_;
  problem_fn problem_;
  const std::string t_;
  std::string run_id_;  // the top-level run's
  std::unordered_map<std::uint64_t, std::size_t> by_id_;  // first span with the id
  std::vector<std::size_t> parent_;                       // none: root or orphan
  std::size_t root_ = none;
  std::unordered_map<std::string, std::size_t> run_roots_;  // run id -> root spans
};

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
    auto it = by_trace.find(tid);
    if (it == by_trace.end()) {
      problem("trace " + tid.to_hex() + ": no spans found");
      continue;
    }
    ++rep.traces;
    rep.spans += it->second.size();
    trace_audit(*exp, it->second, problem).run();
  }
  return rep;
}

}  // namespace weft::tracing
