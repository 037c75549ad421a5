// dropsim_bench: what dropsim costs on loopback, measured against a direct connection in
// the same run. Prints numbers; never fails on a measurement (exit 1 only if setup breaks).
//
//   1. bulk throughput, one stream client->server (Gbit/s)
//   2. 64-byte ping-pong round-trip latency (µs)
//   3. idle-timer accuracy: observed close time minus the configured timeout (ms)
//   4. RSS per idle proxied session (KB)
//
// Peers are blocking POSIX sockets on 127.0.0.1, each on its own thread; the Proxy runs
// in-process on its own io_context thread; both come from the test kit shared with the
// integration tests (tests/support/net_util.h). Every blocking call has a timeout
// (SO_RCVTIMEO/SO_SNDTIMEO or poll) and every loop is bounded in count and time.
//
// Usage: dropsim_bench [--quick]      (full ~15-60 s, quick ~5-10 s)

#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "bench_util.h"
#include "net_util.h"
#include "profile.h"

namespace {

using namespace dropsim;
using namespace dropsim::test;
using Steady = std::chrono::steady_clock;

/// Every blocking send/recv on a bench socket gives up after this.
constexpr Ms kIoTimeout{5000};

double ms_between(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

/// Connects to 127.0.0.1:port with send/recv bounded by kIoTimeout; throws on failure.
Fd connect_bounded(std::uint16_t port, bool nodelay = false) {
  Fd fd = connect_to(port, nodelay);
  set_io_timeout(fd.get(), kIoTimeout);
  return fd;
}

/// A profile with no timers: dropsim as a plain TCP relay.
Profile plain_profile() {
  Profile p;
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

// ------------------------------------------------------------------------ 1. throughput

/// Sends `total` bytes in 256 KiB writes to `port`; a sink thread accepts on `sink`,
/// reads and discards. Gbit/s from the first send to the sink's last byte; -1 if the
/// transfer did not complete.
double bulk_once(Listener& sink, std::uint16_t port, std::size_t total) {
  bool complete = false;
  Steady::time_point first_byte, last_byte;
  std::thread server([&] {
    Fd c = sink.accept(kIoTimeout);
    if (!c.valid()) return;
    set_io_timeout(c.get(), kIoTimeout);
    std::vector<char> buf(256 * 1024);
    std::size_t got = 0;
    for (ssize_t r; got < total && (r = ::recv(c.get(), buf.data(), buf.size(), 0)) > 0;) {
      got += static_cast<std::size_t>(r);
    }
    last_byte = Steady::now();
    complete = got == total;
  });
  try {
    Fd c = connect_bounded(port);
    std::vector<char> chunk(256 * 1024, 'x');
    first_byte = Steady::now();
    for (std::size_t sent = 0; sent < total; sent += chunk.size()) {
      if (!send_all(c.get(), chunk.data(), std::min(chunk.size(), total - sent))) break;
    }
    shutdown_write(c.get());
    server.join();  // keep the client open until the sink has everything
  } catch (const std::exception&) {
  }
  if (server.joinable()) server.join();
  return complete ? double(total) * 8 / ms_between(first_byte, last_byte) / 1e6 : -1;
}

void bench_throughput(std::size_t total, int runs) {
  Listener sink;
  ProxyUnderTest proxy(plain_profile(), sink.port(), spdlog::level::warn);
  fmt::print("\n[1] Bulk throughput, 1 stream client->server, {} MiB in 256 KiB writes, {} runs each\n"
             "    (direct and dropsim runs interleaved)\n", total >> 20, runs);
  fmt::print("    {:<10} {:>8} {:>8}   each run              (Gbit/s)\n", "path", "best", "median");
  std::vector<double> g[2];
  for (int i = 0; i < runs; ++i) {
    g[0].push_back(bulk_once(sink, sink.port(), total));
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
    Fd c = echo.accept(kIoTimeout);
    if (!c.valid()) return;
    set_io_timeout(c.get(), kIoTimeout);
    set_nodelay(c.get());
    char buf[64];
    for (int i = 0; i < warmup + n && recv_all(c.get(), buf, 64) && send_all(c.get(), buf, 64); ++i) {}
  });
  std::vector<double> us;
  try {
    Fd c = connect_bounded(port, true);
    char msg[64] = {}, back[64];
    for (int i = 0; i < warmup + n; ++i) {
      const auto t0 = Steady::now();
      if (!send_all(c.get(), msg, 64) || !recv_all(c.get(), back, 64)) break;
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
  ProxyUnderTest proxy(plain_profile(), echo.port(), spdlog::level::warn);
  fmt::print("\n[2] 64-byte ping-pong round trip, TCP_NODELAY, {} round trips after {} warm-up\n",
             n, warmup);
  fmt::print("    {:<10} {:>8} {:>8} {:>8} {:>7}   (µs)\n", "path", "median", "p99", "mean", "count");
  double median[2];
  for (int path = 0; path < 2; ++path) {
    auto us = pingpong(echo, path == 0 ? echo.port() : proxy.port(), warmup, n);
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
        fds.push_back(connect_bounded(port));
        opened.push_back(Steady::now());
      } catch (const std::exception&) {
        ++not_eof;
      }
    }
    if (fds.empty()) continue;
    open_span = std::max(open_span, ms_between(opened.front(), opened.back()));
    std::vector<pollfd> pfds;
    for (const Fd& f : fds) pfds.push_back({f.get(), POLLIN, 0});
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
  HoldServer server;
  ProxyUnderTest proxy(idle_profile(Ms(timeout_ms), DirectionSet::both(), {CloseAction::fin, CloseAction::fin}),
                       server.port(), spdlog::level::warn);
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
    HoldServer server;
    std::unique_ptr<ProxyUnderTest> proxy;
    if (path == 1) proxy = std::make_unique<ProxyUnderTest>(plain_profile(), server.port(), spdlog::level::warn);
    const auto established = [&] { return path == 0 ? server.connections() : proxy->live_sessions(); };
    const long before = rss_kb();
    std::vector<Fd> clients;
    try {
      for (int i = 0; i < n; ++i) clients.push_back(connect_bounded(path == 0 ? server.port() : proxy->port()));
    } catch (const std::exception&) {
    }
    for (int i = 0; i < 1000 && (server.connections() < std::size_t(n) || established() < std::size_t(n)); ++i) {
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
  const auto option = bench::quick_option(argc, argv);
  if (!option) return 2;
  const bool quick = *option;
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
             bench::loadavg(), build);
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
             ms_between(start, Steady::now()) / 1e3, bench::loadavg());
  return 0;
}
