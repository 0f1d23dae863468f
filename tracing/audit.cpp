#include "tracing/audit.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>
#include <unordered_map>

namespace weft::tracing {
namespace {

constexpr std::size_t none = static_cast<std::size_t>(-1);
constexpr std::uint32_t no_text = static_cast<std::uint32_t>(-1);

// Names and ids come from spans, which may come from a file: cut them short
// so that one problem line stays one line.
std::string clip(std::string_view s) {
  constexpr std::size_t max = 120;
  std::string out(s.substr(0, max));
  if (s.size() > max) out.append("...");  // not a + "...": GCC 12 -Warray-bounds false positive
  return out;
}

std::string_view attr_text(const span_record& s, std::string_view key) {
  auto v = s.find(key);
  if (!v) return {};
  if (auto p = std::get_if<std::string>(v)) return *p;
  return "<non-string>";
}

// The top-level run a span belongs to. Spans written before child runs
// existed have no weft.root_run.id: their run is the top-level run.
std::string_view root_run_of(const span_record& s) {
  return s.find("weft.root_run.id") ? attr_text(s, "weft.root_run.id")
                                    : attr_text(s, "weft.run.id");
}

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct trace_id_hash {
  std::size_t operator()(const trace_id& t) const {
    std::uint64_t a, b;
    std::memcpy(&a, t.bytes.data(), 8);
    std::memcpy(&b, t.bytes.data() + 8, 8);
    return std::hash<std::uint64_t>{}(a ^ (b * 0x9e3779b97f4a7c15ULL));
  }
};

// What the audit keeps of a span: ids, and its strings as indices into the
// trace's table of distinct strings.
struct compact_span {
  std::uint64_t id = 0;
  std::uint64_t parent = 0;
  std::uint32_t name = no_text;
  std::uint32_t run = no_text;         // weft.run.id
  std::uint32_t parent_run = no_text;  // weft.parent_run.id
  std::uint32_t root_run = no_text;    // root_run_of()
  std::uint32_t session = no_text;     // session.id when not the expected one
  std::uint32_t user = no_text;        // user.id when not the expected one
  bool node = false;                   // has weft.node.id
  bool child_root = false;             // has weft.parent_run.id
};

// The spans of one trace seen so far.
struct open_trace {
  std::vector<compact_span> spans;
  std::unordered_map<std::string, std::uint32_t, string_hash, std::equal_to<>> ids;
  std::vector<const std::string*> text;  // index -> the map's key (nodes are stable)

  std::uint32_t intern(std::string_view s) {
    auto it = ids.find(s);
    if (it != ids.end()) return it->second;
    auto n = static_cast<std::uint32_t>(text.size());
    auto [at, _] = ids.emplace(std::string(s), n);
    text.push_back(&at->first);
    return n;
  }
  std::uint32_t lookup(std::string_view s) const {
    auto it = ids.find(s);
    return it == ids.end() ? no_text : it->second;
  }
  std::string_view str(std::uint32_t i) const {
    return i == no_text ? std::string_view{} : std::string_view(*text[i]);
  }
};

using problem_fn = std::function<void(std::string)>;

// One expected trace, given as its compact spans in any order.
class trace_audit {
 public:
  trace_audit(const audit_expectation& exp, const open_trace& tr, std::size_t count,
              const problem_fn& problem)
      : exp_(exp),
        tr_(tr),
        list_(tr.spans),
        count_(count),
        problem_(problem),
        t_("trace " + exp.trace.to_hex()) {}

  void run() {
    if (exp_.expected_spans && count_ != exp_.expected_spans)
      problem_(t_ + ": " + std::to_string(count_) + " spans, expected " +
               std::to_string(exp_.expected_spans));
    if (exp_.min_spans && count_ < exp_.min_spans)
      problem_(t_ + ": " + std::to_string(count_) + " spans, expected at least " +
               std::to_string(exp_.min_spans));
    index_spans();
    const compact_span* root = root_ == none ? nullptr : &list_[root_];
    run_id_ = !exp_.run_id.empty() ? exp_.run_id : root ? std::string(tr_.str(root->run)) : "";
    run_id_text_ = tr_.lookup(run_id_);
    if (root) check_root(*root);
    run_roots_.assign(tr_.text.size(), 0);
    for (std::size_t i = 0; i < list_.size(); ++i) check_span(i);
    check_run_roots();
    check_reachable();
  }

 private:
  std::string span_name(const compact_span& s) const {
    return "span '" + clip(tr_.str(s.name)) + "' (" + span_id{s.id}.to_hex() + ")";
  }
  std::string where(const compact_span& s) const {
    return t_ + ": " + span_name(s) + " of run '" + clip(tr_.str(s.run)) + "'";
  }

