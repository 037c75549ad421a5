#pragma once
// Host names to addresses without blocking the io thread. Asio's resolver runs
// getaddrinfo on a thread of its own and completes on the io thread, so the bytes of
// every other session keep moving while a lookup waits on DNS. An IP literal needs no
// lookup at all.
//
//   Session ──resolve(upstream, deadline)──► Resolver ──lookup──► Asio's resolver thread
//      ▲                                        │ (or a test's fake)
//      └──────── endpoints, or why not ◄────────┘ completion, or the deadline
//
// Asio 1.22's resolver ignores per-operation cancellation, so the deadline is a timer of
// our own that the lookup's completion cancels: a slow lookup times out on time, and its
// late answer is dropped.

#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "address.h"

namespace dropsim {

/// How a lookup ended.
struct Resolved {
  std::vector<asio::ip::tcp::endpoint> endpoints;  ///< in the resolver's order; empty on failure
  std::error_code error;                           ///< the resolver's error
  bool timed_out = false;                          ///< the deadline came first

  bool ok() const { return !endpoints.empty(); }
  /// Why there is no address, for log lines: "cannot resolve 'db.invalid': Host not found
  /// (authoritative)"; "" when ok.
  std::string why(const std::string& host) const;
};

/// Looks up the addresses of host names.
class Resolver {
 public:
  /// The completion of one lookup: the resolver's error, or the addresses.
  using Done = std::function<void(std::error_code, std::vector<asio::ip::tcp::endpoint>)>;
  /// Starts looking `host` up and calls `done` when it has an answer, on any thread (the
  /// resolver takes the answer on its executor's).
  /// The default is Asio's resolver; tests pass a slow or failing one.
  using Lookup = std::function<void(const std::string& host, std::uint16_t port, Done done)>;

  /// `lookup` empty: Asio's resolver on `executor`.
  explicit Resolver(asio::any_io_executor executor, Lookup lookup = {});

  /// The addresses of `where`: at once for an IP literal, else by a lookup that ends by
  /// `timer`'s expiry at the latest. The lookup's answer cancels `timer`, and so may the
  /// caller to stop waiting (a session that ends: then timed_out, and the late answer is
  /// dropped). `timer` must be on the resolver's executor and outlive the wait.
  asio::awaitable<Resolved> resolve(const HostPort& where, asio::steady_timer& timer) const;
  /// Where Go's net.Listen would bind `text` ("localhost:0" → 127.0.0.1:0, ":8666" →
  /// [::]:8666), as "HOST:PORT" with an IP literal. Throws std::invalid_argument for a
  /// malformed address or a name that does not resolve (the resolver's error in the text).
  asio::awaitable<std::string> listen_address(const std::string& text) const;

 private:
  asio::any_io_executor executor_;
  Lookup lookup_;
};

}  // namespace dropsim
