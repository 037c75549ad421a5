#include "demo.h"

#include <chrono>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "await.h"
#include "builtin_profiles.h"
#include "profile_yaml.h"
#include "proxy.h"
#include "ws_frame.h"

namespace dropsim {
namespace {

using asio::ip::tcp;
using Seconds = std::chrono::duration<double>;

/// Narrates with both clocks: the profile's (what the audience should imagine) and the
/// real one (what the wall clock says).
class Narrator {
 public:
  Narrator(std::ostream& out, double scale)
      : out_(out), scale_(scale), start_(std::chrono::steady_clock::now()) {}
  /// Profile seconds since the start.
  double profile_seconds() const { return real_seconds() / scale_; }
  /// Real seconds since the start.
  double real_seconds() const { return Seconds(std::chrono::steady_clock::now() - start_).count(); }
  /// One narrated line, stamped with both clocks.
  void say(const std::string& text) {
    out_ << fmt::format("  [{:6.1f}s | real {:5.2f}s]  {}", profile_seconds(), real_seconds(), text)
         << std::endl;
  }
  std::ostream& out() { return out_; }
  /// A profile duration as a real one, for timers.
  std::chrono::nanoseconds real(double profile_seconds) const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Seconds(profile_seconds * scale_));
  }

 private:
  std::ostream& out_;
  double scale_;
  std::chrono::steady_clock::time_point start_;
};

// The demo speaks real WebSocket framing (RFC 6455) so that dropsim follows it as it
// follows a browser's. Its server does not compute Sec-WebSocket-Accept (no SHA-1 in the
// stack): the demo's own client does not check it, and dropsim never does.
constexpr std::string_view kUpgradeRequest =
    "GET /chat HTTP/1.1\r\nHost: demo\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
constexpr std::string_view kSwitchingProtocols =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzrZDY5+zo/0=\r\n\r\n";

/// Reads an HTTP head (up to the blank line); false on error or EOF.
asio::awaitable<bool> read_head(tcp::socket& s) {
  asio::streambuf head;
  auto [ec, n] = co_await asio::async_read_until(s, head, "\r\n\r\n", kAwait);
  co_return !ec;
}

/// Collects the pings and a close frame of a chunk, for the server to answer after the feed.
struct ControlCollector final : FrameObserver {
  std::vector<std::string> pings;
  std::optional<std::uint16_t> close;  ///< the client's close code, when it sent its close frame
  void on_frame(const FrameEvent& f) override {
    if (f.header.opcode == Opcode::ping) pings.emplace_back(f.control_payload);
    if (f.header.opcode == Opcode::close) close = f.close_code;
  }
};

/// The demo's application server: accepts the upgrade, answers every ping with a pong and
/// a close frame with its own, then closes the connection (RFC 6455 §7.1.1: the server
/// closes TCP first).
asio::awaitable<void> websocket_server(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kAwait);
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(),
                   [s = std::move(socket)]() mutable -> asio::awaitable<void> {
                     if (!co_await read_head(s)) co_return;
                     co_await asio::async_write(s, asio::buffer(kSwitchingProtocols), kAwait);
                     FrameTracker frames({.expect_masked = true});
                     char data[1024];
                     for (;;) {
                       auto [rec, n] = co_await s.async_read_some(asio::buffer(data), kAwait);
                       if (rec) co_return;
                       ControlCollector got;
                       frames.feed({reinterpret_cast<const std::uint8_t*>(data), n}, got);
                       for (const std::string& p : got.pings) {
                         const auto pong = encode_frame(
                             Opcode::pong, {reinterpret_cast<const std::uint8_t*>(p.data()), p.size()});
                         auto [wec, w] = co_await asio::async_write(s, asio::buffer(pong), kAwait);
                         if (wec) co_return;
                       }
                       if (got.close) {
                         const auto reply = encode_close_frame(*got.close, "");
                         co_await asio::async_write(s, asio::buffer(reply), kAwait);
                         std::error_code ec;
                         s.close(ec);
                         co_return;
                       }
                     }
                   },
                   asio::detached);
  }
}

