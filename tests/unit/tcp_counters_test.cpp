// Telling keepalive probes from the kernel's counters: the arithmetic, no socket (the
// counters of real sockets are proven in tests/integration/keepalive_test.cpp).

#include "tcp_counters.h"

#include <gtest/gtest.h>

namespace dropsim {
namespace {

TEST(TcpCountersTest, SegmentsWithoutDataAreProbes) {
  // Measured: an idle peer with a 1 s keepalive, 5 s later: 5 more segments, none with data.
  EXPECT_EQ(probes_between({2, 0, 0}, {7, 0, 0}), 5u);
}

TEST(TcpCountersTest, DataSegmentsAreNotProbes) {
  EXPECT_EQ(probes_between({2, 0, 0}, {7, 5, 0}), 0u);
  EXPECT_EQ(probes_between({2, 0, 0}, {9, 5, 0}), 2u);
}

TEST(TcpCountersTest, TheAcksOfWhatWeSentAreNotProbes) {
  // Measured: 5 data segments sent brought the peer's 5 pure ACKs.
  EXPECT_EQ(probes_between({2, 0, 0}, {7, 0, 5}), 0u);
  // Delayed ACKs (one per two segments) leave fewer: never a negative count.
  EXPECT_EQ(probes_between({2, 0, 0}, {5, 0, 6}), 0u);
  // Beyond one per data segment sent, the rest are probes.
  EXPECT_EQ(probes_between({2, 0, 0}, {9, 0, 5}), 2u);
}

TEST(TcpCountersTest, CountersWrapAt32Bits) {
  const std::uint32_t top = 0xFFFFFFFEu;
  EXPECT_EQ(probes_between({top, 7, 3}, {top + 4, 7, 3}), 4u);  // segs_in wrapped past 0
  EXPECT_EQ(probes_between({10, top, 0}, {14, top + 2, 0}), 2u);
}

}  // namespace
}  // namespace dropsim
