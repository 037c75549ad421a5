// The pure timer decisions, driven by a ManualClock: no sockets, no sleeping.

#include "policy.h"

#include <gtest/gtest.h>

#include "manual_clock.h"

namespace dropsim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TimerSpec idle_timer(std::string name, Duration timeout, DirectionSet reset_by,
                     Duration granularity = Duration{0}) {
  TimerSpec t;
  t.name = std::move(name);
  t.kind = TimerKind::idle;
  t.timeout = timeout;
  t.reset_by = reset_by;
  t.rearm_granularity = granularity;
  return t;
}

Profile with_timers(std::vector<TimerSpec> timers) {
  Profile p;
  p.name = "test";
  p.timers = std::move(timers);
  return p;
}

class PolicyTest : public ::testing::Test {
 protected:
  ManualClock clock_;
};

TEST_F(PolicyTest, IdleTimerFiresAfterTimeoutWithoutTraffic) {
  const Profile p = with_timers({idle_timer("idle", seconds(60), DirectionSet::both())});
  Policy policy(p, clock_.now());
  const TimePoint opened = clock_.now();
  ASSERT_EQ(policy.next_deadline(), opened + seconds(60));
  clock_.advance(seconds(60) - milliseconds(1));
  EXPECT_FALSE(policy.expired(clock_.now()));
  clock_.advance(milliseconds(1));
  const auto e = policy.expired(clock_.now());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->timer->name, "idle");
  EXPECT_EQ(e->idle, seconds(60));
}

TEST_F(PolicyTest, TrafficInResetDirectionMovesDeadline) {
  const Profile p = with_timers({idle_timer("idle", seconds(10), DirectionSet::both())});
  Policy policy(p, clock_.now());
  clock_.advance(seconds(9));
  policy.on_bytes(Direction::downstream, 5, clock_.now());
  clock_.advance(seconds(9));
  EXPECT_FALSE(policy.expired(clock_.now()));
  EXPECT_EQ(policy.next_deadline(), clock_.now() + seconds(1));
  clock_.advance(seconds(1));
  ASSERT_TRUE(policy.expired(clock_.now()));
}

TEST_F(PolicyTest, TrafficOutsideResetByDoesNotCount) {
  // The seed guide's ALB model: only client→server data resets the timer.
  const Profile p = with_timers({idle_timer("idle_timeout", seconds(60), DirectionSet::only(Direction::upstream))});
  Policy policy(p, clock_.now());
  for (int i = 0; i < 5; ++i) {
    clock_.advance(seconds(25));
    if (policy.expired(clock_.now())) break;
    policy.on_bytes(Direction::downstream, 10, clock_.now());
  }
  const auto e = policy.expired(clock_.now());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->idle, seconds(75));  // checked at 75 s; due at 60 s
  EXPECT_EQ(e->deadline - policy.opened_at(), seconds(60));
}

TEST_F(PolicyTest, DownstreamOnlyTimerIgnoresUpstreamTraffic) {
  const Profile p = with_timers({idle_timer("t", seconds(10), DirectionSet::only(Direction::downstream))});
  Policy policy(p, clock_.now());
  clock_.advance(seconds(5));
  policy.on_bytes(Direction::upstream, 1, clock_.now());
  EXPECT_EQ(policy.next_deadline(), policy.opened_at() + seconds(10));
  policy.on_bytes(Direction::downstream, 1, clock_.now());
  EXPECT_EQ(policy.next_deadline(), clock_.now() + seconds(10));
}

TEST_F(PolicyTest, LazyRearmKeepsDeadlineWithinGranularity) {
  // nginx: a re-arm that would move the deadline by less than 300 ms is skipped, so the
  // connection can die after as little as T - 300 ms of real idleness.
  const Profile p = with_timers({idle_timer("proxy_read_timeout", seconds(2), DirectionSet::both(), milliseconds(300))});
  Policy policy(p, clock_.now());
  const TimePoint first = policy.opened_at() + seconds(2);
  clock_.advance(milliseconds(299));
  policy.on_bytes(Direction::upstream, 1, clock_.now());
  EXPECT_EQ(policy.next_deadline(), first) << "moved by 299 ms < 300 ms: kept";
  clock_.advance(milliseconds(1));
  policy.on_bytes(Direction::upstream, 1, clock_.now());
  EXPECT_EQ(policy.next_deadline(), clock_.now() + seconds(2)) << "moved by 300 ms: re-armed";
}

