#pragma once
// What the control API can see of a live session and do to it: the words shared by
// Session (which answers), Proxy and Runtime (which pass them on) and the API.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dropsim {

/// One live session as GET /dropsim/sessions shows it.
struct SessionInfo {
  struct Way {
    std::uint64_t bytes = 0;
    std::array<std::uint64_t, 4> frames{};  ///< by FrameKind: data messages, ping, pong, close
    std::optional<double> idle_s;           ///< time since its last byte (nullopt: none yet)
  };
  struct Timer {
    std::string name;
    std::optional<double> fires_in_s;  ///< nullopt: not running now
  };
  std::uint64_t id = 0;
  std::string proxy;
  std::string client;  ///< "127.0.0.1:51234"
  double age_s = 0;
  bool connected = false;  ///< the upstream connection is up
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
};
std::string_view to_string(SessionAction a);
std::optional<SessionAction> parse_session_action(std::string_view text);
/// "rst, fin, blackhole, ws_close, drain"
std::string session_action_names();

/// An action with its close frame.
struct ActionRequest {
  SessionAction action = SessionAction::rst;
  std::uint16_t code = 1001;  ///< ws_close / drain
  std::string reason;         ///< ws_close / drain ("going away" by default for drain)
};

}  // namespace dropsim
