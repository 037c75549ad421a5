#pragma once
// The explanation users came for, as pure functions of the profile, what the session
// saw, and `now`: what each side will observe, what the heartbeats looked like, and how
// much margin each one had against each timer. No sockets; tests drive them with a
// ManualClock.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "clock.h"
#include "policy.h"
#include "profile.h"

namespace dropsim {

/// What one side was actually sent when a session ended (after any fallback).
struct SideClose {
  CloseAction action = CloseAction::fin;  ///< what was done
  std::optional<std::uint16_t> ws_code;   ///< a close frame went out with this code
  int http_status = 0;                    ///< an HTTP status went out (0: none)
  std::string fallback;                   ///< why the asked-for action became FIN, if it did
  BlackholeAnswer answer = BlackholeAnswer::rst;  ///< blackhole: what the peer's next packet gets
};

/// Durations in log lines: the profile's time, with --time-scale undone.
class Clockface {
 public:
  explicit Clockface(double time_scale) : scale_(time_scale) {}
  /// "61.200s" in profile time.
  std::string seconds(Duration real) const;
  /// "30.0s" in profile time, one decimal: for intervals and ages in a sentence.
  std::string short_seconds(Duration real) const;
  /// " (real 3.000s at time scale 0.05)" when scaled, else "": after a line's first duration.
  std::string real_note(Duration real) const;
  /// "61.200s (real 3.060s)" when scaled, else "61.200s": every later duration of a line
  /// (the first one's real_note named the scale).
  std::string both(Duration real) const;

 private:
  double scale_;
};

/// "FIN to client", "close 1001 (going away) to server, then FIN", ...: what a side got.
std::string describe_side(Side s, const SideClose& c);

/// For WebSocket sessions: what each side's application will observe, e.g.
/// "the client will see 1006 (no close frame), the server sees FIN".
std::string websocket_outcome(const Policy& policy, const SideClose& client, const SideClose& upstream);

/// For WebSocket sessions: "client→server: last data 61.2s ago, no pings; server→client:
/// no data, pings every 30.0s, last 30.0s ago".
std::string frame_story(const Policy& policy, TimePoint now, const Clockface& clock);

/// One heartbeat against one timer.
struct HeartbeatCheck {
  Direction direction;
  FrameKind kind;           ///< ping, or data when no pings were seen
  Duration interval;        ///< the mean interval observed
  std::string timer;        ///< the timer's name
  Duration timeout;         ///< its effective timeout (minus the lazy re-arm granularity)
  double margin = 0;        ///< timeout / interval
  std::string verdict;      ///< "ok", "will race", "too slow: will drop"
};

/// Every (direction with a heartbeat) × (idle timer it resets) pair.
std::vector<HeartbeatCheck> heartbeat_checks(const Profile& profile, const Policy& policy);

/// "client→server: no heartbeat: ping at least every 30s to survive idle_timeout 60s;
/// server→client: pings every 30.0s vs idle_timeout 60s: margin 2.0x, ok" — one sentence
/// for a log line; keepalive_summary() follows when probes were seen.
std::string heartbeat_summary(const Profile& profile, const Policy& policy, const Clockface& clock);

/// "ok", "will race" or "too slow: will drop": a heartbeat with `margin` (timeout ÷ interval).
std::string_view margin_verdict(double margin);

/// TCP keepalive probes, one clause per direction that sent any, against the idle timers
/// that count them: "TCP keepalive every 1.0s from the client counts for idle_timeout 3s:
/// margin 3.0x, ok"; for a profile that counts none, "TCP keepalive probes from the client
/// (9) do not reach alb (it terminates TCP; its kernel answers them): only data counts".
/// "" when no probe was seen.
std::string keepalive_summary(const Profile& profile, const Policy& policy, const Clockface& clock);

}  // namespace dropsim
