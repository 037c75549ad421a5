// The proxy end to end on 127.0.0.1 with real sockets and short real timeouts.
// Tolerances are wide enough for a loaded 2-core machine; every wait is bounded.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "net_util.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;

std::string random_bytes(std::size_t n, std::mt19937_64& rng) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

/// Sends `data` in random-sized segments (1 B to 64 KiB), with TCP_NODELAY set.
bool send_segmented(int fd, const std::string& data, std::mt19937_64& rng) {
  std::size_t off = 0;
  while (off < data.size()) {
    const std::size_t n = std::min<std::size_t>(data.size() - off, 1 + rng() % 65536);
    if (!send_all(fd, data.data() + off, n)) return false;
    off += n;
  }
  return true;
}

Profile no_timers() {
  Profile p;
  p.name = "transparent";
  p.connect.timeout = milliseconds(1000);
  return p;
}

TEST(Proxy, RandomPayloadsBothWaysArriveByteIdentical) {
  Listener server;
  ProxyUnderTest proxy(no_timers(), server.port());
  std::mt19937_64 rng(42);
  for (const std::size_t size : {std::size_t{1}, std::size_t{1000}, std::size_t{65543},
                                 std::size_t{1} << 20, std::size_t{8} << 20}) {
    SCOPED_TRACE(size);
    const std::string up = random_bytes(size, rng);
    const std::string down = random_bytes(size + 17, rng);
    Fd client = connect_to(proxy.port());
    Fd conn = server.accept();
    ASSERT_TRUE(conn.valid());
    std::string got_up, got_down;
    // Both ways at once, each from its own thread, as real peers would.
    std::thread server_side([&, seed = rng()] {
      std::mt19937_64 r(seed);
      std::thread reader([&] { got_up = recv_exact(conn.get(), up.size(), milliseconds(20000)); });
      send_segmented(conn.get(), down, r);
      reader.join();
    });
    std::mt19937_64 r(rng());
    std::thread reader([&] { got_down = recv_exact(client.get(), down.size(), milliseconds(20000)); });
    ASSERT_TRUE(send_segmented(client.get(), up, r));
    reader.join();
    server_side.join();
    EXPECT_TRUE(got_up == up) << "upstream: got " << got_up.size() << " of " << up.size() << " bytes";
    EXPECT_TRUE(got_down == down) << "downstream: got " << got_down.size() << " of " << down.size();
  }
}

struct ActionCase {
  CloseAction action;
  End client_sees;
};

class IdleExpiry : public ::testing::TestWithParam<ActionCase> {};

TEST_P(IdleExpiry, ClientObservesTheAction) {
  Listener server;
  const auto [action, expected] = GetParam();
  // 500 ms: a timer that fired a whole period late (a watchdog that re-armed instead of
  // firing) would be seen at 1000 ms or later; below that a loaded machine has 500 ms.
  ProxyUnderTest proxy(idle_profile(milliseconds(500), DirectionSet::both(), {action, CloseAction::fin}),
                       server.port());
  Fd client = connect_to(proxy.port());
  Fd conn = server.accept();
  ASSERT_TRUE(conn.valid());
  const Ending e = wait_end(client.get(), milliseconds(3000));
  if (action == CloseAction::blackhole) {
    // NLB: nothing is sent; the flow is forgotten. The next bytes get a RST.
    EXPECT_EQ(e.how, End::timeout) << "a blackholed client hears nothing";
    ASSERT_TRUE(proxy.wait_log("closed by test_idle_timeout"));
    ASSERT_TRUE(send_all(client.get(), "anyone there?"));
    const Ending after = wait_end(client.get(), milliseconds(2000));
    EXPECT_EQ(after.how, End::reset);
    EXPECT_TRUE(proxy.wait_log("blackholed client sent 13 bytes after the flow was forgotten: RST"));
  } else {
    EXPECT_EQ(e.how, expected) << to_string(e.how);
    // The timer starts when dropsim accepts; our clock starts after our own accept of the
    // upstream side, which a sanitizer build on a loaded machine made 11 ms later.
    EXPECT_GE(e.after.count(), 450);
    EXPECT_LT(e.after.count(), 1000);
    if (expected == End::eof) {
      // After the FIN, fin_rst's RST follows and moves our socket from CLOSE_WAIT to CLOSE
      // (recv() keeps returning 0 after a FIN, so ask the kernel for the state); fin alone
      // leaves it in CLOSE_WAIT. Waited for, not read once: on a busy machine the RST may
      // take a while to be processed.
      const auto state = [&] {
        tcp_info info{};
        socklen_t len = sizeof info;
        return ::getsockopt(client.get(), IPPROTO_TCP, TCP_INFO, &info, &len) == 0 ? int{info.tcpi_state} : -1;
      };
      const bool closed = wait_until([&] { return state() == TCP_CLOSE; }, milliseconds(500));
      EXPECT_EQ(closed, action == CloseAction::fin_rst) << "TCP state " << state();
      if (action == CloseAction::fin) EXPECT_EQ(state(), TCP_CLOSE_WAIT);
    }
  }
  EXPECT_EQ(wait_end(conn.get(), milliseconds(2000)).how, End::eof) << "upstream gets FIN";
  EXPECT_TRUE(proxy.wait_log("closed by test_idle_timeout after 0."));
}

