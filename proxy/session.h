#pragma once
// One proxied connection: the accepted client, the upstream socket, a Pipe each way, the
// pure Policy, and one watchdog timer.
//
//              ┌──────────────── Session C7 ─────────────────┐
//   client ───►│ sockets_[client]  Pipe[upstream]   sockets_[upstream] │───► server
//   client ◄───│                   Pipe[downstream]                    │◄─── server
//              │ Policy (profile + activity + now) ◄── watchdog timer  │
//              └───────────────────────────────────────────────────────┘
//
// Everything runs on one io_context thread: no locks. Coroutines hold the Session
// alive; it ends when every socket is closed and they have unwound.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "buffer_pool.h"
#include "clock.h"
#include "event_log.h"
#include "pipe.h"
#include "policy.h"
#include "profile.h"

namespace dropsim {

/// What every session of one proxy shares. Held by shared_ptr so that sessions still
/// unwinding never outlive it.
struct SessionContext {
  std::string proxy_name;                            ///< for log lines
  std::shared_ptr<const Profile> profile;            ///< the profile new sessions use
  std::vector<asio::ip::tcp::endpoint> upstream;     ///< where to connect, tried in order
  std::string upstream_label;                        ///< "127.0.0.1:3000", for log lines
  const Clock* clock = &SteadyClock::instance();     ///< the source of `now`
  EventLog* log = nullptr;                           ///< connection events
  BufferPool pool;                                   ///< chunks for every pipe
  std::function<void(std::uint64_t)> on_closed;      ///< called once when a session ends
};

/// One client connection and its upstream.
class Session final : public std::enable_shared_from_this<Session>, private PipeObserver {
 public:
  /// Takes the accepted client socket; start() begins the work.
  Session(std::uint64_t id, asio::ip::tcp::socket client, std::shared_ptr<SessionContext> context);
  ~Session() override;

  /// Connects upstream, then runs both pipes and the watchdog.
  void start();
  /// Ends the session now, FIN to both sides (process shutdown).
  void shut_down(std::string_view why);
  /// The connection id ("C7" in logs).
  std::uint64_t id() const { return id_; }

 private:
  asio::awaitable<void> run();
  asio::awaitable<bool> connect_upstream();
  asio::awaitable<void> pump(Direction d);
  asio::awaitable<void> watchdog();
  asio::awaitable<void> hold_blackholed(Side s);

  // PipeObserver
  void on_bytes(Direction d, std::size_t n) override;
  void on_write_blocked(Direction d, std::size_t pending) override;
  void on_write_progress(Direction d, std::size_t pending) override;

  /// The source of `d` sent FIN: forward it or close both, per the profile.
  void on_finished(Direction d);
  /// A socket failed (reset, broken pipe): the other side gets a FIN.
  void on_failed(Side s, const std::error_code& ec);
  /// A timer fired: log why, then act on each side.
  void on_expiry(const Expiry& e);
  /// Stops forwarding and closes each side as `actions` says; logs `why` as the close line.
  void end(const std::string& why, const SideActions& actions, std::string_view cause);
  /// A real duration in the profile's time (divided by --time-scale), for log lines.
  std::string profile_seconds(Duration real) const;
  /// " (real 3.000s at time scale 0.05)" when time is scaled, else "".
  std::string real_note(Duration real) const;
  /// Closes one side the way `a` says.
  void close_side(Side s, CloseAction a);
  /// Wakes the watchdog if the policy's next deadline moved earlier than its timer.
  void reschedule();
  /// Calls on_closed once every socket is closed.
  void maybe_done();
  asio::ip::tcp::socket& socket(Side s) { return sockets_[index(s)]; }
  TimePoint now() const { return context_->clock->now(); }

  std::uint64_t id_;
  std::shared_ptr<SessionContext> context_;
  std::shared_ptr<const Profile> profile_;  ///< this session's profile, fixed at accept
  std::array<asio::ip::tcp::socket, 2> sockets_;  ///< indexed by Side
  std::array<Pipe, 2> pipes_;                     ///< indexed by Direction
  Policy policy_;
  asio::steady_timer timer_;
  bool ending_ = false;  ///< an end was decided: pipe results no longer matter
  bool done_ = false;    ///< on_closed was called
};

}  // namespace dropsim
