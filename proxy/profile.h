#pragma once
// A resolved profile: plain data, every setting substituted and every duration scaled.
// This is what the policy runs. profile_yaml.{h,cpp} turns YAML into it (and back);
// nothing else knows YAML.

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "clock.h"
#include "close_action.h"
#include "direction.h"

namespace dropsim {

/// What dropsim understands of the bytes: `tcp` none; `http` the HTTP/1.1 handshake and,
/// after a 101, WebSocket frames (until that lands, http profiles act on bytes).
enum class Mode { tcp, http };

/// The mechanisms of DESIGN.md "The profile model".
enum class TimerKind {
  idle,           ///< fires after `timeout` without traffic in `reset_by`
  blocked_write,  ///< fires when a write in `direction` makes no progress for `timeout`
  lifetime,       ///< fires `timeout` after the connection opened, idle or not
};

/// What happens when one side sends FIN.
enum class HalfClose {
  forward,     ///< pass the FIN on, keep the other direction flowing (HAProxy)
  close_both,  ///< close both sides at once (nginx upgraded connections)
};

/// The half-close rule for each peer's FIN. Real systems are not always symmetric:
/// HAProxy forwards a client's FIN on a tunnel but closes both sides on a server's FIN.
struct HalfClosePolicy {
  HalfClose client_fin = HalfClose::forward;  ///< when the client sends FIN
  HalfClose server_fin = HalfClose::forward;  ///< when the upstream server sends FIN

  /// The rule for a FIN ending direction `d` (upstream: the client's FIN).
  HalfClose operator[](Direction d) const { return d == Direction::upstream ? client_fin : server_fin; }
  bool operator==(const HalfClosePolicy&) const = default;
};

/// The states of a session's two directions a timer runs in (its `while:` list).
struct Phases {
  bool open = true;                 ///< neither side has sent FIN
  bool upstream_finished = true;    ///< the client sent FIN (forwarded), the server still talks
  bool downstream_finished = true;  ///< the server sent FIN (forwarded), the client still talks
  bool operator==(const Phases&) const = default;
};

/// One close action per side.
struct SideActions {
  CloseAction client = CloseAction::fin;    ///< what the client observes
  CloseAction upstream = CloseAction::fin;  ///< what the upstream server observes

  /// The action for `s`.
  CloseAction operator[](Side s) const { return s == Side::client ? client : upstream; }
  bool operator==(const SideActions&) const = default;
};

/// One timer of a profile, named as the real system names it.
struct TimerSpec {
  std::string name;                      ///< e.g. "proxy_read_timeout"
  TimerKind kind = TimerKind::idle;      ///< which mechanism
  std::optional<Duration> timeout;       ///< nullopt: disabled (e.g. HAProxy without timeout tunnel)
  DirectionSet reset_by = DirectionSet::both();  ///< idle: traffic that resets it
  Direction direction = Direction::downstream;   ///< blocked_write: the direction written
  Duration rearm_granularity{0};  ///< idle: a deadline moves only by at least this (nginx: 300ms)
  Phases phases;                  ///< when it runs
  SideActions on_expiry;          ///< what each side observes when it fires
};

/// A tunable as the real system names it, with its current value (for display).
struct Setting {
  std::string name;           ///< e.g. "proxy_read_timeout"
  std::string type;           ///< "duration", "bool" or "action"
  std::string value;          ///< canonical text of the value in force
  std::string default_value;  ///< canonical text of the profile's default
  std::string doc;            ///< one line: what it means in the real system
};

/// Upstream connect behaviour.
struct ConnectPolicy {
  Duration timeout = std::chrono::seconds(5);     ///< give up connecting after this
  CloseAction on_failure = CloseAction::fin;      ///< what the client observes then
};

/// A fully resolved profile.
struct Profile {
  std::string name;         ///< e.g. "nginx"
  std::string description;  ///< one line, for `dropsim profiles`
  std::string source;       ///< where it came from: "profiles/nginx.yaml" or a path
  Mode mode = Mode::tcp;
  ConnectPolicy connect;
  HalfClosePolicy half_close;
  std::vector<TimerSpec> timers;
  std::vector<Setting> settings;
  double time_scale = 1.0;  ///< already applied to every duration above
};

/// "tcp" or "http".
std::string_view to_string(Mode m);
/// "idle", "blocked_write" or "lifetime".
std::string_view to_string(TimerKind k);
/// "forward" or "close_both".
std::string_view to_string(HalfClose h);
/// Parses what to_string(Mode) prints.
std::optional<Mode> parse_mode(std::string_view text);
/// Parses what to_string(TimerKind) prints.
std::optional<TimerKind> parse_timer_kind(std::string_view text);
/// Parses what to_string(HalfClose) prints.
std::optional<HalfClose> parse_half_close(std::string_view text);

}  // namespace dropsim
