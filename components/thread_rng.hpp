// A random engine per thread, for retry jitter.
//
// Calls used to carry their own std::mt19937_64 seeded from a fresh
// std::random_device: 2.5 KB per call and a device read on every call, for
// a number that is needed only when a call is retried. With thousands of
// streamed model calls per second that seeding showed up at 2% of the
// server's profile (bench/RESULTS.md, weft_stream_bench). Jitter needs no
// secrecy and no reproducibility, so one engine per thread, seeded once,
// serves every call on that thread.
#pragma once

#include <random>

namespace weft::components {

/// This thread's engine; never shared between threads, so no lock.
std::mt19937_64& thread_rng();

}  // namespace weft::components
