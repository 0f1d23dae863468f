// The JSON-lines file sink.
#include "tracing/file_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "tracing/otlp_json.hpp"

namespace weft::tracing {
namespace {

std::string errno_text(int e) { return std::generic_category().message(e); }

// Writes all of [data, data + n), retrying on EINTR and short writes. Returns
// the number of bytes written; fewer than n means errno says why.
std::size_t write_all(int fd, const char* data, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::write(fd, data + done, n - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == 0) {
      errno = EIO;
      break;
    }
    done += static_cast<std::size_t>(r);
  }
  return done;
}

}  // namespace

int file_sink::open_file(const std::string& path, std::string& error) {
  if (path.empty()) {
    error = "trace file path is empty";
    return -1;
  }
  const std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) {
      error = "cannot create directory '" + p.parent_path().string() + "' for trace file '" + path +
              "': " + ec.message();
      return -1;
    }
  }
  int fd;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) error = "cannot open trace file '" + path + "': " + errno_text(errno);
  return fd;
}

std::unique_ptr<file_sink> file_sink::open(const std::string& path, resource_info resource,
                                           std::string* error) {
  std::string why;
  const int fd = open_file(path, why);
  if (fd < 0) {
    if (error) *error = std::move(why);
    return nullptr;
  }
  return std::unique_ptr<file_sink>(new file_sink(path, std::move(resource), fd));
}

file_sink::file_sink(const std::string& path, resource_info resource)
    : path_(path), resource_(std::move(resource)), fd_(-1) {
  std::string why;
  fd_ = open_file(path, why);
  if (fd_ < 0) throw std::runtime_error(why);
}

file_sink::file_sink(std::string path, resource_info resource, int fd)
    : path_(std::move(path)), resource_(std::move(resource)), fd_(fd) {}

file_sink::~file_sink() { ::close(fd_); }

std::string file_sink::write(const std::vector<span_record>& batch) {
  if (batch.empty()) return {};
  buffer_.clear();
  append_export_request(buffer_, batch, resource_);
  buffer_ += '\n';
  const std::size_t written = write_all(fd_, buffer_.data(), buffer_.size());
  if (written == buffer_.size()) {
    // A buffer grown by one huge batch should not stay that big forever.
    if (buffer_.capacity() > (std::size_t{16} << 20)) std::string().swap(buffer_);
    return {};
  }
  const int e = errno;
  if (written > 0) write_all(fd_, "\n", 1);  // end the fragment; see header
  return "writing trace file '" + path_ + "' failed after " + std::to_string(written) + " of " +
         std::to_string(buffer_.size()) + " bytes: " + errno_text(e);
}

std::string file_sink::flush() {
  int r;
  do {
    r = ::fsync(fd_);
  } while (r < 0 && errno == EINTR);
  // EINVAL: the file is something that cannot be synced (a pipe, /dev/null);
  // there is nothing more to make durable then.
  if (r < 0 && errno != EINVAL && errno != EROFS)
    return "syncing trace file '" + path_ + "' failed: " + errno_text(errno);
  return {};
}

}  // namespace weft::tracing