TEST_F(PolicyTest, LazyRearmIdleTimeIsBetweenTMinusGranularityAndT) {
  const Profile p = with_timers({idle_timer("t", seconds(2), DirectionSet::both(), milliseconds(300))});
  Policy policy(p, clock_.now());
  clock_.advance(milliseconds(250));
  policy.on_bytes(Direction::downstream, 1, clock_.now());  // not re-armed
  clock_.advance(seconds(2) - milliseconds(250));
  const auto e = policy.expired(clock_.now());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->idle, milliseconds(1750));
}

TEST_F(PolicyTest, BlockedWriteTimerRunsOnlyWhileBlocked) {
  TimerSpec t;
  t.name = "send_timeout";
  t.kind = TimerKind::blocked_write;
  t.direction = Direction::downstream;
  t.timeout = seconds(3);
  const Profile p = with_timers({t});
  Policy policy(p, clock_.now());
  EXPECT_FALSE(policy.next_deadline());
  clock_.advance(seconds(10));
  EXPECT_FALSE(policy.expired(clock_.now()));

  policy.on_write_blocked(Direction::upstream, 100, clock_.now());
  EXPECT_FALSE(policy.next_deadline()) << "the other direction's block does not count";
  policy.on_write_blocked(Direction::downstream, 100, clock_.now());
  EXPECT_EQ(policy.next_deadline(), clock_.now() + seconds(3));
  clock_.advance(seconds(2));
  policy.on_write_progress(Direction::downstream, 50, clock_.now());
  EXPECT_EQ(policy.next_deadline(), clock_.now() + seconds(3)) << "progress restarts the count";
  clock_.advance(seconds(1));
  policy.on_write_progress(Direction::downstream, 0, clock_.now());
  EXPECT_FALSE(policy.next_deadline()) << "drained: nothing blocked";

  policy.on_write_blocked(Direction::downstream, 10, clock_.now());
  clock_.advance(seconds(3));
  const auto e = policy.expired(clock_.now());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->timer->name, "send_timeout");
  EXPECT_EQ(policy.activity(Direction::downstream).pending_bytes, 10u);
}

TEST_F(PolicyTest, IdleTimerPausedWhileWriteBlockedRestartsInFullWhenDrained) {
  // nginx deletes proxy_read_timeout while its buffer toward a stalled client is full and
  // re-adds it, with a full timeout and not lazily, once the buffer drains.
  TimerSpec read = idle_timer("proxy_read_timeout", seconds(1), DirectionSet::both(), milliseconds(300));
  read.paused_while_blocked = Direction::downstream;
  const Profile p = with_timers({read});
  Policy policy(p, clock_.now());
  clock_.advance(milliseconds(500));
  policy.on_bytes(Direction::downstream, 65536, clock_.now());
  policy.on_write_blocked(Direction::upstream, 10, clock_.now());
  EXPECT_EQ(policy.next_deadline(), clock_.now() + seconds(1)) << "a blocked write the other way does not pause it";
  policy.on_write_progress(Direction::upstream, 0, clock_.now());
  policy.on_write_blocked(Direction::downstream, 1000, clock_.now());
  EXPECT_FALSE(policy.next_deadline()) << "paused while the write to the client is blocked";
  clock_.advance(milliseconds(1500));
  EXPECT_FALSE(policy.expired(clock_.now())) << "a client stalled longer than the timeout survives";
  policy.on_write_progress(Direction::downstream, 500, clock_.now());
  EXPECT_FALSE(policy.next_deadline()) << "still blocked";
  clock_.advance(milliseconds(100));
  policy.on_write_progress(Direction::downstream, 0, clock_.now());
  const TimePoint drained = clock_.now();
  EXPECT_EQ(policy.next_deadline(), drained + seconds(1)) << "drained: a full timeout from now";
  clock_.advance(milliseconds(200));
  policy.on_bytes(Direction::downstream, 1, clock_.now());
  EXPECT_EQ(policy.next_deadline(), drained + seconds(1)) << "then lazily re-armed as before";
  clock_.advance(milliseconds(800));
  const auto e = policy.expired(clock_.now());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->timer->name, "proxy_read_timeout");
  EXPECT_EQ(e->idle, milliseconds(800));
}

