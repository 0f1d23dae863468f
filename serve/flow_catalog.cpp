#include "serve/flow_catalog.hpp"

#include <algorithm>
#include <filesystem>

namespace weft::serve {

namespace fs = std::filesystem;

bool flow_catalog::load_dir(engine& eng, const std::string& dir, std::vector<std::string>& errors) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    errors.push_back(dir + ": error: not a directory (--flows must name a folder of flow files)");
    return false;
  }
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    auto ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json"))
      files.push_back(e.path());
  }
  if (ec) {
    errors.push_back(dir + ": error: cannot list the folder: " + ec.message());
    return false;
  }
  std::sort(files.begin(), files.end());
  std::map<std::string, std::string> file_of;  // flow name -> file
  bool ok = true;
  for (auto& f : files) {
    auto r = eng.load_file(f.string());
    for (auto& d : r.errors) errors.push_back(d.to_string());
    if (!r) {
      ok = false;
      continue;
    }
    auto name = r.flow.plan()->name();
    if (auto it = file_of.find(name); it != file_of.end()) {
      errors.push_back(f.string() + ": error: flow name '" + name + "' is already used by " +
                       it->second + "; give each served flow its own `flow:` name");
      ok = false;
      continue;
    }
    file_of[name] = f.string();
    flows_[name] = r.flow.plan();
  }
  if (ok && flows_.empty()) {
    errors.push_back(dir + ": error: no flow files (*.yaml, *.yml, *.json) in the folder");
    ok = false;
  }
  return ok;
}

bool flow_catalog::add(std::shared_ptr<const flows::plan> flow) {
  return flows_.emplace(flow->name(), flow).second;
}

std::shared_ptr<const flows::plan> flow_catalog::find(const std::string& name) const {
  auto it = flows_.find(name);
  return it == flows_.end() ? nullptr : it->second;
}

flows::value flow_catalog::describe(const flows::plan& flow) {
  const auto& s = flow.spec;
  flows::value inputs = flows::value::array();
  for (auto& in : s.inputs) {
    flows::value i = {{"name", in.name},
                      {"type", flows::to_string(in.type)},
                      {"required", !in.default_value.has_value()}};
    if (in.default_value) i["default"] = *in.default_value;
    inputs.push_back(std::move(i));
  }
  flows::value outputs = flows::value::array();
  for (auto& out : s.outputs)
    outputs.push_back({{"name", out.name}, {"from", out.source.to_string()}});
  return {{"name", s.name},
          {"description", s.description},
          {"file", fs::path(s.file).filename().string()},
          {"inputs", std::move(inputs)},
          {"outputs", std::move(outputs)},
          {"nodes", flow.nodes.size()},
          // Whether every run has 1 + nodes spans (no router, no child
          // runs): `weft load --url` checks span counts only then.
          {"fixed_shape", flow.fixed_shape}};
}

}  // namespace weft::serve
