// The Runtime with real sockets on 127.0.0.1: proxies by name, toxics applied to open and
// new sessions, session actions, scheduled faults, disable/enable. The HTTP API on top is
// tested in control_api_test.cpp.

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include <sys/socket.h>

#include "net_util.h"
#include "proxy.h"
#include "runtime_under_test.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

Toxic toxic(ToxicType type, Direction stream, std::initializer_list<std::pair<const char*, std::int64_t>> attrs) {
  Toxic t = Toxic::make(type, stream);
  for (const auto& [k, v] : attrs) t.set(k, v);
  return t;
}

/// An echo server behind a Runtime with no proxy yet, its sessions on the Runtime's own
/// thread or on GetParam() worker threads (`run --threads`): every test runs both ways.
class RuntimeTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  EchoServer echo;
  RuntimeUnderTest rt{{}, spdlog::level::debug, GetParam()};
};

TEST_P(RuntimeTest, CreatesAProxyThatCarriesBytesAndReportsItsBoundAddress) {
  const auto port = rt.add_proxy("redis", echo.port());
  const auto info = rt.call([](Runtime& r) { return r.proxy("redis"); });
  EXPECT_EQ(info.listen, "127.0.0.1:" + std::to_string(port));
  EXPECT_TRUE(info.enabled);
  EXPECT_EQ(info.profile, "tcp");
  Fd c = connect_to(port);
  ASSERT_TRUE(send_all(c.get(), "ping"));
  EXPECT_EQ(recv_exact(c.get(), 4, milliseconds(2000)), "ping");
}

TEST_P(RuntimeTest, AnswersToxiproxysErrors) {
  rt.add_proxy("a", echo.port());
  const auto status_of = [&](auto f) {
    try {
      rt.call(f);
    } catch (const ApiError& e) {
      return std::make_pair(e.status(), std::string(e.what()));
    }
    return std::make_pair(0, std::string());
  };
  EXPECT_EQ(status_of([](Runtime& r) { return r.proxy("nope"); }), std::make_pair(404, std::string("proxy not found")));
  ProxySpec dup;
  dup.name = "a";
  dup.upstream = "127.0.0.1:1";
  EXPECT_EQ(status_of([dup](Runtime& r) { return r.create_proxy(dup); }).first, 409);
  Listener taken;
  ProxySpec busy;
  busy.name = "busy";
  busy.listen = "127.0.0.1:" + std::to_string(taken.port());
  busy.upstream = "127.0.0.1:1";
  const auto [status, message] = status_of([busy](Runtime& r) { return r.create_proxy(busy); });
  EXPECT_EQ(status, 500);
  EXPECT_EQ(message, "listen tcp " + busy.listen + ": bind: address already in use");
  EXPECT_EQ(status_of([](Runtime& r) { return r.toxic("a", "latency_downstream"); }).first, 404);
  EXPECT_EQ(status_of([](Runtime& r) { return r.add_toxic("a", toxic(ToxicType::latency, Direction::downstream, {{"latency", -1}})); }).first, 400);
  rt.call([](Runtime& r) { return r.add_toxic("a", toxic(ToxicType::latency, Direction::downstream, {})); });
  EXPECT_EQ(status_of([](Runtime& r) { return r.add_toxic("a", toxic(ToxicType::latency, Direction::downstream, {})); }),
            std::make_pair(409, std::string("toxic already exists")));
  ProxySpec bad_profile;
  bad_profile.name = "b";
  bad_profile.upstream = "127.0.0.1:1";
  bad_profile.profile = "ngnix";
  const auto [bad_status, bad_message] = status_of([bad_profile](Runtime& r) { return r.create_proxy(bad_profile); });
  EXPECT_EQ(bad_status, 400);
  EXPECT_NE(bad_message.find("nginx"), std::string::npos) << "did-you-mean: " << bad_message;
  // The API's field, not the command line's flag.
  EXPECT_TRUE(bad_message.starts_with("profile: no built-in profile 'ngnix'")) << bad_message;
}

TEST_P(RuntimeTest, ResetPeerResetsAConnectionThatWasOpenAndIdleBeforeTheToxic) {
  const auto port = rt.add_proxy("db", echo.port());
  Fd c = connect_to(port);
  ASSERT_TRUE(rt.wait_sessions("db", 1));
  ASSERT_TRUE(rt.wait_log("connected to upstream"));
  const auto added = Clock::now();
  rt.call([](Runtime& r) { return r.add_toxic("db", toxic(ToxicType::reset_peer, Direction::downstream, {{"timeout", 200}})); });
  const Ending e = wait_end(c.get(), milliseconds(3000));
  EXPECT_EQ(e.how, End::reset) << to_string(e.how);
  EXPECT_GE(elapsed_ms(added), 190);
  EXPECT_LE(elapsed_ms(added), 1500);
  EXPECT_TRUE(rt.wait_log("closed by fault reset_peer_downstream")) << rt.logs();
}

