// One Pipe between real loopback sockets, with faults: latency, bandwidth, slicer,
// slow_close, hold, drop and limit as a peer sees them; and splicing (opaque bytes) as it
// gives way to the faults and back. Timing bounds are wide for a
// loaded 2-core machine; every wait is bounded and every test stops by itself.
//
//   client fd ──► [from ─ Pipe(upstream) ─ to] ──► server fd
//    (test)        (asio, the io thread below)      (test)

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
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

/// A Pipe on its own io_context thread between a test client and a test server.
class Rig final : public PipeObserver {
 public:
  /// `queues`: fixed kernel buffers for the client and the pipe's source socket, the
  /// path a hold stops. `splice`: the observer calls the bytes opaque and the pipe has
  /// kernel pipes to splice them through. `destination`: fixed kernel buffers for the
  /// pipe's destination socket and the server.
  explicit Rig(SocketBuffers queues = {}, bool splice = false, SocketBuffers destination = {})
      : splice_(splice),
        in_(512, queues),
        out_(512, destination),
        client_(connect_to(in_.port(), true, queues)),
        server_side_(connect_to(out_.port(), true, destination)),
        from_(io_),
        to_(io_),
        pipe_(Direction::upstream, from_, to_, pool_, *this, &splice_pool_) {
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
  /// The bytes the kernel can queue between the client and a pipe that does not read: the
  /// client's send buffer and the pipe's receive buffer as granted, twice over for the
  /// kernel's bookkeeping (gVisor, for one, lets a little more in than it reports).
  std::size_t held_path_capacity() {
    std::size_t source = 0;
    on_io([&] { source = granted_queue(from_.native_handle(), false); });
    return 2 * (granted_queue(client(), true) + source);
  }

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

  /// Kernel pipes lent out and kept for reuse, read on the io thread.
  std::pair<std::size_t, std::size_t> splice_pipes() {
    std::pair<std::size_t, std::size_t> n;
    on_io([&] { n = {splice_pool_.in_use(), splice_pool_.free_count()}; });
    return n;
  }

  std::atomic<int> chunks{0};              ///< on_chunk calls
  std::atomic<std::size_t> chunk_bytes{0};  ///< bytes passed to on_chunk
  std::atomic<std::size_t> passed_bytes{0};  ///< bytes reported by on_passed (spliced)
  std::atomic<Steady::time_point> first_chunk_at{};
  /// Set before the bytes: a chunk holding '!' gets the `finish` verdict (a kept-alive
  /// client's complete answer), its bytes passed as the replacement.
  std::atomic<bool> finish_at_bang{false};

 private:
  Verdict on_chunk(Direction, std::span<const char> bytes) override {
    if (chunks++ == 0) first_chunk_at = Steady::now();
    chunk_bytes += bytes.size();
    last_.assign(bytes.data(), bytes.size());
    if (finish_at_bang && last_.find('!') != std::string::npos) return {Verdict::Action::finish, last_, 0};
    return {};
  }
  std::string last_;  ///< what a `finish` verdict points at
  void on_write_blocked(Direction, std::size_t) override {}
  void on_write_progress(Direction, std::size_t) override {}
  bool opaque(Direction) const override { return splice_; }
  void on_passed(Direction, std::size_t n) override { passed_bytes += n; }

  bool splice_;
  Listener in_;
  Listener out_;
  Fd client_;
  Fd server_side_;
  Fd server_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
  asio::ip::tcp::socket from_;
  asio::ip::tcp::socket to_;
  BufferPool pool_;
  SplicePool splice_pool_;
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

TEST(PipeFaults, AFinishVerdictWritesItsBytesThenEndsAsAFinWould) {
  Rig rig;
  rig.finish_at_bang = true;
  ASSERT_TRUE(send_all(rig.client(), "answer!"));
  EXPECT_EQ(recv_exact(rig.server(), 7, Ms(2000)), "answer!");
  EXPECT_EQ(rig.ended(Ms(2000)), PipeResult::End::finished) << "no FIN from the client needed";
}

TEST(PipeFaults, AFinishVerdictUnderLatencyEndsAfterItsDelayedBytes) {
  Rig rig;
  rig.finish_at_bang = true;
  rig.set_faults(with_latency(milliseconds(100)));
  const auto start = Steady::now();
  ASSERT_TRUE(send_all(rig.client(), "answer!"));
  EXPECT_EQ(recv_exact(rig.server(), 7, Ms(2000)), "answer!");
  EXPECT_GE(since(start), Ms(95));
  EXPECT_EQ(rig.ended(Ms(2000)), PipeResult::End::finished);
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
  // Small sends, each only once the pipe has read the one before: every piece is a chunk
  // of its own with its own jittered delay, however the threads are scheduled.
  int pieces = 0;
  for (std::size_t off = 0; off < sent.size(); off += 8) {
    const std::size_t n = std::min<std::size_t>(8, sent.size() - off);
    ASSERT_TRUE(send_all(rig.client(), sent.data() + off, n));
    ++pieces;
    ASSERT_TRUE(wait_until([&] { return rig.chunk_bytes == off + n; }, Ms(2000))) << "piece " << pieces;
  }
  reader.join();
  EXPECT_EQ(got, sent);
  EXPECT_EQ(rig.chunks, pieces);
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
  // Fixed buffers on the held path, so the bytes the kernel can queue there are the same
  // on every machine whatever tcp_rmem/tcp_wmem say; and a server that reads all along, so
  // that nothing but the held pipe can stop the sender. Without the hold the sender would
  // push all 16 capacities through without pausing.
  Rig rig(SocketBuffers{64 * 1024, 64 * 1024});
  rig.set_faults(held());
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> received{0};
  std::thread server([&] {
    char buf[65536];
    while (!stop) {
      pollfd p{rig.server(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const ssize_t r = ::recv(rig.server(), buf, sizeof buf, 0);
      if (r <= 0) break;
      received += static_cast<std::size_t>(r);
    }
  });
  const std::size_t capacity = rig.held_path_capacity();
  // The sender blocks, as in a partition: 300 ms without room, with only the held path's
  // buffers filled.
  const Pushed pushed = push_until_blocked(rig.client(), 16 * capacity, Ms(300));
  EXPECT_TRUE(pushed.blocked) << pushed.bytes << " bytes went and the sender never blocked";
  EXPECT_LE(pushed.bytes, capacity) << "more than the held path's buffers hold";
  EXPECT_EQ(rig.chunks, 0);  // the pipe read nothing
  EXPECT_EQ(received, 0u);
  rig.set_faults(DirectionFaults{});
  EXPECT_TRUE(wait_until([&] { return received == pushed.bytes; }, Ms(10000)))
      << received << " of " << pushed.bytes << " bytes arrived after the release";
  stop = true;
  server.join();
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

/// `n` bytes that do not repeat with any period a chunk or a kernel pipe could hide.
std::string pattern(std::size_t n) {
  std::string out(n, '\0');
  std::uint32_t x = 2463534242u;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return out;
}

/// The client's and the source socket's queues for the splicing tests: a pipe splices after a read
/// of 16 KiB or more, which a kernel with tiny default buffers (tcp_rmem 4096 4096 65536)
/// may never deliver otherwise.
constexpr SocketBuffers kBulkSource{256 * 1024, 256 * 1024};

TEST(PipeSplice, OpaqueBytesAreSplicedCountedAndFollowedByTheFin) {
  Rig rig(kBulkSource, true);
  const std::string data = pattern(std::size_t{8} << 20);
  std::string got;
  std::thread reader([&] { got = recv_exact(rig.server(), data.size(), Ms(10000)); });
  ASSERT_TRUE(send_all(rig.client(), data));
  reader.join();
  EXPECT_TRUE(got == data) << "the spliced stream differs (" << got.size() << " bytes arrived)";
  shutdown_write(rig.client());
  EXPECT_EQ(rig.ended(Ms(2000)), PipeResult::End::finished);
  // The first read of each wake-up is copied, the rest spliced (how much of each depends
  // on the kernel's buffer sizes); together they count every byte once.
  EXPECT_GT(rig.passed_bytes.load(), 0u);
  EXPECT_EQ(rig.passed_bytes.load() + rig.chunk_bytes.load(), data.size());
  // The pipe went back to the pool empty, to be reused.
  EXPECT_EQ(rig.splice_pipes(), std::make_pair(std::size_t{0}, std::size_t{1}));
}

TEST(PipeSplice, SmallMessagesAreCopiedNotSpliced) {
  Rig rig(kBulkSource, true);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(send_all(rig.client(), "ping"));
    ASSERT_EQ(recv_exact(rig.server(), 4, Ms(2000)), "ping");
  }
  EXPECT_EQ(rig.passed_bytes.load(), 0u);
  EXPECT_EQ(rig.chunk_bytes.load(), 80u);
  EXPECT_EQ(rig.splice_pipes(), std::make_pair(std::size_t{0}, std::size_t{0}));  // none ever made
}

TEST(PipeSplice, FaultsAddedAndRemovedMidTransferLoseAndReorderNothing) {
  Rig rig(kBulkSource, true);
  const std::string data = pattern(std::size_t{24} << 20);
  std::string got;
  std::thread sender([&] { send_all(rig.client(), data); });
  // Splicing, then latency and jitter (copying into the shaped backlog), then none again.
  got = recv_exact(rig.server(), std::size_t{4} << 20, Ms(10000));
  rig.set_faults(with_latency(milliseconds(20), milliseconds(10)));
  got += recv_exact(rig.server(), std::size_t{8} << 20, Ms(10000));
  rig.set_faults(DirectionFaults{});
  got += recv_exact(rig.server(), data.size() - got.size(), Ms(10000));
  sender.join();
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "bytes were lost or reordered across the switches";
  // Both paths carried bytes, and together every byte exactly once.
  EXPECT_GT(rig.passed_bytes.load(), 0u);
  EXPECT_GT(rig.chunk_bytes.load(), 0u);
  EXPECT_EQ(rig.passed_bytes.load() + rig.chunk_bytes.load(), data.size());
  shutdown_write(rig.client());
  EXPECT_EQ(rig.ended(Ms(2000)), PipeResult::End::finished);
}

TEST(PipeSplice, AStopWhileTheDestinationIsFullEndsItAndClosesTheUnemptiedPipe) {
  // The server never reads: the destination fills. Whether the pipe then waits in a
  // splice (a kernel pipe lent, holding bytes) or in the copy of a wake-up's first read
  // (none lent) depends on where the window closed; a few tries find the first case.
  bool caught_splicing = false;
  for (int attempt = 0; attempt < 10 && !caught_splicing; ++attempt) {
    // A destination that holds a few hundred KiB before it is full, whatever the kernel's
    // defaults: room for the bulk reads that start splicing.
    Rig rig(kBulkSource, true, SocketBuffers{256 * 1024, 256 * 1024});
    const Pushed pushed = push_until_blocked(rig.client(), std::size_t{64} << 20, Ms(300));
    ASSERT_TRUE(pushed.blocked);
    const auto [lent, kept] = rig.splice_pipes();
    EXPECT_FALSE(rig.result(Ms(0)));
    const auto start = Steady::now();
    rig.close_sockets();
    EXPECT_EQ(rig.ended(Ms(1000)), PipeResult::End::stopped);
    EXPECT_LE(since(start), Ms(500));
    // Nothing stays lent; a pipe lent with bytes in it is closed, never kept for another.
    EXPECT_EQ(rig.splice_pipes(), std::make_pair(std::size_t{0}, kept));
    caught_splicing = lent == 1 && rig.passed_bytes.load() > 0;
  }
  EXPECT_TRUE(caught_splicing) << "the pipe never waited inside a splice";
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

/// CPU time the calling thread has used.
Ms thread_cpu_time() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return std::chrono::duration_cast<Ms>(std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec));
}

/// CPU time this process used during `wall`, not counting a reference thread that spins
/// for that time beside it; and the CPU time the spinner got. A thread spinning in the
/// process would get about as much as the spinner, whatever else loads the machine.
struct CpuUse {
  Ms others{0};
  Ms spinner{0};
};
CpuUse cpu_use_beside_a_spinner(Ms wall) {
  std::promise<Ms> spun;
  const Ms before = cpu_time();
  std::thread spinner([&] {
    const Ms start = thread_cpu_time();
    const auto until = Steady::now() + wall;
    while (Steady::now() < until) {
    }
    spun.set_value(thread_cpu_time() - start);
  });
  spinner.join();
  const Ms total = cpu_time() - before;
  const Ms mine = spun.get_future().get();
  return {total - mine, mine};
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
  // A spinning pipe would get about what the spinner gets; an idle one next to nothing.
  const CpuUse cpu = cpu_use_beside_a_spinner(Ms(500));
  EXPECT_LT(cpu.others, std::max(cpu.spinner / 4, Ms(20))) << "the spinner got " << cpu.spinner.count() << " ms";
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
