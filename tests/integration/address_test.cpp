// Addresses as Toxiproxy's users write them, end to end: upstream host names looked up per
// connection without holding up anyone else's bytes, lookups that fail or hang, and the
// IPv6 and every-interface listeners. The lookups are fakes the test controls (no DNS
// here); the real resolver is driven through the binary by cli_test and the Node client.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <vector>

#include <gtest/gtest.h>

#include "net_util.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;

Profile plain(Ms connect_timeout = milliseconds(1000)) {
  Profile p;
  p.name = "plain";
  p.connect.timeout = connect_timeout;
  return p;
}

asio::ip::tcp::endpoint loopback(std::uint16_t port) { return {asio::ip::make_address("127.0.0.1"), port}; }

/// Connects to [::1]:port; an invalid Fd when this machine has no IPv6 loopback.
Fd connect_v6(std::uint16_t port) {
  Fd fd(::socket(AF_INET6, SOCK_STREAM, 0));
  if (!fd.valid()) return Fd();
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = in6addr_loopback;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return Fd();
  return fd;
}

/// True when this machine can listen on [::1] (some containers have no IPv6 at all).
bool have_ipv6_loopback() {
  Fd fd(::socket(AF_INET6, SOCK_STREAM, 0));
  if (!fd.valid()) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
}

/// Sends `text` and expects it echoed within 2 s.
void expect_echo(int fd, const std::string& text) {
  ASSERT_TRUE(send_all(fd, text));
  EXPECT_EQ(recv_exact(fd, text.size(), milliseconds(2000)), text);
}

/// A lookup the test answers by hand: each call waits in `parked` until answered on the
/// proxy's io thread, unless `answer_at_once` holds an answer for it.
struct HandLookup {
  std::deque<Resolver::Done> parked;
  std::deque<std::vector<asio::ip::tcp::endpoint>> answer_at_once;  ///< consumed in order
  std::vector<std::string> asked;  ///< every host looked up, in order

  Resolver::Lookup lookup() {
    return [this](const std::string& host, std::uint16_t, Resolver::Done done) {
      asked.push_back(host);
      if (!answer_at_once.empty()) {
        auto endpoints = std::move(answer_at_once.front());
        answer_at_once.pop_front();
        done({}, std::move(endpoints));
        return;
      }
      parked.push_back(std::move(done));
    };
  }
};

// The property that matters most: a lookup that takes its time (a slow DNS server) holds
// up its own session only. A second session's bytes flow meanwhile, on the same thread.
TEST(UpstreamName, ASlowLookupDoesNotDelayOtherSessions) {
  EchoServer server;
  HandLookup dns;
  ProxyUnderTest proxy(plain(milliseconds(5000)), "slow.example:1", dns.lookup());

  Fd first = connect_to(proxy.port());  // its lookup hangs until answered below
  ASSERT_TRUE(wait_until([&] {
    std::size_t parked = 0;
    proxy.on_io([&] { parked = dns.parked.size(); });
    return parked == 1;
  }, milliseconds(2000)));

  proxy.on_io([&] { dns.answer_at_once.push_back({loopback(server.port())}); });
  Fd second = connect_to(proxy.port());
  const auto start = std::chrono::steady_clock::now();
  expect_echo(second.get(), "second, while the first still waits on DNS");
  // A blocking lookup would hold this until the first answer (never, here): the 2 s of
  // expect_echo would run out. This bound only has to beat that on a loaded machine.
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1500));

  proxy.on_io([&] {
    ASSERT_EQ(dns.parked.size(), 1u);
    auto done = std::move(dns.parked.front());
    dns.parked.pop_front();
    done({}, {loopback(server.port())});
  });
  expect_echo(first.get(), "first, once its lookup answered");
  EXPECT_EQ(server.connections(), 2);
}

