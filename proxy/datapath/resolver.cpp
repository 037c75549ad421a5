#include "resolver.h"

#include <memory>
#include <optional>
#include <stdexcept>

#include <asio/dispatch.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "await.h"
#include "clock.h"

namespace dropsim {
namespace {

/// Listen addresses are looked up once, when a proxy is created: as long as DNS takes,
/// up to this (getaddrinfo gives up well before it on its own).
constexpr Duration kListenLookupLimit = std::chrono::seconds(30);

Resolver::Lookup asio_lookup(asio::any_io_executor executor) {
  return [executor](const std::string& host, std::uint16_t port, Resolver::Done done) {
    auto resolver = std::make_shared<asio::ip::tcp::resolver>(executor);
    resolver->async_resolve(
        host, std::to_string(port), asio::ip::resolver_base::numeric_service,
        [resolver, done = std::move(done)](const std::error_code& ec,
                                           const asio::ip::tcp::resolver::results_type& results) {
          std::vector<asio::ip::tcp::endpoint> endpoints;
          if (!ec) {
            for (const auto& entry : results) endpoints.push_back(entry.endpoint());
          }
          done(ec, std::move(endpoints));
        });
  };
}

}  // namespace

std::string Resolved::why(const std::string& host) const {
  if (ok()) return "";
  if (timed_out) return fmt::format("cannot resolve '{}': the lookup timed out", host);
  if (!error) return fmt::format("cannot resolve '{}': no address", host);
  return fmt::format("cannot resolve '{}': {}", host, error.message());
}

Resolver::Resolver(asio::any_io_executor executor, Lookup lookup)
    : executor_(executor), lookup_(lookup ? std::move(lookup) : asio_lookup(executor)) {}

asio::awaitable<Resolved> Resolver::resolve(const HostPort& where, asio::steady_timer& timer) const {
  if (const auto address = where.literal()) co_return Resolved{{{*address, where.port}}, {}, false};
  // The lookup may answer after we gave up (and after the caller is gone): it writes into
  // state it shares, and wakes the timer only while someone waits on it.
  struct State {
    std::optional<Resolved> answer;
    asio::steady_timer* wake = nullptr;
  };
  auto state = std::make_shared<State>();
  state->wake = &timer;
  // Unhooked however this frame ends (also destroyed unresumed when the io_context goes).
  struct Unhook {
    std::shared_ptr<State> state;
    ~Unhook() { state->wake = nullptr; }
  } unhook{state};
  // A given lookup may answer on any thread (a test's on the control thread, while this
  // session runs on a worker): the answer is taken on the resolver's own.
  lookup_(where.host, where.port,
          [state, ex = executor_](std::error_code ec, std::vector<asio::ip::tcp::endpoint> endpoints) {
            asio::dispatch(ex, [state, ec, endpoints = std::move(endpoints)]() mutable {
              state->answer = Resolved{std::move(endpoints), ec, false};
              if (state->wake) state->wake->cancel();
            });
          });
  if (!state->answer) co_await timer.async_wait(kAwait);
  if (!state->answer) co_return Resolved{{}, {}, true};
  co_return std::move(*state->answer);
}

asio::awaitable<std::string> Resolver::listen_address(const std::string& text) const {
  const HostPort where = parse_host_port(text);
  if (where.wildcard() || where.literal()) co_return text;
  asio::steady_timer limit(executor_, kListenLookupLimit);
  const Resolved found = co_await resolve(where, limit);
  const auto chosen = listen_choice(found.endpoints);
  if (!chosen) throw std::invalid_argument(fmt::format("listen {}: {}", text, found.why(where.host)));
  co_return address_text(*chosen);
}

}  // namespace dropsim
