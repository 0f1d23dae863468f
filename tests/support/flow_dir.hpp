// A scratch directory of flow files, for tests of flows that refer to other
// flows by path or name (sub-flows, map and loop bodies).
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

namespace weft::test {

class flow_dir {
 public:
  flow_dir() {
    static std::atomic<int> n{0};
    path_ = std::filesystem::temp_directory_path() /
            ("weft-flows-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~flow_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  flow_dir(const flow_dir&) = delete;
  flow_dir& operator=(const flow_dir&) = delete;

  /// Writes `text` to `name` in the directory; returns its full path.
  std::string write(const std::string& name, const std::string& text) const {
    auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace weft::test