TEST_F(PolicyTest, IdleTimerWithoutPauseRunsThroughABlockedWrite) {
  const Profile p = with_timers({idle_timer("idle", seconds(1), DirectionSet::both())});
  Policy policy(p, clock_.now());
  policy.on_write_blocked(Direction::downstream, 1000, clock_.now());
  clock_.advance(seconds(1));
  ASSERT_TRUE(policy.expired(clock_.now()));
}

TEST_F(PolicyTest, LifetimeFiresWhateverTheTraffic) {
  TimerSpec t;
  t.name = "timeoutSec";
  t.kind = TimerKind::lifetime;
  t.timeout = seconds(30);
  const Profile p = with_timers({t});
  Policy policy(p, clock_.now());
  for (int i = 0; i < 29; ++i) {
    clock_.advance(seconds(1));
    policy.on_bytes(Direction::upstream, 1, clock_.now());
    policy.on_bytes(Direction::downstream, 1, clock_.now());
    ASSERT_FALSE(policy.expired(clock_.now()));
  }
  clock_.advance(seconds(1));
  ASSERT_TRUE(policy.expired(clock_.now()));
}

TEST_F(PolicyTest, DisabledTimerNeverFires) {
  TimerSpec t = idle_timer("timeout_tunnel", seconds(1), DirectionSet::both());
  t.timeout.reset();
  const Profile p = with_timers({t});
  Policy policy(p, clock_.now());
  EXPECT_FALSE(policy.next_deadline());
  clock_.advance(std::chrono::hours(100));
  EXPECT_FALSE(policy.expired(clock_.now()));
}

TEST_F(PolicyTest, EarliestOfSeveralTimersWins) {
  const Profile p = with_timers({idle_timer("client", seconds(5), DirectionSet::only(Direction::upstream)),
                                 idle_timer("server", seconds(3), DirectionSet::only(Direction::downstream))});
  Policy policy(p, clock_.now());
  clock_.advance(seconds(2));
  policy.on_bytes(Direction::downstream, 1, clock_.now());  // server deadline → 5 s
  clock_.advance(seconds(3));
  const auto e = policy.expired(clock_.now());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->timer->name, "client") << "client due at 5 s; server also due at 5 s but listed later";
  clock_.advance(milliseconds(1));
  EXPECT_EQ(policy.expired(clock_.now())->timer->name, "client");
}

TEST_F(PolicyTest, PhasesSwitchTimersOnHalfClose) {
  // HAProxy-like: a normal timer while open, a shorter fin timer once the client sent FIN.
  TimerSpec normal = idle_timer("timeout_server", seconds(10), DirectionSet::both());
  normal.phases = Phases{true, false, true};
  TimerSpec fin = idle_timer("timeout_server_fin", seconds(1), DirectionSet::both());
  fin.phases = Phases{false, true, false};
  const Profile p = with_timers({normal, fin});
  Policy policy(p, clock_.now());
  EXPECT_EQ(policy.next_deadline(), policy.opened_at() + seconds(10));
  clock_.advance(seconds(4));
  policy.on_finished(Direction::upstream, clock_.now());
  EXPECT_EQ(policy.next_deadline(), clock_.now() + seconds(1)) << "fin timer counts from the FIN";
  clock_.advance(milliseconds(600));
  policy.on_bytes(Direction::downstream, 1, clock_.now());
  clock_.advance(milliseconds(600));
  EXPECT_FALSE(policy.expired(clock_.now()));
  clock_.advance(milliseconds(400));
  const auto e = policy.expired(clock_.now());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->timer->name, "timeout_server_fin");
}

TEST_F(PolicyTest, NoTimerRunsOnceBothSidesFinished) {
  const Profile p = with_timers({idle_timer("t", seconds(1), DirectionSet::both())});
  Policy policy(p, clock_.now());
  policy.on_finished(Direction::upstream, clock_.now());
  EXPECT_FALSE(policy.both_finished());
  policy.on_finished(Direction::downstream, clock_.now());
  EXPECT_TRUE(policy.both_finished());
  clock_.advance(seconds(5));
  EXPECT_FALSE(policy.expired(clock_.now()));
}

