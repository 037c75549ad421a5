// Session, closing a side: the close mechanics begin_closing asks for, one side at a time
// (FIN, RST, FIN then RST, a WebSocket close frame, an HTTP status, a blackhole), the
// non-blocking write of what goes out before the close, the linger for a peer's close
// reply, and the holding and letting go of blackholed sides.
#include "session.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <random>

#include "await.h"
#include "session_io.h"

namespace dropsim {
namespace {

/// Makes the kernel drop every packet that arrives for `fd` before TCP sees it: a socket
/// filter that accepts nothing runs in tcp_v4_rcv() ahead of the TCP state machine, so no
/// data is acknowledged, no keepalive or FIN answered, no RST sent; the peer retransmits
/// as toward a flow a load balancer forgot. Needs no privilege. Measured on loopback: the
/// peer's 5 bytes stayed unacknowledged (tcpi_unacked 1, 3 retransmissions in 1.5 s) and
/// its recv() timed out. What dropsim had sent and the peer had not yet acknowledged is
/// still retransmitted by our kernel (the ACKs are dropped too); an idle flow has none.
bool drop_every_packet(int fd) {
  sock_filter code[] = {BPF_STMT(BPF_RET | BPF_K, 0)};  // accept 0 bytes: drop
  const sock_fprog program{1, code};
  return ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) == 0;
}

}  // namespace

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
    case CloseAction::half_close:  // never reaches here (close_direction); closing is the safe reading
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
      c.answer = profile_->blackhole_answer[s];
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
    release_if_closed();
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
  release_if_closed();
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
  asio::steady_timer hold(timer_.get_executor());
  hold.expires_after(profile_->blackhole_hold);
  if (profile_->blackhole_answer[s] == BlackholeAnswer::none) {
    // Like Azure Load Balancer without TCP reset: the flow is forgotten and whatever its
    // peer sends next gets no answer at all, not even an ACK. The socket is never read;
    // after blackhole_hold it is let go as below.
    const bool dropping = drop_every_packet(sock.native_handle());
    co_await hold.async_wait(kAwait);
    if (!held_[index(s)] || !sock.is_open()) co_return;  // released meanwhile (a drain, shutdown)
    ++context_->metrics->blackhole_expired;
    release_blackholed(s, fmt::format("after {} (blackhole_hold), {}", clock_.both(profile_->blackhole_hold),
                                      dropping ? "every packet from it dropped unanswered"
                                               : "unread (the kernel refused the drop filter, so it "
                                                 "acknowledged what came)"));
    release_if_closed();
    co_return;
  }
  // Like an NLB that forgot the flow: whatever that side sends next (data or FIN) is
  // answered with RST. A peer that never sends would pin the descriptors for ever: after
  // blackhole_hold (profile time; its retransmissions would have given up by then) the
  // socket is let go without a packet.
  auto woke = co_await (sock.async_wait(asio::socket_base::wait_read, kAwait) || hold.async_wait(kAwait));
  if (!held_[index(s)] || !sock.is_open()) co_return;  // released meanwhile (a drain, shutdown)
  if (woke.index() == 1) {
    ++context_->metrics->blackhole_expired;
    release_blackholed(s, fmt::format("after {} (blackhole_hold) without a word from it",
                                      clock_.both(profile_->blackhole_hold)));
    release_if_closed();
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
  release_if_closed();
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
    if (std::get<0>(std::get<0>(r))) break;       // EOF, reset, or closed by close_now()
  }
  std::error_code ec;
  sock.close(ec);
  release_if_closed();
}

}  // namespace dropsim
