// gzip_compress / gzip_decompress: real gzip framing, and decoding that
// refuses garbage, truncation and decompression bombs.
#include <catch2/catch.hpp>

#include <string>

#include "net/gzip.hpp"

using namespace weft;

TEST_CASE("gzip: round trip and refusals", "[net]") {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "span " + std::to_string(i) + ";";
  auto packed = net::gzip_compress(text);
  REQUIRE(packed.size() > 10);
  CHECK(static_cast<unsigned char>(packed[0]) == 0x1f);  // gzip magic
  CHECK(static_cast<unsigned char>(packed[1]) == 0x8b);
  CHECK(net::gzip_decompress(packed, 1 << 20) == text);
  CHECK(net::gzip_decompress(net::gzip_compress(""), 10) == std::string());
  CHECK_FALSE(net::gzip_decompress("plain text", 1 << 20));
  CHECK_FALSE(net::gzip_decompress(packed.substr(0, packed.size() / 2), 1 << 20));  // truncated
  CHECK_FALSE(net::gzip_decompress(packed, text.size() - 1));  // over the limit
  auto bomb = net::gzip_compress(std::string(10u << 20, '\0'));
  CHECK(bomb.size() < 100000);
  CHECK_FALSE(net::gzip_decompress(bomb, 1 << 20));
}
