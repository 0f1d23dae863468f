#include "export/dead_letter.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weft::exporting {
namespace {

std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

}  // namespace

dead_letter_file::dead_letter_file(std::string dir, std::uint64_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes) {}

std::string dead_letter_file::write(nlohmann::json line) {
  if (dir_.empty() || max_bytes_ < 2) return {};
  const std::string path = dir_ + "/" + file_name;
  const std::string previous = dir_ + "/" + previous_name;
  if (!sized_) {  // what an earlier process left counts too
    current_bytes_ = file_size(path);
    previous_bytes_ = file_size(previous);
    sized_ = true;
  }
  const std::uint64_t half = max_bytes_ / 2;
  auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
  if (text.size() > half && line.contains("body")) {
    line["body_bytes"] = line["body"].get<std::string>().size();
    line["body_omitted"] =
        "larger than the dead-letter bound (half of the spool's dead-letter share)";
    line.erase("body");
    text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
  }
  if (text.size() > half) return "dead-letter line larger than the bound; not written";
  if (current_bytes_ + text.size() > half) {
    if (::rename(path.c_str(), previous.c_str()) != 0 && errno != ENOENT)
      return "cannot rotate " + path + ": " + std::strerror(errno);
    previous_bytes_ = current_bytes_;
    current_bytes_ = 0;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot open " + path + ": " + std::strerror(errno);
  ::fchmod(fd, 0600);  // a file from an older release may be 0644
  std::string err;
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err = "cannot write " + path + ": " + std::strerror(errno);
      break;
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  ::close(fd);
  current_bytes_ += text.size() - left;
  return err;
}

}  // namespace weft::exporting
