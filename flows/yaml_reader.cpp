#include "flows/yaml_reader.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "flows/flow_limits.hpp"
#include "flows/names.hpp"
#include "flows/text_scan.hpp"
#include "flows/yaml_value.hpp"

namespace weft::flows {
namespace {

void add(diagnostics& errs, source_loc loc, std::string message) {
  errs.push_back({std::move(loc), std::move(message)});
}

// Where a node sits in the document ("nodes.a.params[2]"), as a chain of
// steps on the walker's stack, put into words only for a message.
struct path_step {
  const path_step* parent;
  const std::string* key;  // null for a sequence index
  std::size_t index;
};

std::string to_path(const path_step* p) {
  if (!p) return {};
  std::string head = to_path(p->parent);
  if (!p->key) return head + "[" + std::to_string(p->index) + "]";
  return head.empty() ? *p->key : head + "." + *p->key;
}

// One walk over the whole tree that checks what load_yaml promises.
//
// yaml-cpp shares an aliased node, so the tree is really a graph: possibly
// cyclic (`&a [*a]`), possibly exponentially large once expanded (an alias
// bomb). The walk therefore visits each collection once, remembers its
// expanded size and height, and accounts for every further alias of it from
// that memo. It is linear in the text, and it knows exactly how large and
// deep the tree that later code walks will be.
class tree_checker {
 public:
  tree_checker(const std::string& file, diagnostics& errs) : file_(file), errs_(errs) {}

  // False when the tree is unsafe to walk (too deep, too large, cyclic).
  bool check(const YAML::Node& root) {
    walk(root, 1, nullptr);
    return !unsafe_;
  }

 private:
  struct shape {
    std::size_t size;  // nodes, with every alias expanded
    int height;        // levels of collections, itself included
  };

  shape walk(const YAML::Node& n, int depth, const path_step* path) {
    if (unsafe_) return {0, 0};
    if (!is_standard_tag(n.Tag()))
      add(errs_, loc_of(n, file_),
          "unsupported tag " + quote(short_tag(n.Tag())) +
              "; only !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are allowed");
    if (!n.IsMap() && !n.IsSequence()) {
      count(n, 1);
      return {1, 0};
    }
    const std::size_t at = n.Mark().pos;
    if (open_.count(at)) {
      fail(n, "an alias refers to a collection that contains it");
      return {0, 0};
    }
    if (auto known = done_.find(at); known != done_.end()) {  // an alias of it
      if (depth + known->second.height - 1 > max_yaml_depth) fail_too_deep(n);
      count(n, known->second.size);
      return known->second;
    }
    if (depth > max_yaml_depth) {
      fail_too_deep(n);
      return {0, 0};
    }
    count(n, 1);
    open_.insert(at);
    shape s{1, 1};
    auto add_child = [&](const shape& c) {
      s.size += c.size;
      s.height = std::max(s.height, c.height + 1);
    };
    if (n.IsSequence()) {
      std::size_t i = 0;
      for (const YAML::Node& item : n) {
        path_step step{path, nullptr, i++};
        add_child(walk(item, depth + 1, &step));
      }
    } else {
      std::map<std::string, YAML::Mark, std::less<>> seen;
      for (auto it = n.begin(); it != n.end(); ++it) {
        // Copies, not references: `it->` yields a temporary that a reference
        // would outlive.
        YAML::Node key = it->first, val = it->second;
        if (!key.IsScalar()) {
          add(errs_, loc_of(key, file_),
              std::string{"mapping keys must be strings, not "} + kind_of(key) +
                  (path ? " (in " + to_path(path) + ")" : std::string{" (at top level)"}));
          continue;
        }
        auto [prior, inserted] = seen.emplace(key.Scalar(), key.Mark());
        if (!inserted) {
          report_duplicate(key, prior->second, path);
          continue;
        }
        path_step step{path, &key.Scalar(), 0};
        add_child(walk(val, depth + 1, &step));
      }
    }
    open_.erase(at);
    done_.emplace(at, s);
    return s;
  }