/// Connects and upgrades to WebSocket through the proxy; false when that fails.
asio::awaitable<bool> open_websocket(tcp::socket& s, tcp::endpoint proxy) {
  auto [cec] = co_await s.async_connect(proxy, kAwait);
  if (cec) co_return false;
  auto [wec, w] = co_await asio::async_write(s, asio::buffer(kUpgradeRequest), kAwait);
  if (wec) co_return false;
  co_return co_await read_head(s);
}

/// Client A: opens a WebSocket, then stays silent and waits to be dropped.
asio::awaitable<void> silent_client(tcp::endpoint proxy, Narrator& n, DemoResult& r) {
  tcp::socket s(co_await asio::this_coro::executor);
  if (!co_await open_websocket(s, proxy)) co_return;
  n.say("client A (silent)    WebSocket open (101); it sends nothing, not even pings");
  char buf[64];
  auto [ec, got] = co_await s.async_read_some(asio::buffer(buf), kAwait);
  r.silent_dropped_at = n.profile_seconds();
  r.silent_saw_eof = ec == asio::error::eof;
  n.say(fmt::format("client A (silent)    connection closed under it ({}), no close frame: a browser "
                    "reports close code 1006",
                    ec == asio::error::eof ? "FIN" : ec.message()));
}

/// Client B: pings every `heartbeat` profile seconds until `run_for`.
asio::awaitable<void> heartbeat_client(tcp::endpoint proxy, Narrator& n, const DemoOptions& o,
                                       DemoResult& r) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket s(ex);
  if (!co_await open_websocket(s, proxy)) co_return;
  n.say(fmt::format("client B (heartbeat) WebSocket open (101); it pings every {:.0f}s", o.heartbeat_seconds));
  asio::steady_timer timer(ex);
  const std::string_view hb = "hb";
  // Client frames are masked (RFC 6455 §5.3); any key will do for the demo.
  const auto ping = encode_frame(Opcode::ping, {reinterpret_cast<const std::uint8_t*>(hb.data()), hb.size()}, true,
                                 0x1234abcdu);
  char pong[4];  // 0x8A, length 2, "hb": the server's pongs are unmasked
  for (double t = o.heartbeat_seconds; t <= o.run_seconds; t += o.heartbeat_seconds) {
    timer.expires_after(n.real(t) - n.real(n.profile_seconds()));
    co_await timer.async_wait(kAwait);
    auto [wec, w] = co_await asio::async_write(s, asio::buffer(ping), kAwait);
    auto [rec, got] = co_await asio::async_read(s, asio::buffer(pong), kAwait);
    if (wec || rec) {
      n.say("client B (heartbeat) was dropped too: " + (wec ? wec : rec).message());
      co_return;
    }
    ++r.heartbeat_round_trips;
    n.say("client B (heartbeat) ping -> pong: the ALB saw traffic, its 60s idle timer starts over");
  }
  r.heartbeat_survived = s.is_open();
  n.say(fmt::format("client B (heartbeat) still connected after {:.0f}s, {} idle timeouts' worth",
                    o.run_seconds, o.run_seconds / 60));
  // The demo is over: B leaves as a well-behaved client does, with a close frame, and
  // reads the server's answer until the server hangs up.
  const auto bye = encode_close_frame(1000, "demo over", 0x1234abcdu);
  auto [bec, bw] = co_await asio::async_write(s, asio::buffer(bye), kAwait);
  std::string answer;
  char buf[64];
  for (int i = 0; i < 16 && !bec; ++i) {
    auto [rec, got] = co_await s.async_read_some(asio::buffer(buf), kAwait);
    answer.append(buf, got);
    if (rec) break;
  }
  const bool clean = answer.size() >= 4 && static_cast<unsigned char>(answer[0]) == 0x88 &&
                     (static_cast<unsigned char>(answer[2]) << 8 | static_cast<unsigned char>(answer[3])) == 1000;
  std::error_code ec;
  s.close(ec);
  r.heartbeat_closed_cleanly = clean;
  n.say(clean ? "client B (heartbeat) the demo is over: it sends close 1000, the server answers 1000 and hangs up"
              : "client B (heartbeat) the demo is over: its close frame got no answer");
}

}  // namespace

