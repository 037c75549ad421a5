#include "address.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <system_error>

#include <asio/ip/v6_only.hpp>

#include <fmt/format.h>

namespace dropsim {

std::optional<asio::ip::address> HostPort::literal() const {
  if (host.empty()) return std::nullopt;
  std::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return address;
}

bool HostPort::wildcard() const {
  if (host.empty()) return true;
  const auto address = literal();
  return address && address->is_unspecified();
}

std::string HostPort::text() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

HostPort parse_host_port(std::string_view text) {
  const auto fail = [&](std::string_view why) {
    return std::invalid_argument(fmt::format("'{}' is not HOST:PORT: {}", text, why));
  };
  HostPort out;
  std::string_view port;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) throw fail("the '[' has no ']' (write e.g. [::1]:8080)");
    if (close + 1 == text.size() || text[close + 1] != ':') {
      throw fail(fmt::format("no ':PORT' after the ']' (write e.g. {}:8080)", text.substr(0, close + 1)));
    }
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      // "8474" is a port without its host; "localhost" a host without its port.
      const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
      if (digits) throw fail(fmt::format("no HOST (write 127.0.0.1:{0}, or :{0} for every interface)", text));
      throw fail(fmt::format("no ':PORT' (write e.g. {}:8080, or :8080 for every interface)",
                             text.empty() ? "127.0.0.1" : text));
    }
    out.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) {
      throw fail(fmt::format("too many colons; an IPv6 address goes in brackets: [{}]:{}", out.host, port));
    }
  }
  if (out.host.find_first_of("[]") != std::string::npos) throw fail("stray '[' or ']' in the host");
  if (port.empty()) return out;  // Go's Listen takes "host:" as port 0
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    throw fail(fmt::format("the port '{}' is not a number from 0 to 65535", port));
  }
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

namespace {

/// A dual-stack listener sees an IPv4 client as ::ffff:127.0.0.1: the IPv4 address it is.
asio::ip::address unmapped(asio::ip::address address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace

bool is_loopback_peer(const asio::ip::address& address) { return unmapped(address).is_loopback(); }

std::string address_text(const asio::ip::tcp::endpoint& endpoint) {
  // Go prints an IPv4 client of a dual-stack listener as IPv4.
  const asio::ip::address address = unmapped(endpoint.address());
  if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), endpoint.port());
  return fmt::format("{}:{}", address.to_string(), endpoint.port());
}

std::optional<asio::ip::tcp::endpoint> listen_choice(const std::vector<asio::ip::tcp::endpoint>& resolved) {
  if (resolved.empty()) return std::nullopt;
  const auto v4 = std::find_if(resolved.begin(), resolved.end(), [](const auto& e) { return e.address().is_v4(); });
  return v4 != resolved.end() ? *v4 : resolved.front();
}

std::optional<asio::ip::tcp::endpoint> bind_endpoint(const HostPort& where, bool ipv6) {
  if (where.wildcard()) {
    if (ipv6) return asio::ip::tcp::endpoint(asio::ip::address_v6::any(), where.port);
    return asio::ip::tcp::endpoint(asio::ip::address_v4::any(), where.port);
  }
  const auto address = where.literal();
  if (!address) return std::nullopt;
  return asio::ip::tcp::endpoint(*address, where.port);
}

void open_listener(asio::ip::tcp::acceptor& acceptor, const HostPort& where) {
  auto endpoint = bind_endpoint(where);
  if (!endpoint) {
    throw std::invalid_argument(
        fmt::format("'{}' names a host: look it up first (Resolver::listen_address)", where.text()));
  }
  std::error_code ec;
  acceptor.open(endpoint->protocol(), ec);
  if (ec == asio::error::address_family_not_supported && where.wildcard()) {
    endpoint = bind_endpoint(where, /*ipv6=*/false);  // no IPv6 here: IPv4's wildcard
    acceptor.open(endpoint->protocol());
  } else if (ec) {
    throw std::system_error(ec);
  }
  // Go listens on [::] for every interface with IPV6_V6ONLY off: IPv4 clients too.
  if (where.wildcard() && endpoint->address().is_v6()) acceptor.set_option(asio::ip::v6_only(false));
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(*endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
}

}  // namespace dropsim
