// `dropsim demo` tells its story truthfully: the silent client is dropped at ~60 profile
// seconds and the heartbeat client survives.

#include "demo.h"

#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "net_util.h"

namespace dropsim::test {
namespace {

TEST(Demo, SilentClientDroppedAtSixtySecondsHeartbeatSurvives) {
  auto sink = std::make_shared<CapturingSink>();
  EventLog log(std::make_shared<spdlog::logger>("demo", sink), LogFormat::text);
  DemoOptions options;
  options.time_scale = 0.01;  // 60 s → 0.6 s real; the whole story in ~1.5 s
  std::ostringstream out;
  DemoResult result;
  EXPECT_EQ(run_demo(options, out, log, &result), 0) << out.str() << sink->text();
  // 60 s ± 10 profile seconds = ± 100 ms real: room for a loaded machine.
  EXPECT_NEAR(result.silent_dropped_at, 60.0, 10.0) << out.str();
  EXPECT_TRUE(result.silent_saw_eof);
  EXPECT_TRUE(result.heartbeat_survived);
  EXPECT_EQ(result.heartbeat_round_trips, 6);  // every 25 s for 150 s
  EXPECT_NE(out.str().find("real"), std::string::npos) << "real time shown beside profile time";
  // The log tells the drop in the profile's time, with the real time beside it.
  EXPECT_TRUE(std::regex_search(
      sink->text(), std::regex(R"(closed by idle_timeout after 6\d\.\d{3}s idle \(real 0\.6\d\ds at time scale 0\.01\))")))
      << sink->text();
  // It ends as the story says: B closes cleanly, and no session is cut by the demo stopping.
  EXPECT_TRUE(result.heartbeat_closed_cleanly) << out.str();
  EXPECT_EQ(sink->text().find("proxy stopping"), std::string::npos) << sink->text();
  EXPECT_TRUE(std::regex_search(sink->text(), std::regex(R"(the client will see 1000 \(the server's close frame\))")))
      << sink->text();
}

}  // namespace
}  // namespace dropsim::test
