#pragma once
// `dropsim demo`: a self-contained training-room show on loopback. An echo server, the
// `alb` profile at a compressed time scale, and two clients: one silent, one sending
// every 25 s. The silent one is dropped at "60 s"; the other survives, and the narration
// says why.

#include <ostream>

#include "event_log.h"

namespace dropsim {

/// Demo settings.
struct DemoOptions {
  double time_scale = 0.05;        ///< real seconds per profile second (0.05: 60 s → 3 s)
  double heartbeat_seconds = 25;   ///< client B's message interval, in profile seconds
  double run_seconds = 150;        ///< how long client B keeps going, in profile seconds
};

/// What the demo observed, for tests.
struct DemoResult {
  double silent_dropped_at = -1;    ///< profile seconds when client A saw its connection end; -1: never
  bool silent_saw_eof = false;      ///< client A saw a clean EOF (FIN), not a reset
  bool heartbeat_survived = false;  ///< client B was still connected at the end
  bool heartbeat_closed_cleanly = false;  ///< and then closed with 1000, answered by the server
  int heartbeat_round_trips = 0;    ///< messages client B got back
};

/// Runs the demo, narrating to `out`; the proxy's own log lines go to `log`.
/// Returns 0 when the story played out as told (A dropped at ~60 s, B survived).
int run_demo(const DemoOptions& options, std::ostream& out, EventLog& log,
             DemoResult* result = nullptr);

}  // namespace dropsim
