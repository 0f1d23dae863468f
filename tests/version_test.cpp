// include/weft/version.hpp is the one source of the version: CMake's
// project version (the library's soname, the packages, weftConfigVersion)
// is read from it, and `weft --version` prints it.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "weft/version.hpp"

TEST_CASE("version.hpp: the numbers, the string and the build's version agree", "[version]") {
  const std::string parts = std::to_string(weft::version_major) + "." +
                            std::to_string(weft::version_minor) + "." +
                            std::to_string(weft::version_patch);
  CHECK(parts == weft::version_string);
  CHECK(std::string(WEFT_PROJECT_VERSION) == weft::version_string);

  std::string out;
  FILE* p = ::popen(WEFT_BINARY " --version", "r");
  REQUIRE(p);
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  CHECK(::pclose(p) == 0);
  CHECK(out.find(weft::version_string) != std::string::npos);
}
