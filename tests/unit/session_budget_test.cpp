#include "session_budget.h"

#include <atomic>
#include <thread>
#include <vector>

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

// A proxy waiting at the cap registers a waker; a session that ends calls it, and only
// while there is room; a forgotten waker is never called.
TEST(SessionBudget, GivingBackWakesTheWaiters) {
  SessionBudget b(1);
  b.take();
  b.take();  // over the cap (a proxy that took before another gave back)
  int woken = 0;
  const auto id = b.wait([&] { ++woken; });
  b.give_back();
  EXPECT_EQ(woken, 0);  // still at the cap
  b.give_back();
  EXPECT_EQ(woken, 1);
  b.forget(id);
  b.take();
  b.give_back();
  EXPECT_EQ(woken, 1);
}

// Sessions give back on their workers while the control thread takes: the count stays exact.
TEST(SessionBudget, CountsExactlyAcrossThreads) {
  SessionBudget b(1000000);
  std::atomic<int> woken{0};
  b.wait([&] { ++woken; });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        b.take();
        b.give_back();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(b.open(), 0u);
  EXPECT_EQ(woken.load(), 40000);
}

}  // namespace
}  // namespace dropsim
