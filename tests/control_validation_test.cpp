// Validation of the control-flow composites (issue 9), each error at its
// file:line:col, both through engine::load_file (the diagnostics'
// to_string()) and through `weft validate` as a real process: a loop
// without max_iterations; a sub-flow file that is missing or unreadable (a
// directory; a file without read permission, unless running as root), at
// the referencing line; child inputs that are unknown (at the binding) or
// required and unconnected (at the node); a reference cycle A -> B -> A,
// naming the chain; nesting deeper than 16 (and 16 exactly is fine; a
// file reused from a shallower reference counts at its deepest one); an
// error inside a referenced file, at that file's own path and line plus
// one at the referencing line; an output of a `flow` node that the child
// does not declare; a map over a flow without `item`; and inline flows,
// one that loads and runs and one whose error is reported at the param.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "support/engine_fixture.hpp"
#include "support/weft_command.hpp"

using namespace weft;
using namespace weft::test;
namespace fs = std::filesystem;

namespace {

// A fresh folder of flow files for one test, removed at the end.
struct flow_dir {
  fs::path dir;
  flow_dir() {
    static int n = 0;
    dir = fs::temp_directory_path() /
          ("weft-validate-" + std::to_string(getpid()) + "-" + std::to_string(n++));
    fs::create_directories(dir);
    dir = fs::canonical(dir);
  }
  ~flow_dir() {
    std::error_code ec;
    fs::permissions(dir / "child.yaml", fs::perms::owner_all, ec);  // the unreadable case
    fs::remove_all(dir, ec);
  }
  std::string path(const std::string& name) const { return (dir / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name) << text;
    return path(name);
  }
};

// One error we expect: where (file:line:col:, col 0 = any) and what it says.
struct expected {
  std::string file;
  int line;
  int col;
  std::vector<std::string> says;