INSTANTIATE_TEST_SUITE_P(Actions, IdleExpiry,
                         ::testing::Values(ActionCase{CloseAction::fin, End::eof},
                                           ActionCase{CloseAction::rst, End::reset},
                                           ActionCase{CloseAction::fin_rst, End::eof},
                                           ActionCase{CloseAction::blackhole, End::timeout}),
                         [](const auto& info) { return std::string(to_string(info.param.action)); });

TEST(Proxy, BlackholedUpstreamGetsRstWhenItSpeaks) {
  Listener server;
  ProxyUnderTest proxy(idle_profile(milliseconds(200), DirectionSet::both(),
                                    {CloseAction::blackhole, CloseAction::blackhole}),
                       server.port());
  Fd client = connect_to(proxy.port());
  Fd conn = server.accept();
  ASSERT_TRUE(proxy.wait_log("closed by test_idle_timeout"));
  EXPECT_EQ(wait_end(conn.get(), milliseconds(300)).how, End::timeout);
  ASSERT_TRUE(send_all(conn.get(), "late"));
  EXPECT_EQ(wait_end(conn.get(), milliseconds(2000)).how, End::reset);
  // The client side is still held open, silent, until it speaks too.
  EXPECT_EQ(wait_end(client.get(), milliseconds(200)).how, End::timeout);
  shutdown_write(client.get());  // even a FIN is answered with RST
  EXPECT_EQ(wait_end(client.get(), milliseconds(2000)).how, End::reset);
  EXPECT_TRUE(proxy.wait_idle());
}

/// Whether this process may put a socket in TCP_REPAIR mode (CAP_NET_ADMIN), which is what
/// lets dropsim release a blackholed socket without a packet.
bool can_repair() {
  Listener l;
  Fd c = connect_to(l.port());
  Fd s = l.accept();
  int on = 1;
  const bool ok = ::setsockopt(s.get(), IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) == 0;
  if (ok) {
    int off = 0;
    ::setsockopt(s.get(), IPPROTO_TCP, TCP_REPAIR, &off, sizeof off);
  }
  return ok;
}

