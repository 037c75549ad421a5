#pragma once
// One proxied connection: the accepted client, the upstream socket, a Pipe each way, the
// pure Policy, and one watchdog timer.
//
//              ┌───────────────────── Session C7 ──────────────────────┐
//   client ───►│ sockets_[client]  Pipe[upstream]   sockets_[upstream] │───► server
//   client ◄───│                   Pipe[downstream]                    │◄─── server
//              │ Policy (profile + activity + now) ◄── watchdog timer  │
//              └───────────────────────────────────────────────────────┘
//
// Everything runs on one io_context thread: no locks. Coroutines hold the Session
// alive; it ends when every socket is closed and they have unwound.
//
// Its life (phase_) goes one way:
//
//   connecting ──upstream connected──► open ── each direction may end alone, the session
//       │                               │      going on: its source's FIN is forwarded
//       │                               │      (on_fin), or a half_close timer ends it
//       │                               │      (close_direction)
//       │ upstream unreachable,         │ both directions ended, a timer, a fault, the API,
//       │ close_now                     │ a peer's error or refused bytes, close_now
//       ▼                               │
//     closing ◄─────────────────────────┘ begin_closing(what, actions, cause), once: the
//       │  pipes stop, each side is closed as `actions` says, the close line is logged;
//       │  a side may still linger for a close reply, drain a frame or a status, or be
//       │  held blackholed
//       ▼ release_if_closed(): the last socket is closed
//     released: the budget's slot given back, on_closed called; the coroutines unwind
//
// The watchdog also reads each socket's TCP_INFO counters when the policy asks (a timer
// that counts TCP keepalive probes, which the kernel answers and dropsim never reads:
// tcp_counters.h), at the open, and when an idle timer fires.
//
// The API's SessionState says connecting, open, or closing (blackholed while a blackholed
// side is held). Files: session.cpp (this life), session_connect.cpp (the upstream connect
// and the HTTP status when it fails), session_close.cpp (closing one side),
// session_faults.cpp (toxics, API actions), session_report.cpp (log lines, metrics, info).

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
#include "splice_pool.h"
#include "clock.h"
#include "event_log.h"
#include "explain.h"
#include "inspector.h"
#include "metrics.h"
#include "pipe.h"
#include "policy.h"
#include "profile.h"
#include "resolver.h"
#include "session_budget.h"
#include "session_control.h"
#include "tcp_counters.h"
#include "toxic.h"

namespace dropsim {

/// What every session of one proxy shares. Held by shared_ptr so that sessions still
/// unwinding never outlive it.
struct SessionContext {
  std::string proxy_name;                            ///< for log lines
  std::shared_ptr<const Profile> profile;            ///< the profile new sessions use
  HostPort upstream_address;                         ///< the upstream as given
  std::vector<asio::ip::tcp::endpoint> upstream;     ///< an IP literal's endpoint; empty: look up per connection
  std::shared_ptr<const Resolver> resolver;          ///< looks the upstream's name up
  std::string upstream_label;                        ///< "127.0.0.1:3000", for log lines
  const Clock* clock = &SteadyClock::instance();     ///< the source of `now`
  EventLog* log = nullptr;                           ///< connection events
  BufferPool pool;                                   ///< chunks for every pipe
  SplicePool splice;                                 ///< kernel pipes for opaque bytes
  std::function<void(std::uint64_t)> on_closed;      ///< called once when a session ends
  std::shared_ptr<ProxyMetrics> metrics = std::make_shared<ProxyMetrics>();  ///< the proxy's counters
  std::uint64_t seed = 0;                            ///< toxicity rolls and jitter (`--seed`)
  std::vector<Toxic> toxics;                         ///< the proxy's toxics; new sessions get these
  std::shared_ptr<SessionBudget> budget;             ///< the process's session cap (null: none)
  /// After dropsim's close frame: how long it waits for the peer's reply and EOF, and for
  /// a socket that cannot take the frame at once to drain (--drain-timeout).
  Duration close_wait = std::chrono::seconds(2);
};

/// One client connection and its upstream.
class Session final : public std::enable_shared_from_this<Session>, private PipeObserver {
 public:
  /// Takes the accepted client socket; start() begins the work.
  Session(std::uint64_t id, asio::ip::tcp::socket client, std::shared_ptr<SessionContext> context);
  ~Session() override;

