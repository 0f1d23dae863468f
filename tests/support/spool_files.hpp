// Real spool directories for damage tests: written through tracing::spool
// itself, then laid out record by record so a test can damage exact bytes
// and know which records it hit.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tracing/spool.hpp"

namespace weft::test {

/// A fresh, empty directory under the system temp dir, removed at the end.
struct spool_scratch {
  std::filesystem::path path;
  explicit spool_scratch(const std::string& name) {
    path = std::filesystem::temp_directory_path() /
           ("weft-spool-damage-" + std::to_string(::getpid())) / name;
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~spool_scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline std::vector<tracing::span_record> make_spans(const std::string& name, int n) {
  std::vector<tracing::span_record> out;
  const auto trace = tracing::trace_id::random();
  for (int i = 0; i < n; ++i) {
    tracing::span_record s;
    s.trace = trace;
    s.id = tracing::span_id::random();
    s.name = name;
    s.start_unix_ns = 1'700'000'000'000'000'000ULL + static_cast<std::uint64_t>(i);
    s.end_unix_ns = s.start_unix_ns + 1000;
    s.set("weft.node.id", std::string("node_") + std::to_string(i));
    s.set("i", std::int64_t{i});
    out.push_back(std::move(s));
  }
  return out;
}

/// Where one record of a written spool lies.
struct spooled_record {
  std::string name;  // every span of record i is named "r<i>"
  std::filesystem::path segment;
  std::uint64_t offset = 0;  // of its frame header
  std::uint64_t size = 0;    // header and payload
};

struct spool_layout {
  std::vector<std::filesystem::path> segments;  // oldest first
  std::vector<std::uint64_t> segment_numbers;
  std::vector<spooled_record> records;  // in replay order

  /// The index of the record holding byte `at` of `segment`.
  std::size_t record_at(const std::filesystem::path& segment, std::uint64_t at) const {
    for (std::size_t i = 0; i < records.size(); ++i)
      if (records[i].segment == segment && at >= records[i].offset &&
          at < records[i].offset + records[i].size)
        return i;
    throw std::runtime_error("no record at that byte");
  }
};

/// Writes `records` records of `spans_per_record` spans each, spread evenly
/// over `segments` segment files (a reopened spool starts a new segment).
inline spool_layout write_spool(const std::filesystem::path& dir, int records, int spans_per_record,
                                int segments) {
  int written = 0;
  for (int seg = 0; seg < segments; ++seg) {
    auto s = tracing::spool::open(dir.string(), {}, nullptr);
    if (!s) throw std::runtime_error("cannot open spool in " + dir.string());
    const int upto = records * (seg + 1) / segments;
    for (; written < upto; ++written)
      if (s->append(make_spans("r" + std::to_string(written), spans_per_record)) !=
          tracing::spool_result::ok)
        throw std::runtime_error("append failed");
  }
  spool_layout out;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".wspool") out.segments.push_back(e.path());
  std::sort(out.segments.begin(), out.segments.end());
  int index = 0;
  for (auto& path : out.segments) {
    // "segment-<20 digits>.wspool"
    out.segment_numbers.push_back(std::stoull(path.filename().string().substr(8, 20)));
    std::ifstream f(path, std::ios::binary);
    const auto size = std::filesystem::file_size(path);
    std::uint64_t at = 0;
    while (at + 8 <= size) {
      unsigned char header[8];
      f.seekg(static_cast<std::streamoff>(at));
      f.read(reinterpret_cast<char*>(header), 8);
      const std::uint64_t len = header[0] | (header[1] << 8) | (header[2] << 16) |
                                (static_cast<std::uint64_t>(header[3]) << 24);
      out.records.push_back({"r" + std::to_string(index++), path, at, 8 + len});
      at += 8 + len;
    }
  }
  return out;
}

/// XORs the byte at `offset` of `file` with `mask` (non-zero: it always changes).
inline void flip_bits(const std::filesystem::path& file, std::uint64_t offset, unsigned char mask) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ static_cast<char>(mask));
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

inline bool any_line_contains(const std::vector<std::string>& lines, const std::string& needle) {
  for (auto& l : lines)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace weft::test
