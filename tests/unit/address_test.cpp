#include "address.h"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace dropsim {
namespace {

/// The message parse_host_port throws for `text`; "" when it parses.
std::string error_of(const std::string& text) {
  try {
    parse_host_port(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

// Every form Toxiproxy's users write, read as Go's net.SplitHostPort reads it.
TEST(Address, EveryFormAToxiproxyUserWrites) {
  const HostPort name = parse_host_port("localhost:26379");
  EXPECT_EQ(name.host, "localhost");
  EXPECT_EQ(name.port, 26379);
  EXPECT_FALSE(name.literal());
  EXPECT_FALSE(name.wildcard());

  const HostPort v4 = parse_host_port("127.0.0.1:0");
  ASSERT_TRUE(v4.literal());
  EXPECT_TRUE(v4.literal()->is_loopback());
  EXPECT_EQ(v4.port, 0);

  const HostPort v6 = parse_host_port("[::1]:0");
  EXPECT_EQ(v6.host, "::1");
  ASSERT_TRUE(v6.literal());
  EXPECT_TRUE(v6.literal()->is_v6());
  EXPECT_EQ(v6.text(), "[::1]:0");

  const HostPort every = parse_host_port(":8666");
  EXPECT_EQ(every.host, "");
  EXPECT_EQ(every.port, 8666);
  EXPECT_TRUE(every.wildcard());
  EXPECT_TRUE(parse_host_port("0.0.0.0:8666").wildcard());
  EXPECT_TRUE(parse_host_port("[::]:8666").wildcard());

  EXPECT_EQ(parse_host_port("localhost:").port, 0);  // Go's Listen takes an empty port as 0
  EXPECT_EQ(parse_host_port("redis.internal:6379").host, "redis.internal");
  EXPECT_EQ(parse_host_port("[fe80::1%lo]:80").host, "fe80::1%lo");
}

TEST(Address, MalformedOnesSayWhatToWrite) {
  EXPECT_EQ(error_of("::1:8080"),
            "'::1:8080' is not HOST:PORT: too many colons; an IPv6 address goes in brackets: [::1]:8080");
  EXPECT_EQ(error_of("localhost"),
            "'localhost' is not HOST:PORT: no ':PORT' (write e.g. localhost:8080, or :8080 for every interface)");
  EXPECT_EQ(error_of("8474"), "'8474' is not HOST:PORT: no HOST (write 127.0.0.1:8474, or :8474 for every interface)");
  EXPECT_EQ(error_of("h:99999"), "'h:99999' is not HOST:PORT: the port '99999' is not a number from 0 to 65535");
  EXPECT_EQ(error_of("h:http"), "'h:http' is not HOST:PORT: the port 'http' is not a number from 0 to 65535");
  EXPECT_EQ(error_of("[::1"), "'[::1' is not HOST:PORT: the '[' has no ']' (write e.g. [::1]:8080)");
  EXPECT_EQ(error_of("[::1]8080"), "'[::1]8080' is not HOST:PORT: no ':PORT' after the ']' (write e.g. [::1]:8080)");
  EXPECT_NE(error_of("a]:1"), "");
  EXPECT_NE(error_of(""), "");
}

TEST(Address, TextAsGoPrintsIt) {
  using asio::ip::make_address;
  using asio::ip::tcp;
  EXPECT_EQ(address_text(tcp::endpoint(make_address("127.0.0.1"), 8080)), "127.0.0.1:8080");
  EXPECT_EQ(address_text(tcp::endpoint(make_address("::1"), 8080)), "[::1]:8080");
  EXPECT_EQ(address_text(tcp::endpoint(make_address("::"), 8666)), "[::]:8666");
  // An IPv4 client of a dual-stack listener.
  EXPECT_EQ(address_text(tcp::endpoint(make_address("::ffff:127.0.0.1"), 4000)), "127.0.0.1:4000");
}

TEST(Address, ListenTakesTheFirstIPv4AddressAsGoDoes) {
  using asio::ip::make_address;
  using asio::ip::tcp;
  const tcp::endpoint v6(make_address("::1"), 1), v4(make_address("127.0.0.1"), 1), v4b(make_address("127.0.1.1"), 1);
  EXPECT_EQ(listen_choice({v6, v4, v4b}), v4);
  EXPECT_EQ(listen_choice({v6}), v6);
  EXPECT_FALSE(listen_choice({}));
}

TEST(Address, WildcardsBindDualStackOrIPv4WithoutIPv6) {
  const auto every = bind_endpoint(parse_host_port(":8666"));
  ASSERT_TRUE(every);
  EXPECT_EQ(every->address(), asio::ip::make_address("::"));
  EXPECT_EQ(every->port(), 8666);
  EXPECT_EQ(bind_endpoint(parse_host_port("0.0.0.0:1"))->address(), asio::ip::make_address("::"));
  EXPECT_EQ(bind_endpoint(parse_host_port(":1"), /*ipv6=*/false)->address(), asio::ip::make_address("0.0.0.0"));
  EXPECT_EQ(bind_endpoint(parse_host_port("127.0.0.1:5"))->address(), asio::ip::make_address("127.0.0.1"));
  EXPECT_FALSE(bind_endpoint(parse_host_port("localhost:5")));  // a name: looked up first
}

// Whom a loopback-only proxy serves: what the kernel reports as the client's address.
TEST(Address, LoopbackPeers) {
  for (const char* a : {"127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1", "::ffff:127.1.2.3"}) {
    EXPECT_TRUE(is_loopback_peer(asio::ip::make_address(a))) << a;
  }
  for (const char* a : {"192.0.2.2", "10.0.0.1", "::ffff:192.0.2.2", "fd00::2", "fe80::1", "0.0.0.0", "::",
                        "::127.0.0.1"}) {
    EXPECT_FALSE(is_loopback_peer(asio::ip::make_address(a))) << a;
  }
}

}  // namespace
}  // namespace dropsim
