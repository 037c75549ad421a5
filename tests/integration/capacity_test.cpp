// The session cap under a small descriptor limit, through the real binary: sessions up to
// the cap are served, the rest wait in the listen backlog and are served as others leave,
// the control API answers throughout, and nothing leaks afterwards.

#include <signal.h>

#include <chrono>
#include <regex>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api_client_util.h"
#include "net_util.h"
#include "process_util.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;
const std::string kBinary = DROPSIM_BINARY;

std::uint16_t free_port() {
  Listener probe;
  return probe.port();
}

/// The value of an unlabelled series in Prometheus text; -1 when absent.
double metric(const std::string& text, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\n" + name + " ([0-9.e+]+)\n"))) return -1;
  return std::stod(m[1]);
}

bool echoes(int fd, const std::string& text, milliseconds within) {
  if (!send_all(fd, text)) return false;
  return recv_exact(fd, text.size(), within) == text;
}

// With one thread the sessions run beside the API; with two, on workers that give their
// slot back from another thread than the accept loop's (the budget's waker posts).
class CapacityAtTheCap : public ::testing::TestWithParam<int> {};

TEST_P(CapacityAtTheCap, ClientsWaitAndTheApiAnswers) {
  const int threads = GetParam();
  // 128 descriptors: (128 - 96 reserved) / 2 = 16 sessions; two workers keep 2 x 3 more.
  const int cap = threads == 1 ? 16 : 13;
  EchoServer app;
  const std::uint16_t port = free_port();
  ChildProcess child({"/bin/sh", "-c",
                      fmt::format("ulimit -n 128 && exec {} run --api 127.0.0.1:0 -l 127.0.0.1:{} -u 127.0.0.1:{} "
                                  "--runtime-metrics --threads {}",
                                  kBinary, port, app.port(), threads)});
  ASSERT_TRUE(child.wait_err("control API listening on 127.0.0.1:", milliseconds(5000))) << child.err();
  EXPECT_NE(child.err().find(fmt::format("file descriptors: 128 (hard limit 128); up to {} sessions at once", cap)),
            std::string::npos)
      << child.err();
  std::smatch m;
  const std::string err = child.err();
  ASSERT_TRUE(std::regex_search(err, m, std::regex(R"(control API listening on 127\.0\.0\.1:(\d+))")));
  ApiClient api(static_cast<std::uint16_t>(std::stoi(m[1])));
  const double fds_before = metric(api.request("GET", "/metrics").body, "process_open_fds");
  ASSERT_GT(fds_before, 0);

  std::vector<Fd> served;
  for (int i = 0; i < cap; ++i) {
    served.push_back(connect_to(port));
    ASSERT_TRUE(echoes(served.back().get(), "in", milliseconds(2000))) << "session " << i;
  }
  // Beyond the cap the kernel completes the handshake (the backlog) but nobody reads.
  std::vector<Fd> waiting;
  for (int i = 0; i < 4; ++i) {
    waiting.push_back(connect_to(port));
    ASSERT_TRUE(send_all(waiting.back().get(), "wait"));
  }
  EXPECT_EQ(recv_exact(waiting.front().get(), 4, milliseconds(300)), "") << "served beyond the cap";

  // The API keeps its own descriptors: it answers at the cap.
  const auto asked = Steady::now();
  const Reply capacity = api.request("GET", "/dropsim/capacity");
  const auto took = std::chrono::duration_cast<milliseconds>(Steady::now() - asked);
  ASSERT_EQ(capacity.status, 200) << capacity.body;
  EXPECT_LT(took, milliseconds(500));  // 100 ms on an idle machine; loaded CI gets slack
  const auto c = nlohmann::json::parse(capacity.body);
  EXPECT_EQ(c.at("max_sessions"), cap);
  EXPECT_EQ(c.at("open_sessions"), cap);
  EXPECT_EQ(c.at("accepting"), false);
  EXPECT_EQ(c.at("descriptor_limit"), 128);

  // As sessions leave, the waiting clients are served.
  for (int i = 0; i < 4; ++i) served.pop_back();
  for (auto& w : waiting) EXPECT_EQ(recv_exact(w.get(), 4, milliseconds(2000)), "wait");
  EXPECT_EQ(child.err().find("accept failed"), std::string::npos) << "no accept-fail loop";

  served.clear();
  waiting.clear();
  std::string metrics;
  EXPECT_TRUE(wait_until([&] {
    metrics = api.request("GET", "/metrics").body;
    return metric(metrics, "dropsim_open_sessions") == 0 && metric(metrics, "process_open_fds") <= fds_before;
  }, milliseconds(3000))) << metrics;
  EXPECT_EQ(metric(metrics, "dropsim_max_sessions"), cap);
  EXPECT_GE(metric(metrics, "dropsim_accept_pauses_total"), 1);
  EXPECT_EQ(metric(metrics, "dropsim_accepting"), 1);

  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(milliseconds(5000)), 0) << child.err();
}

INSTANTIATE_TEST_SUITE_P(Threads, CapacityAtTheCap, ::testing::Values(1, 2),
                         [](const auto& info) { return fmt::format("threads{}", info.param); });

TEST(Capacity, MaxSessionsOverridesTheDerivedCap) {
  EchoServer app;
  const std::uint16_t port = free_port();
  ChildProcess child({kBinary, "run", "--no-api", "--max-sessions", "2", "-l", fmt::format("127.0.0.1:{}", port), "-u",
                      fmt::format("127.0.0.1:{}", app.port())});
  ASSERT_TRUE(child.wait_err(fmt::format("listening on 127.0.0.1:{}", port), milliseconds(5000))) << child.err();
  EXPECT_NE(child.err().find("up to 2 sessions at once"), std::string::npos) << child.err();
  Fd a = connect_to(port), b = connect_to(port), third = connect_to(port);
  EXPECT_TRUE(echoes(a.get(), "a", milliseconds(2000)));
  EXPECT_TRUE(echoes(b.get(), "b", milliseconds(2000)));
  ASSERT_TRUE(send_all(third.get(), "c"));
  EXPECT_EQ(recv_exact(third.get(), 1, milliseconds(300)), "");
  a.reset();
  EXPECT_EQ(recv_exact(third.get(), 1, milliseconds(2000)), "c");
  child.signal(SIGINT);
  EXPECT_EQ(child.wait(milliseconds(5000)), 0);
}

}  // namespace
}  // namespace dropsim::test
