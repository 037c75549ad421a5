#include "toxic.h"

#include <cstdint>

#include <gtest/gtest.h>

namespace dropsim {
namespace {

using std::chrono::milliseconds;

TEST(Toxic, EveryTypeNameRoundTripsAndHasToxiproxysAttributes) {
  for (ToxicType t : all_toxic_types()) {
    EXPECT_EQ(parse_toxic_type(to_string(t)), t);
    EXPECT_FALSE(attributes_of(t).empty()) << to_string(t);
  }
  EXPECT_EQ(parse_toxic_type("latncy"), std::nullopt);
  const auto names = [](ToxicType t) {
    std::string out;
    for (const auto& a : attributes_of(t)) out += std::string(a.name) + (a.extension ? "* " : " ");
    return out;
  };
  // Toxiproxy 2.12's JSON keys, in its order; '*' marks dropsim's additions.
  EXPECT_EQ(names(ToxicType::latency), "latency jitter ");
  EXPECT_EQ(names(ToxicType::bandwidth), "rate ");
  EXPECT_EQ(names(ToxicType::slow_close), "delay ");
  EXPECT_EQ(names(ToxicType::timeout), "timeout ");
  EXPECT_EQ(names(ToxicType::reset_peer), "timeout bytes* ");
  EXPECT_EQ(names(ToxicType::slicer), "average_size size_variation delay ");
  EXPECT_EQ(names(ToxicType::limit_data), "bytes ");
}

TEST(Toxic, MakeGivesToxiproxysDefaults) {
  const Toxic t = Toxic::make(ToxicType::latency);
  EXPECT_EQ(t.name, "latency_downstream");
  EXPECT_EQ(t.stream, Direction::downstream);
  EXPECT_EQ(t.toxicity, 1.0);
  EXPECT_EQ(t.get("latency"), 0);
  EXPECT_EQ(Toxic::make(ToxicType::slicer, Direction::upstream).name, "slicer_upstream");
}

TEST(Toxic, SetAndGetByAttributeName) {
  Toxic t = Toxic::make(ToxicType::latency);
  EXPECT_TRUE(t.set("jitter", 25));
  EXPECT_FALSE(t.set("rate", 1)) << "not a latency attribute";
  EXPECT_EQ(t.get("jitter"), 25);
  EXPECT_EQ(t.get("rate"), 0);
  EXPECT_EQ(t.describe(), "latency_downstream (latency latency=0ms jitter=25ms, downstream)");
}

TEST(Toxic, ValidateNamesTheProblem) {
  Toxic t = Toxic::make(ToxicType::latency);
  EXPECT_EQ(validate(t), "");
  t.set("latency", -5);
  EXPECT_EQ(validate(t), "latency must not be negative, got -5");
  Toxic p = Toxic::make(ToxicType::timeout);
  p.toxicity = 1.5;
  EXPECT_EQ(validate(p), "toxicity must be between 0 and 1, got 1.5");
  Toxic s = Toxic::make(ToxicType::slicer);
  s.set("average_size", 10);
  s.set("size_variation", 20);
  EXPECT_EQ(validate(s), "size_variation must not exceed average_size");
}

// api_json_fuzz: {"type":"latency","attributes":{"latency":9223372036854775807}} passed
// validate, and pipe_faults overflowed turning it into nanoseconds (UBSan).
TEST(Toxic, ValidateRefusesTimesThatOverflowNanoseconds) {
  Toxic t = Toxic::make(ToxicType::latency);
  t.set("latency", INT64_MAX);
  EXPECT_EQ(validate(t), "latency must be at most 10000000000 ms, got 9223372036854775807");
  Toxic s = Toxic::make(ToxicType::slicer);
  s.set("average_size", 10);
  s.set("delay", kMaxToxicMs * 1000 + 1);
  EXPECT_EQ(validate(s), "delay must be at most 10000000000000 us, got 10000000000001");
  // INT32_MAX ms, a common "forever", is fine; so are sizes beyond any time bound.
  t.set("latency", INT32_MAX);
  EXPECT_EQ(validate(t), "");
  const Toxic* active[] = {&t};
  EXPECT_EQ(pipe_faults(active, Direction::downstream).latency, milliseconds(INT32_MAX));
  Toxic l = Toxic::make(ToxicType::limit_data);
  l.set("bytes", INT64_MAX);
  EXPECT_EQ(validate(l), "");
}

TEST(Toxic, PipeFaultsCombineAChainPerDirection) {
  Toxic a = Toxic::make(ToxicType::latency);
  a.set("latency", 100);
  a.set("jitter", 10);
  Toxic b = Toxic::make(ToxicType::latency);
  b.name = "more";
  b.set("latency", 50);
  Toxic slow = Toxic::make(ToxicType::bandwidth);
  slow.set("rate", 100);
  Toxic slower = Toxic::make(ToxicType::bandwidth);
  slower.name = "slower";
  slower.set("rate", 10);
  Toxic up = Toxic::make(ToxicType::limit_data, Direction::upstream);
  up.set("bytes", 5);
  Toxic hold = Toxic::make(ToxicType::timeout, Direction::upstream);
  Toxic part = Toxic::make(ToxicType::partition);
  const std::vector<const Toxic*> all{&a, &b, &slow, &slower, &up, &hold};

  const DirectionFaults down = pipe_faults(all, Direction::downstream);
  EXPECT_EQ(down.latency, milliseconds(150)) << "latencies add";
  EXPECT_EQ(down.jitter, milliseconds(10));
  EXPECT_EQ(down.rate, 10'000u) << "the slowest rate wins, in bytes/s";
  EXPECT_FALSE(down.limit);
  EXPECT_FALSE(down.hold);

  const DirectionFaults upstream = pipe_faults(all, Direction::upstream);
  EXPECT_EQ(upstream.limit, 5u);
  EXPECT_TRUE(upstream.hold) << "timeout 0 holds the bytes";
  EXPECT_EQ(upstream.latency, milliseconds(0));

  const std::vector<const Toxic*> partitioned{&part};
  EXPECT_TRUE(pipe_faults(partitioned, Direction::upstream).hold) << "a partition stalls both ways";
  EXPECT_TRUE(pipe_faults(partitioned, Direction::downstream).hold);
  EXPECT_TRUE(pipe_faults({}, Direction::downstream).none());

  Toxic timeout = Toxic::make(ToxicType::timeout);
  timeout.set("timeout", 100);
  const std::vector<const Toxic*> dropping{&timeout};
  EXPECT_TRUE(pipe_faults(dropping, Direction::downstream).drop) << "timeout > 0 drops the bytes";
}

TEST(Toxic, ToxicityRollsAreReproducibleAndNearTheProbability) {
  int yes = 0;
  for (std::uint64_t conn = 1; conn <= 10'000; ++conn) {
    const bool roll = toxicity_roll(42, "reset_peer_downstream", conn, 0.3);
    EXPECT_EQ(roll, toxicity_roll(42, "reset_peer_downstream", conn, 0.3)) << "same seed, same answer";
    yes += roll;
  }
  EXPECT_NEAR(yes, 3000, 200);
  int differ = 0;
  for (std::uint64_t conn = 1; conn <= 1000; ++conn) {
    differ += toxicity_roll(42, "t", conn, 0.5) != toxicity_roll(43, "t", conn, 0.5);
  }
  EXPECT_GT(differ, 300) << "another seed, another run";
  EXPECT_TRUE(toxicity_roll(1, "t", 1, 1.0));
  EXPECT_FALSE(toxicity_roll(1, "t", 1, 0.0));
}

}  // namespace
}  // namespace dropsim
