#pragma once
// Test-side networking with plain blocking POSIX sockets on 127.0.0.1: independent of
// dropsim's own code, every call bounded by a timeout. Shared by the integration tests and
// the bench (the dropsim_testkit library); no gtest here.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <spdlog/common.h>
#include <spdlog/sinks/base_sink.h>

#include "event_log.h"
#include "profile.h"
#include "proxy.h"

namespace dropsim::test {

using Ms = std::chrono::milliseconds;

/// Polls `done` every 5 ms until it is true; false after `timeout` (one last look then).
bool wait_until(const std::function<bool()>& done, Ms timeout);

/// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  ~Fd();
  int get() const { return fd_; }
  int release() { int f = fd_; fd_ = -1; return f; }
  bool valid() const { return fd_ >= 0; }
  void reset();

 private:
  int fd_ = -1;
};

/// Fixed kernel queue sizes for a test's own socket (0 leaves that one to the kernel).
/// Set explicitly, a size turns autotuning off for that socket, so the bytes a stalled
/// peer can queue no longer depend on net.ipv4.tcp_rmem / tcp_wmem; the kernel grants
/// about twice the size asked (see granted_queue()).
struct SocketBuffers {
  int send = 0;     ///< SO_SNDBUF
  int receive = 0;  ///< SO_RCVBUF; before connect() or listen(): the window scale is fixed then
};
/// Applies `b` to `fd`.
void set_buffers(int fd, SocketBuffers b);
/// What the kernel granted `fd`: SO_SNDBUF when `send`, else SO_RCVBUF.
std::size_t granted_queue(int fd, bool send);

/// A listening socket on 127.0.0.1 with an ephemeral port; accepted sockets inherit
/// `buffers`.
class Listener {
 public:
  explicit Listener(int backlog = 512, SocketBuffers buffers = {});
  std::uint16_t port() const { return port_; }
  /// Accepts one connection within `timeout`; invalid Fd on timeout.
  Fd accept(Ms timeout = Ms(2000));
  int fd() const { return fd_.get(); }

 private:
  Fd fd_;
  std::uint16_t port_ = 0;
};

/// A port on 127.0.0.1 that is bound and held but not listening: a connect to it is
/// refused, and no other socket (another test's listener, an outgoing connection) can take
/// the port while this object lives, as one bound and closed at once could be.
class ClosedPort {
 public:
  ClosedPort();
  std::uint16_t port() const { return port_; }

 private:
  Fd fd_;
  std::uint16_t port_ = 0;
};

/// Connects to 127.0.0.1:port (blocking), with TCP_NODELAY unless `nodelay` is false and
/// `buffers` set before the handshake; throws on failure.
Fd connect_to(std::uint16_t port, bool nodelay = true, SocketBuffers buffers = {});
/// Disables Nagle on `fd` (TCP_NODELAY).
void set_nodelay(int fd);
/// Bounds every blocking send and recv on `fd` to `timeout` (SO_SNDTIMEO, SO_RCVTIMEO).
void set_io_timeout(int fd, Ms timeout);
/// Sends everything; false on error (or the socket's send timeout).
bool send_all(int fd, const void* data, std::size_t n);
bool send_all(int fd, const std::string& s);
/// Receives exactly n bytes within timeout; returns what arrived.
std::string recv_exact(int fd, std::size_t n, Ms timeout);
/// Receives exactly n bytes into `data` with plain blocking recv() calls, no poll (bound
/// it with set_io_timeout); false on EOF, error or timeout.
bool recv_all(int fd, void* data, std::size_t n);

/// How a connection ended as seen by one peer.
enum class End { eof, reset, timeout, data };
std::string to_string(End e);

/// Waits for the peer to end the connection (reading and discarding data unless
/// `data_ends` is set). Returns how and after how long.
struct Ending {
  End how = End::timeout;
  Ms after{0};
};
Ending wait_end(int fd, Ms timeout, bool data_ends = false);