  /// Connects upstream, then runs both pipes and the watchdog.
  void start();
  /// Closes the session now, FIN to both sides, and lets go of every socket it still
  /// holds, lingering or blackholed (the proxy is stopping).
  void close_now(std::string_view why);
  /// Logs one line about the live session: activity, frames, heartbeat margins, timers.
  void report();
  /// The proxy's toxics are now `toxics`: new ones are rolled for (toxicity) and start
  /// acting now, on this already-open connection too; removed ones stop (held bytes flow).
  void apply_toxics(const std::vector<Toxic>& toxics);
  /// Does what the API asked: RST, FIN, blackhole, a close frame, a drain; says whether it
  /// did. A session that has ended is left alone (none), except that a drain lets go of
  /// its blackholed sides, silently where possible (released).
  ActResult act(const ActionRequest& request);
  /// What the API shows of this session.
  SessionInfo info() const;
  /// Where it is in its life (connecting, open, closing, blackholed).
  SessionState state() const;
  /// The connection id ("C7" in logs).
  std::uint64_t id() const { return id_; }

 private:
  /// Where the session is in its life (the diagram above).
  enum class Phase {
    connecting,  ///< the upstream connect (or the answer to its failure) is under way
    open,        ///< both pipes and the watchdog run
    closing,     ///< begin_closing ran: no byte moves; sockets may still be held
    released,    ///< every socket closed, on_closed called
  };

  // session.cpp: the life
  asio::awaitable<void> run();
  /// Runs the pipe of `d` and hands how it ended to on_fin, on_failed, on_problem or on_limited.
  asio::awaitable<void> pump(Direction d);
  /// The watchdog: sets timer_ for the next timer or fault deadline and waits for it.
  void arm_watchdog();
  /// timer_ fired or was cancelled (a deadline moved earlier): fires what is due, then
  /// arms again unless the session is closing.
  void on_watchdog();
  // PipeObserver
  Verdict on_chunk(Direction d, std::span<const char> bytes) override;
  bool opaque(Direction d) const override;
  void on_passed(Direction d, std::size_t n) override;
  void on_write_blocked(Direction d, std::size_t pending) override;
  void on_write_progress(Direction d, std::size_t pending) override;
  /// Wakes the watchdog if the policy's next deadline moved earlier than its timer.
  void reschedule();
  /// Reads the kernel's counters of the socket that is the source of each direction that
  /// needs it now (every open one when `every_side`), and tells the policy how many TCP
  /// keepalive probes came since the last reading (tcp_counters.h).
  void sample_keepalives(TimePoint at, bool every_side);
  /// The source of `d` sent FIN: forward it or close both, per the profile.
  void on_fin(Direction d);
  /// A socket failed (reset, broken pipe): the other side gets a FIN.
  void on_failed(Side s, const std::error_code& ec);
  /// A peer sent something the inspector refuses (a bad frame, a refused upgrade).
  void on_problem();
  /// A timer fired: log why, then act on each side.
  void on_expiry(const Expiry& e);
  /// A half_close timer fired: close direction `d` only (FIN toward its destination).
  void close_direction(const Expiry& e, Direction d);
  /// The one way a session ends (open or connecting → closing; later calls do nothing):
  /// stops both pipes (no byte moves after this), closes each side as `actions` says, and
  /// logs the close line: `what` then what each side observed (only `describe_only`'s,
  /// when given). `client_reply` goes to the client first (a refused handshake's status).
  void begin_closing(const std::string& what, const SideActions& actions, std::string_view cause,
                     std::optional<Side> describe_only = std::nullopt, std::string client_reply = {});
  /// closing → released once every socket is closed: gives the budget's slot back and
  /// calls on_closed, once. Called wherever a socket may have been the last one open.
  void release_if_closed();
  /// True once begin_closing ran (closing or released).
  bool closing() const { return phase_ >= Phase::closing; }

  // session_connect.cpp: the upstream connect, and the answer when it fails
  asio::awaitable<bool> connect_upstream();
  /// How the connect attempts ended: "" when connected, else why not ("Connection refused
  /// after 4 attempts (3 retries)"); `timed_out` tells whether the last attempt timed out.
  asio::awaitable<std::string> attempt_connects(bool& timed_out);
  /// mode http, on_failure http_status: reads the client's request head, answers `status`,
  /// then holds the connection for connect.keepalive (HTTP keep-alive) and closes it.
  asio::awaitable<void> answer_unreachable(const std::string& why, int status);
  /// Reads from the client until a request head ("\r\n\r\n") arrived, for at most
  /// `limit`; false on EOF, an error, the time limit or an oversized head.
  asio::awaitable<bool> read_request_head(std::string& buffer, Duration limit);

