#pragma once
// A run of like events (failed accepts, refused clients) logged as two lines, not one per
// event: a warning when the run starts and one line with the count when it ends, so a
// flood cannot flood the log. Counters, not these lines, are what /metrics shows. Pure:
// the caller passes `now`.

#include <cstdint>
#include <optional>

#include "clock.h"

namespace dropsim {

/// One episode at a time of a kind of event.
class Episode {
 public:
  /// What an ended episode held.
  struct Summary {
    std::uint64_t count = 0;  ///< events in it
    Duration lasted{0};       ///< from its first event to its end
  };

  /// Counts an event; true when it starts an episode (log it then).
  bool add(TimePoint now);
  /// Ends the episode running, if any, and says what it held; nullopt when none ran.
  std::optional<Summary> end(TimePoint now);

 private:
  std::uint64_t count_ = 0;
  TimePoint since_{};
};

}  // namespace dropsim