  bool matches(const std::string& diag) const {
    std::string at = file + ":" + std::to_string(line) + ":";
    if (col) at += std::to_string(col) + ":";
    if (diag.rfind(at, 0) != 0 || diag.find(": error: ") == std::string::npos) return false;
    for (auto& s : says)
      if (diag.find(s) == std::string::npos) return false;
    return true;
  }
  std::string describe() const {
    std::string d = file + ":" + std::to_string(line) + ":" + (col ? std::to_string(col) : "*");
    for (auto& s : says) d += " [" + s + "]";
    return d;
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

void expect_in(const std::vector<std::string>& diags, const std::vector<expected>& want) {
  std::string all;
  for (auto& d : diags) all += d + "\n";
  INFO("diagnostics:\n" << all);
  for (auto& w : want) {
    INFO("expected " << w.describe());
    CHECK(std::any_of(diags.begin(), diags.end(), [&](auto& d) { return w.matches(d); }));
  }
}

// `path` fails to load with (at least) these errors, in process and from
// `weft validate`, which exits 2.
void expect_errors(const std::string& path, const std::vector<expected>& want) {
  engine eng(memory_options(std::make_shared<span_store>()));
  auto r = eng.load_file(path);
  CHECK_FALSE(r.flow);
  std::vector<std::string> diags;
  for (auto& d : r.errors) diags.push_back(d.to_string());
  {
    INFO("engine::load_file");
    expect_in(diags, want);
  }
  auto cli = run_weft("validate '" + path + "'");
  INFO("weft validate");
  CHECK(cli.code == 2);
  CHECK_THAT(cli.err, Catch::Contains("1 of 1 file(s) invalid"));
  expect_in(lines_of(cli.err), want);
}

const char* const child_flow = R"(flow: child
inputs: {name: {type: string}, greeting: {type: string, default: "hi"}}
nodes:
  t: {type: template, params: {template: "{{g}} {{n}}"}, inputs: {n: $inputs.name, g: $inputs.greeting}}
outputs: {text: t.text}
)";

}  // namespace

TEST_CASE("validation: a loop without max_iterations, at the node", "[control][validation]") {
  flow_dir d;
  d.write("child.yaml", child_flow);
  auto p = d.write("parent.yaml", R"(flow: parent
inputs: {name: {type: string}}
nodes:
  again:
    type: loop
    params: {flow: ./child.yaml, until: "iteration > 2"}
    inputs: {name: $inputs.name}
outputs: {text: again.text}
)");
  expect_errors(p, {{p, 4, 3, {"node 'again'", "'max_iterations' is required"}}});
}

TEST_CASE("validation: a missing sub-flow file, at the referencing line", "[control][validation]") {
  flow_dir d;
  auto p = d.write("parent.yaml", R"(flow: parent
nodes:
  sub: {type: flow, params: {flow: ./nowhere/child.yaml}}
outputs: {}
)");
  expect_errors(
      p, {{p,
           3,
           36,
           {"flow file './nowhere/child.yaml' does not exist", d.path("nowhere/child.yaml")}}});
}

TEST_CASE("validation: an unreadable sub-flow file, at the referencing line",
          "[control][validation]") {
  flow_dir d;
  auto p = d.write("parent.yaml", R"(flow: parent
nodes:
  sub: {type: flow, params: {flow: ./child.yaml}}
outputs: {}
)");
  const auto child = d.path("child.yaml");
  SECTION("a directory") {
    fs::create_directory(child);
    expect_errors(p, {{child, 0, 0, {"cannot read file"}},
                      {p, 3, 36, {"flow file " + child + " has errors"}}});
  }
  SECTION("a file without read permission") {
    if (geteuid() == 0) {
      WARN("running as root, which reads any file: skipping the permission case");
      return;
    }
    d.write("child.yaml", child_flow);
    fs::permissions(child, fs::perms::none);
    expect_errors(p, {{child, 0, 0, {"cannot read file", "Permission denied"}},
                      {p, 3, 36, {"flow file " + child + " has errors"}}});
  }
}

TEST_CASE(
    "validation: child inputs unknown (at the binding) or required and not connected "
    "(at the node)",
    "[control][validation]") {
  flow_dir d;
  d.write("child.yaml", child_flow);
  auto p = d.write("parent.yaml", R"(flow: parent
inputs: {name: {type: string}}
nodes:
  sub:
    type: flow
    params: {flow: ./child.yaml}
    inputs:
      greeting: $inputs.name
      nmae: $inputs.name
  again:
    type: loop
    params: {flow: ./child.yaml, max_iterations: 2}
    inputs: {greeting: $inputs.name}
outputs: {}
)");
  expect_errors(p, {{p,
                     9,
                     7,
                     {"node 'sub'", "input 'nmae' is not an input of flow 'child'",
                      "its inputs are: name, greeting"}},
                    {p, 4, 3, {"node 'sub'", "needs input 'name', which is not connected"}},
                    {p, 10, 3, {"node 'again'", "needs input 'name', which is not connected"}}});
}

TEST_CASE("validation: a reference cycle A -> B -> A names the chain", "[control][validation]") {
  flow_dir d;
  auto a = d.write("a.yaml", R"(flow: a
nodes:
  to_b: {type: flow, params: {flow: ./b.yaml}}
outputs: {}
)");
  auto b = d.write("b.yaml", R"(flow: b
nodes:

  to_a: {type: flow, params: {flow: ./a.yaml}}
outputs: {}
)");
  expect_errors(a, {{b, 4, 37, {"flow reference cycle: a.yaml -> b.yaml -> a.yaml"}},
                    {a, 3, 37, {"flow file " + b + " has errors"}}});
}

TEST_CASE("validation: flows nest at most 16 deep", "[control][validation]") {
  flow_dir d;
  // f1 -> f2 -> ... -> f18, the last one a plain flow.
  for (int i = 1; i <= 18; ++i) {
    const auto me = "f" + std::to_string(i);
    if (i < 18)
      d.write(me + ".yaml", "flow: " + me + "\nnodes:\n  next: {type: flow, params: {flow: ./f" +
                                std::to_string(i + 1) + ".yaml}}\noutputs: {}\n");
    else
      d.write(
          me + ".yaml",
          "flow: " + me + "\nnodes:\n  t: {type: template, params: {template: x}}\noutputs: {}\n");
  }
  SECTION("f3 .. f18: 16 levels load") {
    engine eng(memory_options(std::make_shared<span_store>()));
    auto r = eng.load_file(d.path("f3.yaml"));
    CHECK(r.errors.empty());
    CHECK(r.flow);
    auto cli = run_weft("validate '" + d.path("f3.yaml") + "'");
    CHECK(cli.code == 0);
    CHECK_THAT(cli.out, Catch::Contains("ok (flow 'f3'"));
  }
  SECTION("f1 .. f18: too deep, at the 16th file's reference") {
    expect_errors(
        d.path("f1.yaml"),
        {{d.path("f16.yaml"),
          3,
          37,
          {"flows nest deeper than 16 levels: f1.yaml -> f2.yaml -> ", "f16.yaml -> ..."}},
         {d.path("f1.yaml"), 3, 37, {"flow file " + d.path("f2.yaml") + " has errors"}}});
  }
}

TEST_CASE(
    "validation: a file reused at a deeper level must still fit in 16 levels, whatever "
    "the order of the references",
    "[control][validation]") {
  flow_dir d;
  // a1 -> a2 spans 2 levels; c2 -> ... -> c15 -> a1 puts a1 at level 16,
  // a2 at 17. Whether `top` meets a1 first directly (loaded once, then
  // reused) or first through the chain, that is one level too deep.
  d.write("a1.yaml",
          "flow: a1\nnodes:\n  next: {type: flow, params: {flow: ./a2.yaml}}\noutputs: {}\n");
  d.write("a2.yaml",
          "flow: a2\nnodes:\n  t: {type: template, params: {template: x}}\noutputs: {}\n");
  for (int i = 2; i <= 15; ++i)
    d.write("c" + std::to_string(i) + ".yaml",
            "flow: c" + std::to_string(i) + "\nnodes:\n  next: {type: flow, params: {flow: ./" +
                (i < 15 ? "c" + std::to_string(i + 1) : std::string("a1")) +
                ".yaml}}\noutputs: {}\n");
  const std::string direct = "  direct: {type: flow, params: {flow: ./a1.yaml}}\n";
  const std::string chain = "  chain: {type: flow, params: {flow: ./c2.yaml}}\n";
  SECTION("a1 first, then the chain") {
    auto top = d.write("top.yaml", "flow: top\nnodes:\n" + direct + chain + "outputs: {}\n");
    expect_errors(
        top,
        {{d.path("c15.yaml"), 3, 37, {"flows nest deeper than 16 levels", "c15.yaml -> a1.yaml"}},
         {top, 4, 38, {"flow file " + d.path("c2.yaml") + " has errors"}}});
  }
  SECTION("the chain first, then a1") {
    auto top = d.write("top.yaml", "flow: top\nnodes:\n" + chain + direct + "outputs: {}\n");
    expect_errors(
        top, {{d.path("a1.yaml"), 3, 37, {"flows nest deeper than 16 levels", "a1.yaml -> ..."}},
              {top, 3, 38, {"flow file " + d.path("c2.yaml") + " has errors"}}});
  }
}

TEST_CASE(
    "validation: an error in a referenced file carries its own path and line, and the "
    "reference gets one at its line",
    "[control][validation]") {
  flow_dir d;
  auto c = d.write("child.yaml", R"(flow: child
inputs: {x: {type: string}}
nodes:
  t: {type: template, params: {template: "{{x}}"}, inputs: {x: $inputs.x}}
  u: {type: template, params: {template: "{{x}}"}, inputs: {x: nowhere.text}}
outputs: {y: u.text}
)");
  auto p = d.write("parent.yaml", R"(flow: parent
inputs: {x: {type: string}}
nodes:
  first: {type: passthrough, inputs: {value: $inputs.x}}
  each:
    type: map
    params: {flow: ./child.yaml}
    inputs: {items: $inputs.x}
outputs: {}
)");
  // A map whose flow did not load reports only that; the child's error is
  // at child.yaml:5, the reference at parent.yaml:7 (the param's value).
  expect_errors(p, {{c, 5, 64, {"node 'u'", "unknown node 'nowhere'"}},
                    {p, 7, 20, {"flow file " + c + " has errors (reported above)"}}});
}

TEST_CASE("validation: an output of a flow node that the child does not declare",
          "[control][validation]") {
  flow_dir d;
  d.write("child.yaml", child_flow);
  auto p = d.write("parent.yaml", R"(flow: parent
inputs: {name: {type: string}}
nodes:
  sub: {type: flow, params: {flow: ./child.yaml}, inputs: {name: $inputs.name}}
  use: {type: passthrough, inputs: {value: sub.nope}}
outputs:
  ok: sub.text
  bad: sub.nope
)");
  expect_errors(
      p,
      {{p, 5, 44, {"node 'use', input 'value'", "has no output 'nope'", "its outputs are: text"}},
       {p, 8, 8, {"output 'bad'", "has no output 'nope'", "its outputs are: text"}}});
}

TEST_CASE("validation: a map over a flow without an `item` input", "[control][validation]") {
  flow_dir d;
  d.write("child.yaml", child_flow);
  auto p = d.write("parent.yaml", R"(flow: parent
inputs: {names: {type: array}}
nodes:
  each:
    type: map
    params: {max_concurrency: 2, flow: ./child.yaml}
    inputs: {items: $inputs.names}
outputs: {}
)");
  expect_errors(p, {{p, 6, 40, {"node 'each'", "flow 'child' must declare an input 'item'"}}});
}

TEST_CASE("validation: inline flows load and run; their errors are at the param",
          "[control][validation]") {
  flow_dir d;
  SECTION("a good one") {
    auto p = d.write("parent.yaml", R"(flow: parent
inputs: {x: {type: string}}
nodes:
  sub:
    type: flow
    params:
      flow: {inputs: {v: {type: string}}, nodes: {t: {type: template, params: {template: "<{{v}}>"}, inputs: {v: $inputs.v}}}, outputs: {out: t.text}}
    inputs: {v: $inputs.x}
outputs: {y: sub.out}
)");
    engine eng(memory_options(std::make_shared<span_store>()));
    auto l = eng.load_file(p);
    REQUIRE(l.errors.empty());
    REQUIRE(l.flow);
    auto r = eng.run(l.flow, {{"x", "hi"}}).get();
    INFO(r.error);
    REQUIRE(r.ok);
    CHECK(r.outputs.at("y") == "<hi>");
    auto cli = run_weft("validate '" + p + "'");
    CHECK(cli.code == 0);
    CHECK_THAT(cli.out, Catch::Contains("ok (flow 'parent'"));
  }
  SECTION("one with an error") {
    auto p = d.write("parent.yaml", R"(flow: parent
inputs: {x: {type: string}}
nodes:
  sub:
    type: flow
    params:
      flow: {inputs: {v: {type: string}}, nodes: {t: {type: template, params: {template: "<{{v}}>"}, inputs: {v: ghost.text}}}, outputs: {out: t.text}}
    inputs: {v: $inputs.x}
outputs: {y: sub.out}
)");
    expect_errors(p, {{p, 7, 13, {"inline flow:", "unknown node 'ghost'"}}});
  }
}