  void count(const YAML::Node& n, std::size_t nodes) {
    count_ += nodes;
    if (count_ > max_yaml_nodes)
      fail(n, "document expands to more than " + std::to_string(max_yaml_nodes) +
                  " nodes (too large, or aliases that multiply)");
  }

  void fail_too_deep(const YAML::Node& n) {
    fail(n, "nesting deeper than " + std::to_string(max_yaml_depth) + " levels");
  }

  void fail(const YAML::Node& n, std::string message) {
    if (unsafe_) return;  // one reason is enough
    unsafe_ = true;
    add(errs_, loc_of(n, file_), std::move(message));
  }

  void report_duplicate(const YAML::Node& key, const YAML::Mark& first, const path_step* path) {
    std::string where = "first defined at line " + std::to_string(first.line + 1);
    std::string in = to_path(path);
    if (in == "nodes") {
      add(errs_, loc_of(key, file_),
          "duplicate node id " + quote(key.Scalar()) + "; " + where + "; node ids must be unique");
    } else {
      add(errs_, loc_of(key, file_),
          "duplicate key " + quote(key.Scalar()) +
              (in.empty() ? std::string{" at top level"} : " in " + in) + "; " + where);
    }
  }

  const std::string& file_;
  diagnostics& errs_;
  std::size_t count_ = 0;
  bool unsafe_ = false;
  // Collections by position: an alias has the position of its anchor.
  std::map<std::size_t, shape> done_;
  std::set<std::size_t> open_;
};

}  // namespace

source_loc loc_of(const YAML::Mark& m, const std::string& file) {
  if (m.line < 0 || m.column < 0) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

source_loc loc_of(const YAML::Node& n, const std::string& file) {
  return n.IsDefined() ? loc_of(n.Mark(), file) : source_loc{file, 0, 0};
}

const char* kind_of(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "nothing";
  }
}

std::optional<YAML::Node> load_yaml(std::string_view text, const std::string& file,
                                    diagnostics& errs) {
  if (!check_flow_text(text, file, errs)) return std::nullopt;
  const document_scan docs = scan_documents(text);
  if (docs.count > 1) {
    add(errs, {file, docs.second_line, 1},
        "a second YAML document starts here; a flow file holds exactly one");
    return std::nullopt;
  }
  YAML::Node root;
  try {
    // Load, not LoadAll: yaml-cpp 0.7's LoadAll loops forever, allocating,
    // on a document that starts with ',' (jbeder/yaml-cpp#1040, fixed
    // upstream in 2024); scan_documents counts the documents instead.
    std::istringstream in{std::string(text)};
    root = YAML::Load(in);
  } catch (const YAML::DeepRecursion& e) {
    add(errs, loc_of(e.mark, file),
        "nesting deeper than " + std::to_string(max_yaml_depth) + " levels");
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    add(errs, loc_of(e.mark, file), "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
  // The same bug makes Load read such a document as empty.
  if (root.IsNull() && docs.stray_comma_line) {
    add(errs, {file, docs.stray_comma_line, docs.stray_comma_col},
        "YAML syntax error: unexpected ','");
    return std::nullopt;
  }
  tree_checker checker{file, errs};
  if (!checker.check(root)) return std::nullopt;
  return root;
}

void for_each_entry(
    const YAML::Node& m,
    const std::function<void(const std::string&, const YAML::Node&, const YAML::Node&)>& f) {
  if (!m.IsMap()) return;
  std::set<std::string, std::less<>> seen;
  for (auto it = m.begin(); it != m.end(); ++it) {
    YAML::Node key = it->first, val = it->second;  // copies: `it->` is a temporary
    if (!key.IsScalar() || !seen.insert(key.Scalar()).second) continue;
    f(key.Scalar(), key, val);
  }
}

}  // namespace weft::flows
