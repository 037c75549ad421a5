// Session, before the pipes run: connecting to the upstream (lookups, retries) and, when
// it cannot be reached, closing the client as the profile says or answering it with an
// HTTP status (502/503/504) as nginx and HAProxy do.
#include "session.h"

#include <asio/connect.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include "await.h"
#include "duration.h"
#include "explain.h"
#include "session_io.h"

namespace dropsim {
namespace {

/// How long a client may take to send a request head that nothing else bounds: nginx's
/// client_header_timeout default, in the profile's time.
constexpr Duration kClientHeaderTimeout = std::chrono::seconds(60);

}  // namespace

asio::awaitable<bool> Session::connect_upstream(std::string early) {
  const TimePoint started = now();
  bool timed_out = false;
  const std::string why = co_await attempt_connects(timed_out);
  if (closing()) co_return false;  // shut down while connecting
  if (why.empty()) {
    context_->log->event(spdlog::level::info, id_, "connected",
                         fmt::format("connected to upstream {} in {}", context_->upstream_label,
                                     clock_.seconds(now() - started), clock_.real_note(now() - started)));
    co_return true;
  }
  const ConnectPolicy& c = profile_->connect;
  if (profile_->mode == Mode::http && c.on_failure == CloseAction::http_status) {
    co_await answer_unreachable(why, timed_out ? c.timeout_status : c.http_status, std::move(early));
    co_return false;
  }
  SideActions actions;
  actions.client = c.on_failure;
  begin_closing(fmt::format("closed: upstream {} unreachable ({})", context_->upstream_label, why), actions,
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
        if (closing()) co_return "shut down";
      }
    }
    // A name is looked up at every attempt, within the attempt's connect timeout, as Go's
    // Dial (Toxiproxy) does: a DNS change reaches the next connection.
    timer_.expires_after(c.timeout);
    Resolved found;
    if (context_->upstream.empty()) {
      // begin_closing() cancels timer_: a session shut down mid-lookup stops waiting at once.
      found = co_await context_->resolver->resolve(context_->upstream_address, timer_);
      if (closing()) co_return "shut down";
      if (!found.ok()) {
        timed_out = found.timed_out;
        last = found.why(context_->upstream_address.host);
        continue;
      }
    }
    const auto& endpoints = context_->upstream.empty() ? found.endpoints : context_->upstream;
    auto result = co_await (asio::async_connect(socket(Side::upstream), endpoints, kAwait) ||
                            timer_.async_wait(kAwait));
    if (closing()) co_return "shut down";
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

asio::awaitable<bool> Session::read_before_connect(std::string& held, std::optional<TimePoint> answered) {
  using namespace asio::experimental::awaitable_operators;
  auto& sock = socket(Side::client);
  // The profile's timers run from the accept (Envoy: "prior to receipt of the initial
  // request headers, the stream_idle_timeout applies"), and its toxics too; a profile with
  // neither is bounded as nginx bounds a request head (client_header_timeout 60 s). A
  // kept-alive client waits for its next request under keepalive alone, then under the
  // header timeout from its first byte, as nginx's keepalive_timeout gives way to
  // client_header_timeout.
  const Duration header_timeout = scale(kClientHeaderTimeout, profile_->time_scale);
  TimePoint fallback = now() + header_timeout;
  bool idle = answered.has_value();  // a kept-alive client that has not sent a byte yet
  for (;;) {
    const auto due = idle ? std::optional(*answered + profile_->handshake.keepalive)
                          : answered ? std::nullopt : next_deadline();
    timer_.expires_at(due ? *due : fallback);
    auto woke = co_await (sock.async_wait(asio::socket_base::wait_read, kAwait) || timer_.async_wait(kAwait));
    if (closing()) co_return false;
    if (woke.index() == 1) {
      if (idle && now() >= *due) {
        begin_closing(fmt::format("closed: keep-alive idle for {} after the last answer, with no further "
                                  "request (handshake keepalive)", clock_.both(now() - *answered)),
                      SideActions{}, "keepalive", Side::client);
        co_return false;
      }
      if (!idle && !answered && (fire_due() || closing())) co_return false;
      if (!due && now() >= fallback) {
        begin_closing(fmt::format("closed: the client sent no complete request head within {}; upstream {} "
                                  "never contacted", clock_.both(header_timeout), context_->upstream_label),
                      SideActions{}, "client_header_timeout", Side::client);
        co_return false;
      }
      continue;
    }
    char chunk[4096];
    std::error_code ec;
    const std::size_t n = sock.read_some(asio::buffer(chunk), ec);
    if (would_block(ec)) continue;
    if (ec == asio::error::eof) {
      begin_closing(idle ? std::string("closed: the client closed its keep-alive connection")
                         : fmt::format("closed: the client sent FIN before a complete request head; upstream {} "
                                       "not contacted", context_->upstream_label),
                    SideActions{}, "client_fin", Side::client);
      co_return false;
    }
    if (ec) {
      on_failed(Side::client, ec);
      co_return false;
    }
    if (idle) {
      idle = false;
      fallback = now() + header_timeout;
    }
    const Verdict v = on_chunk(Direction::upstream, {chunk, n});
    switch (v.action) {
      case Verdict::Action::cut:  // refused (reject) or malformed: answered without an upstream
        on_problem();
        co_return false;
      case Verdict::Action::replace:
      case Verdict::Action::finish:  // (said only of answers, never of a request)
        if (v.replacement.empty()) continue;  // the head is not complete yet
        held.assign(v.replacement);
        co_return true;
      case Verdict::Action::forward:
        held.assign(chunk, n);
        co_return true;
    }
  }
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
    if (closing() || result.index() == 1) co_return false;
    const auto& [ec, n] = std::get<0>(result);
    if (ec || n == 0) co_return false;
    buffer.append(chunk, n);
  }
  co_return true;
}

