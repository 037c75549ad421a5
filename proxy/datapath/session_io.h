#pragma once
// Socket helpers the session's files share: a write that never blocks the thread, and how
// a socket and its errors read in log lines.

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "clock.h"

namespace dropsim {

/// The peer's address ("127.0.0.1:51234"), "?" when the socket has none.
std::string endpoint_text(const asio::ip::tcp::socket& s);

/// A socket error as a log line says it ("connection reset (RST)").
std::string error_text(const std::error_code& ec);

/// True when `ec` only says a non-blocking socket has no room (or nothing) now.
bool would_block(const std::error_code& ec);

/// What write_within did: bytes written and, when short, why (timed_out: no room in time).
struct Written {
  std::size_t bytes = 0;
  std::error_code error;
};

/// Writes `bytes` to the non-blocking `sock`, waiting for room for at most `limit`: the
/// io thread never blocks on a peer that does not read.
asio::awaitable<Written> write_within(asio::ip::tcp::socket& sock, std::string_view bytes, Duration limit);

}  // namespace dropsim