  // Ids, the root, and each span's parent (as an index into list_).
  void index_spans() {
    by_id_.reserve(list_.size());
    for (std::size_t i = 0; i < list_.size(); ++i)
      if (!by_id_.emplace(list_[i].id, i).second)
        problem_(t_ + ": span id " + span_id{list_[i].id}.to_hex() + " appears twice");
    parent_.assign(list_.size(), none);
    std::size_t roots = 0;
    for (std::size_t i = 0; i < list_.size(); ++i) {
      const auto& s = list_[i];
      bool is_root =
          exp_.remote_parent.valid() ? s.parent == exp_.remote_parent.value : s.parent == 0;
      if (is_root) {
        if (roots++ == 0) root_ = i;
        continue;
      }
      auto p = by_id_.find(s.parent);
      if (p == by_id_.end()) {
        problem_(where(s) + " has parent " + (s.parent ? span_id{s.parent}.to_hex() : "(none)") +
                 ", which is not a span of this trace");
      } else {
        parent_[i] = p->second;
      }
    }
    if (roots != 1) problem_(t_ + ": " + std::to_string(roots) + " root spans, expected exactly 1");
  }

  // The root is the top-level run's own span, not a node's or a child run's.
  void check_root(const compact_span& root) {
    if (!run_id_.empty() && root.run != run_id_text_)
      problem_(where(root) + " is the root, but the top-level run is '" + clip(run_id_) + "'");
    if (root.node) problem_(where(root) + " is the root, but it is a node span, not the run's own");
    if (root.child_root)
      problem_(where(root) + " is the root, but it is a child run's span (weft.parent_run.id '" +
               clip(tr_.str(root.parent_run)) + "')");
  }

  void check_span(std::size_t i) {
    const auto& s = list_[i];
    if (!run_id_.empty() && s.root_run != run_id_text_)
      problem_(where(s) + " belongs to top-level run '" + clip(tr_.str(s.root_run)) +
               "', expected '" + clip(run_id_) + "'");
    if (s.session != no_text)
      problem_(where(s) + ": session.id is '" + clip(tr_.str(s.session)) + "', expected '" +
               exp_.session_id + "'");
    if (s.user != no_text)
      problem_(where(s) + ": user.id is '" + clip(tr_.str(s.user)) + "', expected '" +
               exp_.user_id + "'");
    if (i == root_) {
      ++run_roots_[s.run];
      return;
    }
    if (parent_[i] == none) return;  // reported as not in the trace
    const auto& p = list_[parent_[i]];
    if (!s.child_root) {
      // Supervision: a node's span, an HTTP call's, a tool call's are all in
      // the run of the span that caused them.
      if (s.run != p.run)
        problem_(where(s) + " has no weft.parent_run.id, yet its parent " + span_name(p) +
                 " is in run '" + clip(tr_.str(p.run)) + "'");
      return;
    }
    // The root of a child run: it hangs from the composite node that ran it,
    // in the run it names as its parent run.
    ++run_roots_[s.run];
    if (!in_node(parent_[i]))
      problem_(where(s) + " is a child run's root, but its parent " + span_name(p) +
               " is neither a node span nor a span a node opened");
    else if (p.run != s.parent_run)
      problem_(where(s) + " is a child run of run '" + clip(tr_.str(s.parent_run)) +
               "', but its parent node " + span_name(p) + " is in run '" + clip(tr_.str(p.run)) +
               "'");
    if (s.run == s.parent_run)
      problem_(where(s) + " is a child run's root with the id of its parent run");
  }

  // Whether span `i` is a node's span or one a node opened (an agent's tool
  // call): walking up inside its own run reaches a node span. A run's own
  // span reaches none.
  bool in_node(std::size_t i) const {
    const auto run = list_[i].run;
    for (std::size_t hops = 0; i != none && hops < list_.size(); ++hops) {
      const auto& x = list_[i];
      if (x.node) return true;
      if (x.child_root || x.run != run) return false;
      i = parent_[i];
    }
    return false;
  }

  // Each run, top-level or child, has exactly one root span.
  void check_run_roots() {
    for (std::size_t run = 0; run < run_roots_.size(); ++run)
      if (run_roots_[run] > 1)
        problem_(t_ + ": run '" + clip(tr_.str(static_cast<std::uint32_t>(run))) + "' has " +
                 std::to_string(run_roots_[run]) +
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
               span_name(list_[example]) + " among them");
  }

  const audit_expectation& exp_;
  const open_trace& tr_;
  const std::vector<compact_span>& list_;
  const std::size_t count_;  // spans of the trace seen, held or not
  const problem_fn& problem_;
  const std::string t_;
  std::string run_id_;  // the top-level run's
  std::uint32_t run_id_text_ = no_text;
  std::unordered_map<std::uint64_t, std::size_t> by_id_;  // first span with the id
  std::vector<std::size_t> parent_;                       // none: root or orphan
  std::size_t root_ = none;
  std::vector<std::size_t> run_roots_;  // run id (text index) -> root spans
};

}  // namespace

struct trace_auditor::impl {
  // Per expected trace: spans seen, and what is held of them until audited.
  struct slot {
    std::size_t count = 0;
    bool audited = false;
    std::unique_ptr<open_trace> open;
  };

