// Log lines: the connection id on every line, text for people, valid JSON for machines.

#include "event_log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace dropsim {
namespace {

struct Captured {
  std::ostringstream out;
  EventLog log;
  explicit Captured(LogFormat format, const std::string& pattern)
      : log(make(out, pattern), format) {}
  static std::shared_ptr<spdlog::logger> make(std::ostringstream& out, const std::string& pattern) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
    auto logger = std::make_shared<spdlog::logger>("t", sink);
    logger->set_pattern(pattern);
    logger->set_level(spdlog::level::debug);
    return logger;
  }
};

TEST(EventLogTest, TextLinesCarryTheConnectionId) {
  Captured c(LogFormat::text, "%v");
  c.log.event(spdlog::level::info, 7, "close", "closed by proxy_read_timeout", {{"cause", "x"}});
  c.log.event(spdlog::level::info, 0, "listen", "listening");
  EXPECT_EQ(c.out.str(), "[C7] closed by proxy_read_timeout\nlistening\n");
}

TEST(EventLogTest, JsonLinesHoldEventConnFieldsAndMessage) {
  Captured c(LogFormat::json, "{%v}");
  c.log.event(spdlog::level::info, 3, "close", "closed \"now\"\n",
              {{"cause", "idle_timeout"}, {"bytes", std::int64_t{42}}, {"age_s", 1.5}, {"ok", true}});
  EXPECT_EQ(c.out.str(),
            R"({"event":"close","conn":3,"cause":"idle_timeout","bytes":42,"age_s":1.500000,"ok":true,"msg":"closed \"now\"\n"})"
            "\n");
}

TEST(EventLogTest, LevelsBelowTheThresholdAreDropped) {
  Captured c(LogFormat::text, "%v");
  c.log.logger().set_level(spdlog::level::warn);
  c.log.event(spdlog::level::info, 1, "open", "quiet");
  c.log.event(spdlog::level::warn, 1, "accept_error", "loud");
  EXPECT_EQ(c.out.str(), "[C1] loud\n");
}

TEST(EventLogTest, JsonEscapeHandlesQuotesBackslashesAndControls) {
  EXPECT_EQ(json_escape("plain"), "plain");
  EXPECT_EQ(json_escape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(json_escape("\n\r\t"), "\\n\\r\\t");
  EXPECT_EQ(json_escape(std::string("\x01\x1f", 2)), "\\u0001\\u001f");
  EXPECT_EQ(json_escape("caf\xc3\xa9"), "caf\xc3\xa9") << "UTF-8 passes through";
}

TEST(EventLogTest, ParsesFormats) {
  EXPECT_EQ(parse_log_format("text"), LogFormat::text);
  EXPECT_EQ(parse_log_format("json"), LogFormat::json);
  EXPECT_FALSE(parse_log_format("xml"));
}

}  // namespace
}  // namespace dropsim
