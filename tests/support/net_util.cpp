#include "net_util.h"

#include "address.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <optional>
#include <stdexcept>

#include <asio/post.hpp>

namespace dropsim::test {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() { reset(); }

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

/// Binds `fd` to 127.0.0.1 on a port the kernel picks, listens when `backlog` is set;
/// the port. Throws on failure, naming `what`.
std::uint16_t bind_loopback(int fd, std::optional<int> backlog, const char* what) {
  auto a = loopback(0);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || (backlog && ::listen(fd, *backlog) != 0) ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
  }
  return ntohs(a.sin_port);
}

}  // namespace

void set_buffers(int fd, SocketBuffers b) {
  if (b.send > 0) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b.send, sizeof b.send);
  if (b.receive > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b.receive, sizeof b.receive);
}

std::size_t granted_queue(int fd, bool send) {
  int size = 0;
  socklen_t len = sizeof size;
  ::getsockopt(fd, SOL_SOCKET, send ? SO_SNDBUF : SO_RCVBUF, &size, &len);
  return static_cast<std::size_t>(std::max(size, 0));
}

Listener::Listener(int backlog, SocketBuffers buffers) {
  fd_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  set_buffers(fd_.get(), buffers);
  port_ = bind_loopback(fd_.get(), backlog, "listener");
}

ClosedPort::ClosedPort()
    : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)),
      // No SO_REUSEADDR: nobody else may bind the port while it is held.
      port_(bind_loopback(fd_.get(), std::nullopt, "closed port")) {}

Fd Listener::accept(Ms timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return Fd();
  return Fd(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
}

Fd connect_to(std::uint16_t port, bool nodelay, SocketBuffers buffers) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  set_buffers(fd.get(), buffers);
  auto a = loopback(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
  }
  if (nodelay) set_nodelay(fd.get());
  return fd;
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void set_io_timeout(int fd, Ms timeout) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool send_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool send_all(int fd, const std::string& s) { return send_all(fd, s.data(), s.size()); }

std::string recv_exact(int fd, std::size_t n, Ms timeout) {
  std::string out;
  out.resize(n);
  std::size_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got < n) {
    const auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t r = ::recv(fd, out.data() + got, n - got, 0);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

bool recv_all(int fd, void* data, std::size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

std::string to_string(End e) {
  switch (e) {
    case End::eof: return "EOF";
    case End::reset: return "RST";
    case End::timeout: return "timeout";
    case End::data: return "data";
  }
  return "?";
}

Ending wait_end(int fd, Ms timeout, bool data_ends) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  char buf[65536];
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    const auto left = std::chrono::duration_cast<Ms>(deadline - now);
    if (left.count() <= 0) return {End::timeout, timeout};
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {End::timeout, timeout};
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    const auto after = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - start);
    if (r == 0) return {End::eof, after};
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return {errno == ECONNRESET ? End::reset : End::eof, after};
    }
    if (data_ends) return {End::data, after};
  }
}

Pushed push_until_blocked(int fd, std::size_t most, Ms quiet) {
  const std::string junk(64 * 1024, 'j');
  const auto deadline = std::chrono::steady_clock::now() + Ms(10000);
  Pushed out;
  while (out.bytes < most && std::chrono::steady_clock::now() < deadline) {
    const ssize_t w =
        ::send(fd, junk.data(), std::min(junk.size(), most - out.bytes), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) {
      out.bytes += static_cast<std::size_t>(w);
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(quiet.count())) == 0) {
      out.blocked = true;
      break;
    }
  }
  return out;
}

void shutdown_write(int fd) { ::shutdown(fd, SHUT_WR); }

int open_fd_count() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n - 3;  // ".", ".." and the DIR's own descriptor
}

EchoServer::EchoServer() {
  acceptor_ = std::thread([this] {
    while (!stop_) {
      Fd c = listener_.accept(Ms(50));
      if (!c.valid()) continue;
      ++connections_;
      workers_.emplace_back([this, fd = c.release()] {
        Fd conn(fd);
        char buf[65536];
        while (!stop_) {
          pollfd p{conn.get(), POLLIN, 0};
          const int ready = ::poll(&p, 1, 50);
          if (ready < 0) break;
          if (ready == 0) continue;
          const ssize_t r = ::recv(conn.get(), buf, sizeof buf, 0);
          if (r <= 0) break;
          if (!send_all(conn.get(), buf, static_cast<std::size_t>(r))) break;
        }
      });
    }
  });
}

