#include "components/json_schema.hpp"

#include <stdexcept>

// Without this, valijson reports a bad schema by printing and calling
// abort(): a typo in a flow file would take the whole process down.
#define VALIJSON_USE_EXCEPTIONS 1

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace weft::components {

json_schema::json_schema() : schema_(std::make_unique<valijson::Schema>()) {}
json_schema::~json_schema() = default;

std::shared_ptr<const json_schema> json_schema::compile(const value& schema, std::string& error) {
  if (!schema.is_object()) {
    error = "a JSON Schema must be an object";
    return nullptr;
  }
  std::shared_ptr<json_schema> s(new json_schema());
  try {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(schema);
    parser.populateSchema(adapter, *s->schema_);
  } catch (const std::exception& e) {
    error = std::string("not a valid JSON Schema: ") + e.what();
    return nullptr;
  }
  return s;
}

std::string json_schema::validate(const value& v, std::size_t max_problems) const {
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(v);
  if (validator.validate(*schema_, target, &results)) return {};
  std::string out;
  std::size_t n = 0;
  for (const auto& e : results) {
    // valijson reports the failure at every enclosing level too ("Failed
    // to validate against schema associated with property name 'x'"); the
    // innermost ones say what is wrong, and they come first.
    if (n == max_problems) {
      out += "; ...";
      break;
    }
    std::string path;
    for (const auto& c : e.context) path += c;
    out += (out.empty() ? "" : "; ") + std::string("at ") + path + ": " + e.description;
    ++n;
  }
  return out.empty() ? "does not match the schema" : out;
}

}  // namespace weft::components