asio::awaitable<void> Session::answer_unreachable(const std::string& why, int status, std::string head) {
  using namespace asio::experimental::awaitable_operators;
  const ConnectPolicy& c = profile_->connect;
  const std::string unreachable = fmt::format("upstream {} unreachable ({})", context_->upstream_label, why);
  SideActions fin;
  // The real proxy answers a request: it waits for the head (nginx: client_header_timeout 60s).
  if (!co_await read_request_head(head, scale(kClientHeaderTimeout, profile_->time_scale))) {
    begin_closing(fmt::format("closed: {}; the client sent no complete request head to answer", unreachable),
                  fin, "upstream_unreachable", Side::client);
    co_return;
  }
  if (closing()) co_return;
  if (c.keepalive <= Duration::zero()) {
    SideActions actions;
    actions.client = CloseAction::http_status;
    actions.http_status = status;
    begin_closing("closed: " + unreachable, actions, "upstream_unreachable", Side::client);
    co_return;
  }
  // nginx and HAProxy answer with keep-alive: the client may send its next request.
  auto& sock = socket(Side::client);
  std::error_code ec;
  const std::string response = status_response(status, {}, /*keep_alive=*/true);
  const Written w = co_await write_within(sock, response, context_->close_wait);
  if (closing()) co_return;
  if (w.bytes < response.size()) {
    SideActions cut;
    // Part of a response then FIN would read as a complete one.
    if (w.bytes > 0) cut.client = CloseAction::rst;
    begin_closing(fmt::format("closed: {}; the client took {} of the {} bytes of the {} in {}", unreachable,
                              w.bytes, response.size(), status, clock_.both(context_->close_wait)),
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
  if (closing()) co_return;
  std::string after;
  if (result.index() == 1) {
    after = fmt::format("keep-alive idle for {}", clock_.both(now() - answered));
  } else if (sock.available(ec) == 0) {
    after = "the client closed its keep-alive connection";
  } else {
    // Known difference: the real proxy would try the upstream again for this request.
    after = "the client sent another request, which dropsim does not retry";
  }
  begin_closing(fmt::format("closed: {}: {} to client; {}", unreachable, status, after), fin,
                "upstream_unreachable", Side::client);
}

}  // namespace dropsim
