// OpenAI chat messages -> OpenTelemetry GenAI v1.41.1 "parts" JSON
// (gen_ai.input.messages, gen_ai.output.messages, gen_ai.system_instructions):
// one case per conversion rule, a whole tool-calling transcript, and odd
// input that must convert what it can and never throw.
#include <string>

#include <catch2/catch.hpp>

#include "components/genai_messages.hpp"

using weft::value;
using namespace weft::components;

namespace {

value j(const char* text) { return value::parse(text); }

}  // namespace

TEST_CASE("genai: string content is one text part; name is kept", "[genai]") {
  CHECK(genai_input_messages(j(R"([{"role":"user","content":"Hi","name":"ada"}])")) ==
        j(R"([{"role":"user","name":"ada","parts":[{"type":"text","content":"Hi"}]}])"));
  // null, missing or empty content: no part
  CHECK(genai_input_messages(j(R"([{"role":"user","content":null},{"role":"user"},
                                   {"role":"user","content":""}])")) ==
        j(R"([{"role":"user","parts":[]},{"role":"user","parts":[]},{"role":"user","parts":[]}])"));
}

TEST_CASE("genai: content-part arrays map to text, uri, blob, file and generic parts", "[genai]") {
  value in = j(R"([{"role":"user","content":[
      {"type":"text","text":"What is this?"},
      {"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"high"}},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0K"}},
      {"type":"image_url","image_url":{"url":"DATA:;BASE64,AAAA"}},
      {"type":"input_audio","input_audio":{"data":"UklGR","format":"wav"}},
      {"type":"input_audio","input_audio":{"data":"SUQz","format":"mp3"}},
      {"type":"file","file":{"file_id":"file-abc","filename":"r.pdf"}},
      {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0","filename":"r.pdf"}},
      {"type":"file","file":{"file_data":"data:video/mp4;base64,AAAAIGZ0eXA"}},
      {"type":"input_video","input_video":{"url":"https://example.com/v.mp4"}}
    ]}])");
  value want = j(R"([{"role":"user","parts":[
      {"type":"text","content":"What is this?"},
      {"type":"uri","modality":"image","uri":"https://example.com/a.png"},
      {"type":"blob","modality":"image","mime_type":"image/png","content":"iVBORw0K"},
      {"type":"blob","modality":"image","content":"AAAA"},
      {"type":"blob","modality":"audio","mime_type":"audio/wav","content":"UklGR"},
      {"type":"blob","modality":"audio","mime_type":"audio/mpeg","content":"SUQz"},
      {"type":"file","file_id":"file-abc"},
      {"type":"blob","mime_type":"application/pdf","content":"JVBERi0"},
      {"type":"blob","modality":"video","mime_type":"video/mp4","content":"AAAAIGZ0eXA"},
      {"type":"input_video","input_video":{"url":"https://example.com/v.mp4"}}
    ]}])");
  CHECK(genai_input_messages(in) == want);
}

TEST_CASE("genai: an assistant refusal becomes a generic refusal part", "[genai]") {
  CHECK(genai_input_messages(
            j(R"([{"role":"assistant","content":[{"type":"refusal","refusal":"No."}]},
                                   {"role":"assistant","content":null,"refusal":"Can't."}])")) ==
        j(R"([{"role":"assistant","parts":[{"type":"refusal","content":"No."}]},
              {"role":"assistant","parts":[{"type":"refusal","content":"Can't."}]}])"));
}

TEST_CASE("genai: assistant tool_calls become tool_call parts, arguments parsed when JSON",
          "[genai]") {
  value in = j(R"([{"role":"assistant","content":"Let me look.","tool_calls":[
      {"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}},
      {"id":"c2","type":"function","function":{"name":"echo","arguments":"not json {"}},
      {"id":"c3","type":"function","function":{"name":"noargs"}},
      {"type":"function","function":{"name":"pre_parsed","arguments":{"a":[1,2]}}},
      {"id":"c5","type":"custom","custom":{"name":"sql","input":"{\"looks\":\"like json\"}"}}
    ]}])");
  value want = j(R"([{"role":"assistant","parts":[
      {"type":"text","content":"Let me look."},
      {"type":"tool_call","id":"c1","name":"get_weather","arguments":{"location":"Paris"}},
      {"type":"tool_call","id":"c2","name":"echo","arguments":"not json {"},
      {"type":"tool_call","id":"c3","name":"noargs"},
      {"type":"tool_call","name":"pre_parsed","arguments":{"a":[1,2]}},
      {"type":"tool_call","id":"c5","name":"sql","arguments":"{\"looks\":\"like json\"}"}
    ]}])");
  CHECK(genai_input_messages(in) == want);
}

TEST_CASE("genai: deprecated function_call and role function convert too", "[genai]") {
  CHECK(genai_input_messages(j(R"([
      {"role":"assistant","content":null,"function_call":{"name":"f","arguments":"[1]"}},
      {"role":"function","name":"f","content":"ok"}])")) ==
        j(R"([{"role":"assistant","parts":[{"type":"tool_call","name":"f","arguments":[1]}]},
              {"role":"tool","name":"f","parts":[{"type":"tool_call_response","response":"ok"}]}])"));
}

