#include "api_server.h"

// Lifetime: coroutines share State and their Connection through shared_ptr, so a
// coroutine resumed after stop() (with operation_aborted) still has valid memory; stop()
// closes every socket and drops every event subscription at once, so nothing reaches the
// Runtime or the EventLog after it returns.

#include <array>
#include <list>
#include <optional>
#include <stdexcept>

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "address.h"
#include "await.h"
#include "control_api.h"
#include "duration.h"
#include "episode.h"
#include "event_stream.h"
#include "http_request.h"
#include "http_response.h"
#include "proxy.h"

namespace dropsim {
namespace {

/// Bytes read per receive: a request head or a small body in one go.
constexpr std::size_t kReadChunk = 16 * 1024;
/// The kernel's send buffer of an event stream: what a stalled reader holds beyond the
/// queue's frames stays small, and its loss is seen (and announced) soon.
constexpr int kEventSendBuffer = 64 * 1024;
/// What answer_and_close reads and drops at most of what the client already sent.
constexpr int kDiscardReads = 16;

/// Answers a connection that ends now (503 at the cap, 408 at the request deadline)
/// without waiting on it: `bytes` are small and the socket's send buffer empty or nearly,
/// so they are written at once or not at all. What the client already sent is read and
/// dropped first, so that closing sends FIN after the answer, not a RST that may beat it.
void answer_and_close(asio::ip::tcp::socket& socket, const HttpResponse& response) {
  std::error_code ec;
  socket.non_blocking(true, ec);
  std::array<char, 4096> discard;
  for (int i = 0; i < kDiscardReads && !ec; ++i) socket.read_some(asio::buffer(discard), ec);
  asio::write(socket, asio::buffer(serialize(response, false)), ec);
  socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

}  // namespace

struct ApiServer::Connection {
  explicit Connection(asio::ip::tcp::socket s)
      : socket(std::move(s)), timer(socket.get_executor()), wake(socket.get_executor()) {}

  /// The connection closes at `t` unless moved again; wakes the watchdog when that is
  /// sooner than it planned to look.
  void expire_at(TimePoint t) {
    deadline = t;
    if (t < timer.expiry()) timer.cancel();
  }

  /// Closes the socket; every pending operation on it ends with an error.
  void close() {
    closed = true;
    std::error_code ec;
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket.close(ec);
    timer.cancel();
    wake.cancel();
    events.reset();
  }

  asio::ip::tcp::socket socket;
  asio::steady_timer timer;  ///< the idle watchdog
  asio::steady_timer wake;   ///< event streams: heartbeat deadline, cancelled when events arrive
  TimePoint deadline = TimePoint::max();  ///< idle: close at this instant (max while busy)
  /// A request's first bytes arrived and it is not complete: `deadline` is its deadline,
  /// and nothing has been answered to it yet (the watchdog answers 408).
  bool in_request = false;
  std::unique_ptr<EventStream> events;    ///< GET /events only
  bool closed = false;                    ///< close() ran
  bool gone = false;                      ///< event streams: the client closed its side
};

struct ApiServer::State {
  State(asio::io_context& i, Runtime& r, std::string l, bool remote, ApiServerOptions o)
      : io(i),
        runtime(r),
        listen(std::move(l)),
        allow_remote(remote),
        options(o),
        api(r, ApiAccess{remote, o.allow_remote_listen, o.token}),
        acceptor(i) {
    api.stats().max_connections = options.max_connections;
  }

  asio::io_context& io;
  Runtime& runtime;
  std::string listen;
  bool allow_remote;
  ApiServerOptions options;
  ControlApi api;
  asio::ip::tcp::acceptor acceptor;
  std::list<std::shared_ptr<Connection>> connections;
  Episode refusing;  ///< connections refused at the cap
  bool stopped = false;