TEST_F(PolicyTest, ActivityCountsBytesAndIdleTimes) {
  const Profile p = with_timers({});
  Policy policy(p, clock_.now());
  clock_.advance(seconds(1));
  policy.on_bytes(Direction::upstream, 100, clock_.now());
  policy.on_bytes(Direction::upstream, 50, clock_.now());
  clock_.advance(seconds(2));
  EXPECT_EQ(policy.activity(Direction::upstream).bytes, 150u);
  EXPECT_EQ(policy.activity(Direction::upstream).chunks, 2u);
  EXPECT_EQ(policy.idle(Direction::upstream, clock_.now()), seconds(2));
  EXPECT_EQ(policy.idle(Direction::downstream, clock_.now()), seconds(3)) << "never active: since open";
  EXPECT_EQ(policy.idle(DirectionSet::both(), clock_.now()), seconds(2));
}

}  // namespace
}  // namespace dropsim

namespace dropsim {
namespace {

/// A 10 s idle timer that only data messages reset (API Gateway counts messages, not pings).
TimerSpec data_only_timer() {
  TimerSpec t = idle_timer("idle", std::chrono::seconds(10), DirectionSet::both());
  t.reset_on = FrameKinds{true, false, false, false};
  return t;
}

TEST(PolicyFramesTest, ResetOnCountsOnlyTheNamedFrameKinds) {
  // API Gateway-like: only data messages reset the idle timer; pings do not.
  ManualClock clock;
  const Profile p = with_timers({data_only_timer()});
  Policy policy(p, clock.now());
  clock.advance(std::chrono::seconds(5));
  policy.on_bytes(Direction::upstream, 6, clock.now(), bit(FrameKind::ping));
  EXPECT_EQ(policy.next_deadline(), policy.opened_at() + std::chrono::seconds(10)) << "a ping does not count";
  policy.on_bytes(Direction::upstream, 6, clock.now(), bit(FrameKind::ping) | bit(FrameKind::data));
  EXPECT_EQ(policy.next_deadline(), clock.now() + std::chrono::seconds(10)) << "data in the chunk counts";
  clock.advance(std::chrono::seconds(3));
  policy.on_bytes(Direction::upstream, 6, clock.now(), 0);
  EXPECT_EQ(policy.next_deadline(), clock.now() + std::chrono::seconds(10)) << "non-frame bytes always count";
}

TEST(PolicyFramesTest, IdleTimeIsMeasuredFromTheLastTrafficThatCounted) {
  ManualClock clock;
  const Profile p = with_timers({data_only_timer()});
  Policy policy(p, clock.now());
  for (int i = 0; i < 4; ++i) {
    clock.advance(std::chrono::seconds(3));
    policy.on_bytes(Direction::downstream, 6, clock.now(), bit(FrameKind::ping));
  }
  const auto e = policy.expired(clock.now());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->idle, std::chrono::seconds(12)) << "pings kept bytes flowing, but the timer saw nothing";
}

TEST(PolicyFramesTest, FrameStatsCountMessagesAndIntervals) {
  ManualClock clock;
  Profile p;
  Policy policy(p, clock.now());
  policy.on_frame(Direction::upstream, FrameKind::data, false, clock.now());  // first fragment
  EXPECT_EQ(policy.activity(Direction::upstream).of(FrameKind::data).count, 0u) << "a message counts at its end";
  policy.on_frame(Direction::upstream, FrameKind::data, true, clock.now());
  for (int i = 0; i < 3; ++i) {
    policy.on_frame(Direction::downstream, FrameKind::ping, true, clock.now());
    clock.advance(std::chrono::seconds(20));
  }
  EXPECT_EQ(policy.activity(Direction::upstream).of(FrameKind::data).count, 1u);
  EXPECT_EQ(policy.activity(Direction::downstream).of(FrameKind::ping).interval(), std::chrono::seconds(20));
  EXPECT_FALSE(policy.activity(Direction::upstream).of(FrameKind::ping).interval());
}

}  // namespace
}  // namespace dropsim

