#include "direction.h"

#include <gtest/gtest.h>

namespace dropsim {
namespace {

TEST(DirectionTest, NamesAreToxiproxys) {
  EXPECT_EQ(to_string(Direction::upstream), "upstream");
  EXPECT_EQ(to_string(Direction::downstream), "downstream");
  EXPECT_EQ(to_string(Side::client), "client");
  EXPECT_EQ(to_string(Side::upstream), "upstream");
}

TEST(DirectionTest, ParsesOnlyExactNames) {
  EXPECT_EQ(parse_direction("upstream"), Direction::upstream);
  EXPECT_EQ(parse_direction("downstream"), Direction::downstream);
  EXPECT_EQ(parse_direction("both"), std::nullopt);
  EXPECT_EQ(parse_direction("Upstream"), std::nullopt);
  EXPECT_EQ(parse_direction(""), std::nullopt);
}

TEST(DirectionTest, OppositeSwaps) {
  EXPECT_EQ(opposite(Direction::upstream), Direction::downstream);
  EXPECT_EQ(opposite(Direction::downstream), Direction::upstream);
}

TEST(DirectionTest, UpstreamFlowsFromClientToServer) {
  EXPECT_EQ(source(Direction::upstream), Side::client);
  EXPECT_EQ(destination(Direction::upstream), Side::upstream);
  EXPECT_EQ(source(Direction::downstream), Side::upstream);
  EXPECT_EQ(destination(Direction::downstream), Side::client);
  EXPECT_EQ(sent_by(Side::client), Direction::upstream);
  EXPECT_EQ(sent_by(Side::upstream), Direction::downstream);
}

TEST(DirectionTest, SourceAndDestinationDifferForEveryDirection) {
  for (const Direction d : kDirections) {
    EXPECT_NE(source(d), destination(d));
    EXPECT_EQ(sent_by(source(d)), d);
    EXPECT_EQ(destination(d), source(opposite(d)));
  }
}

TEST(DirectionTest, IndicesMatchArrayOrder) {
  EXPECT_EQ(index(kDirections[0]), 0u);
  EXPECT_EQ(index(kDirections[1]), 1u);
  EXPECT_EQ(index(kSides[0]), 0u);
  EXPECT_EQ(index(kSides[1]), 1u);
  EXPECT_EQ(kDirections[0], Direction::upstream);
  EXPECT_EQ(kSides[0], Side::client);
}

TEST(DirectionSetTest, ContainsWhatItNames) {
  EXPECT_TRUE(DirectionSet::both().contains(Direction::upstream));
  EXPECT_TRUE(DirectionSet::both().contains(Direction::downstream));
  const DirectionSet up = DirectionSet::only(Direction::upstream);
  EXPECT_TRUE(up.contains(Direction::upstream));
  EXPECT_FALSE(up.contains(Direction::downstream));
  const DirectionSet down = DirectionSet::only(Direction::downstream);
  EXPECT_FALSE(down.contains(Direction::upstream));
  EXPECT_TRUE(down.contains(Direction::downstream));
  EXPECT_FALSE(DirectionSet{}.contains(Direction::upstream));
}

TEST(DirectionSetTest, NamesRoundTrip) {
  for (const char* name : {"upstream", "downstream", "both", "none"}) {
    const auto set = parse_direction_set(name);
    ASSERT_TRUE(set.has_value()) << name;
    EXPECT_EQ(to_string(*set), name);
  }
  EXPECT_EQ(parse_direction_set("both"), DirectionSet::both());
  EXPECT_EQ(parse_direction_set("none"), DirectionSet{});
  EXPECT_EQ(parse_direction_set("either"), std::nullopt);
}

}  // namespace
}  // namespace dropsim
