// Log lines: the connection id on every line, text for people, valid JSON for machines.

#include "event_log.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/sink.h>

#include <condition_variable>
#include <mutex>
#include <sstream>
#include <vector>

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

// Every boundary of Unicode's table of well-formed sequences (Table 3-7), passed through.
TEST(EventLogTest, JsonEscapePassesWellFormedUtf8Unchanged) {
  for (const std::string valid : {
           "\xc2\x80", "\xdf\xbf",                  // U+0080, U+07FF
           "\xe0\xa0\x80", "\xe1\x80\x80",          // U+0800, U+1000
           "\xed\x9f\xbf", "\xee\x80\x80",          // U+D7FF, U+E000: around the surrogates
           "\xef\xbf\xbf", "\xe2\x82\xac",          // U+FFFF, the euro sign
           "\xf0\x90\x80\x80", "\xf0\x9f\x98\x80",  // U+10000, an emoji
           "\xf3\xbf\xbf\xbf", "\xf4\x8f\xbf\xbf",  // U+FFFFF, U+10FFFF
           "/chat?room=\xe6\x97\xa5\xe6\x9c\xac",   // a URL in Japanese
       }) {
    EXPECT_EQ(json_escape(valid), valid);
  }
}

// One \ufffd per maximal subpart: the longest start of a sequence that could still have
// been well-formed, as Unicode recommends and WHATWG's decoder does.
TEST(EventLogTest, JsonEscapeReplacesIllFormedUtf8) {
  const std::string r = "\\ufffd";
  const std::pair<std::string, std::string> cases[] = {
      {"\x80", r},                                  // a continuation byte with no lead
      {"a\xbf" "b", "a" + r + "b"},
      {"\xc3", r},                                  // truncated at the end
      {"\xe2\x82", r},
      {"\xf0\x9f\x98", r},
      {"\xe2\x82" "A", r + "A"},                    // truncated by an ASCII byte
      {"\xf0\x9f\x98\xe2\x82\xac", r + "\xe2\x82\xac"},  // by the next sequence's lead
      {"\xc0\xaf", r + r},                          // overlong '/': C0 and C1 never lead
      {"\xc1\xbf", r + r},
      {"\xe0\x80\xaf", r + r + r},                  // overlong, 3 bytes: E0 needs A0..BF
      {"\xf0\x80\x80\xaf", r + r + r + r},          // overlong, 4 bytes: F0 needs 90..BF
      {"\xed\xa0\x80", r + r + r},                  // surrogate U+D800: ED needs 80..9F
      {"\xed\xbf\xbf", r + r + r},                  // surrogate U+DFFF
      {"\xf4\x90\x80\x80", r + r + r + r},          // U+110000: F4 needs 80..8F
      {"\xf5\x80\x80\x80", r + r + r + r},          // F5..FF never lead
      {"\xfe\xff", r + r},
      {"GET /caf\xe9 HTTP/1.1", "GET /caf" + r + " HTTP/1.1"},  // Latin-1, not UTF-8
      {"\xe9\"", r + "\\\""},                       // escaping goes on after it
  };
  for (const auto& [in, out] : cases) {
    EXPECT_EQ(json_escape(in), out) << testing::PrintToString(in);
  }
}

// Against an independent judge: nlohmann's parser, which accepts a JSON string exactly
// when its bytes are well-formed UTF-8. Every two-byte string, and every three- and
// four-byte string over the bytes where the table's ranges begin and end.
TEST(EventLogTest, JsonEscapeAlwaysGivesValidJsonAndKeepsValidText) {
  // What is wrong with json_escape(in); empty when nothing.
  const auto judge = [](const std::string& in) -> std::string {
    const std::string escaped = json_escape(in);
    if (nlohmann::json::parse("\"" + escaped + "\"", nullptr, false).is_discarded()) return "not JSON: " + escaped;
    const bool valid_utf8 = !nlohmann::json::parse("\"" + in + "\"", nullptr, false).is_discarded();
    if (valid_utf8 && escaped != in) return "valid UTF-8 changed to " + escaped;
    if (!valid_utf8 && escaped.find("\\ufffd") == std::string::npos) return "nothing replaced: " + escaped;
    return "";
  };
  for (int a = 0x20; a < 0x100; ++a) {
    for (int b = 0x20; b < 0x100; ++b) {
      if (a == '"' || a == '\\' || b == '"' || b == '\\') continue;
      const std::string in{static_cast<char>(a), static_cast<char>(b)};
      ASSERT_EQ(judge(in), "") << testing::PrintToString(in);
    }
  }
  const unsigned char edges[] = {'A',  0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
                                 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
  for (const unsigned char a : edges) {
    for (const unsigned char b : edges) {
      for (const unsigned char c : edges) {
        const std::string in{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)};
        ASSERT_EQ(judge(in), "") << testing::PrintToString(in);
        for (const unsigned char d : edges) {
          ASSERT_EQ(judge(in + static_cast<char>(d)), "") << testing::PrintToString(in + static_cast<char>(d));
        }
      }
    }
  }
}

