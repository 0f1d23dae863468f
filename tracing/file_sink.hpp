// A sink that appends spans to a JSON-lines file, one OTLP/JSON
// ExportTraceServiceRequest per batch and line, as the OpenTelemetry
// Collector's file exporter writes them. `weft trace show` and the Collector's
// tools read such files.
//
// Each batch goes out with a single write(2) on a file opened with O_APPEND,
// so a reader that tails the file sees whole lines (for batches that the
// kernel writes in one go, which is every batch on a local file system short
// of a full disk). If a write comes up short, the sink ends the fragment with
// a newline, so the next batch still starts a line of its own and readers
// report one bad line instead of losing the rest of the file.
//
// Blocking I/O: the exporter calls sinks from a thread of their own. One
// caller at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tracing/sink.hpp"

namespace weft::tracing {

class file_sink : public sink {
 public:
  /// Opens (creating it and its parent directories when missing) `path` for
  /// appending. Returns nullptr and sets `error` (naming the path and the
  /// system's reason) when that fails; it never throws for I/O errors.
  static std::unique_ptr<file_sink> open(const std::string& path, resource_info resource,
                                         std::string* error);

  /// The same for callers that prefer exceptions: throws std::runtime_error
  /// with that message.
  file_sink(const std::string& path, resource_info resource);

  ~file_sink() override;
  file_sink(const file_sink&) = delete;
  file_sink& operator=(const file_sink&) = delete;

  std::string name() const override { return "file"; }
  /// Appends one line for a non-empty batch; an empty batch writes nothing.
  std::string write(const std::vector<span_record>& batch) override;
  /// fsync: the sink keeps no user-space buffer, so that is all there is.
  std::string flush() override;

  const std::string& path() const { return path_; }

 private:
  file_sink(std::string path, resource_info resource, int fd);
  /// The open file's descriptor, or -1 with `error` set.
  static int open_file(const std::string& path, std::string& error);

  std::string path_;
  resource_info resource_;
  int fd_;
  std::string buffer_;  // reused across batches to avoid reallocating
};

}  // namespace weft::tracing