TEST_CASE("genai: arguments nested deeper than the limit stay a raw string", "[genai]") {
  std::string deep(genai_max_argument_depth + 1, '[');
  deep += std::string(genai_max_argument_depth + 1, ']');
  std::string ok(genai_max_argument_depth, '[');
  ok += std::string(genai_max_argument_depth, ']');
  value msgs = value::array();
  msgs.push_back({{"role", "assistant"},
                  {"tool_calls",
                   {{{"id", "d"}, {"function", {{"name", "f"}, {"arguments", deep}}}},
                    {{"id", "o"}, {"function", {{"name", "f"}, {"arguments", ok}}}}}}});
  value out = genai_input_messages(msgs);
  const value& parts = out.at(0).at("parts");
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].at("arguments") == value(deep));
  CHECK(parts[1].at("arguments") == value::parse(ok));
  CHECK(weft::value_depth(parts[1].at("arguments")) == genai_max_argument_depth);

  // a million brackets: refused by the depth check, never built
  std::string hostile(1'000'000, '[');
  value one = value::array();
  one.push_back({{"role", "assistant"},
                 {"tool_calls", {{{"function", {{"name", "f"}, {"arguments", hostile}}}}}}});
  CHECK(genai_input_messages(one).at(0).at("parts").at(0).at("arguments") == value(hostile));
}

TEST_CASE("genai: a tool message becomes a tool_call_response part", "[genai]") {
  CHECK(genai_input_messages(j(R"([
      {"role":"tool","tool_call_id":"c1","content":"rainy, 57F"},
      {"role":"tool","tool_call_id":"c2","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
      {"role":"tool","tool_call_id":"c3","content":{"temp":14}},
      {"role":"tool","content":[{"type":"text","text":"a"},{"type":"image_url"}]},
      {"role":"tool","tool_call_id":7}])")) == j(R"([
      {"role":"tool","parts":[{"type":"tool_call_response","id":"c1","response":"rainy, 57F"}]},
      {"role":"tool","parts":[{"type":"tool_call_response","id":"c2","response":"ab"}]},
      {"role":"tool","parts":[{"type":"tool_call_response","id":"c3","response":{"temp":14}}]},
      {"role":"tool","parts":[{"type":"tool_call_response",
                               "response":[{"type":"text","text":"a"},{"type":"image_url"}]}]},
      {"role":"tool","parts":[{"type":"tool_call_response","response":null}]}])"));
}

TEST_CASE("genai: a system message stays a system-role input message; developer is kept",
          "[genai]") {
  CHECK(genai_input_messages(j(R"([{"role":"system","content":"Be brief."},
                                   {"role":"developer","content":[{"type":"text","text":"Use JSON."}]}])")) ==
        j(R"([{"role":"system","parts":[{"type":"text","content":"Be brief."}]},
              {"role":"developer","parts":[{"type":"text","content":"Use JSON."}]}])"));
}

TEST_CASE("genai: reasoning from OpenAI-compatible servers comes first as a reasoning part",
          "[genai]") {
  CHECK(genai_output_messages(j(R"({"role":"assistant","content":"42","reasoning_content":"6*7"})"),
                              "stop") == j(R"([{"role":"assistant","finish_reason":"stop","parts":[
               {"type":"reasoning","content":"6*7"},{"type":"text","content":"42"}]}])"));
}

TEST_CASE("genai: output messages carry the reply and the spec's finish_reason", "[genai]") {
  CHECK(genai_output_messages(j(R"({"role":"assistant","content":"Rainy in Paris."})"), "stop") ==
        j(R"([{"role":"assistant","parts":[{"type":"text","content":"Rainy in Paris."}],
               "finish_reason":"stop"}])"));
  CHECK(genai_output_messages(j(R"({"role":"assistant","content":null,"tool_calls":[
                  {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]})"),
                              "tool_calls") ==
        j(R"([{"role":"assistant","finish_reason":"tool_call","parts":[
               {"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"location":"Paris"}}]}])"));
  CHECK(
      genai_output_messages(j(R"({"content":"x"})"), "function_call") ==
      j(R"([{"role":"assistant","finish_reason":"tool_call","parts":[{"type":"text","content":"x"}]}])"));
  CHECK(genai_output_messages(j(R"({"role":"assistant","content":"cut"})"), "length")
            .at(0)
            .at("finish_reason") == "length");
  CHECK(genai_output_messages(j(R"({"role":"assistant","content":""})"), "content_filter") ==
        j(R"([{"role":"assistant","finish_reason":"content_filter","parts":[]}])"));
  CHECK(genai_output_messages(value(), "stop") ==
        j(R"([{"role":"assistant","finish_reason":"stop","parts":[]}])"));
}

TEST_CASE("genai: a system prompt is one text instruction", "[genai]") {
  CHECK(genai_system_instructions("You are a translator.") ==
        j(R"([{"type":"text","content":"You are a translator."}])"));
  CHECK(genai_system_instructions("") == value::array());
}

