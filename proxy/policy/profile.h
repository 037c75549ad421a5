#pragma once
// A resolved profile: plain data, every setting substituted and every duration scaled.
// This is what the policy runs. profile_yaml.{h,cpp} turns YAML into it (and back);
// nothing else knows YAML.

#include <array>
#include <cstdint>
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

/// One close action per side, with the details the WebSocket and HTTP actions need.
struct SideActions {
  CloseAction client = CloseAction::fin;    ///< what the client observes
  CloseAction upstream = CloseAction::fin;  ///< what the upstream server observes
  std::uint16_t ws_code = 1000;  ///< ws_close: the close code (1001 going away, 1009 too big, ...)
  std::string ws_reason;         ///< ws_close: the reason text (at most 123 bytes)
  int http_status = 504;         ///< http_status: the status sent before the upgrade

  /// The action for `s`.
  CloseAction operator[](Side s) const { return s == Side::client ? client : upstream; }
  bool operator==(const SideActions&) const = default;
};

/// The WebSocket frame kinds timers and counters tell apart.
enum class FrameKind : std::uint8_t { data = 0, ping = 1, pong = 2, close = 3 };

/// All four kinds, in index order.
inline constexpr std::array<FrameKind, 4> kFrameKinds{FrameKind::data, FrameKind::ping, FrameKind::pong,
                                                      FrameKind::close};

/// The bit of `k` in a frame-kind mask (data 1, ping 2, pong 4, close 8: ws_frame.h's bits).
constexpr std::uint8_t bit(FrameKind k) { return static_cast<std::uint8_t>(1u << static_cast<unsigned>(k)); }

/// What resets an idle timer (`reset_on:`): WebSocket frame kinds, as a set, and whether
/// TCP keepalive probes count. Bytes that are not WebSocket frames (HTTP before the
/// upgrade, tcp mode) always count.
struct FrameKinds {
  bool data = true;   ///< text, binary and continuation frames
  bool ping = true;   ///< pings
  bool pong = true;   ///< pongs
  bool close = true;  ///< close frames
  /// TCP keepalive probes (segments without data that the peer's kernel sends) count, as
  /// at an L4 balancer or a NAT that sees every packet; a proxy that terminates TCP never
  /// sees them (its kernel answers them), hence off by default.
  bool keepalive = false;

  /// True when `k` is in the set.
  constexpr bool contains(FrameKind k) const {
    switch (k) {
      case FrameKind::data: return data;
      case FrameKind::ping: return ping;
      case FrameKind::pong: return pong;
      case FrameKind::close: return close;
    }
    return false;
  }
  /// True when a chunk that touched the kinds in `mask` counts; mask 0 means "bytes that
  /// are not frames", which always count.
  constexpr bool counts(std::uint8_t mask) const {
    if (mask == 0) return true;
    for (FrameKind k : kFrameKinds) {
      if ((mask & bit(k)) != 0 && contains(k)) return true;
    }
    return false;
  }
  bool operator==(const FrameKinds&) const = default;
};

/// "data", "ping", "pong" or "close".
std::string_view to_string(FrameKind k);

/// What a blackholed side (a forgotten flow) gets when its peer sends again.
enum class BlackholeAnswer {
  rst,   ///< RST, as AWS NLB (and Azure with TCP reset on) answers a packet of a forgotten flow
  none,  ///< nothing at all: no ACK, no RST; the peer retransmits until it gives up (Azure's default)
};

/// What each side's peer gets from its forgotten flow. Not always the same: an AWS NAT
/// gateway answers the inside host with RST and drops what the outside one sends.
struct BlackholeAnswers {
  BlackholeAnswer client = BlackholeAnswer::rst;    ///< when the client sends to a blackholed flow
  BlackholeAnswer upstream = BlackholeAnswer::rst;  ///< when the server does

  /// The answer side `s`'s peer gets.
  BlackholeAnswer operator[](Side s) const { return s == Side::client ? client : upstream; }
  bool operator==(const BlackholeAnswers&) const = default;
};

/// "rst" or "none".
std::string_view to_string(BlackholeAnswer a);
/// Parses what to_string(BlackholeAnswer) prints.
std::optional<BlackholeAnswer> parse_blackhole_answer(std::string_view text);

/// What dropsim does with a client's WebSocket upgrade request (http mode).
struct HandshakePolicy {
  enum class Kind {
    forward,        ///< pass it on unchanged
    strip_upgrade,  ///< as nginx without proxy_http_version 1.1 + Upgrade/Connection headers:
                    ///< the upstream gets HTTP/1.0, Connection: close, no Upgrade header
    reject,         ///< answer `status` to the client and do not forward (Envoy without upgrade_configs: 403)
  };
  Kind kind = Kind::forward;
  int status = 403;  ///< reject: the status sent
  /// forward: the upgrade goes upstream without its Sec-WebSocket-Extensions offer, so no
  /// extension (permessage-deflate) is negotiated and frames carry exact message sizes.
  bool strip_extensions = false;
  /// strip_upgrade: after the upstream's answer the client connection stays open this long
  /// (nginx's keepalive_timeout), and each further request on it goes over a new upstream
  /// connection, rewritten the same way; 0 closes it after the answer.
  Duration keepalive{0};
  bool operator==(const HandshakePolicy&) const = default;
};

