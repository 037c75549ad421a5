// dropsim_bench: what dropsim costs on loopback, measured against a direct connection in
// the same run. Prints numbers; never fails on a measurement (exit 1 only if setup breaks).
//
//   1. bulk throughput, one stream client->server (Gbit/s)
//   2. 64-byte ping-pong round-trip latency (µs)
//   3. idle-timer accuracy: observed close time minus the configured timeout (ms)
//   4. RSS per idle proxied session (KB)
//
// Peers are blocking POSIX sockets on 127.0.0.1, each on its own thread; the Proxy runs
// in-process on its own io_context thread. Every blocking call has a timeout
// (SO_RCVTIMEO/SO_SNDTIMEO or poll) and every loop is bounded in count and time.
//
// Usage: dropsim_bench [--quick]      (full ~15-60 s, quick ~5-10 s)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <fmt/core.h>

#include "event_log.h"
#include "profile.h"
#include "proxy.h"

namespace {

using Steady = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

double ms_between(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// ------------------------------------------------------------------------ sockets

/// An owned file descriptor.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept { std::swap(fd, o.fd); return *this; }
  ~Fd() { if (fd >= 0) ::close(fd); }
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

/// Bounds every blocking send/recv on `fd` to 5 s; optionally disables Nagle.
void tune(int fd, bool nodelay) {
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  if (nodelay) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/// A listening socket on 127.0.0.1 with an ephemeral port.
struct Listener {
  Fd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  std::uint16_t port = 0;
  Listener() {
    auto a = loopback(0);
    socklen_t len = sizeof a;
    if (::bind(fd.fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd.fd, 4096) != 0 ||
        ::getsockname(fd.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error(std::string("listener: ") + std::strerror(errno));
    }
    port = ntohs(a.sin_port);
  }
  /// One connection within `timeout_ms`; fd -1 on timeout.
  Fd accept(int timeout_ms = 5000) {
    pollfd p{fd.fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return Fd();
    return Fd(::accept4(fd.fd, nullptr, nullptr, SOCK_CLOEXEC));
  }
};

/// Connects to 127.0.0.1:port; throws on failure.
Fd connect_to(std::uint16_t port, bool nodelay = false) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto a = loopback(port);
  if (::connect(fd.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
  }
  tune(fd.fd, nodelay);
  return fd;
}

/// Sends or receives exactly n bytes; false on EOF, error or the 5 s socket timeout.
bool send_all(int fd, const char* p, std::size_t n) {
  for (ssize_t w; n > 0; p += w, n -= static_cast<std::size_t>(w)) {
    if ((w = ::send(fd, p, n, MSG_NOSIGNAL)) <= 0) return false;
  }
  return true;
}
bool recv_exact(int fd, char* p, std::size_t n) {
  for (ssize_t r; n > 0; p += r, n -= static_cast<std::size_t>(r)) {
    if ((r = ::recv(fd, p, n, 0)) <= 0) return false;
  }
  return true;
}

/// An idle server: accepts on its own thread and keeps every connection open, untouched.
class Holder {
 public:
  Holder() : thread_([this] {
      while (!stop_) {
        Fd c = listener_.accept(50);
        if (c.fd < 0) continue;
        std::lock_guard lock(mutex_);
        held_.push_back(std::move(c));
        count_ = held_.size();
      }
    }) {}
  ~Holder() { stop_ = true; thread_.join(); }
  std::uint16_t port() const { return listener_.port; }
  std::size_t count() const { return count_; }

 private:
  Listener listener_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> count_{0};
  std::mutex mutex_;
  std::vector<Fd> held_;
  std::thread thread_;  // last: starts after the members it uses exist
};

// ------------------------------------------------------------------------ dropsim

/// A dropsim Proxy on its own io_context thread, logging only warnings and errors.
class BenchProxy {
 public:
  BenchProxy(dropsim::Profile profile, std::uint16_t upstream_port)
      : log_(dropsim::LogFormat::text, spdlog::level::warn) {
    dropsim::ProxyOptions o;
    o.name = "bench";
    o.upstream = "127.0.0.1:" + std::to_string(upstream_port);
    o.profile = std::move(profile);
    proxy_ = std::make_unique<dropsim::Proxy>(io_, o, log_);
    proxy_->start();
    port_ = proxy_->local_endpoint().port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~BenchProxy() {
    asio::post(io_, [this] { proxy_->stop(); });
    for (int i = 0; i < 400 && active() > 0; ++i) std::this_thread::sleep_for(Ms(5));
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  /// Sessions open now, asked on the proxy's thread.
  std::size_t active() {
    auto p = std::make_shared<std::promise<std::size_t>>();
    auto f = p->get_future();
    asio::post(io_, [p, this] { p->set_value(proxy_->active_sessions()); });
    return f.wait_for(Ms(1000)) == std::future_status::ready ? f.get() : 0;
  }

 private:
  dropsim::EventLog log_;
  asio::io_context io_;
  std::unique_ptr<dropsim::Proxy> proxy_;
  std::thread thread_;
  std::uint16_t port_ = 0;
};

/// A profile with no timers: dropsim as a plain TCP relay.
dropsim::Profile plain_profile() {
  dropsim::Profile p;
  p.name = "bench";
  return p;
}

// ------------------------------------------------------------------------ helpers

/// The p-quantile (0..1) of `v`, nearest rank; sorts `v`.
double quantile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

/// Resident set size of this process in KB (VmRSS), or -1.
long rss_kb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

/// The 1-minute load average (other work on the machine skews every number below).
std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "?" : one;
}

// ------------------------------------------------------------------------ 1. throughput

/// Sends `total` bytes in 256 KiB writes to `port`; a sink thread accepts on `sink`,
/// reads and discards. Gbit/s from the first send to the sink's last byte; -1 if the
/// transfer did not complete.
double bulk_once(Listener& sink, std::uint16_t port, std::size_t total) {
  bool complete = false;
  Steady::time_point first_byte, last_byte;
  std::thread server([&] {
    Fd c = sink.accept();
    if (c.fd < 0) return;
    tune(c.fd, false);
    std::vector<char> buf(256 * 1024);
    std::size_t got = 0;
    for (ssize_t r; got < total && (r = ::recv(c.fd, buf.data(), buf.size(), 0)) > 0;) {
      got += static_cast<std::size_t>(r);
    }
    last_byte = Steady::now();
    complete = got == total;
  });
  try {
    Fd c = connect_to(port);
    std::vector<char> chunk(256 * 1024, 'x');
    first_byte = Steady::now();
    for (std::size_t sent = 0; sent < total; sent += chunk.size()) {
      if (!send_all(c.fd, chunk.data(), std::min(chunk.size(), total - sent))) break;
    }
    ::shutdown(c.fd, SHUT_WR);
    server.join();  // keep the client open until the sink has everything
  } catch (const std::exception&) {
  }
  if (server.joinable()) server.join();
  return complete ? double(total) * 8 / ms_between(first_byte, last_byte) / 1e6 : -1;
}

void bench_throughput(std::size_t total, int runs) {
  Listener sink;
  BenchProxy proxy(plain_profile(), sink.port);
  fmt::print("\n[1] Bulk throughput, 1 stream client->server, {} MiB in 256 KiB writes, {} runs each\n"
             "    (direct and dropsim runs interleaved)\n", total >> 20, runs);
  fmt::print("    {:<10} {:>8} {:>8}   each run              (Gbit/s)\n", "path", "best", "median");
  std::vector<double> g[2];
  for (int i = 0; i < runs; ++i) {
    g[0].push_back(bulk_once(sink, sink.port, total));
    g[1].push_back(bulk_once(sink, proxy.port(), total));
  }
  double median[2];
  for (int path = 0; path < 2; ++path) {
    std::string each;
    for (double x : g[path]) each += x < 0 ? " failed" : fmt::format(" {:6.2f}", x);
    median[path] = quantile(g[path], 0.5);
    fmt::print("    {:<10} {:>8.2f} {:>8.2f}  {}\n", path == 0 ? "direct" : "dropsim",
               g[path].back(), median[path], each);
  }
  if (median[0] > 0) fmt::print("    dropsim/direct (median): {:.0f}%\n", 100 * median[1] / median[0]);
}

// ------------------------------------------------------------------------ 2. latency

/// 64-byte round trips to an echo thread on `echo`, through `port`; µs per round trip.
std::vector<double> pingpong(Listener& echo, std::uint16_t port, int warmup, int n) {
  std::thread server([&] {
    Fd c = echo.accept();
    if (c.fd < 0) return;
    tune(c.fd, true);
    char buf[64];
    for (int i = 0; i < warmup + n && recv_exact(c.fd, buf, 64) && send_all(c.fd, buf, 64); ++i) {}
  });
  std::vector<double> us;
  try {
    Fd c = connect_to(port, true);
    char msg[64] = {}, back[64];
    for (int i = 0; i < warmup + n; ++i) {
      const auto t0 = Steady::now();
      if (!send_all(c.fd, msg, 64) || !recv_exact(c.fd, back, 64)) break;
      if (i >= warmup) us.push_back(ms_between(t0, Steady::now()) * 1e3);
    }
  } catch (const std::exception&) {
  }
  server.join();
  return us;
}

void bench_latency(int n) {
  const int warmup = 1000;
  Listener echo;
  BenchProxy proxy(plain_profile(), echo.port);
  fmt::print("\n[2] 64-byte ping-pong round trip, TCP_NODELAY, {} round trips after {} warm-up\n",
             n, warmup);
  fmt::print("    {:<10} {:>8} {:>8} {:>8} {:>7}   (µs)\n", "path", "median", "p99", "mean", "count");
  double median[2];
  for (int path = 0; path < 2; ++path) {
    auto us = pingpong(echo, path == 0 ? echo.port : proxy.port(), warmup, n);
    const double mean = us.empty() ? 0 : std::accumulate(us.begin(), us.end(), 0.0) / double(us.size());
    median[path] = quantile(us, 0.5);
    fmt::print("    {:<10} {:>8.1f} {:>8.1f} {:>8.1f} {:>7}\n", path == 0 ? "direct" : "dropsim",
               median[path], quantile(us, 0.99), mean, us.size());
  }
  fmt::print("    added latency (dropsim median - direct median): {:.1f} µs\n", median[1] - median[0]);
}

// ------------------------------------------------------------------------ 3. idle timer

/// Opens `total` idle connections to `port`, `batch` at a time, and waits (bounded) for
/// each to end. Returns per connection (ms from connect() returning to recv() returning
/// 0) - `timeout_ms`; counts the ones that ended otherwise in `not_eof` and the longest
/// time a batch took to open in `open_span`.
std::vector<double> idle_lateness(std::uint16_t port, int total, int batch, int timeout_ms,
                                  int& not_eof, double& open_span) {
  std::vector<double> late;
  for (int done = 0; done < total; done += batch) {
    std::vector<Fd> fds;
    std::vector<Steady::time_point> opened;
    for (int i = 0; i < batch && done + i < total; ++i) {
      try {
        fds.push_back(connect_to(port));
        opened.push_back(Steady::now());
      } catch (const std::exception&) {
        ++not_eof;
      }
    }
    if (fds.empty()) continue;
    open_span = std::max(open_span, ms_between(opened.front(), opened.back()));
    std::vector<pollfd> pfds;
    for (const Fd& f : fds) pfds.push_back({f.fd, POLLIN, 0});
    std::size_t left = fds.size();
    const auto deadline = Steady::now() + Ms(timeout_ms + 3000);
    while (left > 0 && Steady::now() < deadline && ::poll(pfds.data(), pfds.size(), 100) >= 0) {
      const auto now = Steady::now();
      for (std::size_t i = 0; i < pfds.size(); ++i) {
        if (pfds[i].fd < 0 || pfds[i].revents == 0) continue;
        char b[256];
        const ssize_t r = ::recv(pfds[i].fd, b, sizeof b, MSG_DONTWAIT);
        if (r > 0 || (r < 0 && errno == EAGAIN)) continue;  // not the end yet
        pfds[i].fd = -1;  // poll ignores it from now on
        --left;
        if (r == 0) late.push_back(ms_between(opened[i], now) - timeout_ms);
        else ++not_eof;  // RST or another error
      }
    }
    not_eof += static_cast<int>(left);  // still open at the deadline
  }
  return late;
}

void bench_idle_timer() {
  const int timeout_ms = 200, total = 100;
  dropsim::Profile p = plain_profile();
  dropsim::TimerSpec t;
  t.name = "bench_idle_timeout";
  t.kind = dropsim::TimerKind::idle;
  t.timeout = Ms(timeout_ms);
  t.reset_by = dropsim::DirectionSet::both();
  t.on_expiry = {dropsim::CloseAction::fin, dropsim::CloseAction::fin};
  p.timers.push_back(t);
  Holder server;
  BenchProxy proxy(p, server.port());
  fmt::print("\n[3] Idle timer T={} ms (reset_by both, FIN/FIN), {} idle connections\n"
             "    lateness = (client connect() returned -> recv() returned 0) - T;\n"
             "    open span = longest time one batch took to connect\n", timeout_ms, total);
  fmt::print("    {:<22} {:>7} {:>7} {:>7} {:>7} {:>8} {:>10}  (ms)\n", "opened", "min", "median",
             "p99", "max", "not EOF", "open span");
  for (int batch : {total, 10}) {
    int not_eof = 0;
    double open_span = 0;
    auto late = idle_lateness(proxy.port(), total, batch, timeout_ms, not_eof, open_span);
    const double med = quantile(late, 0.5), p99 = quantile(late, 0.99);  // sorts `late`
    fmt::print("    {:<22} {:>7.2f} {:>7.2f} {:>7.2f} {:>7.2f} {:>8} {:>10.2f}\n",
               batch == total ? "all 100 concurrently" : "10 batches of 10",
               late.empty() ? 0 : late.front(), med, p99, late.empty() ? 0 : late.back(), not_eof,
               open_span);
  }
}

// ------------------------------------------------------------------------ 4. memory

void bench_memory(int n) {
  fmt::print("\n[4] Memory: RSS growth for {} idle connections (this process holds both ends;\n"
             "    direct first, then through dropsim with a no-timer profile)\n", n);
  long kb[2];
  std::size_t ok[2];
  for (int path = 0; path < 2; ++path) {
    Holder server;
    std::unique_ptr<BenchProxy> proxy;
    if (path == 1) proxy = std::make_unique<BenchProxy>(plain_profile(), server.port());
    const auto established = [&] { return path == 0 ? server.count() : proxy->active(); };
    const long before = rss_kb();
    std::vector<Fd> clients;
    try {
      for (int i = 0; i < n; ++i) clients.push_back(connect_to(path == 0 ? server.port() : proxy->port()));
    } catch (const std::exception&) {
    }
    for (int i = 0; i < 1000 && (server.count() < std::size_t(n) || established() < std::size_t(n)); ++i) {
      std::this_thread::sleep_for(Ms(10));  // bounded: 10 s
    }
    std::this_thread::sleep_for(Ms(50));  // let the last sessions settle
    kb[path] = rss_kb() - before;
    ok[path] = established();
    clients.clear();  // close them before the proxy stops
  }
  fmt::print("    {:<10} {:>10} {:>12} {:>14}\n", "path", "RSS +KB", "established", "KB/connection");
  for (int path = 0; path < 2; ++path) {
    fmt::print("    {:<10} {:>10} {:>12} {:>14.2f}\n", path == 0 ? "direct" : "dropsim", kb[path],
               ok[path], double(kb[path]) / n);
  }
  fmt::print("    per idle proxied session (dropsim - direct): {:.2f} KB\n"
             "    (user-space RSS only; kernel socket buffers are not counted in RSS)\n",
             double(kb[1] - kb[0]) / n);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc == 2 && std::strcmp(argv[1], "--quick") == 0;
  if (argc > 2 || (argc == 2 && !quick)) {
    std::fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
    return 2;
  }
  utsname u{};
  ::uname(&u);
#ifdef NDEBUG
  const char* build = "optimized (NDEBUG)";
#else
  const char* build = "debug";
#endif
  fmt::print("dropsim_bench ({} run): dropsim in-process vs a direct connection, loopback 127.0.0.1\n"
             "machine: nproc={} kernel={} {}; load average (1 min) {}; build {}\n"
             "threads: client, server and dropsim's io_context each run on their own thread\n",
             quick ? "quick" : "full", std::thread::hardware_concurrency(), u.release, u.machine,
             loadavg(), build);
  const auto start = Steady::now();
  try {
    bench_throughput(quick ? std::size_t(512) << 20 : std::size_t(2) << 30, 3);
    bench_latency(quick ? 5000 : 20000);
    bench_idle_timer();
    bench_memory(2000);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "setup failed: %s\n", e.what());
    return 1;
  }
  fmt::print("\ntotal time: {:.1f} s; load average (1 min) at the end {}\n",
             ms_between(start, Steady::now()) / 1e3, loadavg());
  return 0;
}
