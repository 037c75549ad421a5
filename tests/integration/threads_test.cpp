// Sessions on worker threads (`run --threads`): clients spread over the workers, and the
// Runtime, its metrics and actions see every session wherever it runs. The rest of the
// Runtime's and the API's tests run with workers too (their Threads/ instances).

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <numeric>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>

#include "net_util.h"
#include "proxy.h"
#include "runtime_under_test.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;

/// The value of the first sample of `family` whose labels contain `labels`; -1 when none.
double sample(const std::string& text, const std::string& family, const std::string& labels) {
  const std::regex line("^" + family + R"(\{([^}]*)\} (\S+)$)");
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    const std::string l = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    std::smatch m;
    if (std::regex_match(l, m, line) && m[1].str().find(labels) != std::string::npos) return std::stod(m[2]);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return -1;
}

TEST(Threads, ClientsSpreadEvenlyAndTheRuntimeSeesAndActsOnEverySession) {
  EchoServer echo;
  RuntimeUnderTest rt({}, spdlog::level::info, 2);
  const auto port = rt.add_proxy("p", echo.port());
  constexpr int kClients = 20;
  std::vector<Fd> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(connect_to(port));
    ASSERT_TRUE(send_all(clients.back().get(), "ping"));
    ASSERT_EQ(recv_exact(clients.back().get(), 4, milliseconds(2000)), "ping") << "client " << i;
  }
  ASSERT_TRUE(rt.wait_sessions("p", kClients));
  // Each client went to the worker with fewer sessions: they alternate.
  const auto spread = rt.call([](Runtime& r) { return r.find("p")->sessions_per_shard(); });
  EXPECT_EQ(spread, (std::vector<std::size_t>{kClients / 2, kClients / 2}));

  const auto sessions = rt.call([](Runtime& r) { return r.sessions(); });
  std::set<std::uint64_t> ids;
  for (const SessionInfo& s : sessions) {
    ids.insert(s.id);
    EXPECT_EQ(s.ways[index(Direction::upstream)].bytes, 4u);
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kClients));
  EXPECT_TRUE(std::is_sorted(sessions.begin(), sessions.end(),
                             [](const SessionInfo& a, const SessionInfo& b) { return a.id < b.id; }));
  // The counters of both workers add up.
  const std::string metrics = rt.call([](Runtime& r) { return r.metrics(); });
  EXPECT_EQ(sample(metrics, "dropsim_bytes_total", "direction=\"upstream\""), 4.0 * kClients) << metrics;
  EXPECT_EQ(sample(metrics, "dropsim_active_sessions", "proxy=\"p\""), kClients) << metrics;

  // One action reaches the sessions of both workers.
  ActionRequest rst;
  rst.action = SessionAction::rst;
  const ActionTally tally = rt.call([rst](Runtime& r) { return r.act_all("p", rst); });
  EXPECT_EQ(tally.acted, static_cast<std::size_t>(kClients));
  for (auto& c : clients) EXPECT_EQ(wait_end(c.get(), milliseconds(2000)).how, End::reset);
  ASSERT_TRUE(rt.wait_sessions("p", 0));
  const std::string after = rt.call([](Runtime& r) { return r.metrics(); });
  EXPECT_EQ(sample(after, "dropsim_closes_total", "proxy=\"p\""), kClients) << after;
}

TEST(Threads, AToxicAddedAndRemovedMidTransferLosesAndReordersNoByteOnEitherWorker) {
  // Splicing stops when a toxic comes and starts again when it goes, on each worker, while
  // bytes move: every byte still arrives once, in order.
  EchoServer echo;
  RuntimeUnderTest rt({}, spdlog::level::info, 2);
  const auto port = rt.add_proxy("p", echo.port());
  constexpr std::size_t kBytes = 4 << 20;
  std::string data(kBytes, '\0');
  for (std::size_t i = 0; i < kBytes; ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  std::vector<Fd> clients;
  std::vector<std::thread> readers;
  std::vector<std::string> got(4);
  std::atomic<int> received{0};
  for (int i = 0; i < 4; ++i) {
    clients.push_back(connect_to(port));
    set_io_timeout(clients.back().get(), milliseconds(5000));
  }
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&, i] {
      got[i].resize(kBytes);
      if (!recv_all(clients[i].get(), got[i].data(), kBytes)) got[i].clear();
      ++received;
    });
  }
  std::vector<std::thread> writers;
  for (int i = 0; i < 4; ++i) {
    writers.emplace_back([&, i] { send_all(clients[i].get(), data); });
  }
  Toxic slow = Toxic::make(ToxicType::latency, Direction::downstream);
  slow.set("latency", 1);
  int rounds = 0;
  for (; received < 4 && rounds < 2000; ++rounds) {
    rt.call([slow](Runtime& r) { return r.add_toxic("p", slow); });
    rt.call([](Runtime& r) { r.remove_toxic("p", "latency_downstream"); });
  }
  // Each round began with bytes still on their way (a slow machine may fit only one).
  EXPECT_GE(rounds, 1) << "the transfer ended before the toxic came";
  for (auto& w : writers) w.join();
  for (auto& r : readers) r.join();
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(got[i] == data) << "client " << i << " got " << got[i].size() << " bytes";
}

TEST(Threads, DeletingAProxyWhileItsWorkersMoveBytesEndsEverySession) {
  EchoServer echo;
  RuntimeUnderTest rt({}, spdlog::level::info, 2);
  const auto port = rt.add_proxy("p", echo.port());
  std::vector<Fd> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(connect_to(port));
  std::atomic<bool> stop{false};
  std::vector<std::thread> pushers;
  for (auto& c : clients) {
    pushers.emplace_back([&stop, fd = c.get()] {
      const std::string chunk(16384, 'x');
      while (!stop) {
        // Non-blocking: a full queue only spins until `stop`; an error (the reset) ends it.
        if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) == -1 && errno != EAGAIN) break;
      }
    });
  }
  ASSERT_TRUE(rt.wait_sessions("p", clients.size()));
  rt.call([](Runtime& r) { r.delete_proxy("p"); });
  for (auto& c : clients) EXPECT_NE(wait_end(c.get(), milliseconds(2000)).how, End::timeout);
  stop = true;
  for (auto& t : pushers) t.join();
  EXPECT_EQ(rt.call([](Runtime& r) { return r.proxies().size(); }), 0u);
}

}  // namespace
}  // namespace dropsim::test
