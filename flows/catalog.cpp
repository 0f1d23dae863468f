#include "flows/catalog.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace weft::flows {

namespace fs = std::filesystem;

namespace {

bool looks_like_path(const std::string& ref) {
  auto ends = [&](const char* ext) {
    std::string_view e{ext};
    return ref.size() >= e.size() && ref.compare(ref.size() - e.size(), e.size(), e) == 0;
  };
  return ref.find('/') != std::string::npos || ends(".yaml") || ends(".yml") || ends(".json");
}

std::string canonical_path(const fs::path& p) {
  std::error_code ec;
  auto c = fs::weakly_canonical(p, ec);
  return ec ? p.lexically_normal().string() : c.string();
}

// The directory references in `file` are relative to: its own, or the
// working directory for flows that came as text ("<string>").
fs::path base_dir(const std::string& file) {
  std::error_code ec;
  if (file.empty() || file[0] == '<' || !fs::exists(file, ec)) return fs::current_path(ec);
  return fs::path(file).parent_path();
}

std::string chain_text(const std::vector<std::string>& stack, const std::string& last) {
  std::string out;
  for (const auto& s : stack) out += fs::path(s).filename().string() + " -> ";
  return out + fs::path(last).filename().string();
}

}  // namespace

flow_loader::flow_loader(const registry& components, component_services svc)
    : components_(components), svc_(std::move(svc)) {
  svc_.catalog = this;
}

std::shared_ptr<const plan> flow_loader::load_file(const std::string& path, diagnostics& errs) {
  stack_.push_back(canonical_path(path));
  auto p = load_flow_file(path, components_, errs, svc_);
  stack_.pop_back();
  return p;
}

std::shared_ptr<const plan> flow_loader::load_text(std::string_view text, const std::string& name,
                                                   diagnostics& errs) {
  stack_.push_back(name);
  auto p = load_flow_text(text, name, components_, errs, svc_);
  stack_.pop_back();
  return p;
}

bool flow_loader::too_deep(const source_loc& at, diagnostics& errs) const {
  if (stack_.size() < max_flow_nesting) return false;
  errs.push_back({at, "flows nest deeper than " + std::to_string(max_flow_nesting) +
                          " levels: " + chain_text(stack_, "...")});
  return true;
}

std::shared_ptr<const plan> flow_loader::resolve(const std::string& ref, const source_loc& at,
                                                 diagnostics& errs) {
  if (ref.empty()) {
    errs.push_back({at, "the flow reference is empty; give a path (./child.yaml) or a flow name"});
    return nullptr;
  }
  const fs::path dir = base_dir(at.file);
  std::string path;
  std::error_code ec;
  if (looks_like_path(ref)) {
    path = canonical_path(fs::path(ref).is_absolute() ? fs::path(ref) : dir / ref);
    if (!fs::exists(path, ec)) {
      errs.push_back({at, "flow file '" + ref + "' does not exist (looked for " + path + ")"});
      return nullptr;
    }
  } else {
    for (const char* ext : {".yaml", ".yml", ".json"})
      if (fs::exists(dir / (ref + ext), ec)) {
        path = canonical_path(dir / (ref + ext));
        break;
      }
    if (path.empty()) {
      errs.push_back({at, "no flow named '" + ref + "': a flow name refers to " + ref +
                              ".yaml (or .yml, .json) in " + dir.string() +
                              "; give a path to a file elsewhere"});
      return nullptr;
    }
  }
  auto p = load_nested(path, at, errs);
  if (p && !looks_like_path(ref) && p->name() != ref) {
    errs.push_back({at, "flow file " + path + " is named '" + p->name() + "', not '" + ref + "'"});
    return nullptr;
  }
  return p;
}

std::shared_ptr<const plan> flow_loader::load_nested(const std::string& path, const source_loc& at,
                                                     diagnostics& errs) {
  for (const auto& s : stack_)
    if (s == path) {
      errs.push_back({at, "flow reference cycle: " + chain_text(stack_, path)});
      return nullptr;
    }
  if (auto i = loaded_.find(path); i != loaded_.end()) {
    const std::size_t height = heights_[path];
    if (stack_.size() + height > max_flow_nesting) {
      errs.push_back({at, "flows nest deeper than " + std::to_string(max_flow_nesting) +
                              " levels: " + chain_text(stack_, path) + " (which nests " +
                              std::to_string(height) + " levels itself)"});
      return nullptr;
    }
    deepest_ = std::max(deepest_, stack_.size() + height);
    return i->second;
  }
  if (failed_.count(path)) {
    errs.push_back({at, "flow file " + path + " has errors (reported above)"});
    return nullptr;
  }
  if (too_deep(at, errs)) return nullptr;
  const auto before = errs.size();
  const auto outer_deepest = deepest_;
  stack_.push_back(path);
  deepest_ = stack_.size();
  auto p = load_flow_file(path, components_, errs, svc_);
  const std::size_t height = deepest_ - stack_.size() + 1;
  stack_.pop_back();
  deepest_ = std::max(outer_deepest, deepest_);
  if (!p) {
    failed_[path] = true;
    if (errs.size() == before) errs.push_back(diagnostic_at(path, 0, 0, "the flow did not load"));
    errs.push_back({at, "flow file " + path + " has errors (reported above)"});
    return nullptr;
  }
  loaded_.emplace(path, p);
  heights_[path] = height;
  return p;
}

std::shared_ptr<const plan> flow_loader::resolve_inline(const value& spec, const std::string& name,
                                                        const source_loc& at, diagnostics& errs) {
  if (!spec.is_object() || !spec.contains("nodes")) {
    errs.push_back({at, "an inline flow is a mapping with inputs, nodes and outputs"});
    return nullptr;
  }
  if (too_deep(at, errs)) return nullptr;
  value doc = spec;  // bounded: params are at most 64 levels deep
  if (!doc.contains("flow")) doc["flow"] = name;
  // Its text is ours (JSON, a YAML subset), not the user's: positions in it
  // mean nothing to them, so every problem is reported at the param.
  diagnostics inner;
  stack_.push_back(at.file + ":" + std::to_string(at.line) + " (inline)");
  deepest_ = std::max(deepest_, stack_.size());
  auto p = load_flow_text(doc.dump(), at.file, components_, inner, svc_);
  stack_.pop_back();
  for (auto& d : inner) errs.push_back({at, "inline flow: " + d.message});
  return p;
}

}  // namespace weft::flows