  void forget(const std::shared_ptr<Connection>& conn) {
    conn->close();
    connections.remove(conn);
    api.stats().open_connections = connections.size();
  }
};

ApiServer::ApiServer(asio::io_context& io, Runtime& runtime, std::string listen, bool allow_remote,
                     ApiServerOptions options)
    : state_(std::make_shared<State>(io, runtime, std::move(listen), allow_remote, options)) {}

ApiServer::~ApiServer() { stop(); }

void ApiServer::start() {
  State& s = *state_;
  const HostPort where = parse_host_port(s.listen);
  if (!where.wildcard() && !where.literal()) {
    throw std::invalid_argument(fmt::format("API address '{}' names a host: look it up first", s.listen));
  }
  if ((where.wildcard() || !where.literal()->is_loopback()) && !s.allow_remote) {
    throw std::invalid_argument(fmt::format(
        "API address '{}' is not loopback: anyone who reaches it can change every proxy; pass "
        "--api-allow-remote to listen there anyway",
        s.listen));
  }
  try {
    open_listener(s.acceptor, where);
  } catch (const std::system_error& e) {
    std::error_code ignored;
    s.acceptor.close(ignored);
    throw std::system_error(e.code(), fmt::format("API listen on {}", s.listen));
  }
  const auto bound = local_endpoint();
  // Whether a token is needed, never the token.
  s.runtime.log().event(spdlog::level::info, 0, "api_listen",
                        fmt::format("control API listening on {}{}{}", address_text(bound),
                                    s.allow_remote ? " (remote clients allowed)" : "",
                                    s.options.token.empty() ? "" : " (token required for changes)"),
                        {{"port", static_cast<std::int64_t>(bound.port())}});
  asio::co_spawn(s.io, accept_loop(state_), asio::detached);
}

asio::ip::tcp::endpoint ApiServer::local_endpoint() const {
  std::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

void ApiServer::stop() {
  State& s = *state_;
  if (s.stopped) return;
  s.stopped = true;
  std::error_code ec;
  s.acceptor.close(ec);
  for (auto& conn : s.connections) conn->close();
  s.connections.clear();
}

asio::awaitable<void> ApiServer::accept_loop(std::shared_ptr<State> state) {
  asio::steady_timer backoff(state->io);
  while (!state->stopped) {
    auto [ec, socket] = co_await state->acceptor.async_accept(kAwait);
    if (state->stopped || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors: back off rather than spin; the proxies keep running.
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(kAwait);
      continue;
    }
    if (!admit(*state, socket)) continue;
    std::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Connection>(std::move(socket));
    state->connections.push_back(conn);
    state->api.stats().open_connections = state->connections.size();
    asio::co_spawn(state->io, serve(state, conn), asio::detached);
    asio::co_spawn(state->io, watchdog(state, conn), asio::detached);
  }
}

bool ApiServer::admit(State& state, asio::ip::tcp::socket& socket) {
  const TimePoint now = std::chrono::steady_clock::now();
  const std::size_t most = state.options.max_connections;
  if (state.connections.size() < most) {
    if (const auto ended = state.refusing.end(now)) {
      state.runtime.log().event(spdlog::level::info, 0, "api_refused",
                                fmt::format("control API: refused {} connection(s) at its cap of {} in {}",
                                            ended->count, most, format_seconds(ended->lasted)));
    }
    return true;
  }
  ++state.api.stats().refused_connections;
  if (state.refusing.add(now)) {
    state.runtime.log().event(
        spdlog::level::warn, 0, "api_refused",
        fmt::format("control API: {} connections open, its cap (--api-max-connections): refusing more with 503 "
                    "until one closes",
                    most));
  }
  answer_and_close(socket, error_response(503, fmt::format("the control API has {} connections open, its most "
                                                           "(--api-max-connections); retry when one closes",
                                                           most)));
  return false;
}

asio::awaitable<void> ApiServer::watchdog(std::shared_ptr<State> state, std::shared_ptr<Connection> conn) {
  // Activity only moves conn->deadline; this wakes, re-checks, and sleeps again.
  while (!conn->closed && !state->stopped) {
    const TimePoint now = std::chrono::steady_clock::now();
    if (conn->deadline <= now) {
      if (conn->in_request) {
        // Nothing was answered to this request yet: say why it ends.
        ++state->api.stats().request_timeouts;
        answer_and_close(conn->socket,
                         error_response(408, fmt::format("the request did not arrive within {} of its first byte",
                                                         format_seconds(state->options.request_timeout))));
      }
      state->forget(conn);
      co_return;
    }
    conn->timer.expires_at(conn->deadline == TimePoint::max() ? now + state->options.idle_timeout : conn->deadline);
    co_await conn->timer.async_wait(kAwait);
  }
}

namespace {

/// Writes all of `bytes`; false when the connection is gone.
asio::awaitable<bool> write_all(asio::ip::tcp::socket& socket, const std::string& bytes) {
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(bytes), kAwait);
  co_return !ec;
}

}  // namespace

asio::awaitable<void> ApiServer::serve(std::shared_ptr<State> state, std::shared_ptr<Connection> conn) {
  HttpRequestReader reader;
  std::string pending;  // bytes read and not yet consumed (a pipelined request)
  std::string chunk(kReadChunk, '\0');
  const auto idle_from_now = [&] {
    conn->in_request = false;
    conn->expire_at(std::chrono::steady_clock::now() + state->options.idle_timeout);
  };
  // Set once, at a request's first byte, and not moved by the pieces after it: a client
  // dribbling a byte at a time (slow loris) still has only this long.
  const auto request_from_now = [&] {
    conn->in_request = true;
    conn->expire_at(std::chrono::steady_clock::now() + state->options.request_timeout);
  };
  idle_from_now();

  while (!conn->closed && !state->stopped) {
    // Answer every complete request already read, in order.
    while (!pending.empty()) {
      const auto result = reader.feed({pending.data(), pending.size()});
      using Status = HttpRequestReader::Result::Status;
      if (result.status == Status::error) {
        idle_from_now();  // answered now: no 408 on top of it
        co_await write_all(conn->socket, serialize(error_response(result.http_status, result.reason), false));
        state->forget(conn);
        co_return;
      }
      if (result.status == Status::need_more) {
        pending.clear();
        break;
      }
      pending.erase(0, result.consumed);
      const HttpRequest request = reader.take();
      // Busy until answered: handle() may wait on a lookup, and no deadline cuts it short.
      conn->in_request = false;
      conn->expire_at(TimePoint::max());
      if (auto filter = state->api.events_request(request)) {
        co_await stream_events(state, conn, std::move(*filter));
        co_return;
      }
      const HttpResponse response = co_await state->api.handle(request);
      const bool keep_alive = request.keep_alive && !state->stopped;
      // A client that does not read its answer has the idle timeout to start.
      idle_from_now();
      if (!co_await write_all(conn->socket, serialize(response, keep_alive)) || !keep_alive) {
        state->forget(conn);
        co_return;
      }
      // A pipelined request already sent some of its bytes: its time runs from now.
      if (pending.empty()) {
        idle_from_now();
      } else {
        request_from_now();
      }
    }
    if (reader.take_continue() && !co_await write_all(conn->socket, "HTTP/1.1 100 Continue\r\n\r\n")) break;
    auto [ec, n] = co_await conn->socket.async_read_some(asio::buffer(chunk), kAwait);
    if (ec) break;  // EOF, reset, or closed by stop() or the watchdog
    pending.append(chunk.data(), n);
    if (!conn->in_request) request_from_now();  // a request's first byte
  }
  if (!state->stopped) state->forget(conn);
}

asio::awaitable<void> ApiServer::stream_events(std::shared_ptr<State> state, std::shared_ptr<Connection> conn,
                                               EventFilter filter) {
  Connection& c = *conn;
  c.deadline = TimePoint::max();  // a stream is idle by nature; the heartbeat keeps it alive
  std::error_code ignored;
  c.socket.set_option(asio::socket_base::send_buffer_size(kEventSendBuffer), ignored);
  std::weak_ptr<Connection> weak = conn;
  // The tap runs inside a session's log call, on the session's worker: it only queues,
  // and posts the wake-up to this thread, where the connection and its timer live.
  c.events = std::make_unique<EventStream>(state->runtime.log(), std::move(filter), state->options.event_queue,
                                           [weak, io = &state->io] {
                                             asio::post(*io, [weak] {
                                               if (auto live = weak.lock()) live->wake.cancel();
                                             });
                                           });
  if (co_await write_all(c.socket, event_stream_head())) {
    asio::co_spawn(state->io, until_gone(conn), asio::detached);
    while (!c.closed && !c.gone && !state->stopped) {
      std::string out = c.events->take();
      if (out.empty()) {
        c.wake.expires_after(state->options.heartbeat);
        auto [ec] = co_await c.wake.async_wait(kAwait);
        if (c.closed || c.gone || state->stopped) break;
        if (ec) continue;  // woken early: events are waiting
        out = ": heartbeat\n\n";
      }
      if (!co_await write_all(c.socket, out)) break;
    }
  }
  // Closing drops the subscription: the EventLog no longer calls into this connection.
  if (!state->stopped) state->forget(conn);
}

asio::awaitable<void> ApiServer::until_gone(std::shared_ptr<Connection> conn) {
  // An event-stream client sends nothing more; its read ends only when it goes away.
  std::array<char, 512> discard;
  while (!conn->closed) {
    auto [ec, n] = co_await conn->socket.async_read_some(asio::buffer(discard), kAwait);
    if (ec) break;
  }
  conn->gone = true;
  conn->wake.cancel();  // the writer wakes, sees `gone`, and closes
}

}  // namespace dropsim
