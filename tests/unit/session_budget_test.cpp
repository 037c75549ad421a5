#include "session_budget.h"

#include <asio/io_context.hpp>
#include <gtest/gtest.h>

namespace dropsim {
namespace {

TEST(SessionCapacity, TwoDescriptorsASessionAfterTheReserve) {
  EXPECT_EQ(session_capacity(256, kDescriptorReserve), 80u);
  EXPECT_EQ(session_capacity(1024, kDescriptorReserve), 464u);
  EXPECT_EQ(session_capacity(20000, kDescriptorReserve), 9952u);
  EXPECT_EQ(session_capacity(50, kDescriptorReserve), 1u);  // never 0: one session still works
}

TEST(SessionBudget, CountsPausesOncePerStopAtTheCap) {
  SessionBudget b(2);
  EXPECT_TRUE(b.has_room());
  b.take();
  b.take();
  EXPECT_FALSE(b.has_room());
  EXPECT_TRUE(b.paused());
  EXPECT_EQ(b.pauses(), 1u);
  b.give_back();
  EXPECT_TRUE(b.has_room());
  b.take();
  EXPECT_EQ(b.pauses(), 2u);
  EXPECT_EQ(b.open(), 2u);
}

// A proxy waiting at the cap waits on a timer; a session that ends wakes it.
TEST(SessionBudget, GivingBackWakesTheWaiters) {
  asio::io_context io;
  SessionBudget b(1);
  b.take();
  asio::steady_timer waiting(io, asio::steady_timer::time_point::max());
  b.wait_with(waiting);
  bool woken = false;
  waiting.async_wait([&](const std::error_code& ec) { woken = ec == asio::error::operation_aborted; });
  io.poll();
  EXPECT_FALSE(woken);
  b.give_back();
  io.poll();
  EXPECT_TRUE(woken);
  b.forget(waiting);
}

}  // namespace
}  // namespace dropsim
