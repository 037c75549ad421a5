// dropsim as an integration-test fixture, in-process: a server and a client of your own
// talk through a dropsim proxy, the test cuts their connection three ways, and asserts
// that the client came back each time and that no message was lost or repeated.
//
//   ResumingClient ──► dropsim proxy "app" (profile nlb) ──► ResumableServer
//                             ▲
//              test: act_all("app", rst | blackhole | drain)
//
// The protocol is a line protocol over plain TCP, so a drain (a WebSocket 1001 close)
// reaches the client as a FIN, a clean end of file. Over WebSocket the client would
// read close code 1001 instead; its reconnect logic would be the same.
//
// DROPSIM_EXAMPLE_BREAK_RESUME=1 starts the server without its resume: the test then
// fails on the first missing message, which is what it is for.

#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dropsim_fixture.h"
#include "reconnect_backoff.h"
#include "resumable_server.h"
#include "resuming_client.h"

namespace {

using Ms = std::chrono::milliseconds;
using dropsim::SessionAction;

/// Polls `done` every 5 ms; false when `timeout` passes first. Every wait is bounded.
bool wait_until(const std::function<bool()>& done, Ms timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(Ms(5));
  }
  return true;
}

Ms since(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration_cast<Ms>(to - from);
}

/// dropsim (from DropsimTest) plus the application under test on its own thread.
class ReconnectTest : public DropsimTest {
 protected:
  ReconnectTest() {
    server_.start();
    app_thread_ = std::thread([this] { app_io_.run(); });
  }
  ~ReconnectTest() override {
    app_io_.stop();
    app_thread_.join();
  }

  static constexpr Ms kReadTimeout{300};  ///< the client's heartbeat deadline
  asio::io_context app_io_;
  asio::executor_work_guard<asio::io_context::executor_type> app_work_ = asio::make_work_guard(app_io_);
  /// A message every 5 ms; a PING after 100 ms of nothing, well inside kReadTimeout.
  ResumableServer server_{app_io_, Ms(5), Ms(100), std::getenv("DROPSIM_EXAMPLE_BREAK_RESUME") == nullptr};
  std::optional<ResumingClient> client_;  ///< made once the proxy's port is known
  std::thread app_thread_;
};

TEST_F(ReconnectTest, ReconnectsAfterRstBlackholeAndDrainAndLosesNothing) {
  // The proxy: the NLB profile on a free port, in front of the server.
  const std::uint16_t proxy_port =
      add_proxy({.name = "app",
                 .listen = "localhost:0",
                 .upstream = "127.0.0.1:" + std::to_string(server_.port()),
                 .profile = "nlb"});
  // Reconnect waits: 10-20 ms, then 20-40 ms, ... at most 2 s.
  ResumingClient& client =
      client_.emplace(app_io_, proxy_port, ReconnectBackoff(Ms(20), Ms(2000), /*seed=*/1), kReadTimeout);
  client.start();
  ASSERT_TRUE(wait_until([&] { return client.progress().delivered.size() >= 20; }, Ms(3000)))
      << "the client never got going through the proxy";

  // A quiet spell twice as long as the read timeout: the heartbeat is what keeps a
  // client with a short deadline from dropping a healthy connection.
  server_.pause(true);
  std::this_thread::sleep_for(2 * kReadTimeout);
  server_.pause(false);
  ASSERT_TRUE(client.progress().drops.empty())
      << "dropped a quiet but healthy connection: " << client.progress().drops.front();

  struct Cut {
    const char* name;
    SessionAction action;
    const char* client_sees;  ///< in the client's reason for the drop
  };
  const Cut cuts[] = {
      {"rst", SessionAction::rst, "reset by peer"},            // the read fails at once
      {"blackhole", SessionAction::blackhole, "no line for"},  // silence: only the deadline sees it
      {"drain", SessionAction::drain, "End of file"},          // over plain TCP a drain is a FIN
  };
  for (const Cut& cut : cuts) {
    SCOPED_TRACE(cut.name);
    // One live session through the proxy: the client's (the one a blackhole left behind
    // is gone once both ends have closed it).
    ASSERT_TRUE(
        wait_until([&] { return call([](dropsim::Runtime& r) { return r.sessions("app").size(); }) == 1; }, Ms(2000)));
    const ResumingClient::Progress before = client.progress();
    const std::uint64_t replayed_before = server_.replayed();

    const auto cut_at = std::chrono::steady_clock::now();
    EXPECT_EQ(call([&](dropsim::Runtime& r) { return r.act_all("app", {.action = cut.action}).acted; }), 1u);

    // Back, and 20 more messages through the new connection.
    ASSERT_TRUE(wait_until(
        [&] {
          const auto now = client.progress();
          return now.connected_at.size() > before.connected_at.size() &&
                 now.delivered.size() >= before.delivered.size() + 20;
        },
        Ms(3000)))
        << "the client did not reconnect within 3 s";
    const ResumingClient::Progress after = client.progress();
    ASSERT_EQ(after.drops.size(), before.drops.size() + 1);
    EXPECT_THAT(after.drops.back(), testing::HasSubstr(cut.client_sees));
    std::cout << cut.name << ": the client saw \"" << after.drops.back() << "\" and was back after "
              << since(cut_at, after.connected_at[before.connected_at.size()]).count() << " ms; "
              << server_.replayed() - replayed_before << " message(s) replayed\n";
  }

  // No loss, no duplicate: message 1, 2, 3, ... each once, in order.
  const ResumingClient::Progress end = client.progress();
  for (std::size_t i = 0; i < end.delivered.size(); ++i) {
    if (end.delivered[i] != i + 1) {
      FAIL() << "delivery " << i + 1 << " was message " << end.delivered[i] << ", expected " << i + 1
             << (end.delivered[i] > i + 1 ? ": messages were lost" : ": a message came twice");
    }
  }
  EXPECT_GT(server_.replayed(), 0u) << "no cut lost anything in flight, so the resume was never tested";
  EXPECT_EQ(end.drops.size(), 3u);
  // dropsim's own counters agree: each session closed by one of the test's cuts.
  const auto closes = call([](dropsim::Runtime& r) { return r.find("app")->metrics().closes_by_cause; });
  for (const char* cause : {"api_rst", "api_blackhole", "api_drain"}) {
    EXPECT_EQ(closes.count(cause) ? closes.at(cause) : 0, 1u) << cause;
  }
  std::cout << end.delivered.size() << " messages delivered in order across " << end.connected_at.size()
            << " connections\n";
}

// The reconnect policy alone: doubling ceilings, jitter inside [ceiling / 2, ceiling],
// the cap, and reset().
TEST(ReconnectBackoff, DoublesWithJitterUpToTheCapAndResets) {
  ReconnectBackoff backoff(Ms(100), Ms(1000), /*seed=*/7);
  const Ms ceilings[] = {Ms(100), Ms(200), Ms(400), Ms(800), Ms(1000), Ms(1000)};
  for (Ms ceiling : ceilings) {
    const Ms wait = backoff.next();
    EXPECT_GE(wait, ceiling / 2);
    EXPECT_LE(wait, ceiling);
  }
  backoff.reset();
  EXPECT_LE(backoff.next(), Ms(100));
}

}  // namespace