int run_demo(const DemoOptions& options, std::ostream& out, EventLog& log, DemoResult* result) {
  DemoResult local;
  DemoResult& r = result ? *result : local;
  asio::io_context io(1);

  tcp::acceptor server(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto server_ep = server.local_endpoint();
  asio::co_spawn(io, websocket_server(server), asio::detached);

  const auto text = find_profile_text("alb");
  ProxyOptions po;
  po.name = "alb";
  po.listen = "127.0.0.1:0";
  po.upstream = fmt::format("127.0.0.1:{}", server_ep.port());
  po.profile = load_profile(text.text, text.file, {}, options.time_scale);
  Proxy proxy(io, po, log);
  proxy.start();
  const auto proxy_ep = proxy.local_endpoint();

  Narrator n(out, options.time_scale);
  out << fmt::format(
             "dropsim demo: \"our WebSocket drops every 60 seconds behind the AWS ALB\"\n"
             "  app server 127.0.0.1:{}  <-  dropsim, profile alb (idle_timeout 60s)  <-  two clients\n"
             "  time is compressed: 1 profile second = {:.0f} ms real, so 60 s takes {:.1f} s\n\n",
             server_ep.port(), options.time_scale * 1000, 60 * options.time_scale)
      << std::flush;

  // Bounded whatever happens: the story needs run_seconds, allow a margin.
  asio::steady_timer guard(io, n.real(options.run_seconds * 1.5 + 10));
  guard.async_wait([&](std::error_code ec) {
    if (!ec) io.stop();
  });
  int finished = 0;
  asio::steady_timer settle(io);
  auto done = [&](std::exception_ptr) {
    if (++finished < 2) return;
    // Let dropsim see the last FIN and log its close line before the proxy stops, so
    // that no session ends as "proxy stopping" (bounded: 1 s).
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 100 && proxy.active_sessions() > 0; ++i) {
            settle.expires_after(std::chrono::milliseconds(10));
            co_await settle.async_wait(kAwait);
          }
          proxy.stop();
          server.close();
          guard.cancel();
        },
        asio::detached);
  };
  asio::co_spawn(io, silent_client(proxy_ep, n, r), done);
  asio::co_spawn(io, heartbeat_client(proxy_ep, n, options, r), done);
  io.run_for(n.real(options.run_seconds * 2 + 20));

  const bool ok = r.silent_dropped_at > 0 && r.heartbeat_survived;
  out << "\nWhat happened:\n";
  if (r.silent_dropped_at > 0) {
    out << fmt::format(
        "  - Client A was dropped at {:.1f}s: the ALB saw no byte in either direction for its\n"
        "    idle_timeout (60 s) and closed both sides. The client got no WebSocket close frame,\n"
        "    so a browser reports 1006 (abnormal closure).\n",
        r.silent_dropped_at);
  }
  if (r.heartbeat_survived) {
    out << fmt::format(
        "  - Client B survived {:.0f}s: each ping every {:.0f}s reset the idle timer long before\n"
        "    it reached 60 s (margin {:.1f}x).\n",
        options.run_seconds, options.heartbeat_seconds, 60 / options.heartbeat_seconds);
  }
  out << "  The fix: a heartbeat (WebSocket ping) at half the smallest idle timeout in the path.\n"
         "  Try it on your own server:  dropsim run --profile alb --listen 127.0.0.1:8080 "
         "--upstream 127.0.0.1:3000 --time-scale 0.05\n";
  if (!ok) out << "\n  (the demo did not play out as expected: see the log lines above)\n";
  out << std::flush;
  return ok ? 0 : 1;
}

}  // namespace dropsim