TEST(Proxy, BlackholedSocketsAreReleasedAfterBlackholeHold) {
  Listener server;
  Profile p = idle_profile(milliseconds(200), DirectionSet::both(), {CloseAction::blackhole, CloseAction::blackhole});
  p.blackhole_hold = milliseconds(300);
  ProxyUnderTest proxy(p, server.port());
  Fd client = connect_to(proxy.port());
  Fd conn = server.accept();
  ASSERT_TRUE(conn.valid());
  ASSERT_TRUE(proxy.wait_log("closed by test_idle_timeout"));
  std::uint64_t held = 0;
  proxy.on_io([&] { held = proxy.proxy().metrics().blackholed; });
  EXPECT_EQ(held, 2u) << "both sides held";
  // Neither peer speaks: after the hold both sockets are let go and the session ends.
  EXPECT_TRUE(proxy.wait_idle(milliseconds(2000))) << proxy.logs();
  std::uint64_t expired = 0;
  proxy.on_io([&] {
    held = proxy.proxy().metrics().blackholed;
    expired = proxy.proxy().metrics().blackhole_expired;
  });
  EXPECT_EQ(held, 0u);
  EXPECT_EQ(expired, 2u);
  if (can_repair()) {
    EXPECT_TRUE(proxy.wait_log("blackholed client released after 0.300s (blackhole_hold) without a word from it: "
                               "silently"))
        << proxy.logs();
    // Nothing at all reached the peers, as from a load balancer that forgot the flow...
    EXPECT_EQ(wait_end(client.get(), milliseconds(200)).how, End::timeout);
    EXPECT_EQ(wait_end(conn.get(), milliseconds(50)).how, End::timeout);
    // ...and their next packet meets the RST of a host that has no such connection.
    ASSERT_TRUE(send_all(client.get(), "still there?"));
    EXPECT_EQ(wait_end(client.get(), milliseconds(2000)).how, End::reset);
  } else {
    EXPECT_TRUE(proxy.wait_log("released after 0.300s (blackhole_hold) without a word from it: with RST")) << proxy.logs();
    EXPECT_EQ(wait_end(client.get(), milliseconds(2000)).how, End::reset);
  }
}

struct ResetCase {
  const char* name;
  DirectionSet reset_by;
  Direction traffic;
  bool survives;
};

class ResetBy : public ::testing::TestWithParam<ResetCase> {};

TEST_P(ResetBy, OneDirectionTrafficAgainstTheRule) {
  const ResetCase c = GetParam();
  Listener server;
  ProxyUnderTest proxy(idle_profile(milliseconds(400), c.reset_by), server.port());
  Fd client = connect_to(proxy.port());
  Fd conn = server.accept();
  ASSERT_TRUE(conn.valid());
  const int sender = c.traffic == Direction::upstream ? client.get() : conn.get();
  const int receiver = c.traffic == Direction::upstream ? conn.get() : client.get();
  // A byte every 100 ms for 1 s (2.5 timeouts), one way only.
  bool alive = true;
  for (int i = 0; i < 10 && alive; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    alive = send_all(sender, "x", 1) && recv_exact(receiver, 1, milliseconds(300)) == "x";
  }
  EXPECT_EQ(alive, c.survives);
  if (!c.survives) EXPECT_TRUE(proxy.wait_log("closed by test_idle_timeout"));
}

