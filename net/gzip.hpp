// gzip (RFC 1952) for HTTP bodies: the OTLP sink compresses what it uploads
// when OTEL_EXPORTER_OTLP_COMPRESSION=gzip, and test servers undo it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace weft::net {

/// The gzip encoding of `data` (zlib's fastest level, see gzip.cpp). Never fails for
/// inputs that fit in memory.
std::string gzip_compress(std::string_view data);

/// The decoded gzip stream, or nullopt if `data` is not valid gzip or would
/// decode to more than `max_size` bytes (a guard against decompression bombs).
std::optional<std::string> gzip_decompress(std::string_view data, std::size_t max_size);

}  // namespace weft::net
