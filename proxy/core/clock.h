#pragma once
// Time as the rest of dropsim sees it. Decisions take `now` as an argument (as HAProxy's
// tick_is_expired does); whoever calls them reads it from an injected Clock, so unit
// tests move time by hand and never sleep.

#include <chrono>

namespace dropsim {

/// Every duration in dropsim: nanoseconds, so that --time-scale stays exact.
using Duration = std::chrono::nanoseconds;
/// A monotonic instant; real timers (asio::steady_timer) share this clock's epoch.
using TimePoint = std::chrono::steady_clock::time_point;

/// The source of `now`.
class Clock {
 public:
  virtual ~Clock() = default;
  /// The current instant.
  virtual TimePoint now() const = 0;
};

/// The real monotonic clock.
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  /// A process-wide instance, for code that has no clock injected.
  static const SteadyClock& instance() {
    static const SteadyClock clock;
    return clock;
  }
};

}  // namespace dropsim