/// How a sender that never gives up fared.
struct Pushed {
  std::size_t bytes = 0;  ///< taken by the kernel
  bool blocked = false;   ///< the socket stayed unwritable for the whole `quiet`
};

/// Sends until `fd` stays unwritable for `quiet` (blocked), `most` bytes went, or 10 s
/// passed. Waits for room rather than giving up at the first EAGAIN: a kernel may free
/// room in its queues some time after they filled.
Pushed push_until_blocked(int fd, std::size_t most, Ms quiet);

/// Half-closes our sending side.
void shutdown_write(int fd);

/// Number of open file descriptors in this process.
int open_fd_count();

/// An echo server on its own threads: one thread per connection.
class EchoServer {
 public:
  EchoServer();
  ~EchoServer();
  std::uint16_t port() const { return listener_.port(); }
  int connections() const { return connections_.load(); }

 private:
  Listener listener_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

/// A server that accepts on its own thread and holds every connection open, never reading
/// or writing: an idle peer for timers and memory.
class HoldServer {
 public:
  HoldServer();
  ~HoldServer();
  std::uint16_t port() const { return listener_.port(); }
  /// Connections accepted (and held) so far.
  std::size_t connections() const { return connections_.load(); }

 private:
  Listener listener_{4096};  // thousands of clients may connect at once
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> connections_{0};
  std::mutex mutex_;
  std::vector<Fd> held_;
  std::thread acceptor_;  // last: starts after the members it uses exist
};

/// A spdlog sink that keeps formatted lines for tests to read.
class CapturingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  /// Every line so far, joined with newlines.
  std::string text();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  std::string text_;
};

/// A dropsim Proxy in this process on its own io_context thread, with captured logs.
class ProxyUnderTest {
 public:
  /// Lines below `level` are neither formatted nor captured (the bench passes warn).
  ProxyUnderTest(Profile profile, std::uint16_t upstream_port,
                 spdlog::level::level_enum level = spdlog::level::debug);
  ProxyUnderTest(Profile profile, const std::string& upstream,
                 spdlog::level::level_enum level = spdlog::level::debug);
  /// Listens on `listen` and looks the upstream's name up with `lookup` (empty: Asio's).
  ProxyUnderTest(Profile profile, const std::string& upstream, Resolver::Lookup lookup,
                 const std::string& listen = "127.0.0.1:0");
  ~ProxyUnderTest();
  ProxyUnderTest(const ProxyUnderTest&) = delete;
  ProxyUnderTest& operator=(const ProxyUnderTest&) = delete;
  /// Runs `fn` on the proxy's io thread and waits for it (at most 1 s).
  void on_io(const std::function<void()>& fn);
  std::uint16_t port() const { return port_; }
  /// The proxy itself; touch it only inside on_io.
  Proxy& proxy() { return *proxy_; }
  /// The bound address ("[::]:40123" for a wildcard listen).
  const std::string& address() const { return address_; }
  /// Everything logged so far.
  std::string logs() const;
  /// Waits until a log line contains `needle`; false after `timeout`.
  bool wait_log(const std::string& needle, Ms timeout = Ms(2000)) const;
  /// Sessions holding sockets now, whatever their state (asked on the proxy's thread).
  std::size_t live_sessions();
  /// Waits until no session holds a socket; false after `timeout`.
  bool wait_idle(Ms timeout = Ms(3000));

 private:
  std::shared_ptr<CapturingSink> sink_;
  std::unique_ptr<EventLog> log_;
  asio::io_context io_;
  std::unique_ptr<Proxy> proxy_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::string address_;

  ProxyUnderTest(Profile profile, const std::string& upstream, Resolver::Lookup lookup, const std::string& listen,
                 spdlog::level::level_enum level);
};

/// A profile with one idle timer, for tests.
Profile idle_profile(Ms timeout, DirectionSet reset_by, SideActions actions = {},
                     HalfClose half_close = HalfClose::forward);

}  // namespace dropsim::test
