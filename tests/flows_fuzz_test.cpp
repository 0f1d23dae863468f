// The parser against hostile input: every file of tests/corpus/ as it is,
// then a deterministic mutation loop over them. Whatever the bytes, parse_flow
// must not throw or crash, and must return either a spec or at least one
// diagnostic, each pointing into the file it was given.
//
// The mutations are seeded, so a failure here reproduces exactly; the
// failing input is printed in hex. tests/fuzz/flow_parser_fuzzer.cpp runs
// the same property under libFuzzer, open-ended.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "flows_test_support.hpp"

using namespace weft::flows;
using namespace weft::flows::test;

namespace {

struct seed {
  std::string name;
  std::string text;
};

std::vector<seed> load_corpus() {
  std::vector<seed> out;
  const std::filesystem::path dir = std::filesystem::path{WEFT_SOURCE_DIR} / "tests" / "corpus";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    out.push_back({entry.path().filename().string(), text.str()});
  }
  // Directory order differs between machines; the mutation loop must not.
  std::sort(out.begin(), out.end(), [](const seed& a, const seed& b) { return a.name < b.name; });
  return out;
}

std::string hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s.substr(0, 4096)) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Checks the contract on one input; returns a description of the breach, or
// "" if there is none. `valid` learns whether a spec came back.
std::string breach(std::string_view text, const registry& components, bool* valid = nullptr) {
  diagnostics errs;
  std::optional<flow_spec> spec;
  try {
    spec = parse_flow(text, "fuzz.yaml", components, errs, test_env());
  } catch (const std::exception& e) {
    return std::string{"threw: "} + e.what();
  } catch (...) {
    return "threw a non-exception";
  }
  if (valid) *valid = spec.has_value();
  if (spec && !errs.empty()) return "returned a spec and diagnostics";
  if (!spec && errs.empty()) return "returned neither a spec nor a diagnostic";
  for (const diagnostic& d : errs) {
    if (d.loc.file != "fuzz.yaml" || d.loc.line < 0 || d.loc.col < 0 || d.message.empty())
      return "bad diagnostic: " + d.to_string();
  }
  return {};
}

// Bytes and words that mean something to YAML or to the flow format: random
// bytes alone would mostly test the UTF-8 check.
const std::vector<std::string> dictionary = {":",
                                             " ",
                                             "\n",
                                             "\n  ",
                                             "- ",
                                             "? ",
                                             "[",
                                             "]",
                                             "{",
                                             "}",
                                             ",",
                                             "#",
                                             "&a ",
                                             "*a",
                                             "!",
                                             "!!str ",
                                             "!!int ",
                                             "|",
                                             ">",
                                             "'",
                                             "\"",
                                             "%",
                                             "@",
                                             "`",
                                             "---\n",
                                             "...\n",
                                             "\t",
                                             "\\",
                                             "${",
                                             "$${",
                                             "}",
                                             "$inputs.",
                                             ".",
                                             "flow: ",
                                             "nodes:",
                                             "inputs:",
                                             "outputs:",
                                             "type: ",
                                             "params:",
                                             "timeout_ms: ",
                                             "passthrough",
                                             "template",
                                             "join",
                                             "sleep",
                                             "const",
                                             "value",
                                             "items",
                                             "text",
                                             "~",
                                             "null",
                                             "true",
                                             "-1",
                                             "0",
                                             "1e999",
                                             "\xc3\xa9",
                                             "\xff",
                                             std::string(1, '\0'),
                                             "\r\n",
                                             "\xef\xbb\xbf"};

std::string mutate(std::string s, std::mt19937& rng, const std::vector<seed>& seeds) {
  auto pick = [&](std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  int rounds = 1 + static_cast<int>(pick(4));
  for (int r = 0; r < rounds; ++r) {
    std::size_t at = pick(s.size() + 1);
    switch (pick(8)) {
      case 0:  // flip a byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(pick(256));
        break;
      case 1:  // insert a random byte
        s.insert(at, 1, static_cast<char>(pick(256)));
        break;
      case 2:  // insert a word from the dictionary
      case 3:
        s.insert(at, dictionary[pick(dictionary.size())]);
        break;
      case 4:  // delete a run
        s.erase(at, pick(16) + 1);
        break;
      case 5:  // truncate
        s.resize(at);
        break;
      case 6: {  // repeat a run (duplicate keys, nesting)
        std::string run = s.substr(at, pick(64) + 1);
        s.insert(at, run);
        break;
      }
      case 7: {  // splice in part of another seed
        const std::string& other = seeds[pick(seeds.size())].text;
        std::size_t from = pick(other.size() + 1);
        s.insert(at, other.substr(from, pick(256)));
        break;
      }
    }
  }
  // Keep inputs small: the point is many shapes, not big ones.
  if (s.size() > 32 * 1024) s.resize(32 * 1024);
  return s;
}

}  // namespace

TEST_CASE("every corpus file parses to a spec or diagnostics, without throwing", "[flows][fuzz]") {
  const registry components = test_registry();
  const auto seeds = load_corpus();
  REQUIRE(seeds.size() >= 15);
  for (const seed& s : seeds) {
    INFO("corpus file " << s.name);
    CHECK(breach(s.text, components).empty());
    // Every prefix of a small seed, too: truncation is the most common damage.
    if (s.text.size() <= 600)
      for (std::size_t n = 0; n < s.text.size(); ++n) {
        auto b = breach(std::string_view(s.text).substr(0, n), components);
        if (!b.empty()) FAIL(s.name << " truncated to " << n << " bytes: " << b);
      }
  }
}

TEST_CASE("the good corpus files are valid flows", "[flows][fuzz]") {
  const registry components = test_registry();
  for (const seed& s : load_corpus()) {
    if (s.name.rfind("good_", 0) != 0) continue;
    diagnostics errs;
    auto spec = parse_flow(s.text, s.name, components, errs, test_env());
    std::string all;
    for (const diagnostic& d : errs) all += d.to_string() + "\n";
    INFO(all);
    CHECK(spec);
  }
}

TEST_CASE("20,000 seeded mutations of the corpus never break the contract", "[flows][fuzz]") {
  const registry components = test_registry();
  const auto seeds = load_corpus();
  std::vector<const seed*> small;
  for (const seed& s : seeds)
    if (s.text.size() <= 16 * 1024) small.push_back(&s);
  REQUIRE_FALSE(small.empty());

  std::mt19937 rng(20240601);  // fixed: a failure must reproduce
  const auto started = std::chrono::steady_clock::now();
  int iterations = 0, specs = 0;
  for (; iterations < 20000; ++iterations) {
    const seed& base = *small[static_cast<std::size_t>(iterations) % small.size()];
    std::string input = mutate(base.text, rng, seeds);
    bool valid = false;
    std::string b = breach(input, components, &valid);
    if (!b.empty())
      FAIL("mutation " << iterations << " of " << base.name << ": " << b
                       << "\ninput (hex): " << hex(input));
    specs += valid ? 1 : 0;
  }
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(iterations << " inputs in " << seconds << " s; " << specs << " were valid flows");
  CHECK(iterations == 20000);
  // Some mutations keep a flow valid; if none did, the loop only tested the
  // first check in the parser.
  CHECK(specs > 0);
}