TEST_P(RuntimeTest, ToxicityZeroNeverAppliesAndAnUnaffectedConnectionKeepsFlowing) {
  const auto port = rt.add_proxy("db", echo.port());
  Toxic t = toxic(ToxicType::reset_peer, Direction::downstream, {{"timeout", 0}});
  t.toxicity = 0.0;
  rt.call([t](Runtime& r) { return r.add_toxic("db", t); });
  Fd c = connect_to(port);
  ASSERT_TRUE(rt.wait_sessions("db", 1));
  ASSERT_TRUE(send_all(c.get(), "still here"));
  EXPECT_EQ(recv_exact(c.get(), 10, milliseconds(2000)), "still here");
  const auto sessions = rt.call([](Runtime& r) { return r.sessions("db"); });
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_TRUE(sessions[0].toxics.empty()) << "toxicity 0: the roll never says yes";
}

TEST_P(RuntimeTest, TimeoutToxicClosesTheConnectionAfterItsTimeout) {
  const auto port = rt.add_proxy("api", echo.port());
  rt.call([](Runtime& r) { return r.add_toxic("api", toxic(ToxicType::timeout, Direction::upstream, {{"timeout", 300}})); });
  const auto start = Clock::now();
  Fd c = connect_to(port);
  EXPECT_EQ(wait_end(c.get(), milliseconds(3000)).how, End::eof);
  EXPECT_GE(elapsed_ms(start), 280);
  EXPECT_TRUE(rt.wait_log("closed by fault timeout_upstream")) << rt.logs();
}

TEST_P(RuntimeTest, SessionsListBytesAndTimersAndActionsCloseThem) {
  const auto port = rt.add_proxy("ws", echo.port(), "nginx-stream");
  Fd a = connect_to(port);
  Fd b = connect_to(port);
  Fd c = connect_to(port);
  ASSERT_TRUE(rt.wait_sessions("ws", 3));
  ASSERT_TRUE(send_all(a.get(), "12345"));
  ASSERT_EQ(recv_exact(a.get(), 5, milliseconds(2000)), "12345");
  const auto sessions = rt.call([](Runtime& r) { return r.sessions("ws"); });
  ASSERT_EQ(sessions.size(), 3u);
  EXPECT_EQ(sessions[0].ways[index(Direction::upstream)].bytes, 5u);
  EXPECT_EQ(sessions[0].ways[index(Direction::downstream)].bytes, 5u);
  ASSERT_EQ(sessions[0].timers.size(), 1u);
  EXPECT_EQ(sessions[0].timers[0].name, "proxy_timeout");
  ASSERT_TRUE(sessions[0].timers[0].fires_in_s.has_value());
  EXPECT_GT(*sessions[0].timers[0].fires_in_s, 500.0) << "10 min, less what has passed";

  ActionRequest rst;
  rst.action = SessionAction::rst;
  const auto first = sessions[0].id;
  rt.call([first, rst](Runtime& r) { r.act(first, rst); });
  EXPECT_EQ(wait_end(a.get(), milliseconds(2000)).how, End::reset);
  ActionRequest fin;
  fin.action = SessionAction::fin;
  EXPECT_EQ(rt.call([fin](Runtime& r) { return r.act_all("ws", fin); }).acted, 2u);
  EXPECT_EQ(wait_end(b.get(), milliseconds(2000)).how, End::eof);
  EXPECT_EQ(wait_end(c.get(), milliseconds(2000)).how, End::eof);
  try {
    rt.call([first, rst](Runtime& r) { r.act(first, rst); });
    ADD_FAILURE() << "a closed session is not found";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 404);
  }
}

TEST_P(RuntimeTest, BlackholeActionLeavesTheClientHangingUntilItSpeaks) {
  const auto port = rt.add_proxy("nlb", echo.port());
  Fd c = connect_to(port);
  ASSERT_TRUE(rt.wait_sessions("nlb", 1));
  ASSERT_TRUE(rt.wait_log("connected to upstream"));
  ActionRequest hole;
  hole.action = SessionAction::blackhole;
  EXPECT_EQ(rt.call([hole](Runtime& r) { return r.act_all("", hole); }).acted, 1u);
  EXPECT_EQ(wait_end(c.get(), milliseconds(300)).how, End::timeout) << "nothing is sent";
  ASSERT_TRUE(send_all(c.get(), "hello?"));
  EXPECT_EQ(wait_end(c.get(), milliseconds(2000)).how, End::reset) << "the forgotten flow answers with RST";
}

