#pragma once
// What the control API can see of a live session and do to it: the words shared by
// Session (which answers), Proxy and Runtime (which pass them on) and the API.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dropsim {

/// Where a session is in its life, as the API lists it. Only `connecting` and `open`
/// count as active (dropsim_active_sessions); the other two have ended but still hold
/// sockets, so they are listed, with their state, until those are let go.
enum class SessionState {
  connecting,  ///< accepted; the upstream connect is under way
  open,        ///< both sides connected, bytes flow
  closing,     ///< ended: waiting for a peer's close reply, or for a close frame to drain
  blackholed,  ///< ended by forgetting the flow: its sides are held open and silent
};
std::string_view to_string(SessionState s);

/// One live session as GET /dropsim/sessions shows it. Every duration is in real seconds;
/// `time_scale` lets the API add each one in profile time beside it.
struct SessionInfo {
  struct Way {
    std::uint64_t bytes = 0;
    std::array<std::uint64_t, 4> frames{};  ///< by FrameKind: data messages, ping, pong, close
    std::optional<double> idle_s;           ///< time since its last byte (nullopt: none yet)
  };
  struct Timer {
    std::string name;
    std::optional<double> fires_in_s;  ///< nullopt: not running now (never negative)
  };
  std::uint64_t id = 0;
  std::string proxy;
  std::string client;  ///< "127.0.0.1:51234"
  double age_s = 0;
  double time_scale = 1.0;  ///< the session's profile's: real seconds per profile second
  SessionState state = SessionState::connecting;
  bool connected = false;  ///< the upstream connection is up and the session has not ended
  bool websocket = false;
  std::array<Way, 2> ways;  ///< by Direction
  std::vector<Timer> timers;
  std::vector<std::string> toxics;  ///< names of the toxics this session got
};

/// What POST /dropsim/.../sessions/.../act does to a session.
enum class SessionAction {
  rst,        ///< RST both sides
  fin,        ///< FIN both sides
  blackhole,  ///< forget the flow: silence, then RST to whatever arrives
  ws_close,   ///< a close frame with `code` and `reason` to both sides (FIN where no WebSocket)
  drain,      ///< what a restarting server does: close 1001 "going away" to the client, FIN upstream
  reload,     ///< what the session's profile says its system does on a config reload (`reload:`)
};
std::string_view to_string(SessionAction a);
std::optional<SessionAction> parse_session_action(std::string_view text);
/// "rst, fin, blackhole, ws_close, drain"
std::string session_action_names();

/// What an action did to one session.
enum class ActResult {
  none,      ///< the session had ended already: nothing to do
  acted,     ///< it closed (or blackholed) the session
  released,  ///< a drain let go of the held sockets of a session blackholed before
};

/// What an action did to the sessions it reached; only `acted` ones are counted as acted on.
struct ActionTally {
  std::size_t acted = 0;
  std::size_t released = 0;  ///< blackholed sessions whose held sockets a drain let go
  std::size_t ended = 0;     ///< sessions already ending, left as they were
  void add(ActResult r);
};

/// An action with its close frame.
struct ActionRequest {
  SessionAction action = SessionAction::rst;
  std::uint16_t code = 1001;  ///< ws_close / drain
  std::string reason;         ///< ws_close / drain ("going away" by default for drain)
};

}  // namespace dropsim