TEST_CASE("genai: a whole tool-calling transcript", "[genai]") {
  value in = j(R"([
    {"role":"system","content":"You are a weather bot."},
    {"role":"user","content":"Weather in Paris and Rome?"},
    {"role":"assistant","content":null,"tool_calls":[
      {"id":"call_p","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
      {"id":"call_r","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
    {"role":"tool","tool_call_id":"call_p","content":"rainy, 14C"},
    {"role":"tool","tool_call_id":"call_r","content":"sunny, 24C"},
    {"role":"assistant","content":"Paris is rainy (14C); Rome is sunny (24C)."}
  ])");
  value want = j(R"([
    {"role":"system","parts":[{"type":"text","content":"You are a weather bot."}]},
    {"role":"user","parts":[{"type":"text","content":"Weather in Paris and Rome?"}]},
    {"role":"assistant","parts":[
      {"type":"tool_call","id":"call_p","name":"get_weather","arguments":{"city":"Paris"}},
      {"type":"tool_call","id":"call_r","name":"get_weather","arguments":{"city":"Rome"}}]},
    {"role":"tool","parts":[{"type":"tool_call_response","id":"call_p","response":"rainy, 14C"}]},
    {"role":"tool","parts":[{"type":"tool_call_response","id":"call_r","response":"sunny, 24C"}]},
    {"role":"assistant","parts":[{"type":"text","content":"Paris is rainy (14C); Rome is sunny (24C)."}]}
  ])");
  CHECK(genai_input_messages(in) == want);
  // what a span would carry: it dumps
  CHECK_NOTHROW(genai_input_messages(in).dump());
}

TEST_CASE("genai: odd input converts what it can and never throws", "[genai]") {
  CHECK_NOTHROW(genai_input_messages(value()));
  CHECK(genai_input_messages(value()) == value::array());
  CHECK(genai_input_messages(j(R"({"role":"user","content":"not an array"})")) == value::array());
  CHECK(genai_input_messages(j("42")) == value::array());

  value odd = j(R"([
    null, 1, "hi", [], {},
    {"role":5,"content":"x"},
    {"role":"user","content":7},
    {"role":"user","content":{"type":"text","text":"an object, not an array"}},
    {"role":"user","content":[null, 3, [], {}, {"type":5}, {"type":"text"}, {"type":"text","text":9},
                              "bare", {"type":"image_url"}, {"type":"image_url","image_url":5},
                              {"type":"image_url","image_url":{"url":null}},
                              {"type":"image_url","image_url":"https://example.com/s.png"},
                              {"type":"image_url","image_url":{"url":"data:image/png,notbase64"}},
                              {"type":"input_audio"}, {"type":"input_audio","input_audio":{"data":"AA"}},
                              {"type":"input_audio","input_audio":{"data":"AA","format":7}},
                              {"type":"file"}, {"type":"file","file":{}}, {"type":"file","file":{"file_data":"AAAA"}},
                              {"type":"refusal"}]},
    {"role":"assistant","tool_calls":"nope","function_call":[1],"refusal":3,"reasoning":[]},
    {"role":"assistant","tool_calls":[null, 1, {}, {"function":null}, {"function":{"name":3}},
                                      {"function":{"name":"f","arguments":null}},
                                      {"function":{"name":"g","arguments":""}},
                                      {"id":9,"function":{"name":"h","arguments":"\"s\""}},
                                      {"custom":{"input":"x"}}]},
    {"role":"tool","tool_call_id":null,"content":null},
    {"role":"user","name":5,"content":"y"}
  ])");
  value out;
  REQUIRE_NOTHROW(out = genai_input_messages(odd));
  value want = j(R"([
    {"role":"user","parts":[]},
    {"role":"user","parts":[]},
    {"role":"user","parts":[
      {"type":"text","content":"bare"},
      {"type":"uri","modality":"image","uri":"https://example.com/s.png"},
      {"type":"uri","modality":"image","uri":"data:image/png,notbase64"},
      {"type":"blob","modality":"audio","content":"AA"},
      {"type":"blob","modality":"audio","content":"AA"},
      {"type":"blob","content":"AAAA"}]},
    {"role":"assistant","parts":[]},
    {"role":"assistant","parts":[
      {"type":"tool_call","name":"f"},
      {"type":"tool_call","name":"g","arguments":""},
      {"type":"tool_call","name":"h","arguments":"s"}]},
    {"role":"tool","parts":[{"type":"tool_call_response","response":null}]},
    {"role":"user","parts":[{"type":"text","content":"y"}]}
  ])");
  CHECK(out == want);
  CHECK_NOTHROW(out.dump());

  CHECK_NOTHROW(genai_output_messages(j("[1,2]"), ""));
  CHECK(genai_output_messages(j(R"({"role":"assistant","tool_calls":{"a":1}})"), "") ==
        j(R"([{"role":"assistant","parts":[],"finish_reason":""}])"));
  CHECK_NOTHROW(genai_output_messages(odd, "stop"));
}