INSTANTIATE_TEST_SUITE_P(
    Directions, ResetBy,
    ::testing::Values(ResetCase{"both_up", DirectionSet::both(), Direction::upstream, true},
                      ResetCase{"both_down", DirectionSet::both(), Direction::downstream, true},
                      ResetCase{"up_up", DirectionSet::only(Direction::upstream), Direction::upstream, true},
                      ResetCase{"up_down", DirectionSet::only(Direction::upstream), Direction::downstream, false},
                      ResetCase{"down_down", DirectionSet::only(Direction::downstream), Direction::downstream, true},
                      ResetCase{"down_up", DirectionSet::only(Direction::downstream), Direction::upstream, false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(HalfClose, ForwardPassesFinAndKeepsTheOtherWayOpen) {
  for (const Direction first : kDirections) {
    SCOPED_TRACE(std::string(to_string(first)));
    Listener server;
    ProxyUnderTest proxy(idle_profile(milliseconds(5000), DirectionSet::both()), server.port());
    Fd client = connect_to(proxy.port());
    Fd conn = server.accept();
    const int closer = first == Direction::upstream ? client.get() : conn.get();
    const int other = first == Direction::upstream ? conn.get() : client.get();
    shutdown_write(closer);
    EXPECT_EQ(wait_end(other, milliseconds(2000), true).how, End::eof) << "FIN forwarded";
    // The other direction still flows.
    ASSERT_TRUE(send_all(other, "still here"));
    EXPECT_EQ(recv_exact(closer, 10, milliseconds(2000)), "still here");
    shutdown_write(other);
    EXPECT_EQ(wait_end(closer, milliseconds(2000), true).how, End::eof);
    EXPECT_TRUE(proxy.wait_log("closed: both sides sent FIN"));
    EXPECT_TRUE(proxy.wait_idle());
  }
}

TEST(HalfClose, CloseBothEndsBothSidesOnAnyFin) {
  for (const Direction first : kDirections) {
    SCOPED_TRACE(std::string(to_string(first)));
    Listener server;
    ProxyUnderTest proxy(idle_profile(milliseconds(5000), DirectionSet::both(), {}, HalfClose::close_both),
                         server.port());
    Fd client = connect_to(proxy.port());
    Fd conn = server.accept();
    const int closer = first == Direction::upstream ? client.get() : conn.get();
    const int other = first == Direction::upstream ? conn.get() : client.get();
    shutdown_write(closer);
    EXPECT_EQ(wait_end(other, milliseconds(2000), true).how, End::eof);
    EXPECT_EQ(wait_end(closer, milliseconds(2000), true).how, End::eof) << "the closer is closed too";
    EXPECT_TRUE(proxy.wait_log(std::string("closes both sides when the ") +
                               (first == Direction::upstream ? "client" : "server") + " half-closes"));
  }
}

TEST(HalfClose, AsymmetricPolicyForwardsClientFinButClosesBothOnServerFin) {
  // HAProxy on a tunnel, as measured: client FIN forwarded; server FIN closes both.
  for (const Direction first : kDirections) {
    SCOPED_TRACE(std::string(to_string(first)));
    Listener server;
    Profile p = idle_profile(milliseconds(5000), DirectionSet::both());
    p.half_close = {HalfClose::forward, HalfClose::close_both};
    ProxyUnderTest proxy(p, server.port());
    Fd client = connect_to(proxy.port());
    Fd conn = server.accept();
    const int closer = first == Direction::upstream ? client.get() : conn.get();
    const int other = first == Direction::upstream ? conn.get() : client.get();
    shutdown_write(closer);
    EXPECT_EQ(wait_end(other, milliseconds(2000), true).how, End::eof) << "the FIN reaches the other side";
    if (first == Direction::upstream) {
      ASSERT_TRUE(send_all(conn.get(), "more"));
      EXPECT_EQ(recv_exact(client.get(), 4, milliseconds(2000)), "more") << "the server still talks";
    } else {
      EXPECT_EQ(wait_end(conn.get(), milliseconds(2000), true).how, End::eof) << "the server is closed too";
      EXPECT_TRUE(proxy.wait_log("closes both sides when the server half-closes"));
    }
  }
}

TEST(HalfCloseExpiry, ClientSideTimeoutEndsOnlyTheClientsDirection) {
  // HAProxy without timeout tunnel, timeout client shorter than timeout server: the client
  // side's expiry sends FIN to the server and the tunnel lives until the server side's.
  Profile p = idle_profile(milliseconds(700), DirectionSet::both(), {CloseAction::fin, CloseAction::rst});
  p.timers[0].name = "timeout_server";
  TimerSpec client_side = idle_profile(milliseconds(300), DirectionSet::both()).timers[0];
  client_side.name = "timeout_client";
  client_side.on_expiry = {CloseAction::keep, CloseAction::half_close};
  p.timers.push_back(client_side);
  Listener server;
  ProxyUnderTest proxy(p, server.port());
  Fd client = connect_to(proxy.port());
  Fd conn = server.accept();
  const Ending half = wait_end(conn.get(), milliseconds(2000), true);
  EXPECT_EQ(half.how, End::eof) << "FIN to the server";
  EXPECT_GE(half.after.count(), 250);
  EXPECT_LE(half.after.count(), 600);
  ASSERT_TRUE(send_all(conn.get(), "still"));
  EXPECT_EQ(recv_exact(client.get(), 5, milliseconds(1000)), "still") << "the server's direction flows on";
  // The server's message reset timeout_server: it fires 700 ms after it.
  const Ending full = wait_end(client.get(), milliseconds(3000));
  EXPECT_EQ(full.how, End::eof);
  EXPECT_GE(full.after.count(), 600);
  EXPECT_TRUE(proxy.wait_log("timeout_client expired after 0."));
  EXPECT_TRUE(proxy.wait_log("client→server ends (FIN to the server); server→client stays open"));
  EXPECT_TRUE(proxy.wait_log("closed by timeout_server"));
}

TEST(FinTimer, HalfClosedConnectionEndsAfterFinTimeout) {
  // HAProxy-style: once the client has sent FIN, a short fin timer replaces the long one.
  Profile p = idle_profile(milliseconds(5000), DirectionSet::both());
  p.timers[0].phases = Phases{true, false, true};
  TimerSpec fin = p.timers[0];
  fin.name = "timeout_server_fin";
  fin.timeout = milliseconds(300);
  fin.phases = Phases{false, true, false};
  p.timers.push_back(fin);
  Listener server;
  ProxyUnderTest proxy(p, server.port());
  Fd client = connect_to(proxy.port());
  Fd conn = server.accept();
  shutdown_write(client.get());
  EXPECT_EQ(wait_end(conn.get(), milliseconds(2000), true).how, End::eof);
  const Ending e = wait_end(client.get(), milliseconds(3000));
  EXPECT_EQ(e.how, End::eof);
  EXPECT_GE(e.after.count(), 250);
  EXPECT_LE(e.after.count(), 1000);
  EXPECT_TRUE(proxy.wait_log("closed by timeout_server_fin"));
}

TEST(BlockedWrite, PeerThatStopsReadingIsCutAfterTheTimeout) {
  Profile p;
  p.name = "test";
  p.connect.timeout = milliseconds(1000);
  TimerSpec t;
  t.name = "send_timeout";
  t.kind = TimerKind::blocked_write;
  t.direction = Direction::downstream;
  t.timeout = milliseconds(300);
  t.on_expiry = {CloseAction::rst, CloseAction::fin};
  p.timers.push_back(t);
  Listener server;
  ProxyUnderTest proxy(p, server.port());
  Fd client = connect_to(proxy.port());
  int small = 4096;
  ::setsockopt(client.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  Fd conn = server.accept();
  // The server floods; the client never reads. Buffers fill, the proxy's write blocks.
  std::atomic<bool> stop{false};
  std::thread flood([&] {
    std::string chunk(65536, 'z');
    const auto deadline = std::chrono::steady_clock::now() + milliseconds(8000);
    while (!stop && std::chrono::steady_clock::now() < deadline) {
      if (!send_all(conn.get(), chunk)) break;
    }
  });
  EXPECT_TRUE(proxy.wait_log("closed by send_timeout after a write to client made no progress for 0.3",
                             milliseconds(6000)))
      << proxy.logs();
  EXPECT_EQ(wait_end(client.get(), milliseconds(2000)).how, End::reset);
  stop = true;
  ::shutdown(conn.get(), SHUT_RDWR);
  flood.join();
}

TEST(Proxy, TwoHundredConcurrentSessions) {
  EchoServer echo;
  ProxyUnderTest proxy(no_timers(), echo.port());
  std::vector<Fd> clients;
  for (int i = 0; i < 200; ++i) clients.push_back(connect_to(proxy.port()));
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(send_all(clients[i].get(), "hello " + std::to_string(i) + "\n"));
  }
  int ok = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string want = "hello " + std::to_string(i) + "\n";
    ok += recv_exact(clients[i].get(), want.size(), milliseconds(5000)) == want;
  }
  EXPECT_EQ(ok, 200);
  EXPECT_EQ(proxy.live_sessions(), 200u);
  clients.clear();
  EXPECT_TRUE(proxy.wait_idle(milliseconds(5000)));
}

TEST(Proxy, NoDescriptorLeakAfterAThousandSessions) {
  EchoServer echo;
  ProxyUnderTest proxy(no_timers(), echo.port());
  // Warm up once so lazily created descriptors (epoll, timerfd) are counted in the base.
  { Fd c = connect_to(proxy.port()); send_all(c.get(), "w"); recv_exact(c.get(), 1, milliseconds(2000)); }
  ASSERT_TRUE(proxy.wait_idle());
  const int before = open_fd_count();
  for (int round = 0; round < 10; ++round) {
    std::vector<Fd> batch;
    for (int i = 0; i < 100; ++i) batch.push_back(connect_to(proxy.port()));
    for (auto& c : batch) ASSERT_TRUE(send_all(c.get(), "ping"));
    for (auto& c : batch) ASSERT_EQ(recv_exact(c.get(), 4, milliseconds(5000)), "ping");
  }
  ASSERT_TRUE(proxy.wait_idle(milliseconds(5000)));
  // The echo server's worker threads close their ends when they see EOF.
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(3000);
  while (open_fd_count() > before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(open_fd_count(), before);
}

TEST(Connect, UnreachableUpstreamClosesTheClientAtOnce) {
  const ClosedPort dead;  // nothing listens there, and no other test can take the port
  Profile p = no_timers();
  ProxyUnderTest proxy(p, dead.port());
  Fd client = connect_to(proxy.port());
  const Ending e = wait_end(client.get(), milliseconds(2000));
  EXPECT_EQ(e.how, End::eof);
  EXPECT_LE(e.after.count(), 500);
  EXPECT_TRUE(proxy.wait_log("unreachable (Connection refused"));
}

TEST(Connect, UnreachableUpstreamWithRstPolicy) {
  const ClosedPort dead;
  Profile p = no_timers();
  p.connect.on_failure = CloseAction::rst;
  ProxyUnderTest proxy(p, dead.port());
  Fd client = connect_to(proxy.port());
  EXPECT_EQ(wait_end(client.get(), milliseconds(2000)).how, End::reset);
}

/// True when a connect to `port` hangs: still unanswered (not writable) after `wait`.
/// The socket is kept in `keep`, so that it goes on taking its place in the queue.
bool connect_hangs(std::uint16_t port, std::vector<Fd>& keep, Ms wait) {
  Fd f(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(f.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  pollfd p{f.get(), POLLOUT, 0};
  const bool hangs = ::poll(&p, 1, static_cast<int>(wait.count())) == 0;
  keep.push_back(std::move(f));
  return hangs;
}

TEST(Connect, TimeoutWhenUpstreamNeverAnswers) {
  // A listener whose accept queue is full drops further SYNs: the connect hangs, on
  // loopback. How many connects fill it depends on the kernel, so fill it until one of
  // our own connects hangs (a bounded number of tries) instead of assuming a count.
  Listener full(0);
  std::vector<Fd> fillers;
  bool hangs = false;
  for (int i = 0; i < 16 && !hangs; ++i) hangs = connect_hangs(full.port(), fillers, milliseconds(200));
  if (!hangs) GTEST_SKIP() << "this kernel answers every connect to a listener that never accepts";
  Profile p = no_timers();
  p.connect.timeout = milliseconds(300);
  ProxyUnderTest proxy(p, full.port());
  Fd client = connect_to(proxy.port());
  const Ending e = wait_end(client.get(), milliseconds(3000));
  EXPECT_EQ(e.how, End::eof);
  EXPECT_GE(e.after.count(), 280);
  EXPECT_LE(e.after.count(), 1500);
  EXPECT_TRUE(proxy.wait_log("timed out after 0.3"));
}

}  // namespace
}  // namespace dropsim::test
