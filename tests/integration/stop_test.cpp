// One stop for a session: every way a session ends lands while 64 MiB flow each way, and
// no byte moves after dropsim decided. The peers are plain sockets on their own threads
// speaking WebSocket frames both ways through an http-mode profile, so that a close frame
// can be told from the bytes around it: what each peer receives must be exactly the other
// peer's frames, in order, cut anywhere (FIN, RST) or at a frame boundary followed by
// dropsim's close frame and nothing else, and no peer may receive more than dropsim had
// written when it decided (its close frame aside). STOP_TEST_RUNS sets the rounds per
// action (default 50).

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "net_util.h"
#include "profile_yaml.h"
#include "session_control.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;

// 4 KiB frames, header included: dropsim reads 64 KiB chunks and the peers send 64 KiB
// pieces, so reads often end between frames, where a close frame may go.
constexpr std::size_t kFrame = 4096;
constexpr std::size_t kTotal = 64u << 20;  // each way

/// One peer's whole stream: binary frames of kPayload bytes, masked toward the server as
/// RFC 6455 requires, with a payload that differs per frame so a lost or repeated frame shows.
std::string frame_stream(bool masked, unsigned salt) {
  std::string out;
  const std::size_t payload = kFrame - 4 - (masked ? 4 : 0);
  out.reserve(kTotal);
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  for (std::size_t k = 0; (k + 1) * kFrame <= kTotal; ++k) {
    out += static_cast<char>(0x82);
    out += static_cast<char>((masked ? 0x80 : 0) | 126);
    out += static_cast<char>(payload >> 8);
    out += static_cast<char>(payload & 0xff);
    if (masked) out.append(reinterpret_cast<const char*>(mask), 4);
    for (std::size_t j = 0; j < payload; ++j) {
      const auto b = static_cast<unsigned char>(k * 7 + j * 13 + salt);
      out += static_cast<char>(masked ? b ^ mask[j % 4] : b);
    }
  }
  return out;
}

/// What a close frame at the end of a received stream said.
struct CloseSeen {
  bool present = false;
  std::uint16_t code = 0;
};

/// Checks that `got` is a prefix of `sent` (cut anywhere), or a prefix ending at a frame
/// boundary followed by exactly one close frame (masked when `toward_server`); anything
/// else (a byte after the close frame, a close frame inside a frame, a changed byte) fails.
CloseSeen check_stream(const std::string& got, const std::string& sent, std::size_t frame, bool toward_server,
                       const std::string& what) {
  CloseSeen seen;
  std::size_t same = 0;
  const std::size_t n = std::min(got.size(), sent.size());
  while (same < n && got[same] == sent[same]) ++same;
  if (same == got.size()) return seen;  // a clean prefix
  EXPECT_EQ(same % frame, 0u) << what << ": the stream differs at byte " << same << ", inside a frame";
  const std::string rest = got.substr(same);
  EXPECT_GE(rest.size(), 2u) << what;
  if (rest.size() < 2) return seen;
  EXPECT_EQ(static_cast<unsigned char>(rest[0]), 0x88) << what << ": after byte " << same << " comes no close frame";
  const bool masked = (static_cast<unsigned char>(rest[1]) & 0x80) != 0;
  EXPECT_EQ(masked, toward_server) << what;
  const std::size_t len = static_cast<unsigned char>(rest[1]) & 0x7f;
  const std::size_t whole = 2 + (masked ? 4 : 0) + len;
  EXPECT_EQ(rest.size(), whole) << what << ": " << rest.size() - std::min(rest.size(), whole)
                                << " byte(s) after dropsim's close frame";
  if (rest.size() < whole || len < 2) return seen;
  const std::size_t at = 2 + (masked ? 4 : 0);
  auto byte = [&](std::size_t i) {
    const auto b = static_cast<unsigned char>(rest[at + i]);
    return masked ? static_cast<unsigned char>(b ^ static_cast<unsigned char>(rest[2 + i % 4])) : b;
  };
  seen.present = true;
  seen.code = static_cast<std::uint16_t>(byte(0) << 8 | byte(1));
  return seen;
}

/// One side's bulk: a writer thread sends its stream, a reader thread keeps what arrives.
class Peer {
 public:
  /// `bursts`: 256 KiB, then 1 ms of quiet, as an application's messages come; else
  /// one continuous stream.
  Peer(Fd fd, const std::string& out, bool bursts) : fd_(std::move(fd)), out_(out), bursts_(bursts) {
    set_io_timeout(fd_.get(), milliseconds(50));
  }
  ~Peer() { stop(); }

  void start() {
    reader_ = std::thread([this] { read(); });
    writer_ = std::thread([this] { write(); });
  }
  /// Stops both threads (bounded: every call times out after 50 ms) and joins them.
  void stop() {
    stop_ = true;
    if (reader_.joinable()) reader_.join();
    if (writer_.joinable()) writer_.join();
  }
  std::size_t received() const { return received_.load(); }
  std::size_t sent() const { return sent_.load(); }
  bool ended() const { return ended_.load(); }
  /// Valid after stop().
  const std::string& in() const { return in_; }
  void close() { fd_.reset(); }