/// A sink whose writes block until release(): a stderr pipe nobody reads.
class StalledSink final : public spdlog::sinks::sink {
 public:
  void log(const spdlog::details::log_msg& msg) override {
    std::unique_lock lock(mutex_);
    ++arrived_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return released_; });
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush() override {}
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

  /// Waits until the writer is blocked in its first write.
  void wait_stalled() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return arrived_ > 0; });
  }
  /// Lets every write through from now on.
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }
  /// The lines written so far.
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0;
  bool released_ = false;
  std::vector<std::string> lines_;
};

// The caller never waits for the output: with the writer stuck, 20 more lines into a queue
// of 8 return at once, the 12 oldest are dropped and counted, and finish() writes the rest
// and the count.
TEST(EventLogTest, AFullQueueDropsTheOldestLinesAndCountsThem) {
  auto sink = std::make_shared<StalledSink>();
  EventLog log(sink, LogFormat::text, spdlog::level::info, 8);
  log.event(spdlog::level::info, 1, "open", "first");
  sink->wait_stalled();
  for (int i = 0; i < 20; ++i) log.event(spdlog::level::info, 1, "x", fmt::format("line {}", i));
  EXPECT_EQ(log.dropped_lines(), 12u);
  sink->release();
  log.finish(std::chrono::seconds(10));
  std::vector<std::string> want = {"[C1] first"};
  for (int i = 12; i < 20; ++i) want.push_back(fmt::format("[C1] line {}", i));
  want.push_back("12 log lines dropped: stderr was not read");
  EXPECT_EQ(sink->lines(), want);
  EXPECT_EQ(log.dropped_lines(), 12u) << "still counted after finish()";
  log.event(spdlog::level::warn, 1, "late", "after finish: neither queued nor printed");
  EXPECT_EQ(sink->lines().size(), want.size());
}

// An exit is not held by a stderr nobody reads: finish() gives up after its wait.
TEST(EventLogTest, FinishGivesUpOnAWriterThatNeverReturns) {
  auto sink = std::make_shared<StalledSink>();
  {
    EventLog log(sink, LogFormat::json, spdlog::level::info, 8);
    log.event(spdlog::level::info, 1, "open", "first");
    sink->wait_stalled();
    const auto start = std::chrono::steady_clock::now();
    log.finish(std::chrono::milliseconds(50));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  }
  sink->release();  // the writer, left running, ends now
}

// A queue that is never full drops nothing and, at finish(), says nothing about it.
TEST(EventLogTest, NothingDroppedNothingSaid) {
  auto sink = std::make_shared<StalledSink>();
  sink->release();
  EventLog log(sink, LogFormat::text, spdlog::level::info, 64);
  for (int i = 0; i < 10; ++i) log.event(spdlog::level::info, 2, "x", fmt::format("line {}", i));
  EXPECT_EQ(log.dropped_lines(), 0u);
  log.finish(std::chrono::seconds(10));
  EXPECT_EQ(sink->lines().size(), 10u);
  EXPECT_EQ(sink->lines().back(), "[C2] line 9");
}

TEST(EventLogTest, ParsesFormats) {
  EXPECT_EQ(parse_log_format("text"), LogFormat::text);
  EXPECT_EQ(parse_log_format("json"), LogFormat::json);
  EXPECT_FALSE(parse_log_format("xml"));
}

}  // namespace
}  // namespace dropsim
