#pragma once
// A clock that moves only when told to: what unit tests inject.

#include "clock.h"

namespace dropsim {

/// A Clock whose time moves only by advance().
class ManualClock final : public Clock {
 public:
  /// Starts at an arbitrary but fixed instant (not the epoch, so "zero" bugs show).
  ManualClock() : now_(TimePoint{} + std::chrono::hours(1000)) {}
  TimePoint now() const override { return now_; }
  /// Moves time forward by `d`.
  void advance(Duration d) { now_ += d; }

 private:
  TimePoint now_;
};

}  // namespace dropsim
