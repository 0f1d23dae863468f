// include/weft/version.hpp is the one source of the version: the build's
// project version (WEFT_VERSION_STRING, what `weft --version` prints and
// spans carry as service.version) must be read from it.
#include <catch2/catch.hpp>

#include <string>

#include "weft/version.hpp"

TEST_CASE("version.hpp: the numbers, the string and the build's version agree", "[version]") {
  const std::string parts = std::to_string(weft::version_major) + "." + std::to_string(weft::version_minor) + "." +
                            std::to_string(weft::version_patch);
  CHECK(parts == weft::version_string);
  CHECK(std::string(WEFT_VERSION_STRING) == weft::version_string);
}
