// The real binary's log output never hurts the data path: a stderr pipe nobody reads
// stalls no session (lines are dropped and counted instead), and JSON lines stay valid
// UTF-8 whatever bytes a client sends.

#include <signal.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api_client_util.h"
#include "net_util.h"
#include "process_util.h"

namespace dropsim::test {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
const std::string kBinary = DROPSIM_BINARY;

/// The number after `needle` in `text` (a port in a log line, a sample's value); -1 when absent.
long long number_after(const std::string& text, const std::string& needle) {
  const auto at = text.find(needle);
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + needle.size()));
}

/// One echo round trip of `payload` on `fd`; its time, or -1 µs when the echo did not come.
microseconds round_trip(int fd, const std::string& payload) {
  const auto start = Clock::now();
  if (!send_all(fd, payload) || recv_exact(fd, payload.size(), milliseconds(5000)) != payload) {
    return microseconds(-1);
  }
  return std::chrono::duration_cast<microseconds>(Clock::now() - start);
}

/// dropsim with a stderr pipe that nobody reads once the ports are known, 100 idle
/// sessions through its proxy `p` (toward an echo server) and one more for echo round
/// trips. With --log-level debug, every toxic added and removed through the API logs a
/// line per session: the pipe and then the log's queue fill up fast.
class StalledStderr {
 public:
  StalledStderr()
      : child_({kBinary, "--log-level", "debug", "run", "--name", "p", "--listen", "127.0.0.1:0", "--upstream",
                fmt::format("127.0.0.1:{}", app_.port()), "--api", "127.0.0.1:0"}) {
    if (!child_.wait_err("control API listening on 127.0.0.1:", milliseconds(5000)) ||
        !child_.wait_err("p: listening on 127.0.0.1:", milliseconds(5000))) {
      throw std::runtime_error("dropsim did not start: " + child_.err());
    }
    api_ = std::make_unique<ApiClient>(
        static_cast<std::uint16_t>(number_after(child_.err(), "control API listening on 127.0.0.1:")));
    const auto port = static_cast<std::uint16_t>(number_after(child_.err(), "p: listening on 127.0.0.1:"));
    // From here on, nobody reads the child's stderr.
    for (int i = 0; i < 100; ++i) idle_.push_back(connect_to(port));
    if (!wait_until([this] { return app_.connections() >= 100; }, milliseconds(5000))) {
      throw std::runtime_error("the idle sessions did not reach the echo server");
    }
    probe_ = connect_to(port);
  }

  /// dropsim_log_lines_dropped_total now.
  long long dropped() { return number_after(api_->request("GET", "/metrics").body, "\ndropsim_log_lines_dropped_total "); }
  /// Adds and removes a toxic: a line per session twice, and two of the API's.
  bool churn() {
    const std::string toxic = R"({"name":"lag","type":"latency","stream":"downstream","attributes":{"latency":0}})";
    return api_->request("POST", "/proxies/p/toxics", toxic).status == 200 &&
           api_->request("DELETE", "/proxies/p/toxics/lag").status == 204;
  }
  /// One echo round trip through the proxy; its time, or -1 µs when the echo did not come.
  microseconds round_trip() { return dropsim::test::round_trip(probe_.get(), std::string(64, 'x')); }
  ChildProcess& child() { return child_; }

 private:
  EchoServer app_;
  ChildProcess child_;
  std::unique_ptr<ApiClient> api_;
  std::vector<Fd> idle_;
  Fd probe_;
};

// Echo round trips go on while the output is stuck: every one is quick, and /metrics
// counts the lines dropped. Reading stderr again, the exit says how many were lost.
TEST(LogOutput, AStderrNobodyReadsNeverStallsTheSessions) {
  StalledStderr dropsim;
  ASSERT_EQ(dropsim.dropped(), 0);
  int trips = 0;
  microseconds slowest{0};
  std::vector<long long> all;
  long long lost = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  for (int cycle = 0; cycle < 2000 && Clock::now() < deadline && (trips < 200 || lost <= 0); ++cycle) {
    ASSERT_TRUE(dropsim.churn());
    for (int i = 0; i < 2; ++i) {
      const microseconds t = dropsim.round_trip();
      ASSERT_GE(t.count(), 0) << "round trip " << trips << " got no echo";
      slowest = std::max(slowest, t);
      all.push_back(t.count());
      ++trips;
    }
    if (cycle % 10 == 9) lost = dropsim.dropped();
  }
  lost = dropsim.dropped();
  std::sort(all.begin(), all.end());
  const long long median = all.empty() ? -1 : all[all.size() / 2];
  std::cout << fmt::format("{} round trips with stderr stalled: median {} us, slowest {} us; {} log lines dropped\n",
                           trips, median, slowest.count(), lost);
  RecordProperty("round_trips", trips);
  RecordProperty("slowest_us", static_cast<int>(slowest.count()));
  RecordProperty("dropped_lines", static_cast<int>(lost));
  EXPECT_GE(trips, 200);
  EXPECT_LT(slowest, milliseconds(500));
  EXPECT_GT(lost, 0) << "the queue never filled: nothing shows the stall was survived";

  ChildProcess& child = dropsim.child();
  child.signal(SIGINT);
  EXPECT_TRUE(child.wait_err(" log lines dropped: stderr was not read", milliseconds(10000)))
      << child.err().substr(child.err().size() - std::min<std::size_t>(child.err().size(), 2000));
  EXPECT_EQ(child.wait(milliseconds(5000)), 0);
}