  // session_close.cpp: closing one side
  /// Closes one side the way `actions` says for it, `reply` written first; returns what it
  /// actually got.
  SideClose close_side(Side s, const SideActions& actions, std::string reply = {});
  /// The close frame for `s`, or "" with `why_not` set when none is possible.
  std::string close_frame(Side s, std::uint16_t code, const std::string& reason, std::string& why_not) const;
  /// Writes `bytes` (a close frame, an HTTP status) to side `s` whole, then closes it as
  /// `then` says: ws_close (FIN, then linger_closed), rst, or FIN for anything else. Never
  /// blocks the thread: what the socket does not take at once is written as it drains,
  /// for at most close_wait. Returns "" when the bytes went out or are on their way, else
  /// why not (the side was then closed with FIN).
  std::string write_then_close(Side s, std::string bytes, CloseAction then);
  /// The part of write_then_close that waits: writes `rest`, then closes as `then` says;
  /// out of time, a side that took part of the bytes gets RST (a truncated frame followed
  /// by FIN would read as complete), one that took none a FIN.
  asio::awaitable<void> flush_then_close(Side s, std::string rest, std::size_t total, CloseAction then);
  /// Closes `s` as `then` says, its bytes written (see write_then_close).
  void close_after_write(Side s, CloseAction then);
  /// After our close frame and FIN to `s`: reads (and drops) until its EOF, at most
  /// context close_wait, then closes, so the closing handshake ends cleanly rather than
  /// with RST.
  asio::awaitable<void> linger_closed(Side s);
  /// Holds blackholed side `s` open and silent until its peer sends (answered with RST)
  /// or the profile's blackhole_hold passes (released silently).
  asio::awaitable<void> hold_blackholed(Side s);
  /// Lets go of blackholed side `s` without a packet where the kernel allows it: TCP_REPAIR
  /// (CAP_NET_ADMIN) makes close() send nothing, as the load balancer that forgot the flow
  /// sends nothing; without that right, RST, which the peer's next packet would have met.
  /// `why` goes in the log line. No-op when `s` is not held.
  void release_blackholed(Side s, std::string_view why);
  /// Marks side `s` no longer held, in the flags and the gauges.
  void unhold(Side s);
  /// True while a blackholed side is held.
  bool holding() const { return held_[0] || held_[1]; }

  // session_faults.cpp: toxics (apply_toxics and act are public)
  /// A toxic that got this session, with where it started counting.
  struct ActiveToxic {
    Toxic toxic;
    bool applies = false;                  ///< the toxicity roll said yes
    TimePoint since;                       ///< when it began acting here
    std::array<std::uint64_t, 2> bytes_at{};  ///< each direction's byte count then
  };
  /// Tells each pipe what its direction's toxics ask of it now.
  void update_pipe_faults();
  /// The earliest time a toxic acts on the session as a whole (reset_peer, timeout).
  std::optional<TimePoint> fault_deadline() const;
  /// When the watchdog must wake: the policy's next deadline or a toxic's, the earlier.
  std::optional<TimePoint> next_deadline() const;
  /// Fires the session-level toxics due at `at`; true when that ended the session.
  bool fire_faults(TimePoint at);
  /// A pipe carried all a limit allowed (limit_data, or reset_peer's `bytes`).
  void on_limited(Direction d);

  // session_report.cpp: log lines and metrics (report and info are public)
  /// begin_closing's record: counts the close (cause, WebSocket close code) and logs the
  /// close line (see begin_closing) and, for a WebSocket, the heartbeat line. `at` and
  /// `websocket` as they were before the sides were closed.
  void record_close(const std::string& what, const std::array<SideClose, 2>& closed, std::string_view cause,
                    std::optional<Side> describe_only, TimePoint at, bool websocket);
  /// Adds what the policy counted since the last call to the proxy's metrics.
  void count_metrics();

  asio::ip::tcp::socket& socket(Side s) { return sockets_[index(s)]; }
  TimePoint now() const { return context_->clock->now(); }

  std::uint64_t id_;
  std::shared_ptr<SessionContext> context_;
  std::shared_ptr<const Profile> profile_;  ///< this session's profile, fixed at accept
  std::array<asio::ip::tcp::socket, 2> sockets_;  ///< indexed by Side
  std::array<Pipe, 2> pipes_;                     ///< indexed by Direction
  Policy policy_;
  Inspector inspector_;  ///< HTTP and WebSocket view of the bytes (a no-op in tcp mode)
  Clockface clock_;      ///< durations in the profile's time, for log lines
  asio::steady_timer timer_;  ///< the upstream connect's while connecting, then the watchdog's
  Phase phase_ = Phase::connecting;
  std::array<bool, 2> direction_closed_{};  ///< by a half_close expiry, indexed by Direction
  std::array<bool, 2> held_{};  ///< blackholed and still held, indexed by Side
  /// Each socket's segment counters at the last reading, indexed by Side (nullopt: none yet).
  std::array<std::optional<SegmentCounters>, 2> counters_{};
  bool unanswered_ = false;     ///< a peer did not hang up within close_wait of our close frame
  std::vector<ActiveToxic> toxics_;
  std::array<std::uint64_t, 2> counted_bytes_{};                 ///< already in the metrics
  std::array<std::uint64_t, 2> counted_sent_{};                  ///< already in the metrics
  std::array<std::array<std::uint64_t, 4>, 2> counted_frames_{};  ///< already in the metrics
};

}  // namespace dropsim