  std::vector<audit_expectation> runs;
  std::vector<slot> slots;                                          // parallel to runs
  std::unordered_map<trace_id, std::size_t, trace_id_hash> wanted;  // first run per trace
  std::size_t held = 0, peak = 0;
  bool finished = false;
  bool early = true;
  audit_report rep;
  problem_fn problem = [this](std::string p) {
    if (rep.problems.size() < audit_report::max_problems) rep.problems.push_back(std::move(p));
    ++rep.problem_count;
  };

  void audit(std::size_t k) {
    auto& sl = slots[k];
    if (sl.open) trace_audit(runs[k], *sl.open, sl.count, problem).run();
    sl.audited = true;
    if (sl.open) held -= sl.open->spans.size();
    sl.open.reset();
  }

  // A span of a trace audited already: what can be checked alone.
  void add_late(std::size_t k, const span_record& s) {
    const auto& exp = runs[k];
    auto where = [&] {
      return "trace " + exp.trace.to_hex() + ": span '" + clip(s.name) + "' (" + s.id.to_hex() +
             ") of run '" + clip(attr_text(s, "weft.run.id")) + "'";
    };
    if (!exp.run_id.empty() && root_run_of(s) != exp.run_id)
      problem(where() + " belongs to top-level run '" + clip(root_run_of(s)) + "', expected '" +
              clip(exp.run_id) + "'");
    if (attr_text(s, "session.id") != exp.session_id)
      problem(where() + ": session.id is '" + clip(attr_text(s, "session.id")) + "', expected '" +
              exp.session_id + "'");
    if (attr_text(s, "user.id") != exp.user_id)
      problem(where() + ": user.id is '" + clip(attr_text(s, "user.id")) + "', expected '" +
              exp.user_id + "'");
  }
};

trace_auditor::trace_auditor(std::vector<audit_expectation> runs, bool audit_early)
    : impl_(std::make_unique<impl>()) {
  auto& m = *impl_;
  m.early = audit_early;
  m.runs = std::move(runs);
  m.slots.resize(m.runs.size());
  m.wanted.reserve(m.runs.size());
  for (std::size_t k = 0; k < m.runs.size(); ++k)
    if (!m.wanted.emplace(m.runs[k].trace, k).second)
      m.problem("trace " + m.runs[k].trace.to_hex() + ": expected by more than one run");
}

trace_auditor::~trace_auditor() = default;

void trace_auditor::add(const span_record& s) {
  auto& m = *impl_;
  auto w = m.wanted.find(s.trace);
  if (w == m.wanted.end() || m.finished) return;
  const std::size_t k = w->second;
  auto& sl = m.slots[k];
  ++sl.count;
  if (sl.audited) {
    m.add_late(k, s);
    return;
  }
  if (!sl.open) sl.open = std::make_unique<open_trace>();
  auto& tr = *sl.open;
  const auto& exp = m.runs[k];
  compact_span c;
  c.id = s.id.value;
  c.parent = s.parent.value;
  c.name = tr.intern(s.name);
  c.run = tr.intern(attr_text(s, "weft.run.id"));
  c.node = s.find("weft.node.id") != nullptr;
  c.child_root = s.find("weft.parent_run.id") != nullptr;
  if (c.child_root) c.parent_run = tr.intern(attr_text(s, "weft.parent_run.id"));
  c.root_run = tr.intern(root_run_of(s));
  if (auto v = attr_text(s, "session.id"); v != exp.session_id) c.session = tr.intern(v);
  if (auto v = attr_text(s, "user.id"); v != exp.user_id) c.user = tr.intern(v);
  tr.spans.push_back(c);
  m.peak = std::max(m.peak, ++m.held);
  // A trace with a known size is audited as soon as it is complete.
  if (m.early && exp.expected_spans && sl.count == exp.expected_spans) m.audit(k);
}

audit_report trace_auditor::finish() {
  auto& m = *impl_;
  if (m.finished) return m.rep;
  m.finished = true;
  for (std::size_t k = 0; k < m.runs.size(); ++k) {
    auto w = m.wanted.find(m.runs[k].trace);
    if (w->second != k) continue;  // a duplicate expectation, reported
    auto& sl = m.slots[k];
    if (sl.count == 0) {
      m.problem("trace " + m.runs[k].trace.to_hex() + ": no spans found");
      continue;
    }
    ++m.rep.traces;
    m.rep.spans += sl.count;
    if (!sl.audited) {
      m.audit(k);
    } else if (sl.count != m.runs[k].expected_spans) {
      // More spans arrived after the trace was audited.
      m.problem("trace " + m.runs[k].trace.to_hex() + ": " + std::to_string(sl.count) +
                " spans, expected " + std::to_string(m.runs[k].expected_spans));
    }
  }
  return m.rep;
}

std::size_t trace_auditor::spans_held() const { return impl_->held; }
std::size_t trace_auditor::peak_spans_held() const { return impl_->peak; }

audit_report audit_traces(const std::vector<span_record>& spans,
                          const std::vector<audit_expectation>& runs) {
  trace_auditor a(runs, /*audit_early=*/false);
  for (auto& s : spans) a.add(s);
  return a.finish();
}

}  // namespace weft::tracing