TEST_P(RuntimeTest, ScheduledFaultAppliesAfterItsDelayAndLeavesAfterItsDuration) {
  ProxySpec spec;
  spec.name = "late";
  spec.upstream = "127.0.0.1:" + std::to_string(echo.port());
  FaultSpec f;
  f.toxic = toxic(ToxicType::latency, Direction::downstream, {{"latency", 50}});
  f.after = milliseconds(200);
  f.lasts = milliseconds(300);
  spec.faults.push_back(f);
  rt.call([spec](Runtime& r) { return r.create_proxy(spec); });
  EXPECT_TRUE(rt.call([](Runtime& r) { return r.toxics("late"); }).empty());
  ASSERT_TRUE(rt.wait_log("toxic latency_downstream", milliseconds(2000))) << rt.logs();
  EXPECT_EQ(rt.call([](Runtime& r) { return r.toxics("late"); }).size(), 1u);
  ASSERT_TRUE(rt.wait_log("toxic latency_downstream removed", milliseconds(2000))) << rt.logs();
  EXPECT_TRUE(rt.call([](Runtime& r) { return r.toxics("late"); }).empty());
}

TEST_P(RuntimeTest, DisableClosesSessionsAndEnableListensOnTheSamePort) {
  const auto port = rt.add_proxy("svc", echo.port());
  Fd c = connect_to(port);
  ASSERT_TRUE(rt.wait_sessions("svc", 1));
  ProxyUpdate off;
  off.enabled = false;
  EXPECT_FALSE(rt.call([off](Runtime& r) { return r.update_proxy("svc", off); }).enabled);
  EXPECT_EQ(wait_end(c.get(), milliseconds(2000)).how, End::eof);
  rt.call([](Runtime& r) { r.reset(); });  // re-enables, as Toxiproxy's reset does
  EXPECT_TRUE(rt.call([](Runtime& r) { return r.proxy("svc"); }).enabled);
  Fd again = connect_to(port);
  ASSERT_TRUE(send_all(again.get(), "back"));
  EXPECT_EQ(recv_exact(again.get(), 4, milliseconds(2000)), "back");
}

TEST_P(RuntimeTest, ANewProfileReachesNewSessionsOnly) {
  const auto port = rt.add_proxy("lb", echo.port());
  Fd old_one = connect_to(port);
  ASSERT_TRUE(rt.wait_sessions("lb", 1));
  rt.call([](Runtime& r) { return r.set_profile("lb", "nginx-stream", {{"proxy_timeout", "200ms"}}, 1.0); });
  Fd new_one = connect_to(port);
  EXPECT_EQ(wait_end(new_one.get(), milliseconds(2000)).how, End::eof) << "the new profile's 200 ms timer";
  EXPECT_EQ(wait_end(old_one.get(), milliseconds(300)).how, End::timeout) << "the old session keeps tcp";
  try {
    rt.call([](Runtime& r) { return r.set_profile("lb", "nginx-stream", {{"proxy_timout", "1s"}}, 1.0); });
    ADD_FAILURE() << "an unknown setting is refused";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_NE(std::string(e.what()).find("proxy_timeout"), std::string::npos) << e.what();
  }
}

TEST_P(RuntimeTest, CountersMoveWhileConnectionsAreOpen) {
  const auto port = rt.add_proxy("m", echo.port());
  Fd c = connect_to(port);
  ASSERT_TRUE(send_all(c.get(), std::string(1000, 'x')));
  ASSERT_EQ(recv_exact(c.get(), 1000, milliseconds(2000)).size(), 1000u);
  const auto counted = rt.call([](Runtime& r) {
    const ProxyMetrics& m = r.find("m")->metrics();
    return std::make_tuple(m.sessions_total, m.bytes[0], m.bytes[1], m.closes_by_cause.size());
  });
  EXPECT_EQ(counted, std::make_tuple(std::uint64_t{1}, std::uint64_t{1000}, std::uint64_t{1000}, std::size_t{0}));
}

TEST_P(RuntimeTest, AnExpiringTimerRecordsHowLateItFired) {
  ProxySpec spec;
  spec.name = "t";
  spec.listen = "127.0.0.1:0";
  spec.upstream = "127.0.0.1:" + std::to_string(echo.port());
  spec.profile = "nginx-stream";
  spec.settings = {{"proxy_timeout", "200ms"}};
  const ProxyInfo info = rt.call([spec](Runtime& r) { return r.create_proxy(spec); });
  Fd c = connect_to(static_cast<std::uint16_t>(std::stoi(info.listen.substr(info.listen.rfind(':') + 1))));
  EXPECT_EQ(wait_end(c.get(), milliseconds(2000)).how, End::eof);
  ASSERT_TRUE(rt.wait_log("closed by proxy_timeout"));
  const auto lateness = rt.call([](Runtime& r) { return r.find("t")->metrics().timer_lateness; });
  EXPECT_EQ(lateness.count, 1u);
  // On time within the 0.5 s bucket even on a loaded machine (a few ms when idle).
  EXPECT_EQ(lateness.buckets.back(), 0u);
  EXPECT_LT(lateness.sum_seconds, 0.5);
}

