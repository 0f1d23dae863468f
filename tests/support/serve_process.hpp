// `weft serve` and `weft worker` as real child processes, for tests of what
// only a process shows: signals, the exit code, and what reached the trace
// file by exit.
//
//   serve_process srv({"--flows", dir, "--trace-file", file});
//   REQUIRE(srv.port());            // parsed from the "listening on" line
//   ...requests...
//   CHECK(srv.stop(SIGTERM) == 0);  // waits for the exit code
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace weft::test {

/// A `weft SUBCOMMAND` child process that prints "...MARKER<port>" once it
/// listens (serve and worker do).
class weft_process {
 public:
  /// Starts `weft SUBCOMMAND ARGS...` (with --listen 127.0.0.1:0 unless ARGS has one) with extra
  /// environment entries ("NAME=value"), and waits up to 30 s for MARKER on stdout. `binary`:
  /// another weft build, for benchmarks that compare two side by side.
  weft_process(const std::string& subcommand, const std::string& marker,
               std::vector<std::string> args, std::vector<std::string> env, std::string binary) {
    namespace fs = std::filesystem;
    static int n = 0;
    auto dir = fs::temp_directory_path() / ("weft-" + subcommand + "-" + std::to_string(getpid()));
    fs::create_directories(dir);
    out_file_ = (dir / ("out-" + std::to_string(n))).string();
    err_file_ = (dir / ("err-" + std::to_string(n++))).string();
    std::vector<std::string> argv_s = {binary, subcommand};
    if (std::find(args.begin(), args.end(), "--listen") == args.end()) {
      argv_s.push_back("--listen");
      argv_s.push_back("127.0.0.1:0");
    }
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
    env_s.insert(env_s.end(), env.begin(), env.end());
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid_, argv_s[0].c_str(), &fa, nullptr, argv.data(), envp.data()) != 0)
      pid_ = 0;
    posix_spawn_file_actions_destroy(&fa);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (pid_ && !port_ && std::chrono::steady_clock::now() < until) {
      auto text = out();
      auto at = text.find(marker);
      if (at != std::string::npos)
        port_ = static_cast<std::uint16_t>(std::atoi(text.c_str() + at + marker.size()));
      int status = 0;
      if (!port_ && waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        pid_ = 0;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  weft_process(const weft_process&) = delete;
  weft_process& operator=(const weft_process&) = delete;

  ~weft_process() {
    if (pid_) stop(SIGKILL);
  }

  /// 0 when the server did not come up (see err()).
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  /// Sends `sig` and waits (up to 60 s) for the exit code; -1 when killed.
  int stop(int sig) {
    if (!pid_) return exit_code_;
    kill(pid_, sig);
    return wait();
  }

  /// Waits for the process to exit by itself.
  int wait(std::chrono::seconds limit = std::chrono::seconds(60)) {
    if (!pid_) return exit_code_;
    auto until = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() > until) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = 0;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }

  std::string out() const { return slurp(out_file_); }
  std::string err() const { return slurp(err_file_); }

 private:
  static std::string slurp(const std::string& path) {
    std::ifstream f(path);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

  pid_t pid_ = 0;
  std::uint16_t port_ = 0;
  int exit_code_ = -1;
  std::string out_file_, err_file_;
};

class serve_process : public weft_process {
 public:
  explicit serve_process(std::vector<std::string> args, std::vector<std::string> env = {},
                         std::string binary = WEFT_BINARY)
      : weft_process("serve", "listening on http://127.0.0.1:", std::move(args), std::move(env),
                     std::move(binary)) {}
};

/// `weft worker` (a cluster node); its port is the one it published.
class worker_process : public weft_process {
 public:
  explicit worker_process(std::vector<std::string> args, std::vector<std::string> env = {})
      : weft_process("worker", "listening on 127.0.0.1:", std::move(args), std::move(env),
                     WEFT_BINARY) {}
};

}  // namespace weft::test
