// The event stream's frames, filters and bounded queue, fed by a real EventLog.

#include "event_stream.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <nlohmann/json.hpp>

namespace dropsim {
namespace {

EventLog quiet_log() {
  return EventLog(std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_st>()),
                  LogFormat::text);
}

/// The data: lines of every frame in `frames`, parsed as JSON.
std::vector<nlohmann::json> data_of(const std::string& frames) {
  std::vector<nlohmann::json> out;
  std::size_t at = 0;
  while ((at = frames.find("data: ", at)) != std::string::npos) {
    const std::size_t end = frames.find('\n', at);
    out.push_back(nlohmann::json::parse(frames.substr(at + 6, end - at - 6)));
    at = end;
  }
  return out;
}

TEST(SseFrame, OneDataFieldPerLine) {
  EXPECT_EQ(sse_frame("open", R"({"a":1})"), "event: open\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(sse_frame("x", "one\ntwo"), "event: x\ndata: one\ndata: two\n\n");
  EXPECT_EQ(sse_frame("x", ""), "event: x\ndata: \n\n");
}

TEST(EventJsonFields, ConnAndProxyAreFoundOutsideStrings) {
  EXPECT_EQ(event_conn(R"({"event":"open","conn":42,"msg":"x"})"), 42u);
  EXPECT_EQ(event_conn(R"({"event":"listen","msg":"\"conn\":9"})"), 0u);
  EXPECT_EQ(event_proxy(R"({"event":"open","conn":1,"proxy":"a\"b","msg":"m"})"), R"(a\"b)");
  EXPECT_EQ(event_proxy(R"({"event":"open","msg":"\"proxy\":\"x\""})"), "");
}

TEST(EventStreamTest, QueuesEveryEventAndWakesOnceWhenTheQueueFills) {
  EventLog log = quiet_log();
  int wakes = 0;
  EventStream stream(log, {}, 16, [&] { ++wakes; });
  log.event(spdlog::level::info, 1, "open", "accepted", {{"proxy", "p"}});
  log.event(spdlog::level::debug, 1, "close", "closed");  // below the log level: streamed all the same
  EXPECT_EQ(wakes, 1);
  const std::string frames = stream.take();
  EXPECT_EQ(frames.find("event: open\n"), 0u);
  EXPECT_NE(frames.find("event: close\n"), std::string::npos);
  const auto data = data_of(frames);
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0]["conn"], 1);
  EXPECT_EQ(data[0]["proxy"], "p");
  EXPECT_EQ(data[1]["msg"], "closed");
  EXPECT_EQ(stream.take(), "");
  log.event(spdlog::level::info, 2, "open", "again");
  EXPECT_EQ(wakes, 2);
}

TEST(EventStreamTest, ASlowReaderLosesEventsAndIsToldHowMany) {
  EventLog log = quiet_log();
  int wakes = 0;
  EventStream stream(log, {}, 3, [&] { ++wakes; });
  for (int i = 1; i <= 10; ++i) log.event(spdlog::level::info, static_cast<std::uint64_t>(i), "open", "x");
  EXPECT_EQ(stream.queued(), 3u);
  EXPECT_EQ(stream.dropped_total(), 7u);
  const auto data = data_of(stream.take());
  ASSERT_EQ(data.size(), 4u);
  EXPECT_EQ(data[2]["conn"], 3);  // the first three kept, in order
  EXPECT_EQ(data[3]["event"], "dropped");
  EXPECT_EQ(data[3]["dropped"], 7);
  // Counted from the last take: a new loss is announced with its own count.
  for (int i = 0; i < 5; ++i) log.event(spdlog::level::info, 1, "x", "y");
  const auto again = data_of(stream.take());
  ASSERT_EQ(again.size(), 4u);
  EXPECT_EQ(again[3]["dropped"], 2);
  EXPECT_EQ(again[3]["dropped_total"], 9);
}

TEST(EventStreamTest, TheDestructorUnsubscribes) {
  EventLog log = quiet_log();
  int calls = 0;
  {
    EventStream stream(log, {}, 4, [&] { ++calls; });
    log.event(spdlog::level::info, 1, "open", "x");
  }
  log.event(spdlog::level::info, 2, "open", "x");  // would touch the destroyed stream
  EXPECT_EQ(calls, 1);
}

TEST(EventStreamTest, ConnFilterKeepsOneConnection) {
  EventLog log = quiet_log();
  EventStream stream(log, EventFilter{"", 2}, 16, [] {});
  log.event(spdlog::level::info, 1, "open", "one");
  log.event(spdlog::level::info, 2, "open", "two");
  log.event(spdlog::level::info, 0, "api", "api");
  const auto data = data_of(stream.take());
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0]["msg"], "two");
}

TEST(EventStreamTest, ProxyFilterFollowsConnectionsOpenedOnIt) {
  EventLog log = quiet_log();
  EventStream stream(log, EventFilter{"alb", 0}, 16, [] {});
  log.event(spdlog::level::info, 1, "open", "a", {{"proxy", "alb"}});
  log.event(spdlog::level::info, 2, "open", "b", {{"proxy", "nginx"}});
  log.event(spdlog::level::info, 1, "close", "a closed");
  log.event(spdlog::level::info, 2, "close", "b closed");
  log.event(spdlog::level::info, 1, "heartbeat", "a heartbeat");  // after its close, still alb's
  log.event(spdlog::level::info, 0, "listen", "alb listens", {{"proxy", "alb"}});
  log.event(spdlog::level::info, 0, "listen", "nginx listens", {{"proxy", "nginx"}});
  const auto data = data_of(stream.take());
  ASSERT_EQ(data.size(), 4u);
  EXPECT_EQ(data[0]["msg"], "a");
  EXPECT_EQ(data[1]["msg"], "a closed");
  EXPECT_EQ(data[2]["msg"], "a heartbeat");
  EXPECT_EQ(data[3]["msg"], "alb listens");
}

}  // namespace
}  // namespace dropsim
