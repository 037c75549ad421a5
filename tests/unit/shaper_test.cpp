// The pipe's fault schedule with explicit time points: no sockets, no sleeping.

#include "shaper.h"

#include <numeric>

#include <gtest/gtest.h>

namespace dropsim {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

const TimePoint t0 = TimePoint{} + std::chrono::hours(1000);

DirectionFaults latency(Duration l, Duration jitter = Duration{0}) {
  DirectionFaults f;
  f.latency = l;
  f.jitter = jitter;
  return f;
}

DirectionFaults bandwidth(std::uint64_t bytes_per_second) {
  DirectionFaults f;
  f.rate = bytes_per_second;
  return f;
}

DirectionFaults slicer(std::size_t average, std::size_t variation, Duration delay = Duration{0}) {
  DirectionFaults f;
  f.slice_average = average;
  f.slice_variation = variation;
  f.slice_delay = delay;
  return f;
}

std::size_t total(const std::vector<Piece>& pieces) {
  return std::accumulate(pieces.begin(), pieces.end(), std::size_t{0},
                         [](std::size_t sum, const Piece& p) { return sum + p.size; });
}

TEST(Shaper, WithoutShapingAChunkGoesWholeAtOnce) {
  DirectionFaults f;
  f.limit = 10;
  Shaper s(f, 1, t0);
  EXPECT_EQ(s.plan(500, t0 + milliseconds(3)), (std::vector<Piece>{{500, t0 + milliseconds(3)}}));
  EXPECT_TRUE(s.plan(0, t0).empty());
}

TEST(Shaper, LatencyDelaysEachChunkFromItsArrival) {
  Shaper s(latency(milliseconds(100)), 1, t0);
  EXPECT_EQ(s.plan(10, t0), (std::vector<Piece>{{10, t0 + milliseconds(100)}}));
  // A chunk read 1 ms later waits its own 100 ms, not 100 ms after the first: latency
  // does not cap throughput.
  EXPECT_EQ(s.plan(20, t0 + milliseconds(1)), (std::vector<Piece>{{20, t0 + milliseconds(101)}}));
}

TEST(Shaper, NothingIsPlannedBeforeTheLastWrite) {
  Shaper s(latency(Duration{0}), 1, t0 + milliseconds(50));
  EXPECT_EQ(s.plan(1, t0).front().at, t0 + milliseconds(50));
}

TEST(Shaper, JitterSpreadsDelaysBothWaysButNeverReorders) {
  const Duration l = milliseconds(100);
  const Duration j = milliseconds(40);
  Shaper s(latency(l, j), 7, t0);
  bool below = false;
  bool above = false;
  TimePoint previous = t0;
  for (int i = 0; i < 2000; ++i) {
    // Far apart: each delay shows alone.
    const TimePoint arrival = t0 + std::chrono::seconds(i);
    const Duration d = s.plan(1, arrival).front().at - arrival;
    EXPECT_GE(d, l - j);
    EXPECT_LT(d, l + j);
    below = below || d < l - j / 2;
    above = above || d > l + j / 2;
  }
  EXPECT_TRUE(below);
  EXPECT_TRUE(above);
  // Close together: a later chunk never goes before an earlier one.
  Shaper close(latency(l, j), 7, t0);
  for (int i = 0; i < 2000; ++i) {
    const TimePoint at = close.plan(1, t0 + microseconds(100 * i)).front().at;
    EXPECT_GE(at, previous);
    previous = at;
  }
}

TEST(Shaper, TheSeedReplaysTheSameSchedule) {
  auto run = [](std::uint64_t seed) {
    Shaper s(slicer(10, 5), seed, t0);
    std::vector<Piece> all;
    for (int i = 0; i < 20; ++i) {
      auto p = s.plan(300, t0 + milliseconds(i));
      all.insert(all.end(), p.begin(), p.end());
    }
    return all;
  };
  EXPECT_EQ(run(3), run(3));
  EXPECT_NE(run(3), run(4));
}

TEST(Shaper, BandwidthSendsHundredMillisecondPiecesAtTheRate) {
  // 10 KB/s: Toxiproxy sends 1000 bytes every 100 ms, then the rest when its time is up.
  Shaper s(bandwidth(10'000), 1, t0);
  EXPECT_EQ(s.plan(2500, t0), (std::vector<Piece>{{1000, t0 + milliseconds(100)},
                                                   {1000, t0 + milliseconds(200)},
                                                   {500, t0 + milliseconds(250)}}));
  // A chunk that arrives while the link is busy starts when the last piece went.
  EXPECT_EQ(s.plan(100, t0 + milliseconds(10)), (std::vector<Piece>{{100, t0 + milliseconds(260)}}));
  // After an idle spell it starts at its arrival: no burst credit, as in Toxiproxy.
  EXPECT_EQ(s.plan(100, t0 + milliseconds(1000)), (std::vector<Piece>{{100, t0 + milliseconds(1010)}}));
}

TEST(Shaper, BandwidthAddsToLatency) {
  DirectionFaults f = latency(milliseconds(50));
  f.rate = 1000;
  Shaper s(f, 1, t0);
  EXPECT_EQ(s.plan(50, t0), (std::vector<Piece>{{50, t0 + milliseconds(100)}}));
}

TEST(Shaper, SlicerHalvesUntilEachSliceIsAtMostAveragePlusVariation) {
  // Toxiproxy's recursion without variation: 100 → 50 → 25 → 12|13 → 6|6, 6|7.
  Shaper s(slicer(10, 0), 1, t0);
  std::vector<std::size_t> sizes;
  for (const Piece& p : s.plan(100, t0)) {
    sizes.push_back(p.size);
    EXPECT_EQ(p.at, t0);
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{6, 6, 6, 7, 6, 6, 6, 7, 6, 6, 6, 7, 6, 6, 6, 7}));
}

TEST(Shaper, SlicesWithVariationStayInRangeAndKeepEveryByte) {
  Shaper s(slicer(100, 60), 11, t0);
  for (std::size_t n : {1, 160, 161, 1000, 65536}) {
    SCOPED_TRACE(n);
    const auto pieces = s.plan(n, t0);
    EXPECT_EQ(total(pieces), n);
    for (const Piece& p : pieces) {
      EXPECT_GT(p.size, 0u);
      EXPECT_LE(p.size, 160u);
    }
    if (n <= 160) EXPECT_EQ(pieces.size(), 1u);
  }
}

TEST(Shaper, ANarrowestSliceNeverLeavesAnEmptyHalf) {
  // n = 2 * variation + 1 with average = variation: the split may fall on either end.
  Shaper s(slicer(5, 5), 5, t0);
  for (int i = 0; i < 200; ++i) {
    const auto pieces = s.plan(11, t0);
    EXPECT_EQ(total(pieces), 11u);
    for (const Piece& p : pieces) EXPECT_GT(p.size, 0u);
  }
}

TEST(Shaper, SlicesAreDelayApart) {
  Shaper s(slicer(10, 0, microseconds(500)), 1, t0);
  const auto pieces = s.plan(20, t0 + milliseconds(1));
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].at, t0 + milliseconds(1));
  EXPECT_EQ(pieces[1].at, t0 + milliseconds(1) + microseconds(500));
  // Toxiproxy waits after the last slice too: the next chunk's first slice follows it.
  EXPECT_EQ(s.plan(5, t0 + milliseconds(1)).front().at, t0 + milliseconds(2));
}