 private:
  void read() {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::string buf(256 * 1024, '\0');
    while (!stop_ && std::chrono::steady_clock::now() < give_up) {
      const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
      if (n > 0) {
        in_.append(buf.data(), static_cast<std::size_t>(n));
        received_ += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      break;  // EOF or reset: the connection is over for this side
    }
    ended_ = true;
  }
  void write() {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::size_t done = 0;
    while (!stop_ && done < out_.size() && std::chrono::steady_clock::now() < give_up) {
      const std::size_t piece = std::min<std::size_t>(out_.size() - done, 64 * 1024);
      const ssize_t n = ::send(fd_.get(), out_.data() + done, piece, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        sent_ = done;
        // A quiet moment lets dropsim drain the stream to a frame boundary, where a
        // close frame may go.
        if (bursts_ && done % (256 * 1024) == 0) std::this_thread::sleep_for(milliseconds(1));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      break;
    }
  }

  Fd fd_;
  const std::string& out_;
  const bool bursts_;
  std::string in_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ended_{false};
  std::atomic<std::size_t> received_{0};
  std::atomic<std::size_t> sent_{0};
  std::thread reader_;
  std::thread writer_;
};

const std::string kUpgrade =
    "GET /bulk HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const std::string kSwitching =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// Reads one byte at a time until a head ended, so no frame byte after it is taken.
bool read_head(int fd) {
  std::string got;
  for (int i = 0; i < 4096 && got.find("\r\n\r\n") == std::string::npos; ++i) {
    const std::string c = recv_exact(fd, 1, milliseconds(2000));
    if (c.empty()) return false;
    got += c;
  }
  return got.find("\r\n\r\n") != std::string::npos;
}

/// A profile in WebSocket mode whose only timer is a lifetime (1 h unless `lifetime`).
Profile bulk_profile(const std::string& lifetime = "1h") {
  return load_profile(R"(name: stop-test
mode: http
settings:
  lifetime: {type: duration, default: 1h}
timers:
  - name: lifetime
    kind: lifetime
    timeout: $lifetime
    on_expiry: {client: ws_close, upstream: ws_close, ws_code: 1001, ws_reason: expired}
)",
                      "stop-test.yaml", {{"lifetime", lifetime}});
}

enum class Way { rst, fin, blackhole, ws_close, drain, expiry };

std::string name(Way w) {
  switch (w) {
    case Way::rst: return "rst";
    case Way::fin: return "fin";
    case Way::blackhole: return "blackhole";
    case Way::ws_close: return "ws_close";
    case Way::drain: return "drain";
    case Way::expiry: return "expiry";
  }
  return "?";
}

int runs() {
  const char* env = std::getenv("STOP_TEST_RUNS");
  const int n = env ? std::atoi(env) : 50;
  return n > 0 ? n : 50;
}

class StopMidTransfer : public ::testing::TestWithParam<Way> {
 protected:
  static void SetUpTestSuite() {
    to_server_ = new std::string(frame_stream(true, 1));
    to_client_ = new std::string(frame_stream(false, 2));
  }
  static void TearDownTestSuite() {
    delete to_server_;
    delete to_client_;
  }
  static const std::string* to_server_;
  static const std::string* to_client_;
};
const std::string* StopMidTransfer::to_server_ = nullptr;
const std::string* StopMidTransfer::to_client_ = nullptr;

TEST_P(StopMidTransfer, NoByteMovesAfterTheDecision) {
  const Way way = GetParam();
  const std::size_t up_frame = kFrame;
  const std::size_t down_frame = kFrame;
  std::mt19937 rng(static_cast<unsigned>(way) * 7919 + 17);
  int mid_transfer = 0;
  int client_close_frames = 0;
  Listener upstream;
  // Each expiry round gets a lifetime of its own; the other ways share one proxy.
  std::unique_ptr<ProxyUnderTest> shared;
  if (way != Way::expiry) shared = std::make_unique<ProxyUnderTest>(bulk_profile(), upstream.port(), spdlog::level::info);
  const int rounds = runs();
  for (int round = 0; round < rounds && !HasFailure(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + " of " + name(way));
    std::unique_ptr<ProxyUnderTest> own;
    if (way == Way::expiry) {
      own = std::make_unique<ProxyUnderTest>(bulk_profile(std::to_string(30 + rng() % 50) + "ms"), upstream.port(),
                                             spdlog::level::info);
    }
    ProxyUnderTest& proxy = own ? *own : *shared;
    std::array<std::uint64_t, 2> before{};
    proxy.on_io([&] { before = proxy.proxy().metrics().sent; });

    Fd client_fd = connect_to(proxy.port());
    Fd server_fd = upstream.accept(milliseconds(2000));
    ASSERT_TRUE(server_fd.valid());
    ASSERT_TRUE(send_all(client_fd.get(), kUpgrade));
    ASSERT_TRUE(read_head(server_fd.get()));
    ASSERT_TRUE(send_all(server_fd.get(), kSwitching));
    ASSERT_TRUE(read_head(client_fd.get()));

    // Every other round bursts: the continuous ones land mid-frame and fall back to FIN.
    const bool bursts = round % 2 == 1;
    Peer client(std::move(client_fd), *to_server_, bursts);
    Peer server(std::move(server_fd), *to_client_, bursts);
    client.start();
    server.start();

    std::array<std::uint64_t, 2> at_decision{};
    bool decided = false;
    if (way != Way::expiry) {
      const std::size_t threshold = (256u << 10) + rng() % (8u << 20);
      ASSERT_TRUE(wait_until([&] { return client.received() >= threshold || server.received() >= threshold; },
                             milliseconds(10000)));
      ActionRequest request;
      switch (way) {
        case Way::rst: request.action = SessionAction::rst; break;
        case Way::fin: request.action = SessionAction::fin; break;
        case Way::blackhole: request.action = SessionAction::blackhole; break;
        case Way::ws_close:
          request.action = SessionAction::ws_close;
          request.code = 4000;
          request.reason = "stop test";
          break;
        case Way::drain:
          request.action = SessionAction::drain;
          request.code = 1001;
          request.reason = "going away";
          break;
        case Way::expiry: break;
      }
      proxy.on_io([&] {
        decided = proxy.proxy().act_all(request).acted == 1;
        // end() counted what each pipe had written when it decided.
        const auto sent = proxy.proxy().metrics().sent;
        for (std::size_t i = 0; i < 2; ++i) at_decision[i] = sent[i] - before[i];
      });
      // The peers read the handshake before their bulk began: only frames count.
      at_decision[0] -= kUpgrade.size();
      at_decision[1] -= kSwitching.size();
      ASSERT_TRUE(decided);
      if (at_decision[0] < kTotal - up_frame && at_decision[1] < kTotal - down_frame) ++mid_transfer;
    }

    // Each side sees the end: EOF after the close frame or a FIN, or RST (a blackholed side
    // too: its peer keeps sending, and the forgotten flow answers that with RST).
    EXPECT_TRUE(wait_until([&] { return client.ended() && server.ended(); }, milliseconds(5000)))
        << "client " << client.ended() << " server " << server.ended();
    client.stop();
    server.stop();
    if (way == Way::expiry) {
      // Mid-transfer: both ways moved bytes and neither had finished.
      if (client.in().size() > 0 && server.in().size() > 0 && client.in().size() < to_client_->size() - down_frame &&
          server.in().size() < to_server_->size() - up_frame) {
        ++mid_transfer;
      }
    } else {
      // RST or FIN may lose the bytes in flight; none may arrive that dropsim had not
      // written when it decided (plus its close frame, at most 131 bytes).
      EXPECT_LE(server.in().size(), at_decision[0] + 131) << "more reached the server than dropsim had written";
      EXPECT_LE(client.in().size(), at_decision[1] + 131) << "more reached the client than dropsim had written";
    }
    const CloseSeen to_client = check_stream(client.in(), *to_client_, down_frame, false, "the client's stream");
    const CloseSeen to_server = check_stream(server.in(), *to_server_, up_frame, true, "the server's stream");
    const bool closes = way == Way::ws_close || way == Way::drain || way == Way::expiry;
    if (!closes) {
      EXPECT_FALSE(to_client.present) << "a close frame after " << name(way);
      EXPECT_FALSE(to_server.present) << "a close frame after " << name(way);
    }
    const std::uint16_t code = way == Way::ws_close ? 4000 : 1001;
    if (to_client.present) {
      ++client_close_frames;
      EXPECT_EQ(to_client.code, code);
    }
    if (to_server.present) EXPECT_EQ(to_server.code, code);
    client.close();
    server.close();
    EXPECT_TRUE(proxy.wait_idle(milliseconds(3000))) << "the session did not end";
  }
  // The rounds must have tested something: the decision landed mid-transfer, and the
  // close-frame ways sent a close frame at least once (else every round fell back to FIN).
  EXPECT_GT(mid_transfer, 0) << "no round landed mid-transfer";
  if (way == Way::ws_close || way == Way::drain || way == Way::expiry) {
    EXPECT_GT(client_close_frames, 0) << "no round delivered a close frame";
  }
  std::printf("[ %s ] %d rounds, %d mid-transfer, %d close frames to the client\n", name(way).c_str(), rounds,
              mid_transfer, client_close_frames);
}

INSTANTIATE_TEST_SUITE_P(EveryWay, StopMidTransfer,
                         ::testing::Values(Way::rst, Way::fin, Way::blackhole, Way::ws_close, Way::drain, Way::expiry),
                         [](const ::testing::TestParamInfo<Way>& info) { return name(info.param); });

}  // namespace
}  // namespace dropsim::test
