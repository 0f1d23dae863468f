// The `weft` binary as a real process, for tests of the command line: its
// stdout, its stderr and its exit code, from a scratch folder of its own.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <catch2/catch.hpp>

namespace weft::test {

struct proc_result {
  int code = -1;
  std::string out;
  std::string err;
};

/// A scratch folder for this test process, named after `tag`.
inline std::filesystem::path scratch_dir(const std::string& tag = "weft-cli") {
  auto dir = std::filesystem::temp_directory_path() / (tag + "-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

/// Runs `ENV weft ARGS` through the shell in the scratch folder, with stderr
/// to a file (so the two streams stay apart), and waits for it.
inline proc_result run_weft(const std::string& args, const std::string& env = "") {
  static int n = 0;
  auto dir = scratch_dir();
  auto err_file = dir / ("err-" + std::to_string(n++));
  std::string cmd = "cd '" + dir.string() + "' && " + env + " '" + WEFT_BINARY + "' " + args +
                    " 2>'" + err_file.string() + "'";
  proc_result r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf;
  std::size_t k;
  while ((k = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), k);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}

}  // namespace weft::test
