#pragma once
// How long a client waits before it reconnects: exponential backoff with jitter, bounded.
//
//   attempt      1      2      3      4    ...   n
//   ceiling    base   2base  4base  8base  ...  min(cap, base * 2^(n-1))
//   wait       uniform in [ceiling / 2, ceiling]
//
// Why each part: the exponent stops a client from hammering a server that is down; the
// cap keeps the wait short enough that a user does not stare at a spinner for minutes;
// the jitter spreads the thousands of clients one drain or network blip disconnected at
// the same instant, so they do not all come back in the same millisecond. The lower
// half of the range is kept ("equal jitter") so that a retry never comes at once.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

/// The waits between reconnect attempts; reset() once a connection has worked.
class ReconnectBackoff {
 public:
  using Ms = std::chrono::milliseconds;

  /// `base`: the first ceiling; `cap`: the largest; `seed`: the jitter (fixed in tests).
  ReconnectBackoff(Ms base, Ms cap, std::uint64_t seed) : base_(base), cap_(cap), rng_(seed) {}

  /// The wait before the next attempt; each call counts one attempt.
  Ms next() {
    // Doubling `attempts_` times, stopping at the cap (and before the shift overflows).
    Ms ceiling = base_;
    for (int i = 0; i < attempts_ && ceiling < cap_; ++i) ceiling *= 2;
    ceiling = std::min(ceiling, cap_);
    ++attempts_;
    std::uniform_int_distribution<Ms::rep> jitter(ceiling.count() / 2, ceiling.count());
    return Ms(jitter(rng_));
  }

  /// The connection worked: the next failure starts again from `base`.
  void reset() { attempts_ = 0; }

  /// Attempts since the last reset().
  int attempts() const { return attempts_; }

 private:
  Ms base_;
  Ms cap_;
  std::mt19937_64 rng_;
  int attempts_ = 0;
};
