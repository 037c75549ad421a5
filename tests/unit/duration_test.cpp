#include "duration.h"

#include <gtest/gtest.h>

namespace dropsim {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(DurationTest, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration("60s"), Duration(seconds(60)));
  EXPECT_EQ(parse_duration("300ms"), Duration(milliseconds(300)));
  EXPECT_EQ(parse_duration("2m"), Duration(minutes(2)));
  EXPECT_EQ(parse_duration("1h"), Duration(hours(1)));
  EXPECT_EQ(parse_duration("250us"), Duration(microseconds(250)));
  EXPECT_EQ(parse_duration("7ns"), Duration(7));
}

TEST(DurationTest, ParsesCompoundAndFractional) {
  EXPECT_EQ(parse_duration("1m30s"), Duration(seconds(90)));
  EXPECT_EQ(parse_duration("1h2m3s"), Duration(seconds(3723)));
  EXPECT_EQ(parse_duration("1.5s"), Duration(milliseconds(1500)));
  EXPECT_EQ(parse_duration("0.25ms"), Duration(microseconds(250)));
  EXPECT_EQ(parse_duration("0s"), Duration(0));
}

TEST(DurationTest, RejectsMalformedText) {
  for (const char* bad : {"60", "s", "1x", "1.2.3s", "", "-5s", "5 s", "ms", ".s", "1s2", "1S"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(DurationTest, FormatsShortestExactSpelling) {
  EXPECT_EQ(format_duration(seconds(60)), "1m");
  EXPECT_EQ(format_duration(seconds(90)), "1m30s");
  EXPECT_EQ(format_duration(seconds(50)), "50s");
  EXPECT_EQ(format_duration(hours(2)), "2h");
  EXPECT_EQ(format_duration(milliseconds(300)), "300ms");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(microseconds(250)), "250us");
  EXPECT_EQ(format_duration(Duration(7)), "7ns");
  EXPECT_EQ(format_duration(Duration(0)), "0s");
}

TEST(DurationTest, FormatThenParseRoundTrips) {
  const Duration samples[] = {Duration(1),          microseconds(3),  milliseconds(300),
                              milliseconds(1500),   seconds(59),      seconds(61),
                              seconds(3599),        seconds(3600),    seconds(3661),
                              hours(25),            Duration(123456789)};
  for (const Duration d : samples) {
    EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
  }
}

TEST(DurationTest, FormatsSecondsForLogs) {
  EXPECT_EQ(format_seconds(milliseconds(2000)), "2.000s");
  EXPECT_EQ(format_seconds(milliseconds(1234)), "1.234s");
}

TEST(DurationTest, ScaleMultipliesAndRounds) {
  EXPECT_EQ(scale(seconds(60), 0.05), Duration(seconds(3)));
  EXPECT_EQ(scale(milliseconds(300), 0.5), Duration(milliseconds(150)));
  EXPECT_EQ(scale(seconds(1), 2.0), Duration(seconds(2)));
  EXPECT_EQ(scale(Duration(3), 0.5), Duration(2));  // 1.5 ns rounds to nearest
  EXPECT_EQ(scale(Duration(0), 10.0), Duration(0));
}

}  // namespace
}  // namespace dropsim
