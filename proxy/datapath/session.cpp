#include "session.h"

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <random>

#include "address.h"
#include "await.h"
#include "duration.h"
#include "explain.h"

namespace dropsim {
namespace {

std::string endpoint_text(const asio::ip::tcp::socket& s) {
  std::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  return address_text(ep);
}

std::string error_text(const std::error_code& ec) {
  if (ec == asio::error::connection_reset) return "connection reset (RST)";
  if (ec == asio::error::broken_pipe) return "broken pipe";
  return ec.message();
}

asio::ip::tcp::socket make_socket_like(asio::ip::tcp::socket& s) {
  return asio::ip::tcp::socket(s.get_executor());
}

bool would_block(const std::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

/// What write_within did: bytes written and, when short, why (timed_out: no room in time).
struct Written {
  std::size_t bytes = 0;
  std::error_code error;
};

/// Writes `bytes` to the non-blocking `sock`, waiting for room for at most `limit`: the
/// io thread never blocks on a peer that does not read.
asio::awaitable<Written> write_within(asio::ip::tcp::socket& sock, std::string_view bytes, Duration limit) {
  using namespace asio::experimental::awaitable_operators;
  Written w;
  asio::steady_timer deadline(sock.get_executor());
  deadline.expires_after(limit);
  while (w.bytes < bytes.size()) {
    std::error_code ec;
    w.bytes += sock.write_some(asio::buffer(bytes.data() + w.bytes, bytes.size() - w.bytes), ec);
    if (w.bytes == bytes.size()) break;
    if (ec && !would_block(ec)) {
      w.error = ec;
      break;
    }
    auto r = co_await (sock.async_wait(asio::socket_base::wait_write, kAwait) || deadline.async_wait(kAwait));
    if (r.index() == 1) {
      w.error = asio::error::timed_out;
      break;
    }
    if (const auto [wait_ec] = std::get<0>(r); wait_ec) {
      w.error = wait_ec;
      break;
    }
  }
  co_return w;
}

}  // namespace

Session::Session(std::uint64_t id, asio::ip::tcp::socket client,
                 std::shared_ptr<SessionContext> context)
    : id_(id),
      context_(std::move(context)),
      profile_(context_->profile),
      sockets_{make_socket_like(client), make_socket_like(client)},
      pipes_{Pipe(Direction::upstream, sockets_[index(Side::client)], sockets_[index(Side::upstream)],
                  context_->pool, *this),
             Pipe(Direction::downstream, sockets_[index(Side::upstream)], sockets_[index(Side::client)],
                  context_->pool, *this)},
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
  watching_ = true;
  asio::co_spawn(ex, [self] { return self->watchdog(); }, asio::detached);
}

asio::awaitable<bool> Session::connect_upstream() {
  const TimePoint started = now();
  bool timed_out = false;
  const std::string why = co_await attempt_connects(timed_out);
  if (ending_) co_return false;  // shut down while connecting
  if (why.empty()) {
    context_->log->event(spdlog::level::info, id_, "connected",
                         fmt::format("connected to upstream {} in {}", context_->upstream_label,
                                     clock_.seconds(now() - started), clock_.real_note(now() - started)));
    co_return true;
  }
  const ConnectPolicy& c = profile_->connect;
  if (profile_->mode == Mode::http && c.on_failure == CloseAction::http_status) {
    co_await answer_unreachable(why, timed_out ? c.timeout_status : c.http_status);
    co_return false;
  }
  SideActions actions;
  actions.client = c.on_failure;
  end(fmt::format("closed: upstream {} unreachable ({})", context_->upstream_label, why), actions,
      "upstream_unreachable", Side::client);
  co_return false;
}

asio::awaitable<std::string> Session::attempt_connects(bool& timed_out) {
  using namespace asio::experimental::awaitable_operators;
  const ConnectPolicy& c = profile_->connect;
  const TimePoint started = now();
  std::string last;
  for (unsigned attempt = 0; attempt <= c.retries; ++attempt) {
    if (attempt > 0) {
      std::error_code ec;
      socket(Side::upstream).close(ec);  // a timed-out attempt leaves the socket open
      // HAProxy waits min(timeout connect, 1s) before retrying a refused connect; after a
      // timeout the wait has already happened.
      if (!timed_out && c.retry_interval > Duration::zero()) {
        timer_.expires_after(c.retry_interval);
        co_await timer_.async_wait(kAwait);
        if (ending_) co_return "shut down";
      }
    }
    // A name is looked up at every attempt, within the attempt's connect timeout, as Go's
    // Dial (Toxiproxy) does: a DNS change reaches the next connection.
    timer_.expires_after(c.timeout);
    Resolved found;
    if (context_->upstream.empty()) {
      // end() cancels timer_, so a session shut down mid-lookup stops waiting at once.
      found = co_await context_->resolver->resolve(context_->upstream_address, timer_);
      if (ending_) co_return "shut down";
      if (!found.ok()) {
        timed_out = found.timed_out;
        last = found.why(context_->upstream_address.host);
        continue;
      }
    }
    const auto& endpoints = context_->upstream.empty() ? found.endpoints : context_->upstream;
    auto result = co_await (asio::async_connect(socket(Side::upstream), endpoints, kAwait) ||
                            timer_.async_wait(kAwait));
    if (ending_) co_return "shut down";
    timed_out = result.index() == 1;
    if (timed_out) {
      last = "timed out";
    } else if (const auto& ec = std::get<0>(std::get<0>(result))) {
      last = ec.message();
    } else {
      co_return "";
    }
  }
  const std::string elapsed = clock_.both(now() - started);
  if (c.retries == 0) co_return fmt::format("{} after {}", last, elapsed);
  co_return fmt::format("{} after {} attempts in {}", last, c.retries + 1, elapsed);
}

asio::awaitable<bool> Session::read_request_head(std::string& buffer, Duration limit) {
  using namespace asio::experimental::awaitable_operators;
  // Bigger than any WebSocket handshake; nginx's large_client_header_buffers is 4 x 8k.
  constexpr std::size_t kMaxHead = 32 * 1024;
  auto& sock = socket(Side::client);
  const TimePoint deadline = now() + limit;
  while (buffer.find("\r\n\r\n") == std::string::npos) {
    if (buffer.size() > kMaxHead || now() >= deadline) co_return false;
    char chunk[4096];
    timer_.expires_at(deadline);
    auto result = co_await (sock.async_read_some(asio::buffer(chunk), kAwait) || timer_.async_wait(kAwait));
    if (ending_ || result.index() == 1) co_return false;
    const auto& [ec, n] = std::get<0>(result);
    if (ec || n == 0) co_return false;
    buffer.append(chunk, n);
  }
  co_return true;
}

asio::awaitable<void> Session::answer_unreachable(const std::string& why, int status) {
  using namespace asio::experimental::awaitable_operators;
  const ConnectPolicy& c = profile_->connect;
  const std::string unreachable = fmt::format("upstream {} unreachable ({})", context_->upstream_label, why);
  SideActions fin;
  // The real proxy answers a request: it waits for the head (nginx: client_header_timeout 60s).
  std::string head;
  if (!co_await read_request_head(head, scale(std::chrono::seconds(60), profile_->time_scale))) {
    end(fmt::format("closed: {}; the client sent no complete request head to answer", unreachable), fin,
        "upstream_unreachable", Side::client);
    co_return;
  }
  if (ending_) co_return;
  if (c.keepalive <= Duration::zero()) {
    SideActions actions;
    actions.client = CloseAction::http_status;
    actions.http_status = status;
    end("closed: " + unreachable, actions, "upstream_unreachable", Side::client);
    co_return;
  }
  // nginx and HAProxy answer with keep-alive: the client may send its next request.
  auto& sock = socket(Side::client);
  std::error_code ec;
  const std::string response = status_response(status, {}, /*keep_alive=*/true);
  const Written w = co_await write_within(sock, response, context_->close_wait);
  if (ending_) co_return;
  if (w.bytes < response.size()) {
    SideActions cut;
    // Part of a response then FIN would read as a complete one.
    if (w.bytes > 0) cut.client = CloseAction::rst;
    end(fmt::format("closed: {}; the client took {} of the {} bytes of the {} in {}", unreachable, w.bytes,
                    response.size(), status, clock_.both(context_->close_wait)),
        cut, "upstream_unreachable", Side::client);
    co_return;
  }
  const TimePoint answered = now();
  context_->log->event(spdlog::level::info, id_, "status",
                       fmt::format("{}: {} {} to client; keep-alive for up to {}", unreachable, status,
                                   reason_phrase(status), clock_.both(c.keepalive)),
                       {{"http_status", static_cast<std::int64_t>(status)}});
  timer_.expires_after(c.keepalive);
  auto result = co_await (sock.async_wait(asio::socket_base::wait_read, kAwait) || timer_.async_wait(kAwait));
  if (ending_) co_return;
  std::string after;
  if (result.index() == 1) {
    after = fmt::format("keep-alive idle for {}", clock_.both(now() - answered));
  } else if (sock.available(ec) == 0) {
    after = "the client closed its keep-alive connection";
  } else {
    // Known difference: the real proxy would try the upstream again for this request.
    after = "the client sent another request, which dropsim does not retry";
  }
  end(fmt::format("closed: {}: {} to client; {}", unreachable, status, after), fin, "upstream_unreachable",
      Side::client);
}

asio::awaitable<void> Session::pump(Direction d) {
  const PipeResult r = co_await pipes_[index(d)].run();
  if (ending_) co_return;
  switch (r.end) {
    case PipeResult::End::finished: on_finished(d); break;
    case PipeResult::End::failed: on_failed(r.side, r.error); break;
    case PipeResult::End::cut: on_problem(); break;
    case PipeResult::End::limited: on_limited(d); break;
    case PipeResult::End::stopped: break;
  }
}

void Session::on_problem() {
  const Problem& p = *inspector_.problem();
  // A refused handshake answers the client before closing, as Envoy's 403 does.
  end("closed: " + p.reason, p.actions, p.cause, std::nullopt, p.reply_to_client);
}

asio::awaitable<void> Session::watchdog() {
  // Activity only moves deadlines later, so this sleeps until the deadline it saw,
  // re-asks the policy, and sleeps again while the real deadline is still ahead.
  while (!ending_) {
    auto deadline = policy_.next_deadline();
    if (const auto fault = fault_deadline(); fault && (!deadline || *fault < *deadline)) deadline = fault;
    timer_.expires_at(deadline ? *deadline : TimePoint::max());
    co_await timer_.async_wait(kAwait);
    if (ending_) co_return;
    if (fire_faults(now())) co_return;
    // An expiry usually ends the session; a half_close one leaves it running, timed on.
    if (const auto e = policy_.expired(now())) on_expiry(*e);
  }
}

Verdict Session::on_chunk(Direction d, std::span<const char> bytes) {
  const Verdict v = inspector_.inspect(d, bytes, now());
  if (auto notice = inspector_.take_notice()) {
    context_->log->event(spdlog::level::info, id_, inspector_.websocket() ? "upgrade" : "handshake", *notice);
  }
  count_metrics();
  return v;
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
  if (!watching_ || ending_) return;
  auto deadline = policy_.next_deadline();
  if (const auto fault = fault_deadline(); fault && (!deadline || *fault < *deadline)) deadline = fault;
  if (deadline && *deadline < timer_.expiry()) timer_.cancel();
}

void Session::on_finished(Direction d) {
  if (direction_ended_[index(d)]) return;  // the EOF our own shutdown(SHUT_RD) produced
  policy_.on_finished(d, now());
  const Side from = source(d);
  if (profile_->half_close[d] == HalfClose::close_both) {
    end(fmt::format("closed: {} sent FIN and {} closes both sides when the {} half-closes",
                    peer(from), profile_->name, peer(from)),
        SideActions{}, fmt::format("{}_fin", to_string(from)));
    return;
  }
  std::error_code ec;
  socket(destination(d)).shutdown(asio::socket_base::shutdown_send, ec);
  if (policy_.both_finished()) {
    end(fmt::format("closed: both sides sent FIN, the {} last", peer(from)), SideActions{}, "both_fin");
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
  end(fmt::format("closed: {} failed ({})", peer(s), error_text(ec)), actions,
      fmt::format("{}_error", to_string(s)), other);
}

void Session::end_direction(const Expiry& e, Direction d) {
  // HAProxy ends only the expired side's direction: FIN toward its destination, no more
  // reads from its source, and the other direction keeps flowing under its own timer.
  const TimerSpec& t = *e.timer;
  ++context_->metrics->timer_firings[t.name];
  policy_.on_fired(t);
  policy_.on_finished(d, now());
  direction_ended_[index(d)] = true;
  pipes_[index(d)].stop();
  std::error_code ec;
  socket(source(d)).shutdown(asio::socket_base::shutdown_receive, ec);
  socket(destination(d)).shutdown(asio::socket_base::shutdown_send, ec);
  context_->log->event(spdlog::level::info, id_, "half_close_expiry",
                       fmt::format("{} expired after {} idle{}: {} ends (FIN to the {}); {} stays open",
                                   t.name, clock_.seconds(e.idle), clock_.real_note(e.idle), flow(d),
                                   peer(destination(d)), flow(opposite(d))),
                       {{"timer", t.name}, {"direction", to_string(d)}});
  if (policy_.both_finished()) end("closed: both directions have ended", SideActions{}, t.name);
}

void Session::on_expiry(const Expiry& e) {
  const TimerSpec& t = *e.timer;
  const TimePoint at = now();
  // The loader pairs half_close with keep: one direction ends, the connection stays.
  if (t.on_expiry.upstream == CloseAction::half_close || t.on_expiry.client == CloseAction::half_close) {
    end_direction(e, t.on_expiry.upstream == CloseAction::half_close ? Direction::upstream : Direction::downstream);
    return;
  }
  ++context_->metrics->timer_firings[t.name];
  std::string what = "closed by " + t.name + " ";
  switch (t.kind) {
    case TimerKind::idle:
      what += fmt::format("after {} idle{}", clock_.seconds(e.idle), clock_.real_note(e.idle));
      // A WebSocket session tells its frames instead (see end()).
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
  end(what, t.on_expiry, t.name);
}

void Session::end(const std::string& what, const SideActions& actions, std::string_view cause,
                  std::optional<Side> describe_only, std::string client_reply) {
  if (ending_) return;
  ending_ = true;
  timer_.cancel();
  // First, before any socket is touched: a pipe parked anywhere (a yield between chunks,
  // half a write) wakes to a stopped pipe and moves no further byte.
  for (Pipe& p : pipes_) p.stop();
  const TimePoint at = now();
  const bool websocket = inspector_.websocket();
  std::array<SideClose, 2> closed;
  for (Side s : kSides) {
    closed[index(s)] = close_side(s, actions, s == Side::client ? std::move(client_reply) : std::string());
  }
  const SideClose& client = closed[index(Side::client)];
  const SideClose& upstream = closed[index(Side::upstream)];
  count_metrics();
  ProxyMetrics& m = *context_->metrics;
  ++m.closes_by_cause[std::string(cause)];
  if (websocket) {
    // The code the client's close event reports: dropsim's close frame, else the
    // server's that passed through, else 1006 (no close frame at all).
    const auto& from_server = policy_.activity(Direction::downstream).close_code;
    std::uint16_t code = 1006;
    if (client.ws_code) {
      code = *client.ws_code;
    } else if (from_server) {
      code = *from_server == 0 ? 1005 : *from_server;  // 1005: a close frame without a code
    }
    ++m.closes_by_code[code];
  }

  std::string line = what;
  if (websocket) {
    line += ": " + frame_story(policy_, at, clock_) + "; " + websocket_outcome(policy_, client, upstream);
  } else if (describe_only) {
    line += ": " + describe_side(*describe_only, closed[index(*describe_only)]);
  } else {
    line += ": " + describe_side(Side::client, client) + ", " + describe_side(Side::upstream, upstream);
  }
  const auto& up = policy_.activity(Direction::upstream);
  const auto& down = policy_.activity(Direction::downstream);
  context_->log->event(
      spdlog::level::info, id_, "close", line,
      {{"proxy", context_->proxy_name},
       {"cause", cause},
       {"client_action", to_string(client.action)},
       {"upstream_action", to_string(upstream.action)},
       {"client_close_code", static_cast<std::int64_t>(client.ws_code.value_or(0))},
       {"websocket", websocket},
       {"age_s", std::chrono::duration<double>(at - policy_.opened_at()).count()},
       {"upstream_idle_s", std::chrono::duration<double>(policy_.idle(Direction::upstream, at)).count()},
       {"downstream_idle_s", std::chrono::duration<double>(policy_.idle(Direction::downstream, at)).count()},
       {"upstream_bytes", static_cast<std::int64_t>(up.bytes)},
       {"downstream_bytes", static_cast<std::int64_t>(down.bytes)},
       {"time_scale", profile_->time_scale}});
  if (websocket) {
    context_->log->event(spdlog::level::info, id_, "heartbeat",
                         "heartbeat: " + heartbeat_summary(*profile_, policy_, clock_));
  }
  maybe_done();
}

void Session::report() {
  const TimePoint at = now();
  // Profile time, as every log line, with the real time beside it when scaled (the API
  // gives real seconds first: both say which is which).
  const Duration age = at - policy_.opened_at();
  std::string line = fmt::format("{} {}{}",
                                 ending_ ? fmt::format("{} (ended, sockets still held), age", to_string(state()))
                                         : "live for",
                                 clock_.seconds(age), clock_.real_note(age));
  if (inspector_.websocket()) {
    line += fmt::format(", WebSocket {}: {}; heartbeat: {}", inspector_.upgrade_request(),
                        frame_story(policy_, at, clock_), heartbeat_summary(*profile_, policy_, clock_));
  } else {
    line += fmt::format(", client→server idle {}, server→client idle {}", clock_.both(policy_.idle(Direction::upstream, at)),
                        clock_.both(policy_.idle(Direction::downstream, at)));
  }
  for (std::size_t i = 0; i < profile_->timers.size() && !ending_; ++i) {
    if (const auto d = policy_.deadline(i)) {
      line += fmt::format("; {} fires in {}", profile_->timers[i].name, clock_.both(std::max(*d - at, Duration::zero())));
    }
  }
  context_->log->event(spdlog::level::info, id_, "report", line);
}

SideClose Session::close_side(Side s, const SideActions& actions, std::string reply) {
  SideClose c;
  c.action = actions[s];
  auto& sock = socket(s);
  if (!sock.is_open()) return c;
  std::error_code ec;
  // The pipes are stopped; this ends their waits on the socket (and any other), so that
  // what follows is the only thing that writes to it.
  sock.cancel(ec);
  switch (c.action) {
    case CloseAction::ws_close: {
      c.action = CloseAction::fin;
      std::string frame = close_frame(s, actions.ws_code, actions.ws_reason, c.fallback);
      if (frame.empty()) {
        sock.close(ec);
        break;
      }
      // RFC 6455 §7.1.1: FIN after the close frame, then read the peer's close frame
      // before closing; closing at once would answer that reply with RST (and browsers
      // would report wasClean false).
      c.fallback = write_then_close(s, std::move(frame), CloseAction::ws_close);
      if (c.fallback.empty()) c.ws_code = actions.ws_code;
      break;
    }
    case CloseAction::http_status:
      c.action = CloseAction::fin;
      if (s == Side::client && !inspector_.response_started()) {
        // Before any response byte: the client reads a status, as from nginx's 504.
        c.fallback = write_then_close(s, status_response(actions.http_status), CloseAction::fin);
        if (c.fallback.empty()) c.http_status = actions.http_status;
      } else {
        c.fallback = s == Side::client ? "a response had already begun, so no status" : "a status goes only to the client";
        sock.close(ec);
      }
      break;
    case CloseAction::fin:
    case CloseAction::half_close:  // never reaches here (end_direction); closing is the safe reading
    case CloseAction::keep:
      // close() sends FIN after the queued bytes (or RST if unread input is pending,
      // exactly as it does for nginx and HAProxy).
      c.action = CloseAction::fin;
      if (!reply.empty()) {
        write_then_close(s, std::move(reply), CloseAction::fin);
      } else {
        sock.close(ec);
      }
      break;
    case CloseAction::rst:
      if (!reply.empty()) {
        write_then_close(s, std::move(reply), CloseAction::rst);
      } else {
        close_after_write(s, CloseAction::rst);
      }
      break;
    case CloseAction::fin_rst:
      // HAProxy shuts the write side, then closes abortively: the peer reads EOF, then RST.
      sock.shutdown(asio::socket_base::shutdown_send, ec);
      sock.set_option(asio::socket_base::linger(true, 0), ec);
      sock.close(ec);
      break;
    case CloseAction::blackhole:
      // The pipes are stopped and the socket stays open and silent.
      held_[index(s)] = true;
      ++context_->metrics->blackholed;
      asio::co_spawn(timer_.get_executor(),
                     [self = shared_from_this(), s] { return self->hold_blackholed(s); },
                     asio::detached);
      break;
  }
  return c;
}

std::string Session::close_frame(Side s, std::uint16_t code, const std::string& reason, std::string& why_not) const {
  if (!inspector_.websocket()) {
    why_not = "no WebSocket to close";
    return {};
  }
  const Direction toward = sent_by(s == Side::client ? Side::upstream : Side::client);
  // A close frame written inside another frame, or behind bytes still queued in the pipe,
  // would corrupt the stream: then the side gets a plain FIN instead.
  // Bytes a fault delays (latency, bandwidth, slices) are queued too.
  if (!inspector_.at_frame_boundary_toward(s) || policy_.activity(toward).pending_bytes > 0 ||
      pipes_[index(toward)].backlog() > 0) {
    why_not = "mid-frame, no close frame possible";
    return {};
  }
  std::optional<std::uint32_t> mask;
  if (s == Side::upstream) {
    // RFC 6455 §5.3: frames toward a server are masked with an unpredictable key.
    static thread_local std::mt19937 rng{std::random_device{}()};
    mask = static_cast<std::uint32_t>(rng());
  }
  const auto frame = encode_close_frame(code, reason, mask);
  return std::string(frame.begin(), frame.end());
}

std::string Session::write_then_close(Side s, std::string bytes, CloseAction then) {
  auto& sock = socket(s);
  std::error_code ec;
  std::size_t done = 0;
  while (done < bytes.size()) {
    done += sock.write_some(asio::buffer(bytes.data() + done, bytes.size() - done), ec);
    if (ec) break;
  }
  if (done == bytes.size()) {
    close_after_write(s, then);
    return "";
  }
  if (!would_block(ec)) {
    std::error_code close_ec;
    sock.close(close_ec);
    return "it could not be written: " + error_text(ec);
  }
  // The peer's receive window is full: the rest goes as it drains, FIN only after it.
  asio::co_spawn(timer_.get_executor(),
                 [self = shared_from_this(), s, rest = bytes.substr(done), total = bytes.size(), then] {
                   return self->flush_then_close(s, rest, total, then);
                 },
                 asio::detached);
  return "";
}

asio::awaitable<void> Session::flush_then_close(Side s, std::string rest, std::size_t total, CloseAction then) {
  auto& sock = socket(s);
  const Written w = co_await write_within(sock, rest, context_->close_wait);
  if (!sock.is_open()) {  // shut down meanwhile
    maybe_done();
    co_return;
  }
  if (w.bytes == rest.size()) {
    close_after_write(s, then);
  } else {
    const std::size_t sent = total - rest.size() + w.bytes;
    const bool part = sent > 0;
    context_->log->event(spdlog::level::info, id_, "close_write",
                         fmt::format("{} took {} of the {} bytes dropsim had to send before closing ({}): {}",
                                     peer(s), sent, total, error_text(w.error),
                                     part ? "RST, as a cut-short frame or response followed by FIN would "
                                            "read as a whole one"
                                          : "FIN"),
                         {{"side", to_string(s)}, {"bytes", static_cast<std::int64_t>(sent)}});
    close_after_write(s, part ? CloseAction::rst : CloseAction::fin);
  }
  maybe_done();
}

void Session::close_after_write(Side s, CloseAction then) {
  auto& sock = socket(s);
  std::error_code ec;
  switch (then) {
    case CloseAction::ws_close:
      sock.shutdown(asio::socket_base::shutdown_send, ec);
      asio::co_spawn(timer_.get_executor(), [self = shared_from_this(), s] { return self->linger_closed(s); },
                     asio::detached);
      return;
    case CloseAction::rst:
      sock.set_option(asio::socket_base::linger(true, 0), ec);
      sock.close(ec);
      return;
    default:
      sock.close(ec);
      return;
  }
}

asio::awaitable<void> Session::hold_blackholed(Side s) {
  using namespace asio::experimental::awaitable_operators;
  auto& sock = socket(s);
  // Like an NLB that forgot the flow: whatever that side sends next (data or FIN) is
  // answered with RST. A peer that never sends would pin the descriptors for ever: after
  // blackhole_hold (profile time; its retransmissions would have given up by then) the
  // socket is let go without a packet.
  asio::steady_timer hold(timer_.get_executor());
  hold.expires_after(profile_->blackhole_hold);
  auto woke = co_await (sock.async_wait(asio::socket_base::wait_read, kAwait) || hold.async_wait(kAwait));
  if (!held_[index(s)] || !sock.is_open()) co_return;  // released meanwhile (a drain, shutdown)
  if (woke.index() == 1) {
    ++context_->metrics->blackhole_expired;
    release_blackholed(s, fmt::format("after {} (blackhole_hold) without a word from it",
                                      clock_.both(profile_->blackhole_hold)));
    maybe_done();
    co_return;
  }
  std::error_code avail_ec;
  const std::size_t pending = sock.available(avail_ec);
  context_->log->event(spdlog::level::info, id_, "blackhole_rst",
                       fmt::format("blackholed {} sent {} after the flow was forgotten: RST",
                                   peer(s), pending > 0 ? fmt::format("{} bytes", pending) : "FIN"),
                       {{"side", to_string(s)}, {"bytes", static_cast<std::int64_t>(pending)}});
  unhold(s);
  close_after_write(s, CloseAction::rst);
  maybe_done();
}

void Session::unhold(Side s) {
  held_[index(s)] = false;
  --context_->metrics->blackholed;
}

void Session::release_blackholed(Side s, std::string_view why) {
  if (!held_[index(s)]) return;
  unhold(s);
  auto& sock = socket(s);
  int on = 1;
  // In repair mode the kernel drops the connection on close() without FIN or RST.
  const bool silent = ::setsockopt(sock.native_handle(), IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) == 0;
  std::error_code ec;
  if (!silent) sock.set_option(asio::socket_base::linger(true, 0), ec);
  sock.close(ec);
  context_->log->event(spdlog::level::info, id_, "blackhole_release",
                       fmt::format("blackholed {} released {}: {}", peer(s), why,
                                   silent ? "silently (no packet)"
                                          : "with RST (a silent release needs CAP_NET_ADMIN for TCP_REPAIR)"),
                       {{"side", to_string(s)}, {"silent", silent}});
}

asio::awaitable<void> Session::linger_closed(Side s) {
  using namespace asio::experimental::awaitable_operators;
  auto& sock = socket(s);
  asio::steady_timer limit(timer_.get_executor());
  // Long enough for any live peer to answer; a dead one does not hold the session.
  limit.expires_after(context_->close_wait);
  char sink[4096];
  while (sock.is_open()) {
    auto r = co_await (sock.async_read_some(asio::buffer(sink), kAwait) || limit.async_wait(kAwait));
    if (r.index() == 1) {  // no EOF in time
      if (!unanswered_) ++context_->metrics->unanswered_closes;
      unanswered_ = true;
      break;
    }
    if (std::get<0>(std::get<0>(r))) break;       // EOF, reset, or closed by shut_down()
  }
  std::error_code ec;
  sock.close(ec);
  maybe_done();
}

void Session::shut_down(std::string_view why) {
  end(fmt::format("closed: {}", why), SideActions{}, "shutdown");
  // The process is going away: a blackholed side is let go as it would be after its
  // hold, and what lingers or waits to be written is closed now.
  for (Side s : kSides) {
    release_blackholed(s, "at shutdown");
    std::error_code ec;
    socket(s).close(ec);
  }
  maybe_done();
}

void Session::maybe_done() {
  if (done_) return;
  for (const auto& s : sockets_) {
    if (s.is_open()) return;
  }
  done_ = true;
  // Its descriptors are free: a proxy waiting at the session cap may accept again.
  if (context_->budget) context_->budget->give_back();
  if (context_->on_closed) context_->on_closed(id_);
}

void Session::apply_toxics(const std::vector<Toxic>& toxics) {
  if (ending_) return;
  const TimePoint at = now();
  std::vector<ActiveToxic> next;
  for (const Toxic& t : toxics) {
    auto old = std::find_if(toxics_.begin(), toxics_.end(),
                            [&](const ActiveToxic& a) { return a.toxic.name == t.name; });
    if (old != toxics_.end() && old->toxic.type == t.type && old->toxic.stream == t.stream) {
      // Updated attributes keep the roll and the clock the toxic started with.
      ActiveToxic kept = *old;
      kept.toxic = t;
      next.push_back(std::move(kept));
      continue;
    }
    ActiveToxic a;
    a.toxic = t;
    a.applies = toxicity_roll(context_->seed, t.name, id_, t.toxicity);
    a.since = at;
    for (Direction d : kDirections) a.bytes_at[index(d)] = policy_.activity(d).bytes;
    if (a.applies) {
      ++context_->metrics->faults_applied[std::string(to_string(t.type))];
      context_->log->event(spdlog::level::debug, id_, "fault", "fault applies: " + t.describe(),
                           {{"toxic", t.name}, {"type", to_string(t.type)}});
    }
    next.push_back(std::move(a));
  }
  for (const ActiveToxic& a : toxics_) {
    const bool gone = std::none_of(next.begin(), next.end(),
                                   [&](const ActiveToxic& n) { return n.toxic.name == a.toxic.name; });
    if (gone && a.applies) {
      context_->log->event(spdlog::level::debug, id_, "fault_removed", "fault removed: " + a.toxic.name,
                           {{"toxic", a.toxic.name}});
    }
  }
  toxics_ = std::move(next);
  update_pipe_faults();
  reschedule();
}

void Session::update_pipe_faults() {
  std::vector<const Toxic*> active;
  for (const ActiveToxic& a : toxics_) {
    if (a.applies) active.push_back(&a.toxic);
  }
  for (Direction d : kDirections) {
    DirectionFaults f = pipe_faults(active, d);
    // Byte limits count from when each toxic began acting here, so the pipe gets what is left.
    const std::uint64_t carried_now = policy_.activity(d).bytes;
    std::optional<std::uint64_t> left;
    for (const ActiveToxic& a : toxics_) {
      if (!a.applies || a.toxic.stream != d) continue;
      std::int64_t limit = 0;
      if (a.toxic.type == ToxicType::limit_data) limit = a.toxic.get("bytes");
      if (a.toxic.type == ToxicType::reset_peer) limit = a.toxic.get("bytes");
      if (limit <= 0 && a.toxic.type != ToxicType::limit_data) continue;
      const std::uint64_t carried = carried_now - a.bytes_at[index(d)];
      const auto lim = static_cast<std::uint64_t>(limit);
      const std::uint64_t remaining = carried >= lim ? 0 : lim - carried;
      left = left ? std::min(*left, remaining) : remaining;
    }
    f.limit = left;
    // Jitter and slice sizes differ per session and direction, yet replay under --seed.
    pipes_[index(d)].set_faults(f, context_->seed ^ (id_ * 2 + index(d)));
  }
}

std::optional<TimePoint> Session::fault_deadline() const {
  std::optional<TimePoint> earliest;
  for (const ActiveToxic& a : toxics_) {
    if (!a.applies) continue;
    std::optional<TimePoint> due;
    const auto ms = [&](std::string_view attr) { return a.since + std::chrono::milliseconds(a.toxic.get(attr)); };
    // reset_peer with `bytes` waits for the bytes (the pipe's limit), not for a time.
    if (a.toxic.type == ToxicType::reset_peer && a.toxic.get("bytes") == 0) due = ms("timeout");
    if (a.toxic.type == ToxicType::timeout && a.toxic.get("timeout") > 0) due = ms("timeout");
    if (due && (!earliest || *due < *earliest)) earliest = due;
  }
  return earliest;
}

bool Session::fire_faults(TimePoint at) {
  const auto due = fault_deadline();
  if (!due || *due > at) return false;
  for (const ActiveToxic& a : toxics_) {
    if (!a.applies) continue;
    const Toxic& t = a.toxic;
    const Duration age = at - a.since;
    if (t.type == ToxicType::reset_peer && t.get("bytes") == 0 && age >= std::chrono::milliseconds(t.get("timeout"))) {
      SideActions rst;
      rst.client = rst.upstream = CloseAction::rst;
      // Toxiproxy's waits for the next byte before its timer starts; dropsim's counts from
      // when the toxic applied, so an idle connection is reset too.
      end(fmt::format("closed by fault {}: reset after {}", t.describe(), clock_.both(age)), rst, "reset_peer");
      return true;
    }
    if (t.type == ToxicType::timeout && t.get("timeout") > 0 && age >= std::chrono::milliseconds(t.get("timeout"))) {
      end(fmt::format("closed by fault {} after {}, every byte held back", t.describe(), clock_.both(age)), SideActions{},
          "timeout");
      return true;
    }
  }
  return false;
}

void Session::on_limited(Direction d) {
  // The pipe stopped at the smallest limit of the direction: a reset_peer with `bytes`
  // resets, a limit_data closes with FIN (Toxiproxy closes the link).
  const std::uint64_t carried_now = policy_.activity(d).bytes;
  for (const ActiveToxic& a : toxics_) {
    if (!a.applies || a.toxic.stream != d || a.toxic.type != ToxicType::reset_peer) continue;
    const auto bytes = static_cast<std::uint64_t>(a.toxic.get("bytes"));
    if (bytes > 0 && carried_now - a.bytes_at[index(d)] >= bytes) {
      SideActions rst;
      rst.client = rst.upstream = CloseAction::rst;
      end(fmt::format("closed by fault {}: reset after {} bytes {}", a.toxic.describe(), bytes, flow(d)), rst,
          "reset_peer");
      return;
    }
  }
  std::string which = "limit_data";
  for (const ActiveToxic& a : toxics_) {
    if (a.applies && a.toxic.stream == d && a.toxic.type == ToxicType::limit_data) which = a.toxic.describe();
  }
  end(fmt::format("closed by fault {}: the {} byte limit was reached", which, flow(d)), SideActions{},
      "limit_data");
}

void Session::count_metrics() {
  ProxyMetrics& m = *context_->metrics;
  for (Direction d : kDirections) {
    const DirectionActivity& a = policy_.activity(d);
    const std::size_t i = index(d);
    m.bytes[i] += a.bytes - counted_bytes_[i];
    counted_bytes_[i] = a.bytes;
    const std::uint64_t written = pipes_[i].written();
    m.sent[i] += written - counted_sent_[i];
    counted_sent_[i] = written;
    for (FrameKind k : kFrameKinds) {
      const auto j = static_cast<std::size_t>(k);
      m.frames[i][j] += a.frames[j].count - counted_frames_[i][j];
      counted_frames_[i][j] = a.frames[j].count;
    }
  }
}

ActResult Session::act(const ActionRequest& request) {
  if (ending_) {
    // Ended already (a close reply awaited, or a forgotten flow held): no close to send.
    // A drain still lets go of a forgotten flow's held sockets.
    if (request.action != SessionAction::drain || !holding()) return ActResult::none;
    for (Side s : kSides) release_blackholed(s, "by a drain");
    maybe_done();
    return ActResult::released;
  }
  SideActions actions;
  std::string what = fmt::format("closed by the API: {}", to_string(request.action));
  switch (request.action) {
    case SessionAction::rst: actions.client = actions.upstream = CloseAction::rst; break;
    case SessionAction::fin: actions.client = actions.upstream = CloseAction::fin; break;
    case SessionAction::blackhole: actions.client = actions.upstream = CloseAction::blackhole; break;
    case SessionAction::ws_close:
    case SessionAction::drain:
      // A drain is what a restarting server or proxy sends both ways: 1001 "going away".
      actions.client = actions.upstream = CloseAction::ws_close;
      actions.ws_code = request.code;
      actions.ws_reason = request.reason;
      what += fmt::format(" {}{}", request.code, request.reason.empty() ? "" : " \"" + request.reason + "\"");
      break;
  }
  end(what, actions, fmt::format("api_{}", to_string(request.action)));
  return ActResult::acted;
}

SessionState Session::state() const {
  if (!ending_) return watching_ ? SessionState::open : SessionState::connecting;
  return holding() ? SessionState::blackholed : SessionState::closing;
}

SessionInfo Session::info() const {
  const TimePoint at = now();
  const auto seconds = [](Duration d) { return std::chrono::duration<double>(d).count(); };
  SessionInfo info;
  info.id = id_;
  info.proxy = context_->proxy_name;
  info.client = endpoint_text(sockets_[index(Side::client)]);
  info.age_s = seconds(at - policy_.opened_at());
  info.time_scale = profile_->time_scale;
  info.state = state();
  info.connected = info.state == SessionState::open;
  info.websocket = inspector_.websocket();
  for (Direction d : kDirections) {
    const DirectionActivity& a = policy_.activity(d);
    auto& way = info.ways[index(d)];
    way.bytes = a.bytes;
    for (FrameKind k : kFrameKinds) way.frames[static_cast<std::size_t>(k)] = a.of(k).count;
    if (a.last_byte) way.idle_s = seconds(at - *a.last_byte);
  }
  for (std::size_t i = 0; i < profile_->timers.size(); ++i) {
    SessionInfo::Timer t;
    t.name = profile_->timers[i].name;
    // An ended session runs no timer: what the policy still holds is history, not a
    // countdown. A live deadline just passed is firing now (the watchdog is on its way).
    if (const auto d = policy_.deadline(i); d && !ending_) t.fires_in_s = std::max(0.0, seconds(*d - at));
    info.timers.push_back(std::move(t));
  }
  for (const ActiveToxic& a : toxics_) {
    if (a.applies) info.toxics.push_back(a.toxic.name);
  }
  return info;
}

}  // namespace dropsim
