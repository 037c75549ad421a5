#include "episode.h"

#include <gtest/gtest.h>

namespace dropsim {
namespace {

using std::chrono::milliseconds;

TEST(Episode, FirstEventStartsItAndTheEndCountsIt) {
  Episode e;
  const TimePoint t0{milliseconds(1000)};
  EXPECT_FALSE(e.end(t0));  // none ran
  EXPECT_TRUE(e.add(t0));
  EXPECT_FALSE(e.add(t0 + milliseconds(10)));
  EXPECT_FALSE(e.add(t0 + milliseconds(20)));
  const auto ended = e.end(t0 + milliseconds(250));
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->count, 3u);
  EXPECT_EQ(ended->lasted, milliseconds(250));
  EXPECT_FALSE(e.end(t0 + milliseconds(300)));  // once
  // The next event starts a new one, timed from itself.
  EXPECT_TRUE(e.add(t0 + milliseconds(400)));
  const auto next = e.end(t0 + milliseconds(450));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->count, 1u);
  EXPECT_EQ(next->lasted, milliseconds(50));
}

}  // namespace
}  // namespace dropsim
