// The engine's own messages (a trace backend refusing spans, here) go to
// engine_options::log, with the secrets the sinks were given masked, and
// the library writes nothing to stderr itself.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>

#include "support/engine_fixture.hpp"
#include "support/test_collector.hpp"
#include "support/weft_command.hpp"

using namespace weft;

namespace {

// Points fd 2 at a file while alive; what was written there, after.
class stderr_capture {
 public:
  explicit stderr_capture(std::string path) : path_(std::move(path)) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~stderr_capture() { restore(); }
  std::string restore() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
    std::ifstream f(path_);
    return {std::istreambuf_iterator<char>(f), {}};
  }

 private:
  std::string path_;
  int saved_ = -1;
};

}  // namespace

TEST_CASE("the engine's messages go to the log callback, secrets masked, none to stderr",
          "[engine][log]") {
  const std::string secret = "otlp-header-secret-4242";
  test::test_collector backend;
  // A backend that refuses every batch and quotes the header back.
  backend.set_default(
      test::fault::answer(400, {}, R"({"error":"x-api-key )" + secret + R"( is not valid"})"));
  auto dir = test::scratch_dir("weft-engine-log");
  std::filesystem::create_directories(dir);

  std::mutex mu;
  std::vector<std::pair<log_level, std::string>> got;
  engine_options o;
  o.settings.tracing.batch_delay_ms = 20;
  o.settings.exporter.spool_dir = (dir / "spool").string();
  config::otlp_settings otlp;
  otlp.endpoint = backend.base_url() + "/v1/traces";
  otlp.headers = {{"x-api-key", secret}};
  o.settings.exporter.otlp = otlp;
  o.log = [&](log_level l, std::string_view m) {
    std::lock_guard lk(mu);
    got.emplace_back(l, std::string(m));
  };

  stderr_capture err((dir / "stderr.txt").string());
  {
    engine eng(std::move(o));
    auto flow = test::must_load(eng, test::two_node_flow);
    for (int i = 0; i < 5; ++i) REQUIRE(eng.run(flow, {{"x", i}}).get().ok);
    eng.shutdown();
  }
  const auto written = err.restore();
  CHECK(written.empty());

  std::lock_guard lk(mu);
  INFO("messages: " << got.size());
  bool rejected = false;
  for (auto& [level, msg] : got) {
    INFO(msg);
    CHECK(msg.find(secret) == std::string::npos);
    if (msg.find("backend rejected") != std::string::npos) {
      rejected = true;
      CHECK(level == log_level::error);
      CHECK_THAT(msg, Catch::Contains("***"));
      CHECK_THAT(msg, Catch::Contains("sink 'otlp'"));
    }
  }
  CHECK(rejected);
  std::filesystem::remove_all(dir);
}
