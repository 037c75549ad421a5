#include "session_io.h"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

#include "address.h"
#include "await.h"

namespace dropsim {

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

bool would_block(const std::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

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

}  // namespace dropsim
