#pragma once
// The completion token of every coroutine in dropsim: `co_await op(kAwait)` gives
// (error_code, result...) instead of throwing, because a peer that resets or a socket the
// session closed is an ordinary outcome on a proxy's data path, not an exception.

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace dropsim {

inline constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace dropsim
