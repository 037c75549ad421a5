#pragma once
// "HOST:PORT" as Toxiproxy's users write it, read the way Go's net package reads it
// (Toxiproxy is Go: its listen and upstream go straight to net.Listen and net.Dial):
//
//   localhost:0  127.0.0.1:8080  [::1]:0  :8666  0.0.0.0:8666  redis.internal:6379
//
// Parsing and the choices Go makes among addresses are pure; open_listener binds the
// result. Looking a name up is the Resolver's job (resolver.h).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>

namespace dropsim {

/// A parsed "HOST:PORT".
struct HostPort {
  std::string host;        ///< without brackets; empty: every interface (Go's ":8666")
  std::uint16_t port = 0;  ///< 0: the kernel picks a free one (listen)

  /// The host as an IP address when it is one (no lookup needed); nullopt for a name.
  std::optional<asio::ip::address> literal() const;
  /// True when binding here means every interface: "", 0.0.0.0 or ::.
  bool wildcard() const;
  /// "HOST:PORT" again, IPv6 in brackets.
  std::string text() const;
};

/// Reads "HOST:PORT", "[IPv6]:PORT" or ":PORT" as Go's net.SplitHostPort does (an empty
/// port is 0, as Go's Listen takes it); throws std::invalid_argument saying what to write
/// instead (an IPv6 address without brackets, a missing or non-numeric port, ...).
HostPort parse_host_port(std::string_view text);

/// An endpoint as Go prints it: "127.0.0.1:8080", "[::1]:8080", "[::]:8666"; an IPv4
/// client of a dual-stack listener (::ffff:127.0.0.1) as IPv4.
std::string address_text(const asio::ip::tcp::endpoint& endpoint);

/// True for a loopback client: 127.0.0.0/8, ::1, or an IPv4 loopback client of a
/// dual-stack listener (::ffff:127.0.0.1).
bool is_loopback_peer(const asio::ip::address& address);

/// Which of a name's addresses Go's net.Listen binds: the first IPv4 one, else the first;
/// nullopt when there is none.
std::optional<asio::ip::tcp::endpoint> listen_choice(const std::vector<asio::ip::tcp::endpoint>& resolved);

/// Where to bind a listen address whose host needs no lookup. A wildcard host ("", 0.0.0.0,
/// ::) binds [::] with IPV6_V6ONLY off, taking IPv4 and IPv6 clients, as Go does for
/// "tcp" (so Toxiproxy answers "[::]:8666" for ":8666" and for "0.0.0.0:8666");
/// `ipv6` false (a machine without IPv6) falls back to 0.0.0.0. nullopt for a host name.
std::optional<asio::ip::tcp::endpoint> bind_endpoint(const HostPort& where, bool ipv6 = true);

/// Opens, binds and listens `acceptor` on `where` (see bind_endpoint; SO_REUSEADDR on).
/// Throws std::invalid_argument for a host name (look it up first), std::system_error for
/// what the kernel refuses (address in use, not available).
void open_listener(asio::ip::tcp::acceptor& acceptor, const HostPort& where);

}  // namespace dropsim