EchoServer::~EchoServer() {
  stop_ = true;
  acceptor_.join();
  for (auto& w : workers_) w.join();
}

HoldServer::HoldServer()
    : acceptor_([this] {
        while (!stop_) {
          Fd c = listener_.accept(Ms(50));
          if (!c.valid()) continue;
          std::lock_guard lock(mutex_);
          held_.push_back(std::move(c));
          connections_ = held_.size();
        }
      }) {}

HoldServer::~HoldServer() {
  stop_ = true;
  acceptor_.join();
}

std::string CapturingSink::text() {
  std::lock_guard lock(mutex_);
  return text_;
}

void CapturingSink::sink_it_(const spdlog::details::log_msg& msg) {
  text_.append(msg.payload.data(), msg.payload.size());
  text_ += '\n';
}

ProxyUnderTest::ProxyUnderTest(Profile profile, std::uint16_t upstream_port, spdlog::level::level_enum level)
    : ProxyUnderTest(std::move(profile), "127.0.0.1:" + std::to_string(upstream_port), level) {}

ProxyUnderTest::ProxyUnderTest(Profile profile, const std::string& upstream, spdlog::level::level_enum level)
    : ProxyUnderTest(std::move(profile), upstream, {}, "127.0.0.1:0", level) {}

ProxyUnderTest::ProxyUnderTest(Profile profile, const std::string& upstream, Resolver::Lookup lookup,
                               const std::string& listen)
    : ProxyUnderTest(std::move(profile), upstream, std::move(lookup), listen, spdlog::level::debug) {}

ProxyUnderTest::ProxyUnderTest(Profile profile, const std::string& upstream, Resolver::Lookup lookup,
                               const std::string& listen, spdlog::level::level_enum level)
    : sink_(std::make_shared<CapturingSink>()) {
  auto logger = std::make_shared<spdlog::logger>("test", sink_);
  logger->set_level(level);
  log_ = std::make_unique<EventLog>(logger, LogFormat::text);
  ProxyOptions options;
  options.name = "test";
  options.listen = listen;
  options.upstream = upstream;
  options.profile = std::move(profile);
  options.lookup = std::move(lookup);
  proxy_ = std::make_unique<Proxy>(io_, options, *log_);
  proxy_->start();
  port_ = proxy_->local_endpoint().port();
  address_ = address_text(proxy_->local_endpoint());
  thread_ = std::thread([this] { io_.run(); });
}

ProxyUnderTest::~ProxyUnderTest() {
  asio::post(io_, [this] { proxy_->stop(); });
  // Let sessions unwind, then stop whatever is left (bounded).
  const auto deadline = std::chrono::steady_clock::now() + Ms(2000);
  while (std::chrono::steady_clock::now() < deadline && live_sessions() > 0) {
    std::this_thread::sleep_for(Ms(5));
  }
  io_.stop();
  thread_.join();
  proxy_.reset();
}

std::string ProxyUnderTest::logs() const { return sink_->text(); }

bool ProxyUnderTest::wait_log(const std::string& needle, Ms timeout) const {
  return wait_until([&] { return logs().find(needle) != std::string::npos; }, timeout);
}

std::size_t ProxyUnderTest::live_sessions() {
  if (io_.stopped()) return 0;
  auto p = std::make_shared<std::promise<std::size_t>>();
  auto f = p->get_future();
  asio::post(io_, [p, this] { p->set_value(proxy_->live_sessions()); });
  if (f.wait_for(Ms(1000)) != std::future_status::ready) return 0;
  return f.get();
}

void ProxyUnderTest::on_io(const std::function<void()>& fn) {
  auto p = std::make_shared<std::promise<void>>();
  auto f = p->get_future();
  asio::post(io_, [p, fn] {
    fn();
    p->set_value();
  });
  f.wait_for(Ms(1000));
}

bool ProxyUnderTest::wait_idle(Ms timeout) {
  return wait_until([&] { return live_sessions() == 0; }, timeout);
}

bool wait_until(const std::function<bool()>& done, Ms timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(Ms(5));
  }
  return done();
}

Profile idle_profile(Ms timeout, DirectionSet reset_by, SideActions actions, HalfClose half_close) {
  Profile p;
  p.name = "test";
  p.half_close = {half_close, half_close};
  p.connect.timeout = Ms(1000);
  TimerSpec t;
  t.name = "test_idle_timeout";
  t.kind = TimerKind::idle;
  t.timeout = timeout;
  t.reset_by = reset_by;
  t.on_expiry = actions;
  p.timers.push_back(t);
  return p;
}

}  // namespace dropsim::test
