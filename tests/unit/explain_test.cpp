// The explanation: what each side observes, the frame story, heartbeat margins.

#include "explain.h"

#include <gtest/gtest.h>

#include "duration.h"
#include "manual_clock.h"

namespace dropsim {
namespace {

using std::chrono::seconds;

Profile alb() {
  Profile p;
  p.name = "alb";
  TimerSpec t;
  t.name = "idle_timeout";
  t.timeout = seconds(60);
  p.timers.push_back(t);
  return p;
}

TEST(ExplainTest, ClientSees1006WithoutACloseFrame) {
  const Profile p = alb();
  ManualClock clock;
  Policy policy(p, clock.now());
  EXPECT_EQ(websocket_outcome(policy, {CloseAction::fin}, {CloseAction::fin}),
            "the client will see 1006 (no close frame), the server sees FIN");
  EXPECT_EQ(websocket_outcome(policy, {CloseAction::rst}, {CloseAction::rst}),
            "the client will see 1006 (RST, no close frame), the server sees RST");
}

TEST(ExplainTest, ClientSeesTheCodeItWasSent) {
  const Profile p = alb();
  ManualClock clock;
  Policy policy(p, clock.now());
  SideClose client{CloseAction::fin, 1001, 0, ""};
  EXPECT_EQ(websocket_outcome(policy, client, {CloseAction::fin}), "the client will see 1001, the server sees FIN");
  policy.on_close_frame(Direction::downstream, 1000, "bye");
  EXPECT_EQ(websocket_outcome(policy, {CloseAction::fin}, {CloseAction::fin}),
            "the client will see 1000 (the server's close frame), the server sees FIN");
}

TEST(ExplainTest, FrameStoryTellsDataAndPingsPerDirection) {
  const Profile p = alb();
  ManualClock clock;
  Policy policy(p, clock.now());
  clock.advance(seconds(1));
  policy.on_frame(Direction::upstream, FrameKind::data, true, clock.now());
  for (int i = 0; i < 3; ++i) {
    clock.advance(seconds(30));
    policy.on_frame(Direction::downstream, FrameKind::ping, true, clock.now());
  }
  clock.advance(seconds(30));
  EXPECT_EQ(frame_story(policy, clock.now(), Clockface(1.0)),
            "client→server: last data 120.0s ago, no pings; server→client: no data, pings every 30.0s, last 30.0s ago");
}

TEST(ExplainTest, FrameStoryInProfileTimeUnderTimeScale) {
  const Profile p = alb();
  ManualClock clock;
  Policy policy(p, clock.now());
  policy.on_frame(Direction::upstream, FrameKind::ping, true, clock.now());
  clock.advance(std::chrono::milliseconds(1500));  // 30 s at time scale 0.05
  EXPECT_EQ(frame_story(policy, clock.now(), Clockface(0.05)),
            "client→server: no data, 1 ping 30.0s ago; server→client: no data, no pings");
  EXPECT_EQ(Clockface(0.05).seconds(std::chrono::seconds(3)), "60.000s");
  EXPECT_EQ(Clockface(0.05).real_note(std::chrono::seconds(3)), " (real 3.000s at time scale 0.05)");
  EXPECT_EQ(Clockface(1.0).real_note(std::chrono::seconds(3)), "");
  // Later durations of a line: the real time beside, the scale already named.
  EXPECT_EQ(Clockface(0.05).both(std::chrono::seconds(3)), "60.000s (real 3.000s)");
  EXPECT_EQ(Clockface(1.0).both(std::chrono::seconds(3)), "3.000s");
}

TEST(ExplainTest, HeartbeatMarginsAndVerdicts) {
  const Profile p = alb();
  for (const auto& [every, margin, verdict] :
       {std::tuple{30, 2.0, "ok"}, std::tuple{60, 1.0, "will race"}, std::tuple{90, 60.0 / 90, "too slow: will drop"}}) {
    ManualClock clock;
    Policy policy(p, clock.now());
    for (int i = 0; i < 3; ++i) {
      policy.on_frame(Direction::downstream, FrameKind::ping, true, clock.now());
      clock.advance(seconds(every));
    }
    const auto checks = heartbeat_checks(p, policy);
    ASSERT_EQ(checks.size(), 1u) << every;
    EXPECT_EQ(checks[0].direction, Direction::downstream);
    EXPECT_EQ(checks[0].kind, FrameKind::ping);
    EXPECT_NEAR(checks[0].margin, margin, 1e-9);
    EXPECT_EQ(checks[0].verdict, verdict);
  }
}

TEST(ExplainTest, HeartbeatIgnoresTimersThePingsDoNotReset) {
  Profile p = alb();
  p.timers[0].reset_by = DirectionSet::only(Direction::upstream);  // the war-story ALB
  ManualClock clock;
  Policy policy(p, clock.now());
  for (int i = 0; i < 3; ++i) {
    policy.on_frame(Direction::downstream, FrameKind::ping, true, clock.now());
    clock.advance(seconds(30));
  }
  EXPECT_TRUE(heartbeat_checks(p, policy).empty()) << "server pings do not count against this timer";
  EXPECT_EQ(heartbeat_summary(p, policy, Clockface(1.0)),
            "client→server: no heartbeat: ping at least every 30s to survive idle_timeout 60s; "
            "server→client: pings every 30.0s, but no idle timer counts them");
}

TEST(ExplainTest, HeartbeatSummarySentence) {
  Profile p = alb();
  p.timers[0].rearm_granularity = std::chrono::milliseconds(0);
  ManualClock clock;
  Policy policy(p, clock.now());
  for (int i = 0; i < 3; ++i) {
    policy.on_frame(Direction::downstream, FrameKind::ping, true, clock.now());
    clock.advance(seconds(30));
  }
  EXPECT_EQ(heartbeat_summary(p, policy, Clockface(1.0)),
            "client→server: no heartbeat, none needed (server→client pings reset idle_timeout); "
            "server→client: pings every 30.0s vs idle_timeout 60s: margin 2.0x, ok");
}

TEST(ExplainTest, NoHeartbeatAdviceUsesTheShortestTimerInProfileTime) {
  Profile p = alb();
  p.timers[0].reset_by = DirectionSet::only(Direction::upstream);
  TimerSpec shorter;
  shorter.name = "proxy_read_timeout";
  shorter.timeout = seconds(50);
  shorter.rearm_granularity = std::chrono::milliseconds(300);  // nginx's lazy re-arm shortens it
  p.timers.push_back(shorter);
  ManualClock clock;
  Policy policy(p, clock.now());
  // The shortest timer counting client→server pings is proxy_read_timeout: 49.7s, so 24.8s.
  EXPECT_EQ(heartbeat_summary(p, policy, Clockface(1.0)),
            "client→server: no heartbeat: ping at least every 24.8s to survive proxy_read_timeout 50s; "
            "server→client: no heartbeat: ping at least every 24.8s to survive proxy_read_timeout 50s");
  // At --time-scale 0.05 the advice stays in the profile's time.
  Profile scaled = p;
  scaled.time_scale = 0.05;
  for (TimerSpec& t : scaled.timers) {
    t.timeout = scale(*t.timeout, 0.05);
    t.rearm_granularity = scale(t.rearm_granularity, 0.05);
  }
  Policy scaled_policy(scaled, clock.now());
  EXPECT_NE(heartbeat_summary(scaled, scaled_policy, Clockface(0.05)).find("every 24.8s to survive proxy_read_timeout 50s"),
            std::string::npos);
  // A direction that no timer counts gets no advice to ping.
  p.timers.erase(p.timers.begin() + 1);
  Policy one(p, clock.now());
  EXPECT_NE(heartbeat_summary(p, one, Clockface(1.0)).find("server→client: no heartbeat, and no idle timer would count one"),
            std::string::npos);
}

TEST(ExplainTest, DescribeSide) {
  EXPECT_EQ(describe_side(Side::client, {CloseAction::fin}), "FIN to client");
  EXPECT_EQ(describe_side(Side::upstream, {CloseAction::rst}), "RST to server");
  EXPECT_EQ(describe_side(Side::client, {CloseAction::fin, 1001, 0, ""}), "close 1001 (going away) to client, then FIN");
  EXPECT_EQ(describe_side(Side::client, {CloseAction::fin, std::nullopt, 504, ""}), "504 to client, then FIN");
  EXPECT_EQ(describe_side(Side::client, {CloseAction::fin, std::nullopt, 0, "no WebSocket to close"}),
            "FIN to client (no WebSocket to close)");
  EXPECT_EQ(describe_side(Side::upstream, {CloseAction::blackhole}),
            "server blackholed (silence, RST on its next bytes)");
}

// --- TCP keepalive probes --------------------------------------------------------------

/// Feeds `n` readings `every` apart, each with one probe from the client.
void probes_every(Policy& policy, ManualClock& clock, Duration every, int n) {
  for (int i = 0; i < n; ++i) {
    clock.advance(every);
    policy.on_keepalive_sample(Direction::upstream, 1, clock.now());
  }
}

TEST(ExplainTest, KeepaliveThatCountsHasAMargin) {
  Profile p = alb();
  p.name = "nlb";
  p.timers[0].timeout = seconds(350);
  p.timers[0].reset_on.keepalive = true;
  ManualClock clock;
  Policy policy(p, clock.now());
  EXPECT_EQ(keepalive_summary(p, policy, Clockface(1.0)), "") << "no probe, nothing to say";
  probes_every(policy, clock, seconds(20), 4);
  EXPECT_EQ(keepalive_summary(p, policy, Clockface(1.0)),
            "TCP keepalive every 20.0s from the client counts for idle_timeout 350s: margin 17.5x, ok");
  // Under --time-scale: the profile's time, as the user configures the client.
  Profile scaled = p;
  scaled.time_scale = 0.1;
  scaled.timers[0].timeout = seconds(35);
  Policy fast(scaled, clock.now());
  probes_every(fast, clock, seconds(2), 3);
  EXPECT_EQ(keepalive_summary(scaled, fast, Clockface(0.1)),
            "TCP keepalive every 20.0s from the client counts for idle_timeout 350s: margin 17.5x, ok");
}

TEST(ExplainTest, KeepaliveSlowerThanTheTimeoutWillDrop) {
  Profile p = alb();
  p.timers[0].reset_on.keepalive = true;
  ManualClock clock;
  Policy policy(p, clock.now());
  probes_every(policy, clock, seconds(75), 2);
  EXPECT_EQ(keepalive_summary(p, policy, Clockface(1.0)),
            "TCP keepalive every 75.0s from the client counts for idle_timeout 60s: margin 0.8x, too slow: will drop");
}

TEST(ExplainTest, KeepaliveThatNoTimerCountsIsSaidToBeLost) {
  const Profile p = alb();  // a proxy that terminates TCP
  ManualClock clock;
  Policy policy(p, clock.now());
  probes_every(policy, clock, seconds(1), 3);
  EXPECT_EQ(keepalive_summary(p, policy, Clockface(1.0)),
            "TCP keepalive probes from the client (3) do not reach alb (it terminates TCP; its kernel answers "
            "them): only data counts");
  // A profile that counts them, only not from this side.
  Profile one_way = alb();
  one_way.timers[0].reset_on.keepalive = true;
  one_way.timers[0].reset_by = DirectionSet::only(Direction::downstream);
  Policy other(one_way, clock.now());
  probes_every(other, clock, seconds(1), 2);
  EXPECT_EQ(keepalive_summary(one_way, other, Clockface(1.0)),
            "TCP keepalive probes from the client (2) count for no timer of alb: only data counts");
}

TEST(ExplainTest, HeartbeatSummaryEndsWithTheKeepalives) {
  const Profile p = alb();
  ManualClock clock;
  Policy policy(p, clock.now());
  probes_every(policy, clock, seconds(1), 1);
  const std::string line = heartbeat_summary(p, policy, Clockface(1.0));
  EXPECT_TRUE(line.ends_with("; TCP keepalive probes from the client (1) do not reach alb (it terminates TCP; its "
                             "kernel answers them): only data counts"))
      << line;
}

TEST(ExplainTest, ASilentBlackholeSaysNoAnswerComes) {
  SideClose silent{CloseAction::blackhole};
  silent.answer = BlackholeAnswer::none;
  EXPECT_EQ(describe_side(Side::client, silent), "client blackholed (silence, and no answer to its next bytes)");
  EXPECT_EQ(describe_side(Side::client, {CloseAction::blackhole}), "client blackholed (silence, RST on its next bytes)");
  const Profile p = alb();
  ManualClock clock;
  Policy policy(p, clock.now());
  EXPECT_EQ(websocket_outcome(policy, silent, silent),
            "the client will see 1006 (silence, even when it sends: it learns only from its own timeouts), "
            "the server hears nothing (nor any answer when it sends)");
}

}  // namespace
}  // namespace dropsim