// A stderr that stays stuck does not hold the exit: SIGTERM's exit waits for the queued
// lines only so long (kLogFinishWait, 2 s), then leaves them.
TEST(LogOutput, AStderrNobodyReadsDoesNotHoldTheExit) {
  StalledStderr dropsim;
  for (int cycle = 0; cycle < 500 && dropsim.dropped() == 0; ++cycle) ASSERT_TRUE(dropsim.churn());
  ASSERT_GT(dropsim.dropped(), 0);
  const auto start = Clock::now();
  dropsim.child().signal(SIGTERM);
  const int code = dropsim.child().wait(milliseconds(10000), false);
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  std::cout << fmt::format("exit with stderr stalled took {} ms\n", took.count());
  EXPECT_EQ(code, 0);
  EXPECT_LT(took, milliseconds(5000));
}

/// Reads from `fd` until a blank line ends an HTTP head; what came, or less on a timeout.
std::string read_head(int fd) {
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    const std::string byte = recv_exact(fd, 1, milliseconds(3000));
    if (byte.empty()) break;
    head += byte;
  }
  return head;
}

// A WebSocket upgrade whose URL is not UTF-8 (Latin-1, an overlong, a surrogate, a
// truncated sequence), through an http profile in JSON mode: every line parses as JSON
// (nlohmann's parser rejects ill-formed UTF-8) and the URL is there, its bad bytes as
// U+FFFD.
TEST(LogOutput, JsonLinesStayValidUtf8WhenTheUrlIsNot) {
  Listener upstream;
  ChildProcess child({kBinary, "--log-format", "json", "--log-level", "debug", "run", "--no-api", "--profile", "nginx",
                      "--listen", "127.0.0.1:0", "--upstream", fmt::format("127.0.0.1:{}", upstream.port())});
  ASSERT_TRUE(child.wait_err("\"event\":\"listen\"", milliseconds(5000))) << child.err();
  const auto port = static_cast<std::uint16_t>(number_after(child.err(), "\"port\":"));

  Fd client = connect_to(port);
  ASSERT_TRUE(send_all(client.get(),
                       "GET /caf\xe9/\xc0\xaf/\xed\xa0\x80/\xf0\x9f\x98?ok=\xe2\x82\xac HTTP/1.1\r\n"
                       "Host: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
  Fd server = upstream.accept();
  ASSERT_TRUE(server.valid());
  ASSERT_NE(read_head(server.get()).find("\r\n\r\n"), std::string::npos);
  ASSERT_TRUE(send_all(server.get(),
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"));
  ASSERT_TRUE(child.wait_err("\"event\":\"upgrade\"", milliseconds(3000))) << child.err();
  client.reset();
  server.reset();
  child.signal(SIGINT);
  EXPECT_EQ(child.wait(milliseconds(5000)), 0);

  std::istringstream lines(child.err());
  int parsed = 0;
  bool url_seen = false;
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(line)) << testing::PrintToString(line);
    ++parsed;
    if (j.value("event", "") == "upgrade") {
      const std::string msg = j.at("msg");
      const std::string r = "\xef\xbf\xbd";  // U+FFFD
      EXPECT_NE(msg.find("GET /caf" + r + "/" + r + r + "/" + r + r + r + "/" + r + "?ok=\xe2\x82\xac"),
                std::string::npos)
          << msg;
      url_seen = true;
    }
  }
  EXPECT_GE(parsed, 3);
  EXPECT_TRUE(url_seen) << child.err();
}

}  // namespace
}  // namespace dropsim::test
