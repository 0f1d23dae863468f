// Id generation and hex conversion for trace and span ids.
#include "tracing/ids.hpp"

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <functional>
#include <random>
#include <thread>

namespace weft::tracing {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// -1 for a non-hex character. Both cases are accepted here; callers that must
// be strict about case (traceparent) check before calling from_hex.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

// Bumped in a forked child so that its threads reseed: otherwise parent and
// child would hand out the same id sequence.
std::atomic<std::uint64_t> fork_generation{0};

[[maybe_unused]] const int atfork_registered = [] {
  return pthread_atfork(nullptr, nullptr,
                        [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
}();

// xoshiro256**: fast, 256 bits of state, good enough statistics for ids. Not
// cryptographic; ids are identifiers, not secrets.
class id_generator {
 public:
  std::uint64_t next() noexcept {
    auto gen = fork_generation.load(std::memory_order_relaxed);
    if (!seeded_ || gen != generation_) seed(gen);
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  void seed(std::uint64_t gen) noexcept {
    // Mix several independent sources, so that a weak random_device (it may
    // be deterministic on some platforms) still yields distinct streams per
    // thread and per process start.
    std::uint64_t material = 0;
    try {
      std::random_device rd;
      material = (std::uint64_t{rd()} << 32) ^ rd();
    } catch (...) {
      // No entropy device: the other sources below still differ.
    }
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    material ^= static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL +
                static_cast<std::uint64_t>(ts.tv_nsec);
    material ^= rotl(std::hash<std::thread::id>{}(std::this_thread::get_id()), 17);
    material ^= rotl(reinterpret_cast<std::uintptr_t>(this), 41);
    material ^= rotl(gen, 53);
    for (auto& word : s_) word = splitmix64(material);
    seeded_ = true;
    generation_ = gen;
  }

  std::uint64_t s_[4] = {};
  bool seeded_ = false;
  std::uint64_t generation_ = 0;
};

id_generator& generator() noexcept {
  thread_local id_generator g;
  return g;
}

}  // namespace

void append_hex(std::string& out, const std::uint8_t* data, std::size_t n) {
  const auto old = out.size();
  out.resize(old + 2 * n);
  char* p = out.data() + old;
  for (std::size_t i = 0; i < n; ++i) {
    *p++ = hex_digits[data[i] >> 4];
    *p++ = hex_digits[data[i] & 0x0f];
  }
}

// ---- trace_id ----

bool trace_id::valid() const noexcept {
  for (auto b : bytes)
    if (b != 0) return true;
  return false;
}

std::string trace_id::to_hex() const {
  std::string s;
  s.reserve(32);
  append_hex(s, bytes.data(), bytes.size());
  return s;
}

std::optional<trace_id> trace_id::from_hex(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  trace_id id;
  for (std::size_t i = 0; i < 16; ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.bytes[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  if (!id.valid()) return std::nullopt;
  return id;
}

trace_id trace_id::random() {
  auto& g = generator();
  trace_id id;
  do {
    std::uint64_t hi = g.next();
    std::uint64_t lo = g.next();
    for (int i = 0; i < 8; ++i) {
      id.bytes[i] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
      id.bytes[8 + i] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
    }
  } while (!id.valid());
  return id;
}

// ---- span_id ----

std::string span_id::to_hex() const {
  std::string s(16, '0');
  for (int i = 0; i < 16; ++i) s[i] = hex_digits[(value >> (60 - 4 * i)) & 0x0f];
  return s;
}

std::optional<span_id> span_id::from_hex(std::string_view hex) {
  if (hex.size() != 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : hex) {
    int d = hex_value(c);
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  if (v == 0) return std::nullopt;
  return span_id{v};
}

span_id span_id::random() {
  auto& g = generator();
  std::uint64_t v;
  do {
    v = g.next();
  } while (v == 0);
  return span_id{v};
}

}  // namespace weft::tracing
