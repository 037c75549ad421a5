// Session, its life (the diagram in session.h): start, run a pipe each way and the
// watchdog, react to what the pipes and the timers report, begin closing once, and
// release once every socket is closed.
#include "session.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <fmt/format.h>

#include "await.h"
#include "session_io.h"

namespace dropsim {
namespace {

asio::ip::tcp::socket make_socket_like(asio::ip::tcp::socket& s) {
  return asio::ip::tcp::socket(s.get_executor());
}

}  // namespace

Session::Session(std::uint64_t id, asio::ip::tcp::socket client,
                 std::shared_ptr<SessionContext> context)
    : id_(id),
      context_(std::move(context)),
      profile_(context_->profile),
      sockets_{make_socket_like(client), make_socket_like(client)},
      pipes_{Pipe(Direction::upstream, sockets_[index(Side::client)], sockets_[index(Side::upstream)],
                  context_->pool, *this, &context_->splice),
             Pipe(Direction::downstream, sockets_[index(Side::upstream)], sockets_[index(Side::client)],
                  context_->pool, *this, &context_->splice)},
      policy_(*profile_, context_->clock->now()),
      inspector_(*profile_, policy_),
      clock_(profile_->time_scale),
      timer_(client.get_executor()) {
  sockets_[index(Side::client)] = std::move(client);
}

Session::~Session() = default;

void Session::start() {
  // A session's events begin with `open`: the toxics' `fault` events follow it, and an
  // /events stream filtered by proxy learns the connection from it.
  context_->log->event(spdlog::level::info, id_, "open",
                       fmt::format("accepted {} on {}, connecting to upstream {} (profile {})",
                                   endpoint_text(socket(Side::client)), context_->proxy_name,
                                   context_->upstream_label, profile_->name),
                       {{"client", endpoint_text(socket(Side::client))},
                        {"proxy", context_->proxy_name},
                        {"upstream", context_->upstream_label},
                        {"profile", profile_->name}});
  apply_toxics(context_->toxics);
  asio::co_spawn(timer_.get_executor(), [self = shared_from_this()] { return self->run(); },
                 asio::detached);
}

asio::awaitable<void> Session::run() {
  // Every write to a peer is non-blocking from the first (an HTTP status to a client
  // that does not read must not stall the thread).
  std::error_code nb_ec;
  socket(Side::client).non_blocking(true, nb_ec);
  if (!co_await connect_upstream()) co_return;

  for (auto& s : sockets_) {
    std::error_code ec;
    s.non_blocking(true, ec);
    // A proxy must not add Nagle delays to small WebSocket frames (nginx: tcp_nodelay on).
    s.set_option(asio::ip::tcp::no_delay(true), ec);
  }
  const auto ex = timer_.get_executor();
  auto self = shared_from_this();
  for (Direction d : kDirections) {
    asio::co_spawn(ex, [self, d] { return self->pump(d); }, asio::detached);
  }
  if (phase_ == Phase::connecting) phase_ = Phase::open;  // not when a pipe's first turn began closing
  if (closing()) co_return;
  // The baseline that later readings count probes from: two getsockopt per session.
  sample_keepalives(now(), true);
  arm_watchdog();
}

asio::awaitable<void> Session::pump(Direction d) {
  const PipeResult r = co_await pipes_[index(d)].run();
  if (closing()) co_return;
  switch (r.end) {
    case PipeResult::End::finished: on_fin(d); break;
    case PipeResult::End::failed: on_failed(r.side, r.error); break;
    case PipeResult::End::cut: on_problem(); break;
    case PipeResult::End::limited: on_limited(d); break;
    case PipeResult::End::stopped: break;
  }
}

void Session::on_problem() {
  const Problem& p = *inspector_.problem();
  // A refused handshake answers the client before closing, as Envoy's 403 does.
  begin_closing("closed: " + p.reason, p.actions, p.cause, std::nullopt, p.reply_to_client);
}

void Session::arm_watchdog() {
  // Activity only moves deadlines later, so this sleeps until the deadline it saw,
  // re-asks the policy, and sleeps again while the real deadline is still ahead. A plain
  // handler, not a coroutine: an idle session's wait is then one small operation rather
  // than a spawned frame, its own frame and the wait's (~850 B). It holds the session as
  // the coroutine did, until the session is closing.
  const auto deadline = next_deadline();
  timer_.expires_at(deadline ? *deadline : TimePoint::max());
  timer_.async_wait([self = shared_from_this()](const std::error_code&) { self->on_watchdog(); });
}

void Session::on_watchdog() {
  if (closing()) return;
  if (fire_faults(now())) return;
  // Probes read now may keep alive a timer that is due: read before asking.
  sample_keepalives(now(), false);
  // An expiry usually ends the session; a half_close one leaves it running, timed on.
  if (const auto e = policy_.expired(now())) on_expiry(*e);
  if (!closing()) arm_watchdog();
}

Verdict Session::on_chunk(Direction d, std::span<const char> bytes) {
  const Verdict v = inspector_.inspect(d, bytes, now());
  if (auto notice = inspector_.take_notice()) {
    context_->log->event(spdlog::level::info, id_, inspector_.websocket() ? "upgrade" : "handshake", *notice);
  }
  count_metrics();
  return v;
}

bool Session::opaque(Direction d) const { return inspector_.opaque(d); }

void Session::on_passed(Direction d, std::size_t n) {
  inspector_.count(d, n, now());
  count_metrics();
}

void Session::on_write_blocked(Direction d, std::size_t pending) {
  policy_.on_write_blocked(d, pending, now());
  reschedule();
}

void Session::on_write_progress(Direction d, std::size_t pending) {
  policy_.on_write_progress(d, pending, now());
  reschedule();  // a timer paused while the write was blocked runs again
}

void Session::reschedule() {
  // Before the watchdog runs, timer_ times the upstream connect: not ours to cancel.
  if (phase_ != Phase::open) return;
  const auto deadline = next_deadline();
  if (deadline && *deadline < timer_.expiry()) timer_.cancel();
}

std::optional<TimePoint> Session::next_deadline() const {
  auto deadline = policy_.next_deadline();
  const auto earlier = [&](std::optional<TimePoint> t) {
    if (t && (!deadline || *t < *deadline)) deadline = t;
  };
  earlier(fault_deadline());
  for (Direction d : kDirections) earlier(policy_.next_keepalive_sample(d));
  return deadline;
}

void Session::sample_keepalives(TimePoint at, bool every_side) {
  for (Direction d : kDirections) {
    if (!every_side && !policy_.needs_keepalive_sample(d, at)) continue;
    auto& sock = socket(source(d));
    const auto counters = sock.is_open() ? read_segment_counters(sock.native_handle()) : std::nullopt;
    auto& last = counters_[index(source(d))];
    // Reported even when unreadable (0 probes), so that the next reading moves on rather
    // than waking the watchdog again at once.
    policy_.on_keepalive_sample(d, last && counters ? probes_between(*last, *counters) : 0, at);
    if (counters) last = counters;
  }
}

void Session::on_fin(Direction d) {
  if (direction_closed_[index(d)]) return;  // the EOF our own shutdown(SHUT_RD) produced
  policy_.on_finished(d, now());
  const Side from = source(d);
  if (profile_->half_close[d] == HalfClose::close_both) {
    begin_closing(fmt::format("closed: {} sent FIN and {} closes both sides when the {} half-closes",
                              peer(from), profile_->name, peer(from)),
                  SideActions{}, fmt::format("{}_fin", to_string(from)));
    return;
  }
  std::error_code ec;
  socket(destination(d)).shutdown(asio::socket_base::shutdown_send, ec);
  if (policy_.both_finished()) {
    begin_closing(fmt::format("closed: both sides sent FIN, the {} last", peer(from)), SideActions{},
                  "both_fin");
    return;
  }
  context_->log->event(spdlog::level::info, id_, "half_close",
                       fmt::format("{} sent FIN: forwarded to {}, {} still flows", peer(from),
                                   peer(destination(d)), flow(opposite(d))),
                       {{"from", to_string(from)}});
  reschedule();
}

void Session::on_failed(Side s, const std::error_code& ec) {
  const Side other = s == Side::client ? Side::upstream : Side::client;
  SideActions actions;  // the failed socket is dead already; the other one gets a FIN
  begin_closing(fmt::format("closed: {} failed ({})", peer(s), error_text(ec)), actions,
                fmt::format("{}_error", to_string(s)), other);
}

void Session::close_direction(const Expiry& e, Direction d) {
  // HAProxy ends only the expired side's direction: FIN toward its destination, no more
  // reads from its source, and the other direction keeps flowing under its own timer.
  const TimerSpec& t = *e.timer;
  ++context_->metrics->timer_firings[t.name];
  policy_.on_fired(t);
  policy_.on_finished(d, now());
  direction_closed_[index(d)] = true;
  pipes_[index(d)].stop();
  std::error_code ec;
  socket(source(d)).shutdown(asio::socket_base::shutdown_receive, ec);
  socket(destination(d)).shutdown(asio::socket_base::shutdown_send, ec);
  context_->log->event(spdlog::level::info, id_, "half_close_expiry",
                       fmt::format("{} expired after {} idle{}: {} ends (FIN to the {}); {} stays open",
                                   t.name, clock_.seconds(e.idle), clock_.real_note(e.idle), flow(d),
                                   peer(destination(d)), flow(opposite(d))),
                       {{"timer", t.name}, {"direction", to_string(d)}});
  if (policy_.both_finished()) begin_closing("closed: both directions have ended", SideActions{}, t.name);
}

void Session::on_expiry(const Expiry& e) {
  const TimerSpec& t = *e.timer;
  const TimePoint at = now();
  // How late the watchdog woke, in real time (the profile's timing is the clock's).
  context_->metrics->timer_lateness.add(std::chrono::duration<double>(at - e.deadline).count());
  // The loader pairs half_close with keep: one direction ends, the connection stays.
  if (t.on_expiry.upstream == CloseAction::half_close || t.on_expiry.client == CloseAction::half_close) {
    close_direction(e, t.on_expiry.upstream == CloseAction::half_close ? Direction::upstream : Direction::downstream);
    return;
  }
  ++context_->metrics->timer_firings[t.name];
  std::string what = "closed by " + t.name + " ";
  switch (t.kind) {
    case TimerKind::idle:
      // Probes that no timer counts are read too, for the close line to say so.
      sample_keepalives(at, true);
      what += fmt::format("after {} idle{}", clock_.seconds(e.idle), clock_.real_note(e.idle));
      // A WebSocket session tells its frames instead (see begin_closing()).
      if (!inspector_.websocket()) {
        what += fmt::format(" (client→server idle {}, server→client idle {})",
                            clock_.both(policy_.idle(Direction::upstream, at)),
                            clock_.both(policy_.idle(Direction::downstream, at)));
      }
      break;
    case TimerKind::blocked_write: {
      const DirectionActivity& a = policy_.activity(t.direction);
      const Duration blocked = at - a.blocked_since.value_or(at);
      what += fmt::format("after a write to {} made no progress for {}{} ({} bytes pending)",
                          peer(destination(t.direction)), clock_.seconds(blocked), clock_.real_note(blocked),
                          a.pending_bytes);
      break;
    }
    case TimerKind::lifetime: {
      const Duration age = at - policy_.opened_at();
      what += fmt::format("after {} of connection lifetime{}", clock_.seconds(age), clock_.real_note(age));
      break;
    }
  }
  begin_closing(what, t.on_expiry, t.name);
}

void Session::begin_closing(const std::string& what, const SideActions& actions, std::string_view cause,
                            std::optional<Side> describe_only, std::string client_reply) {
  if (closing()) return;
  phase_ = Phase::closing;
  timer_.cancel();
  // First, before any socket is touched: a pipe parked anywhere (a yield between chunks,
  // half a write) wakes to a stopped pipe and moves no further byte.
  for (Pipe& p : pipes_) p.stop();
  const TimePoint at = now();
  const bool websocket = inspector_.websocket();
  std::array<SideClose, 2> closed;
  // The server's side first, then the client's, as nginx and HAProxy close (tcpdump on
  // loopback: HAProxy's RST to the server 45 us before its FIN to the client).
  for (Side s : {Side::upstream, Side::client}) {
    closed[index(s)] = close_side(s, actions, s == Side::client ? std::move(client_reply) : std::string());
  }
  record_close(what, closed, cause, describe_only, at, websocket);
  release_if_closed();
}

void Session::close_now(std::string_view why) {
  begin_closing(fmt::format("closed: {}", why), SideActions{}, "shutdown");
  // The process is going away: a blackholed side is let go as it would be after its
  // hold, and what lingers or waits to be written is closed now.
  for (Side s : kSides) {
    release_blackholed(s, "at shutdown");
    std::error_code ec;
    socket(s).close(ec);
  }
  release_if_closed();
}

void Session::release_if_closed() {
  if (phase_ == Phase::released) return;
  for (const auto& s : sockets_) {
    if (s.is_open()) return;
  }
  phase_ = Phase::released;
  // Its descriptors are free: a proxy waiting at the session cap may accept again.
  if (context_->budget) context_->budget->give_back();
  if (context_->on_closed) context_->on_closed(id_);
}

SessionState Session::state() const {
  if (!closing()) return phase_ == Phase::open ? SessionState::open : SessionState::connecting;
  return holding() ? SessionState::blackholed : SessionState::closing;
}

}  // namespace dropsim
