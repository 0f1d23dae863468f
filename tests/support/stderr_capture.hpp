// Captures what this process writes to stderr (fd 2) while it lives, for
// tests of what weft logs. Everything written meanwhile, by any thread,
// lands in a temp file; text() reads it back. Not nestable.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace weft::test {

class stderr_capture {
 public:
  stderr_capture() {
    path_ = std::filesystem::temp_directory_path() /
            ("weft-stderr-" + std::to_string(::getpid()) + "-" + std::to_string(++counter()));
    std::fflush(stderr);
    saved_ = ::dup(2);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~stderr_capture() {
    restore();
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  stderr_capture(const stderr_capture&) = delete;
  stderr_capture& operator=(const stderr_capture&) = delete;

  /// Stops capturing (stderr goes back where it was) and returns the text.
  std::string text() {
    restore();
    std::ifstream f(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path path_;
  int saved_ = -1;
};

}  // namespace weft::test