// A DNS change reaches new connections: every connection looks the name up again.
TEST(UpstreamName, EachConnectionLooksTheNameUpAgain) {
  EchoServer before, after;
  HandLookup dns;
  dns.answer_at_once = {{loopback(before.port())}, {loopback(after.port())}};
  ProxyUnderTest proxy(plain(), "db.internal:5432", dns.lookup());
  {
    Fd c = connect_to(proxy.port());
    expect_echo(c.get(), "one");
  }
  {
    Fd c = connect_to(proxy.port());
    expect_echo(c.get(), "two");
  }
  EXPECT_EQ(before.connections(), 1);
  EXPECT_EQ(after.connections(), 1);
  proxy.on_io([&] { EXPECT_EQ(dns.asked, (std::vector<std::string>{"db.internal", "db.internal"})); });
}

// An IP literal upstream is never looked up.
TEST(UpstreamName, ALiteralIsNotLookedUp) {
  EchoServer server;
  HandLookup dns;
  ProxyUnderTest proxy(plain(), "127.0.0.1:" + std::to_string(server.port()), dns.lookup());
  Fd c = connect_to(proxy.port());
  expect_echo(c.get(), "literal");
  proxy.on_io([&] { EXPECT_TRUE(dns.asked.empty()); });
}

// A name that does not resolve is a failed connect (the profile's on_failure: FIN here),
// with the resolver's words in the close line, not an error when the proxy is created.
TEST(UpstreamName, UnresolvableClosesAsAFailedConnectAndSaysWhy) {
  ProxyUnderTest proxy(plain(), "db.invalid:5432", [](const std::string&, std::uint16_t, Resolver::Done done) {
    done(asio::error::host_not_found, {});
  });
  Fd c = connect_to(proxy.port());
  const Ending e = wait_end(c.get(), milliseconds(2000));
  EXPECT_EQ(e.how, End::eof);
  EXPECT_TRUE(proxy.wait_log("upstream db.invalid:5432 unreachable (cannot resolve 'db.invalid': Host not found "
                             "(authoritative)"))
      << proxy.logs();
}

// A lookup that never answers ends at the connect timeout, as a hung connect does.
TEST(UpstreamName, AHungLookupEndsAtTheConnectTimeout) {
  HandLookup dns;  // parks every lookup, answers none
  ProxyUnderTest proxy(plain(milliseconds(300)), "hangs.example:1", dns.lookup());
  Fd c = connect_to(proxy.port());
  const Ending e = wait_end(c.get(), milliseconds(3000));
  EXPECT_EQ(e.how, End::eof);
  EXPECT_GE(e.after, milliseconds(250));
  EXPECT_TRUE(proxy.wait_log("cannot resolve 'hangs.example': the lookup timed out")) << proxy.logs();
  // The late answer, after the session gave up, is dropped without harm.
  proxy.on_io([&] {
    for (auto& done : dns.parked) done({}, {loopback(1)});
    dns.parked.clear();
  });
  EXPECT_TRUE(proxy.wait_idle());
}

TEST(Listen, IPv6Loopback) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "this machine has no IPv6 loopback (::1): nothing to test";
  EchoServer server;
  ProxyUnderTest proxy(plain(), "127.0.0.1:" + std::to_string(server.port()), {}, "[::1]:0");
  EXPECT_EQ(proxy.address(), "[::1]:" + std::to_string(proxy.port()));
  Fd c = connect_v6(proxy.port());
  ASSERT_TRUE(c.valid());
  expect_echo(c.get(), "over IPv6");
}

// ":PORT" is every interface as Go means it: [::] with IPv4 clients too.
TEST(Listen, EveryInterfaceTakesIPv4AndIPv6Clients) {
  EchoServer server;
  ProxyUnderTest proxy(plain(), "127.0.0.1:" + std::to_string(server.port()), {}, ":0");
  Fd v4 = connect_to(proxy.port());
  expect_echo(v4.get(), "over IPv4");
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback (::1): the IPv4 client was served, IPv6 untested";
  EXPECT_EQ(proxy.address(), "[::]:" + std::to_string(proxy.port()));
  Fd v6 = connect_v6(proxy.port());
  ASSERT_TRUE(v6.valid());
  expect_echo(v6.get(), "over IPv6");
  // The IPv4 client is logged as Go prints it, not as ::ffff:127.0.0.1.
  EXPECT_TRUE(proxy.wait_log("accepted 127.0.0.1:")) << proxy.logs();
}

}  // namespace
}  // namespace dropsim::test
