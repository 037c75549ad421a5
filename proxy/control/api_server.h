#pragma once
// The control API's HTTP/1.1 server: one coroutine per connection on the proxies' own
// io_context, keep-alive and pipelining, and GET /events streamed as Server-Sent Events.
// Nothing here blocks: a request is read, ControlApi answers it at once, the answer is
// written; a slow API client only waits for itself, and a slow event reader loses events
// (EventStream) instead of slowing a session.
//
//   accept ──► serve(conn): read ──► HttpRequestReader ──► ControlApi::handle ──► write
//                                                      └─► GET /events ──► stream(conn)
//
// A malformed request is answered 400 (413 body too large, 431 head too large) where
// possible and closes that connection only. An idle connection closes after a minute; a
// request whose head and body have not all arrived 10 s after its first byte is answered
// 408 and closed, however slowly it was dribbled (slow loris). Beyond 64 connections at
// once (event streams included) a new one is answered 503 and closed, so the API's
// descriptors stay inside the reserve the session cap keeps back (session_budget.h).

#include <cstddef>
#include <memory>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "clock.h"
#include "event_stream.h"
#include "runtime.h"
#include "session_budget.h"

namespace dropsim {

/// Tunables with their defaults; tests shorten them.
struct ApiServerOptions {
  Duration heartbeat = std::chrono::seconds(15);     ///< an SSE comment this often, so proxies keep the stream
  Duration idle_timeout = std::chrono::seconds(60);  ///< a connection with no request in flight closes after this
  /// A request's head and body must have arrived this long after its first byte; then 408
  /// and close. One deadline per request, not per piece, so dribbling cannot stretch it.
  Duration request_timeout = std::chrono::seconds(10);
  /// API connections open at once, event streams included; one more is answered 503.
  std::size_t max_connections = kDefaultApiConnections;
  std::size_t event_queue = 4096;  ///< SSE frames a slow reader may have waiting
  /// Proxies made through the API may listen on non-loopback addresses and serve any
  /// client (--allow-remote-listen); implied by allow_remote.
  bool allow_remote_listen = false;
  /// Required on every state change as "Authorization: Bearer TOKEN"; empty: none.
  std::string token;
};

/// The API listener and its connections.
class ApiServer {
 public:
  /// `listen` is "HOST:PORT" ("127.0.0.1:8474"); a non-loopback host needs `allow_remote`
  /// (which also lets any Host and Origin in: ApiAccess). `runtime` must outlive the
  /// server; everything runs on `io`'s thread.
  ApiServer(asio::io_context& io, Runtime& runtime, std::string listen, bool allow_remote,
            ApiServerOptions options = {});
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  /// Binds and starts accepting. Throws std::invalid_argument for a bad or non-loopback
  /// address without allow_remote (the message says to pass --api-allow-remote), and
  /// std::system_error when the address is in use.
  void start();
  /// The address bound (the real port after listening on port 0).
  asio::ip::tcp::endpoint local_endpoint() const;
  /// Stops accepting and closes every API connection, event streams included.
  void stop();

 private:
  struct State;
  struct Connection;
  static asio::awaitable<void> accept_loop(std::shared_ptr<State> state);
  /// True when `socket` may be served; at the connection cap it is answered 503 and closed.
  static bool admit(State& state, asio::ip::tcp::socket& socket);
  static asio::awaitable<void> serve(std::shared_ptr<State> state, std::shared_ptr<Connection> conn);
  static asio::awaitable<void> watchdog(std::shared_ptr<State> state, std::shared_ptr<Connection> conn);
  static asio::awaitable<void> stream_events(std::shared_ptr<State> state, std::shared_ptr<Connection> conn,
                                             EventFilter filter);
  static asio::awaitable<void> until_gone(std::shared_ptr<Connection> conn);

  std::shared_ptr<State> state_;
};

}  // namespace dropsim
