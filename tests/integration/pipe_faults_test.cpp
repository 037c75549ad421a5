// One Pipe between real loopback sockets, with faults: latency, bandwidth, slicer,
// slow_close, hold, drop and limit as a peer sees them. Timing bounds are wide for a
// loaded 2-core machine; every wait is bounded and every test stops by itself.
//
//   client fd ──► [from ─ Pipe(upstream) ─ to] ──► server fd
//    (test)        (asio, the io thread below)      (test)

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <gtest/gtest.h>

#include "net_util.h"
#include "pipe.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

Ms since(Steady::time_point t) { return std::chrono::duration_cast<Ms>(Steady::now() - t); }

/// True when nothing arrives on `fd` for `quiet`.
bool stays_quiet(int fd, Ms quiet) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(quiet.count())) == 0;
}

/// Sends what fits without blocking; returns how much.
std::size_t send_what_fits(int fd, std::size_t most) {
  const std::string junk(64 * 1024, 'j');
  std::size_t sent = 0;
  while (sent < most) {
    const ssize_t w = ::send(fd, junk.data(), std::min(junk.size(), most - sent), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w <= 0) break;
    sent += static_cast<std::size_t>(w);
  }
  return sent;
}

/// A Pipe on its own io_context thread between a test client and a test server.
class Rig final : public PipeObserver {
 public:
  /// `fill_destination`: before the pipe starts, fill the path to the server (which does
  /// not read yet) so that the pipe's first write blocks; `filled()` says how much.
  explicit Rig(bool fill_destination = false)
      : client_(connect_to(in_.port())),
        server_side_(connect_to(out_.port())),
        from_(io_),
        to_(io_),
        pipe_(Direction::upstream, from_, to_, pool_, *this) {
    Fd from = in_.accept();
    server_ = out_.accept();
    if (!from.valid() || !server_.valid()) throw std::runtime_error("accept timed out");
    from_.assign(asio::ip::tcp::v4(), from.release());
    to_.assign(asio::ip::tcp::v4(), server_side_.release());
    for (auto* s : {&from_, &to_}) {
      s->non_blocking(true);
      s->set_option(asio::ip::tcp::no_delay(true));
    }
    set_io_timeout(client_.get(), Ms(3000));
    if (fill_destination) filled_ = send_what_fits(to_.native_handle(), std::size_t{64} << 20);
    asio::co_spawn(io_, pipe_.run(), [this](std::exception_ptr, PipeResult r) { done_.set_value(r); });
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Rig() override {
    close_sockets();
    guard_.reset();
    if (!result(Ms(2000))) io_.stop();
    thread_.join();
  }

  int client() const { return client_.get(); }
  int server() const { return server_.get(); }
  std::size_t filled() const { return filled_; }

  /// Runs `f` on the io thread and waits for it, as the session calls the pipe.
  template <class F>
  void on_io(F f) {
    std::promise<void> ran;
    asio::post(io_, [&] {
      f();
      ran.set_value();
    });
    ran.get_future().wait();
  }
  void set_faults(const DirectionFaults& f, std::uint64_t seed = 1) {
    on_io([&] { pipe_.set_faults(f, seed); });
  }
  /// Closes both of the pipe's sockets, as a session that ends does.
  void close_sockets() {
    on_io([&] {
      std::error_code ec;
      from_.close(ec);
      to_.close(ec);
    });
  }
  /// Shuts the sending half of the pipe's source socket, as the session does when it
  /// forwards the other direction's FIN.
  void shut_source_send() {
    on_io([&] {
      std::error_code ec;
      from_.shutdown(asio::socket_base::shutdown_send, ec);
    });
  }
  /// How run() ended; nullopt if it has not within `timeout`.
  std::optional<PipeResult> result(Ms timeout) {
    if (!got_ && result_.wait_for(timeout) == std::future_status::ready) got_ = result_.get();
    return got_;
  }
  /// How run() ended, if it has within `timeout`.
  std::optional<PipeResult::End> ended(Ms timeout) {
    const auto r = result(timeout);
    return r ? std::optional(r->end) : std::nullopt;
  }
  std::size_t backlog() {
    std::size_t n = 0;
    on_io([&] { n = pipe_.backlog(); });
    return n;
  }

  std::atomic<int> chunks{0};              ///< on_chunk calls
  std::atomic<std::size_t> chunk_bytes{0};  ///< bytes passed to on_chunk
  std::atomic<Steady::time_point> first_chunk_at{};
  std::function<void()> on_blocked;  ///< called on the io thread at each on_write_blocked

 private:
  Verdict on_chunk(Direction, std::span<const char> bytes) override {
    if (chunks++ == 0) first_chunk_at = Steady::now();
    chunk_bytes += bytes.size();
    return {};
  }
  void on_write_blocked(Direction, std::size_t) override {
    if (on_blocked) on_blocked();
  }
  void on_write_progress(Direction, std::size_t) override {}

  Listener in_;
  Listener out_;
  Fd client_;
  Fd server_side_;
  Fd server_;
  std::size_t filled_ = 0;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
  asio::ip::tcp::socket from_;
  asio::ip::tcp::socket to_;
  BufferPool pool_;
  Pipe pipe_;
  std::promise<PipeResult> done_;
  std::future<PipeResult> result_ = done_.get_future();
  std::optional<PipeResult> got_;
  std::thread thread_;
};

DirectionFaults with_latency(Duration latency, Duration jitter = Duration{0}) {
  DirectionFaults f;
  f.latency = latency;
  f.jitter = jitter;
  return f;
}

DirectionFaults held() {
  DirectionFaults f;
  f.hold = true;
  return f;
}

/// `text` crosses the pipe, then the client's FIN ends it as finished.
void expect_passes_then_finishes(Rig& rig, const std::string& text) {
  ASSERT_TRUE(send_all(rig.client(), text));
  EXPECT_EQ(recv_exact(rig.server(), text.size(), Ms(2000)), text);
  shutdown_write(rig.client());
  EXPECT_EQ(rig.ended(Ms(2000)), PipeResult::End::finished);
}

TEST(PipeFaults, WithoutFaultsBytesAndFinPassAsBefore) {
  Rig rig;
  expect_passes_then_finishes(rig, "hello");
}

TEST(PipeFaults, LatencyDelaysBytesButTheObserverSeesThemOnArrival) {
  Rig rig;
  rig.set_faults(with_latency(milliseconds(100)));
  const auto start = Steady::now();
  ASSERT_TRUE(send_all(rig.client(), "ping"));
  EXPECT_EQ(recv_exact(rig.server(), 4, Ms(2000)), "ping");
  const Ms took = since(start);
  EXPECT_GE(took, Ms(95));
  EXPECT_LE(took, Ms(400));
  EXPECT_EQ(rig.chunks, 1);
  // Timers see bytes when they reach the proxy, not when they leave it.
  EXPECT_LE(std::chrono::duration_cast<Ms>(rig.first_chunk_at.load() - start), took - Ms(80));
}

TEST(PipeFaults, LatencyDoesNotCapThroughput) {
  Rig rig;
  rig.set_faults(with_latency(milliseconds(100)));
  // 64 chunks of 64 KiB: one at a time with 100 ms each would take 6.4 s.
  const std::string data(std::size_t{4} << 20, 'x');
  std::string got;
  const auto start = Steady::now();
  std::thread reader([&] { got = recv_exact(rig.server(), data.size(), Ms(10000)); });
  ASSERT_TRUE(send_all(rig.client(), data));
  reader.join();
  const Ms took = since(start);
  EXPECT_EQ(got.size(), data.size());
  EXPECT_GE(took, Ms(95));
  EXPECT_LE(took, Ms(2500));
  EXPECT_EQ(rig.backlog(), 0u);
}

TEST(PipeFaults, JitterNeverReordersBytes) {
  Rig rig;
  rig.set_faults(with_latency(milliseconds(30), milliseconds(25)), 9);
  std::string sent;
  for (int i = 0; i < 300; ++i) sent += std::to_string(i) + ",";
  std::string got;
  std::thread reader([&] { got = recv_exact(rig.server(), sent.size(), Ms(10000)); });
  // Small sends a little apart: many chunks, each with its own jittered delay.
  for (std::size_t off = 0; off < sent.size(); off += 8) {
    ASSERT_TRUE(send_all(rig.client(), sent.data() + off, std::min<std::size_t>(8, sent.size() - off)));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  reader.join();
  EXPECT_EQ(got, sent);
  EXPECT_GT(rig.chunks, 10);
}

TEST(PipeFaults, BandwidthPacesBytesAtTheRate) {
  Rig rig;
  DirectionFaults f;
  f.rate = 100'000;  // 100 KB/s: 10 KB every 100 ms
  rig.set_faults(f);
  const std::string data(50'000, 'b');
  const auto start = Steady::now();
  ASSERT_TRUE(send_all(rig.client(), data));
  // The first 10 KB piece after about 100 ms, long before the whole 500 ms.
  EXPECT_EQ(recv_exact(rig.server(), 10'000, Ms(3000)).size(), 10'000u);
  const Ms first = since(start);
  EXPECT_EQ(recv_exact(rig.server(), 40'000, Ms(3000)).size(), 40'000u);
  const Ms all = since(start);
  EXPECT_GE(first, Ms(95));
  EXPECT_LE(first, Ms(400));
  EXPECT_GE(all, Ms(480));
  EXPECT_LE(all, Ms(1500));
}

TEST(PipeFaults, SlicerWritesSlicesDelayApart) {
  Rig rig;
  DirectionFaults f;
  f.slice_average = 10;
  f.slice_delay = milliseconds(60);  // µs in Toxiproxy's attribute; a Duration here
  rig.set_faults(f);
  const auto start = Steady::now();
  ASSERT_TRUE(send_all(rig.client(), std::string(40, 's')));  // 40 → 20|20 → four slices of 10
  std::size_t got = 0;
  int reads = 0;
  std::size_t largest = 0;
  char buf[64];
  while (got < 40 && since(start) < Ms(3000)) {
    pollfd p{rig.server(), POLLIN, 0};
    if (::poll(&p, 1, 3000) <= 0) break;
    const ssize_t r = ::recv(rig.server(), buf, sizeof buf, 0);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
    largest = std::max(largest, static_cast<std::size_t>(r));
    ++reads;
  }
  EXPECT_EQ(got, 40u);
  EXPECT_GE(since(start), Ms(170));  // three gaps of 60 ms
  // A slow reader may take two slices at once; it never gets all 40 bytes in one read.
  EXPECT_GE(reads, 2);
  EXPECT_LT(largest, 40u);
}

TEST(PipeFaults, SlowCloseDelaysTheFin) {
  Rig rig;
  DirectionFaults f;
  f.slow_close = milliseconds(200);
  rig.set_faults(f);
  ASSERT_TRUE(send_all(rig.client(), "bye"));
  EXPECT_EQ(recv_exact(rig.server(), 3, Ms(2000)), "bye");
  const auto start = Steady::now();
  shutdown_write(rig.client());
  EXPECT_EQ(rig.ended(Ms(3000)), PipeResult::End::finished);
  EXPECT_GE(since(start), Ms(195));
  EXPECT_LE(since(start), Ms(800));
}

TEST(PipeFaults, HoldLeavesBytesInTheKernelUntilReleased) {
  Rig rig;
  rig.set_faults(held());  // while run() waits in its fast path
  ASSERT_TRUE(send_all(rig.client(), "held"));
  EXPECT_TRUE(stays_quiet(rig.server(), Ms(300)));
  EXPECT_EQ(rig.chunks, 0);  // never read: the bytes wait in the kernel
  const auto start = Steady::now();
  rig.set_faults(DirectionFaults{});
  EXPECT_EQ(recv_exact(rig.server(), 4, Ms(2000)), "held");
  EXPECT_LE(since(start), Ms(500));
}

TEST(PipeFaults, HoldBackpressuresTheSender) {
  Rig rig;
  rig.set_faults(held());
  // Kernel buffers take a few MB at most; then the sender blocks, as in a partition.
  std::size_t sent = send_what_fits(rig.client(), std::size_t{256} << 20);
  EXPECT_LT(sent, std::size_t{64} << 20);
  std::this_thread::sleep_for(Ms(200));
  // Still full: nobody reads the other end of the client's connection.
  const std::size_t more = send_what_fits(rig.client(), 64 * 1024);
  EXPECT_LT(more, 64u * 1024);
  sent += more;
  EXPECT_EQ(rig.chunks, 0);
  rig.set_faults(DirectionFaults{});
  EXPECT_EQ(recv_exact(rig.server(), sent, Ms(10000)).size(), sent);
}

TEST(PipeFaults, HoldStopsAPipeThatIsWaitingForItsNextPiece) {
  Rig rig;
  rig.set_faults(with_latency(milliseconds(200)));
  ASSERT_TRUE(send_all(rig.client(), "soon"));
  std::this_thread::sleep_for(Ms(50));  // read, waiting for its time
  DirectionFaults f = with_latency(milliseconds(200));
  f.hold = true;
  rig.set_faults(f);
  EXPECT_TRUE(stays_quiet(rig.server(), Ms(500)));
  rig.set_faults(with_latency(milliseconds(200)));
  EXPECT_EQ(recv_exact(rig.server(), 4, Ms(2000)), "soon");
}

TEST(PipeFaults, DropReadsAndDiscards) {
  Rig rig;
  DirectionFaults f;
  f.drop = true;
  rig.set_faults(f);
  // Far more than the kernel buffers hold: the pipe keeps reading, so the sender never blocks.
  const std::string lots(std::size_t{16} << 20, 'd');
  ASSERT_TRUE(send_all(rig.client(), lots));
  EXPECT_TRUE(stays_quiet(rig.server(), Ms(300)));  // and meanwhile it reads the rest
  EXPECT_EQ(rig.chunks, 0);  // dropped bytes never pass through
  rig.set_faults(DirectionFaults{});
  ASSERT_TRUE(send_all(rig.client(), "after"));
  std::string got = recv_exact(rig.server(), 5, Ms(2000));
  EXPECT_EQ(got, "after");
}

TEST(PipeFaults, DropDiscardsBytesStillWaitingForTheirTime) {
  Rig rig;
  rig.set_faults(with_latency(milliseconds(300)));
  ASSERT_TRUE(send_all(rig.client(), "late"));
  std::this_thread::sleep_for(Ms(50));
  DirectionFaults f = with_latency(milliseconds(300));
  f.drop = true;
  rig.set_faults(f);
  EXPECT_TRUE(stays_quiet(rig.server(), Ms(600)));
}

DirectionFaults limit_of(std::uint64_t bytes) {
  DirectionFaults f;
  f.limit = bytes;
  return f;
}

/// Sends `n` bytes from the client; returns how many reach the server within `wait`.
std::size_t carried(Rig& rig, std::size_t n, Ms wait = Ms(2000)) {
  if (!send_all(rig.client(), std::string(n, 'c'))) return 0;
  return recv_exact(rig.server(), n, wait).size();
}

TEST(PipeFaults, LimitWritesUpToItThenEnds) {
  Rig rig;
  rig.set_faults(limit_of(1000));
  EXPECT_EQ(carried(rig, 1500, Ms(500)), 1000u);
  EXPECT_EQ(rig.ended(Ms(2000)), PipeResult::End::limited);
  EXPECT_EQ(rig.chunk_bytes, 1000u);  // the bytes past the limit were never read
}

TEST(PipeFaults, LimitEndsRightAfterTheLastByteItAllows) {
  Rig rig;
  rig.set_faults(limit_of(100));
  EXPECT_EQ(carried(rig, 60), 60u);
  EXPECT_FALSE(rig.result(Ms(100)));
  EXPECT_EQ(carried(rig, 40), 40u);
  EXPECT_EQ(rig.ended(Ms(2000)), PipeResult::End::limited);
}

TEST(PipeFaults, LimitCountsFromWhenItIsSetAndKeepsCountingAcrossOtherChanges) {
  Rig rig;
  EXPECT_EQ(carried(rig, 500), 500u);
  rig.set_faults(limit_of(100));
  EXPECT_EQ(carried(rig, 60), 60u);
  DirectionFaults f = limit_of(100);
  f.latency = milliseconds(1);  // another toxic comes: the same limit keeps its count
  rig.set_faults(f);
  EXPECT_EQ(carried(rig, 60, Ms(500)), 40u);
  EXPECT_EQ(rig.ended(Ms(2000)), PipeResult::End::limited);
}

TEST(PipeFaults, ALimitOfZeroEndsAtTheNextChunk) {
  Rig rig;
  rig.set_faults(limit_of(0));
  EXPECT_FALSE(rig.result(Ms(200)));
  ASSERT_TRUE(send_all(rig.client(), "x"));
  EXPECT_EQ(rig.ended(Ms(2000)), PipeResult::End::limited);
  EXPECT_EQ(rig.chunks, 0);
}

TEST(PipeFaults, RemovingLatencyReleasesWaitingBytesAtOnce) {
  Rig rig;
  rig.set_faults(with_latency(std::chrono::seconds(10)));
  ASSERT_TRUE(send_all(rig.client(), "now"));
  std::this_thread::sleep_for(Ms(50));
  EXPECT_EQ(rig.backlog(), 3u);
  const auto start = Steady::now();
  rig.set_faults(DirectionFaults{});
  EXPECT_EQ(recv_exact(rig.server(), 3, Ms(2000)), "now");
  EXPECT_LE(since(start), Ms(500));
  expect_passes_then_finishes(rig, "more");  // back on the fast path
}

TEST(PipeFaults, FinWaitsForTheBytesBeforeIt) {
  Rig rig;
  rig.set_faults(with_latency(milliseconds(150)));
  const auto start = Steady::now();
  ASSERT_TRUE(send_all(rig.client(), "last"));
  shutdown_write(rig.client());
  EXPECT_EQ(rig.ended(Ms(3000)), PipeResult::End::finished);
  EXPECT_GE(since(start), Ms(145));
  EXPECT_EQ(recv_exact(rig.server(), 4, Ms(1000)), "last");
}

/// The faults a stop is tested under.
class StopsPromptly : public ::testing::TestWithParam<int> {};

TEST_P(StopsPromptly, WhenTheSessionClosesTheSockets) {
  Rig rig;
  DirectionFaults f;
  switch (GetParam()) {
    case 0: f = with_latency(std::chrono::seconds(10)); break;  // waiting for a piece's time
    case 1: f = held(); break;                                  // waiting for a release
    case 2: f.slow_close = std::chrono::seconds(10); break;     // waiting to pass the FIN
    case 3: f.rate = 1; break;                                  // a trickle
  }
  rig.set_faults(f);
  ASSERT_TRUE(send_all(rig.client(), "x"));
  if (GetParam() == 2) shutdown_write(rig.client());
  std::this_thread::sleep_for(Ms(100));
  EXPECT_FALSE(rig.result(Ms(0)));
  const auto start = Steady::now();
  rig.close_sockets();
  EXPECT_EQ(rig.ended(Ms(1000)), PipeResult::End::stopped);
  EXPECT_LE(since(start), Ms(500));
}

INSTANTIATE_TEST_SUITE_P(Waits, StopsPromptly, ::testing::Values(0, 1, 2, 3));

/// CPU time this process has used (every thread).
Ms cpu_time() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto us = [](const timeval& t) { return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec); };
  return std::chrono::duration_cast<Ms>(us(u.ru_utime) + us(u.ru_stime));
}

/// Held, with the source's socket shut both ways (the client sent FIN and the session
/// forwarded the other direction's FIN to it): a lasting condition the pipe must not
/// spin on. Then released (true) or closed by the session (false).
class HeldAfterBothHalvesShut : public ::testing::TestWithParam<bool> {};

TEST_P(HeldAfterBothHalvesShut, DoesNotSpinAndStillEnds) {
  Rig rig;
  rig.set_faults(held());
  ASSERT_TRUE(send_all(rig.client(), "held"));
  shutdown_write(rig.client());
  rig.shut_source_send();
  std::this_thread::sleep_for(Ms(50));
  const Ms cpu_before = cpu_time();
  std::this_thread::sleep_for(Ms(500));
  EXPECT_LT(cpu_time() - cpu_before, Ms(60));
  const auto start = Steady::now();
  if (GetParam()) {
    rig.set_faults(DirectionFaults{});
    EXPECT_EQ(recv_exact(rig.server(), 4, Ms(2000)), "held");
  } else {
    rig.close_sockets();
  }
  EXPECT_EQ(rig.ended(Ms(2000)), GetParam() ? PipeResult::End::finished : PipeResult::End::stopped);
  EXPECT_LE(since(start), Ms(500));
}

INSTANTIATE_TEST_SUITE_P(ReleasedOrClosed, HeldAfterBothHalvesShut, ::testing::Bool());

}  // namespace
}  // namespace dropsim::test
