#include "net/gzip.hpp"

#include <algorithm>

#include <zlib.h>

namespace weft::net {

namespace {

// zlib's windowBits: 15 for the largest window, +16 to ask for a gzip
// header and trailer instead of a zlib one.
constexpr int gzip_window_bits = 15 + 16;

}  // namespace

std::string gzip_compress(std::string_view data) {
  z_stream zs{};
  // Level 1: span JSON is so repetitive that the fastest level already
  // shrinks it several times over, at a fraction of the default's CPU; the
  // exporter compresses on one thread at hundreds of thousands of spans/s.
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, gzip_window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return {};
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  // zlib counts in uInt; feed and drain in chunks so that bodies over 4 GiB
  // would not overflow (and so the loop does not rely on deflateBound).
  std::size_t in_pos = 0, out_pos = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out_pos == out.size()) out.resize(out.size() * 2 + 64);
    std::size_t in_chunk = std::min<std::size_t>(data.size() - in_pos, 1u << 30);
    std::size_t out_chunk = std::min<std::size_t>(out.size() - out_pos, 1u << 30);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + in_pos));
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
    zs.avail_out = static_cast<uInt>(out_chunk);
    bool last = in_pos + in_chunk == data.size();
    rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    out_pos += out_chunk - zs.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      deflateEnd(&zs);
      return {};
    }
  }
  deflateEnd(&zs);
  out.resize(out_pos);
  return out;
}

std::optional<std::string> gzip_decompress(std::string_view data, std::size_t max_size) {
  z_stream zs{};
  if (inflateInit2(&zs, gzip_window_bits) != Z_OK) return std::nullopt;
  std::string out;
  char buf[64 * 1024];
  std::size_t in_pos = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    std::size_t in_chunk = std::min<std::size_t>(data.size() - in_pos, 1u << 30);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + in_pos));
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    std::size_t produced = sizeof buf - zs.avail_out;
    // No progress with all input consumed means a truncated stream.
    bool stuck =
        rc == Z_BUF_ERROR || (produced == 0 && in_pos == data.size() && rc != Z_STREAM_END);
    if ((rc != Z_OK && rc != Z_STREAM_END) || stuck || out.size() + produced > max_size) {
      inflateEnd(&zs);
      return std::nullopt;
    }
    out.append(buf, produced);
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace weft::net
