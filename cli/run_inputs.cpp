// A command's run inputs (cli/run_inputs.hpp).
#include "cli/run_inputs.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>

namespace weft::cli {

std::optional<flows::value_map> make_inputs(const std::string& flow_name,
                                            const std::vector<flows::input_decl>& declared,
                                            const run_common& o) {
  flows::value_map in;
  if (!o.inputs_file.empty()) {
    std::string text;
    if (o.inputs_file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::ifstream f(o.inputs_file);
      if (!f) {
        std::cerr << "weft: error: --inputs " << o.inputs_file << ": cannot read file\n";
        return std::nullopt;
      }
      text.assign(std::istreambuf_iterator<char>(f), {});
    }
    auto v = flows::value::parse(text, nullptr, false);
    if (v.is_discarded() || !v.is_object()) {
      std::cerr << "weft: error: --inputs " << (o.inputs_file == "-" ? "(stdin)" : o.inputs_file)
                << ": expected one JSON object of input name -> value\n";
      return std::nullopt;
    }
    // Checked before any copy: nlohmann copies recursively (it parses and
    // destroys without recursion), so a deep value must not be copied.
    if (value_depth(v, 65) > 64) {
      std::cerr << "weft: error: --inputs " << (o.inputs_file == "-" ? "(stdin)" : o.inputs_file)
                << ": nests arrays and objects deeper than 64 levels; flatten it\n";
      return std::nullopt;
    }
    for (auto& [k, x] : v.items()) in[k] = std::move(x);
  }
  for (auto& kv : o.inputs) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "weft: error: -i '" << kv << "': expected KEY=VALUE\n";
      return std::nullopt;
    }
    auto key = kv.substr(0, eq), text = kv.substr(eq + 1);
    auto decl = std::find_if(declared.begin(), declared.end(),
                             [&](const flows::input_decl& d) { return d.name == key; });
    if (decl == declared.end()) {
      std::string known;
      for (auto& d : declared) known += (known.empty() ? "" : ", ") + d.name;
      std::cerr << "weft: error: -i " << key << ": flow '" << flow_name << "' has no input '" << key
                << "'; its inputs are: " << (known.empty() ? "(none)" : known) << '\n';
      return std::nullopt;
    }
    auto v = flows::convert_text(decl->type, text);
    if (!v) {
      std::cerr << "weft: error: -i " << key << ": '" << text << "' is not a valid "
                << flows::to_string(decl->type) << '\n';
      return std::nullopt;
    }
    in[key] = std::move(*v);
  }
  return in;
}

std::optional<flows::value_map> make_inputs(const flows::plan& flow, const run_common& o) {
  return make_inputs(flow.name(), flow.spec.inputs, o);
}

}  // namespace weft::cli