TEST_P(RuntimeTest, APartitionStallsBothWaysAndHealsByItselfWithNothingLost) {
  const auto port = rt.add_proxy("net", echo.port());
  Fd c = connect_to(port);
  ASSERT_TRUE(rt.wait_sessions("net", 1));
  const auto cut = Clock::now();
  rt.call([](Runtime& r) { return r.partition("net", milliseconds(400)); });
  ASSERT_TRUE(send_all(c.get(), "during"));
  EXPECT_EQ(recv_exact(c.get(), 6, milliseconds(2000)), "during") << "held, then delivered";
  EXPECT_GE(elapsed_ms(cut), 380) << "nothing crossed while partitioned";
  EXPECT_TRUE(rt.call([](Runtime& r) { return r.toxics("net"); }).empty()) << "healed";
  EXPECT_FALSE(rt.call([](Runtime& r) { return r.heal("net"); })) << "nothing left to heal";
}

TEST_P(RuntimeTest, ResetPeerAfterBytesLetsThatManyThroughThenResets) {
  const auto port = rt.add_proxy("db", echo.port());
  rt.call([](Runtime& r) {
    return r.add_toxic("db", toxic(ToxicType::reset_peer, Direction::upstream, {{"bytes", 10}}));
  });
  Fd c = connect_to(port);
  ASSERT_TRUE(rt.wait_sessions("db", 1));
  ASSERT_TRUE(send_all(c.get(), "0123456789abcdef"));
  // The echo server got exactly 10 bytes and echoed them before the RST.
  std::string got;
  char buf[64];
  for (int i = 0; i < 100; ++i) {
    const ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
    if (n <= 0) {
      EXPECT_EQ(n < 0 ? errno : 0, ECONNRESET);
      break;
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
  EXPECT_EQ(got, std::string("0123456789").substr(0, got.size())) << "no byte past the limit";
  EXPECT_TRUE(rt.wait_log("closed by fault reset_peer_upstream")) << rt.logs();
  EXPECT_TRUE(rt.wait_log("reset after 10 bytes client→server")) << rt.logs();
}

TEST_P(RuntimeTest, LimitDataClosesWithFinOnceTheLimitHasPassed) {
  const auto port = rt.add_proxy("db", echo.port());
  rt.call([](Runtime& r) {
    return r.add_toxic("db", toxic(ToxicType::limit_data, Direction::downstream, {{"bytes", 5}}));
  });
  Fd c = connect_to(port);
  ASSERT_TRUE(send_all(c.get(), "0123456789"));
  EXPECT_EQ(recv_exact(c.get(), 5, milliseconds(2000)), "01234");
  EXPECT_EQ(wait_end(c.get(), milliseconds(2000)).how, End::eof);
  EXPECT_TRUE(rt.wait_log("the server→client byte limit was reached")) << rt.logs();
}

TEST_P(RuntimeTest, LatencyAddedToAnOpenConnectionDelaysItsNextReply) {
  const auto port = rt.add_proxy("slow", echo.port());
  Fd c = connect_to(port);
  ASSERT_TRUE(send_all(c.get(), "a"));
  ASSERT_EQ(recv_exact(c.get(), 1, milliseconds(2000)), "a");
  rt.call([](Runtime& r) {
    return r.add_toxic("slow", toxic(ToxicType::latency, Direction::downstream, {{"latency", 1000}}));
  });
  const auto sent = Clock::now();
  ASSERT_TRUE(send_all(c.get(), "b"));
  ASSERT_EQ(recv_exact(c.get(), 1, milliseconds(4000)), "b");
  EXPECT_GE(elapsed_ms(sent), 990);
  EXPECT_LE(elapsed_ms(sent), 2500);
  rt.call([](Runtime& r) { r.remove_toxic("slow", "latency_downstream"); });
  const auto again = Clock::now();
  ASSERT_TRUE(send_all(c.get(), "c"));
  ASSERT_EQ(recv_exact(c.get(), 1, milliseconds(2000)), "c");
  // Half the latency it had: no delay is left, with room for a busy machine's scheduling.
  EXPECT_LT(elapsed_ms(again), 500) << "removed: no delay";
}

INSTANTIATE_TEST_SUITE_P(Threads, RuntimeTest, ::testing::Values(std::size_t{0}, std::size_t{2}),
                         [](const auto& info) { return info.param == 0 ? std::string("one") : "workers" + std::to_string(info.param); });

}  // namespace
}  // namespace dropsim::test