namespace dropsim {
namespace {

TEST(PolicyFiredTest, ATimerThatFiredWithoutEndingTheSessionStaysQuiet) {
  ManualClock clock;
  const Profile p = with_timers({idle_timer("timeout_client", std::chrono::seconds(1), DirectionSet::both()),
                                 idle_timer("timeout_server", std::chrono::seconds(2), DirectionSet::both())});
  Policy policy(p, clock.now());
  clock.advance(std::chrono::seconds(1));
  const auto first = policy.expired(clock.now());
  ASSERT_TRUE(first);
  EXPECT_EQ(first->timer->name, "timeout_client");
  policy.on_fired(*first->timer);
  EXPECT_FALSE(policy.expired(clock.now())) << "fired once, quiet after";
  EXPECT_EQ(policy.next_deadline(), policy.opened_at() + std::chrono::seconds(2));
  clock.advance(std::chrono::seconds(1));
  EXPECT_EQ(policy.expired(clock.now())->timer->name, "timeout_server");
}

// --- TCP keepalive probes (reset_on: keepalive) -------------------------------------------

namespace keepalive {

/// An NLB-like timer: `timeout`, both directions, keepalives counted when `counted`.
Profile nlb_like(Duration timeout, bool counted = true, DirectionSet reset_by = DirectionSet::both()) {
  TimerSpec t = idle_timer("idle_timeout", timeout, reset_by);
  t.reset_on.keepalive = counted;
  return with_timers({t});
}

/// Drives the policy as the session does: wakes at the next keepalive reading or deadline,
/// reads (feeding the probes a peer sent every `every` since the last reading, up to
/// `until`), and stops at the first expiry; returns when it fired, or nullopt.
std::optional<TimePoint> run(Policy& policy, ManualClock& clock, Duration every, TimePoint probes_until,
                             TimePoint stop) {
  TimePoint next_probe = clock.now() + every;
  for (int guard = 0; guard < 10000; ++guard) {
    TimePoint wake = stop;
    for (auto t : {policy.next_deadline(), policy.next_keepalive_sample(Direction::upstream)}) {
      if (t && *t < wake) wake = *t;
    }
    clock.advance(wake - clock.now());
    const TimePoint now = clock.now();
    if (policy.needs_keepalive_sample(Direction::upstream, now)) {
      std::uint64_t probes = 0;
      while (next_probe <= now && next_probe <= probes_until) {
        ++probes;
        next_probe += every;
      }
      policy.on_keepalive_sample(Direction::upstream, probes, now);
    }
    if (policy.expired(now)) return now;
    if (now >= stop) return std::nullopt;
  }
  ADD_FAILURE() << "the loop did not end";
  return std::nullopt;
}

}  // namespace keepalive

TEST_F(PolicyTest, KeepaliveProbesFasterThanTheTimeoutKeepItAlive) {
  // Probes every `every` until 10 s through a 3 s timer: it fires `fires` after the open,
  // give or take half a reading interval (3 s / 8 / 2) where a probe's date decides.
  struct Case {
    Duration every;
    Duration fires;
    Duration tolerance;
    std::uint64_t probes;
  };
  for (const Case c : {Case{seconds(1), seconds(13), milliseconds(188), 10},  // 3 s after the last probe
                       Case{seconds(4), seconds(3), Duration{0}, 0}}) {      // slower than the timeout
    SCOPED_TRACE(c.every.count());
    const Profile p = keepalive::nlb_like(seconds(3));
    Policy policy(p, clock_.now());
    const TimePoint opened = clock_.now();
    const auto fired = keepalive::run(policy, clock_, c.every, opened + seconds(10), opened + seconds(30));
    ASSERT_TRUE(fired);
    EXPECT_GE(*fired, opened + c.fires - c.tolerance);
    EXPECT_LE(*fired, opened + c.fires + c.tolerance);
    const FrameStats& probes = policy.activity(Direction::upstream).probes();
    EXPECT_EQ(probes.count, c.probes);
    if (c.probes > 1) {
      ASSERT_TRUE(probes.interval());
      EXPECT_NEAR(std::chrono::duration<double>(*probes.interval()).count(), 1.0, 0.05);
    }
  }
}

TEST_F(PolicyTest, KeepaliveProbesDoNotCountWithoutResetOnKeepalive) {
  const Profile p = keepalive::nlb_like(seconds(3), false);
  Policy policy(p, clock_.now());
  EXPECT_FALSE(policy.next_keepalive_sample(Direction::upstream)) << "nothing to read for";
  EXPECT_FALSE(policy.counts_keepalives(Direction::upstream));
  clock_.advance(seconds(2));
  policy.on_keepalive_sample(Direction::upstream, 2, clock_.now());
  EXPECT_EQ(policy.next_deadline(), clock_.now() + seconds(1)) << "the deadline stays";
  EXPECT_EQ(policy.activity(Direction::upstream).probes().count, 2u) << "but the probes are on record";
}

TEST_F(PolicyTest, KeepaliveProbesCountOnlyFromTheResetByDirections) {
  const Profile p = keepalive::nlb_like(seconds(3), true, DirectionSet::only(Direction::upstream));
  Policy policy(p, clock_.now());
  EXPECT_TRUE(policy.counts_keepalives(Direction::upstream));
  EXPECT_FALSE(policy.counts_keepalives(Direction::downstream));
  EXPECT_FALSE(policy.next_keepalive_sample(Direction::downstream));
  clock_.advance(seconds(2));
  policy.on_keepalive_sample(Direction::downstream, 1, clock_.now());
  EXPECT_EQ(policy.next_deadline(), clock_.now() + seconds(1));
}

TEST_F(PolicyTest, KeepaliveProbesAreDatedBetweenTwoReadings) {
  const Profile p = keepalive::nlb_like(seconds(8));
  Policy policy(p, clock_.now());
  const TimePoint opened = clock_.now();
  // Every eighth of the timeout: the readings' cadence.
  EXPECT_EQ(policy.next_keepalive_sample(Direction::upstream), opened + seconds(1));
  clock_.advance(seconds(1));
  policy.on_keepalive_sample(Direction::upstream, 0, clock_.now());
  EXPECT_EQ(policy.next_keepalive_sample(Direction::upstream), opened + seconds(2));
  clock_.advance(seconds(1));
  policy.on_keepalive_sample(Direction::upstream, 1, clock_.now());
  // The probe came in (1 s, 2 s]: dated 1.5 s, the timer runs from there.
  EXPECT_EQ(policy.next_deadline(), opened + milliseconds(9500));
  EXPECT_EQ(policy.activity(Direction::upstream).probes().last, opened + milliseconds(1500));
  // Data after that date is later traffic: a probe window dated before it changes nothing.
  clock_.advance(seconds(2));
  policy.on_bytes(Direction::downstream, 10, clock_.now());  // at 4 s
  clock_.advance(milliseconds(500));
  policy.on_keepalive_sample(Direction::upstream, 1, clock_.now());  // (2 s, 4.5 s]: dated 3.25 s
  EXPECT_EQ(policy.next_deadline(), opened + seconds(12));
}

TEST_F(PolicyTest, AnExpiredKeepaliveTimerAsksForAReadingFirst) {
  const Profile p = keepalive::nlb_like(seconds(8));
  Policy policy(p, clock_.now());
  const TimePoint opened = clock_.now();
  clock_.advance(milliseconds(7500));
  policy.on_keepalive_sample(Direction::upstream, 0, clock_.now());
  clock_.advance(milliseconds(500));
  ASSERT_TRUE(policy.expired(clock_.now()));
  // Not yet due by the cadence (8.5 s), but due because a probe since 7.5 s would save it.
  EXPECT_EQ(policy.next_keepalive_sample(Direction::upstream), opened + milliseconds(8500));
  EXPECT_TRUE(policy.needs_keepalive_sample(Direction::upstream, clock_.now()));
  policy.on_keepalive_sample(Direction::upstream, 1, clock_.now());
  EXPECT_FALSE(policy.expired(clock_.now())) << "the probe, dated 7.75 s, moved it to 15.75 s";
  EXPECT_EQ(policy.next_deadline(), opened + milliseconds(15750));
  EXPECT_FALSE(policy.needs_keepalive_sample(Direction::upstream, clock_.now()));
}

}  // namespace
}  // namespace dropsim