TEST(Shaper, BandwidthPiecesAreSlicedToo) {
  DirectionFaults f = slicer(250, 0);
  f.rate = 10'000;
  Shaper s(f, 1, t0);
  const auto pieces = s.plan(2000, t0);
  ASSERT_EQ(pieces.size(), 8u);
  EXPECT_EQ(pieces[3], (Piece{250, t0 + milliseconds(100)}));
  EXPECT_EQ(pieces[4], (Piece{250, t0 + milliseconds(200)}));
}

TEST(Shaper, LimitLetsThroughUpToItsBytes) {
  DirectionFaults f;
  Shaper unlimited(f, 1, t0);
  EXPECT_EQ(unlimited.admit(1000), 1000u);
  EXPECT_FALSE(unlimited.remaining());
  EXPECT_FALSE(unlimited.exhausted());

  f.limit = 100;
  Shaper s(f, 1, t0);
  EXPECT_EQ(s.admit(60), 60u);
  EXPECT_EQ(s.remaining(), 40u);
  EXPECT_FALSE(s.exhausted());
  EXPECT_EQ(s.admit(60), 40u);  // the last chunk is cut at the limit
  EXPECT_TRUE(s.exhausted());
  EXPECT_EQ(s.admit(1), 0u);
  EXPECT_EQ(s.admitted(), 100u);

  // A Shaper that replaces it keeps counting when told what already passed.
  Shaper next(f, 2, t0, 70);
  EXPECT_EQ(next.remaining(), 30u);
}

TEST(Shaper, ALimitOfZeroIsUsedUpFromTheStart) {
  DirectionFaults f;
  f.limit = 0;
  Shaper s(f, 1, t0);
  EXPECT_TRUE(s.exhausted());
  EXPECT_EQ(s.admit(5), 0u);
}

TEST(Shaper, SlowCloseDelaysTheFinAfterTheLastWrite) {
  DirectionFaults f;
  f.slow_close = milliseconds(300);
  Shaper s(f, 1, t0);
  EXPECT_EQ(s.fin_time(t0, t0 - milliseconds(5)), t0 + milliseconds(300));
  EXPECT_EQ(s.fin_time(t0, t0 + milliseconds(100)), t0 + milliseconds(400));
  Shaper none(DirectionFaults{}, 1, t0);
  EXPECT_EQ(none.fin_time(t0, t0), t0);
}

}  // namespace
}  // namespace dropsim
