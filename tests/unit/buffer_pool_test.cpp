// The chunk pool: lent while bytes are in flight, reused, bounded when returned.

#include "buffer_pool.h"

#include <gtest/gtest.h>

#include <vector>

namespace dropsim {
namespace {

TEST(BufferPoolTest, LendsAndTakesBack) {
  BufferPool pool(1024, 4);
  {
    auto a = pool.take();
    auto b = pool.take();
    EXPECT_EQ(a.size(), 1024u);
    EXPECT_NE(a.data(), b.data());
    EXPECT_EQ(pool.in_use(), 2u);
    EXPECT_EQ(pool.free_count(), 0u);
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.free_count(), 2u);
}

TEST(BufferPoolTest, ReusesAReturnedChunk) {
  BufferPool pool(64, 4);
  const char* first = nullptr;
  {
    auto a = pool.take();
    first = a.data();
  }
  auto again = pool.take();
  EXPECT_EQ(again.data(), first);
}

TEST(BufferPoolTest, KeepsAtMostKeepFreeChunks) {
  BufferPool pool(64, 2);
  {
    std::vector<BufferPool::Lease> many;
    for (int i = 0; i < 5; ++i) many.push_back(pool.take());
    EXPECT_EQ(pool.in_use(), 5u);
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.free_count(), 2u) << "a burst does not pin its peak memory";
}

TEST(BufferPoolTest, MovedLeaseReturnsOnce) {
  BufferPool pool(64, 4);
  {
    auto a = pool.take();
    auto b = std::move(a);
    EXPECT_EQ(pool.in_use(), 1u);
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.free_count(), 1u);
}

}  // namespace
}  // namespace dropsim