/// Frame and message size limits (http mode, after the upgrade); 0 means none.
struct MessageLimits {
  std::uint64_t max_frame = 0;    ///< payload bytes of one frame
  std::uint64_t max_message = 0;  ///< payload bytes of one (possibly fragmented) message
  SideActions on_exceed{CloseAction::ws_close, CloseAction::ws_close, 1009, "Message too big", 504};
  bool operator==(const MessageLimits&) const = default;
};

/// One timer of a profile, named as the real system names it.
struct TimerSpec {
  std::string name;                      ///< e.g. "proxy_read_timeout"
  TimerKind kind = TimerKind::idle;      ///< which mechanism
  std::optional<Duration> timeout;       ///< nullopt: disabled (e.g. HAProxy without timeout tunnel)
  DirectionSet reset_by = DirectionSet::both();  ///< idle: traffic that resets it
  Direction direction = Direction::downstream;   ///< blocked_write: the direction written
  Duration rearm_granularity{0};  ///< idle: a deadline moves only by at least this (nginx: 300ms)
  /// idle: does not run while a write in this direction is blocked, and restarts with its
  /// full timeout when that write drains (nginx deletes proxy_read_timeout while its buffer
  /// toward a stalled client is full). nullopt: runs regardless.
  std::optional<Direction> paused_while_blocked;
  FrameKinds reset_on;            ///< idle: which WebSocket frames count as traffic
  Phases phases;                  ///< when it runs
  SideActions on_expiry;          ///< what each side observes when it fires
};

/// A tunable as the real system names it, with its current value (for display).
struct Setting {
  std::string name;           ///< e.g. "proxy_read_timeout"
  std::string type;           ///< "duration", "bool", "action" or "size"
  std::string value;          ///< canonical text of the value in force
  std::string default_value;  ///< canonical text of the profile's default
  std::string doc;            ///< one line: what it means in the real system
  std::string min;            ///< canonical text of the real system's lowest value; "" none
  std::string max;            ///< canonical text of the real system's highest value; "" none
  std::string range_doc;      ///< where the range is documented; "" when only `doc` says it
  std::string scaled_value;   ///< a duration's value after --time-scale; "" when not scaled
};

/// Upstream connect behaviour.
struct ConnectPolicy {
  Duration timeout = std::chrono::seconds(5);     ///< give up one attempt after this
  CloseAction on_failure = CloseAction::fin;      ///< what the client observes when every attempt failed
  int http_status = 502;    ///< on_failure http_status: the status for a refused (or reset) connect
  int timeout_status = 502; ///< on_failure http_status: the status when the last attempt timed out
  /// on_failure http_status: after the status the client connection stays open (HTTP
  /// keep-alive) this long, then FIN; 0 closes at once ("Connection: close").
  Duration keepalive{0};
  unsigned retries = 0;       ///< attempts after the first one (HAProxy `retries`)
  Duration retry_interval{0}; ///< wait before a retry that follows a refused connect
  bool operator==(const ConnectPolicy&) const = default;
};

/// A fully resolved profile.
struct Profile {
  std::string name;         ///< e.g. "nginx"
  std::string description;  ///< one line, for `dropsim profiles`
  std::string source;       ///< where it came from: "profiles/nginx.yaml" or a path
  Mode mode = Mode::tcp;
  ConnectPolicy connect;
  HalfClosePolicy half_close;
  HandshakePolicy handshake;  ///< http mode: what happens to a WebSocket upgrade request
  MessageLimits limits;       ///< http mode: frame/message size limits after the upgrade
  std::vector<TimerSpec> timers;
  /// What the real system does to an open session when its configuration is reloaded
  /// (the API's and the config schedule's `reload` action): Caddy 2.6 closes every
  /// WebSocket with close 1001 both ways. nullopt: a reload leaves sessions alone (nginx
  /// and HAProxy hand them to old workers), and the action is refused.
  std::optional<SideActions> reload;
  /// A blackholed side (a forgotten flow) is held open and silent until its peer sends
  /// something, which meets RST (blackhole_answer none: which goes unanswered too); a peer that never does is released silently after this,
  /// as the real one would have given up retransmitting or been reaped. Bounds the
  /// descriptors a dead peer can pin.
  Duration blackhole_hold = std::chrono::minutes(15);
  /// What the peer of a blackholed side gets when it sends: RST, or no answer at all.
  BlackholeAnswers blackhole_answer;
  std::vector<Setting> settings;
  double time_scale = 1.0;  ///< already applied to every duration above
  /// "FILE:LINE:COL: warning: ..." for what loads but the real system would not take (a
  /// setting outside its documented range); `--strict` turns them into errors.
  std::vector<std::string> warnings;
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
