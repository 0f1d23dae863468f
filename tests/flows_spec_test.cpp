// The small value helpers of flows/spec.hpp: type names, type matching and
// conversion of command-line text.
#include <catch2/catch.hpp>

#include "flows/spec.hpp"

using namespace weft::flows;

TEST_CASE("value types have their file-format names", "[flows]") {
  CHECK(std::string{to_string(value_type::string)} == "string");
  CHECK(std::string{to_string(value_type::number)} == "number");
  CHECK(std::string{to_string(value_type::integer)} == "integer");
  CHECK(std::string{to_string(value_type::boolean)} == "boolean");
  CHECK(std::string{to_string(value_type::object)} == "object");
  CHECK(std::string{to_string(value_type::array)} == "array");
  CHECK(std::string{to_string(value_type::any)} == "any");
}

TEST_CASE("matches: an integer is a number, 3.0 is an integer", "[flows]") {
  CHECK(matches(value_type::string, "x"));
  CHECK_FALSE(matches(value_type::string, 1));
  CHECK(matches(value_type::number, 1));
  CHECK(matches(value_type::number, 1.5));
  CHECK_FALSE(matches(value_type::number, "1"));
  CHECK(matches(value_type::integer, 3));
  CHECK(matches(value_type::integer, 3u));
  CHECK(matches(value_type::integer, 3.0));
  CHECK_FALSE(matches(value_type::integer, 3.5));
  CHECK_FALSE(matches(value_type::integer, 1e300));
  CHECK_FALSE(matches(value_type::integer, true));
  CHECK(matches(value_type::boolean, false));
  CHECK_FALSE(matches(value_type::boolean, 0));
  CHECK(matches(value_type::object, value::object()));
  CHECK_FALSE(matches(value_type::object, value::array()));
  CHECK(matches(value_type::array, value::array()));
  CHECK(matches(value_type::any, nullptr));
  CHECK(matches(value_type::any, value{{"a", 1}}));
}

TEST_CASE("convert_text turns command-line text into typed values", "[flows]") {
  CHECK(convert_text(value_type::string, "42") == value("42"));
  CHECK(convert_text(value_type::integer, "42") == value(42));
  CHECK(convert_text(value_type::integer, "-7") == value(-7));
  CHECK(convert_text(value_type::integer, "+7") == value(7));
  CHECK_FALSE(convert_text(value_type::integer, "4.2"));
  CHECK_FALSE(convert_text(value_type::integer, "42x"));
  CHECK_FALSE(convert_text(value_type::integer, ""));
  CHECK_FALSE(convert_text(value_type::integer, "99999999999999999999"));
  CHECK(convert_text(value_type::number, "4.5") == value(4.5));
  CHECK(convert_text(value_type::number, "4")->is_number_integer());
  CHECK_FALSE(convert_text(value_type::number, "inf"));
  CHECK_FALSE(convert_text(value_type::number, "nan"));
  CHECK(convert_text(value_type::boolean, "true") == value(true));
  CHECK(convert_text(value_type::boolean, "FALSE") == value(false));
  CHECK_FALSE(convert_text(value_type::boolean, "yes"));
  CHECK(convert_text(value_type::object, R"({"a": 1})") == value{{"a", 1}});
  CHECK_FALSE(convert_text(value_type::object, "[1]"));
  CHECK_FALSE(convert_text(value_type::object, "{bad"));
  CHECK(convert_text(value_type::array, "[1, 2]") == value::array({1, 2}));
  CHECK(convert_text(value_type::any, "42") == value(42));
  CHECK(convert_text(value_type::any, "World") == value("World"));
  CHECK(convert_text(value_type::any, R"("quoted")") == value("quoted"));
}

TEST_CASE("source_ref prints as written in flow files", "[flows]") {
  source_ref in{true, "", "name", {}};
  source_ref node{false, "hello", "text", {}};
  CHECK(in.to_string() == "$inputs.name");
  CHECK(node.to_string() == "hello.text");
}
