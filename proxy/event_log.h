#pragma once
// Connection events, one line each, through spdlog. Every line carries the connection id
// ("[C7] ..." in text, "conn":7 in JSON). Text is for people; `--log-format json` prints
// the same events as JSON lines for machines.

#include <cstdint>
#include <functional>
#include <map>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <spdlog/spdlog.h>

namespace dropsim {

/// How log lines are printed.
enum class LogFormat { text, json };

/// Parses "text" / "json".
std::optional<LogFormat> parse_log_format(std::string_view text);

/// One structured field of an event (JSON only; text lines carry the message).
struct LogField {
  std::string_view key;                                             ///< JSON key
  std::variant<std::string_view, std::int64_t, double, bool> value;  ///< its value
};

/// Where connection events go. Cheap to copy a reference to; one per process or per test.
class EventLog {
 public:
  /// Logs to stderr in `format`.
  explicit EventLog(LogFormat format = LogFormat::text,
                    spdlog::level::level_enum level = spdlog::level::info);
  /// Logs to an existing spdlog logger (tests capture lines this way).
  EventLog(std::shared_ptr<spdlog::logger> logger, LogFormat format);

  /// One connection event: `conn` 0 means "not about a connection" (start-up, listener).
  void event(spdlog::level::level_enum level, std::uint64_t conn, std::string_view event,
             std::string_view message, std::initializer_list<LogField> fields = {});

  /// Receives every event as a JSON object ({"event":...,"conn":...,fields...,"msg":...})
  /// whatever the format and level: the API's event stream. Called on the thread that
  /// logs (the io thread).
  using Tap = std::function<void(std::string_view event, const std::string& json)>;
  /// Adds a tap; returns its id for unsubscribe().
  std::uint64_t subscribe(Tap tap);
  /// Removes a tap (safe from inside a tap).
  void unsubscribe(std::uint64_t id);

  /// The underlying logger.
  spdlog::logger& logger() { return *logger_; }
  /// The format in force.
  LogFormat format() const { return format_; }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  LogFormat format_;
  std::map<std::uint64_t, Tap> taps_;
  std::uint64_t next_tap_ = 1;
};

/// `text` escaped as the inside of a JSON string, always valid UTF-8: well-formed UTF-8
/// passes through, each ill-formed part (a stray byte, an overlong form, a surrogate, a
/// truncated sequence) becomes \ufffd.
std::string json_escape(std::string_view text);

}  // namespace dropsim
