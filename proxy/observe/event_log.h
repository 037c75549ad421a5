#pragma once
// Connection events, one line each, through spdlog. Every line carries the connection id
// ("[C7] ..." in text, "conn":7 in JSON). Text is for people; `--log-format json` prints
// the same events as JSON lines for machines.
//
// Output never waits for its reader: lines go through a bounded queue to a writer thread
// (spdlog's async logger), so a stderr pipe nobody reads stalls only that thread. When the
// queue is full the oldest line is dropped and counted (dropped_lines(), /metrics).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <spdlog/spdlog.h>

namespace spdlog::details {
class thread_pool;
}

namespace dropsim {

/// Lines the output queue holds before the oldest is dropped (~0.5 MB of text, 1.6 MB of
/// slots): seconds of a busy burst while the reader is slow.
inline constexpr std::size_t kLogQueueLines = 4096;
/// How long finish() (and so a normal exit) waits for the queued lines to be written.
inline constexpr std::chrono::milliseconds kLogFinishWait{2000};

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
  /// Logs to stderr in `format`, through the bounded queue.
  explicit EventLog(LogFormat format = LogFormat::text,
                    spdlog::level::level_enum level = spdlog::level::info);
  /// Logs to `sink` in `format` through a bounded queue of `queue_lines` and a writer thread.
  EventLog(spdlog::sink_ptr sink, LogFormat format, spdlog::level::level_enum level, std::size_t queue_lines);
  /// Logs to an existing spdlog logger, synchronously (tests capture lines this way).
  EventLog(std::shared_ptr<spdlog::logger> logger, LogFormat format);
  /// finish(kLogFinishWait).
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  /// Lines dropped so far because the queue was full (its reader was slower than the
  /// lines came); always 0 for a logger given to the constructor.
  std::uint64_t dropped_lines() const;
  /// Logs how many lines were dropped (when any), then waits at most `wait` for the
  /// writer thread to write every queued line; no line is printed and no tap called
  /// after. Idempotent.
  /// With a stderr nobody reads the writer stays blocked and is left to the exit.
  void finish(std::chrono::milliseconds wait = kLogFinishWait);

  /// True when an event at `level` goes anywhere (printed, or a tap listens): callers skip
  /// building an expensive message otherwise (a burst of 9,000 closes at --log-level warn).
  bool wants(spdlog::level::level_enum level) const;

  /// One connection event: `conn` 0 means "not about a connection" (start-up, listener).
  void event(spdlog::level::level_enum level, std::uint64_t conn, std::string_view event,
             std::string_view message, std::initializer_list<LogField> fields = {});

  /// Receives every event as a JSON object ({"event":...,"conn":...,fields...,"msg":...})
  /// whatever the format and level: the API's event stream. Called on the thread that
  /// logs (a session's worker, or the control thread), possibly on several at once, and
  /// possibly once more just after unsubscribe() returned (the caller took its snapshot
  /// before): what a tap touches must outlive that (EventStream shares it).
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
  std::shared_ptr<spdlog::details::thread_pool> queue_;  ///< the queue and its writer; null when synchronous
  std::size_t queue_lines_ = 0;                          ///< the queue's capacity
  std::uint64_t dropped_ = 0;                            ///< dropped_lines() once queue_ is gone
  std::shared_ptr<spdlog::logger> logger_;               ///< after queue_: an async one is built on it
  LogFormat format_;
  using Taps = std::map<std::uint64_t, Tap>;
  /// The taps now; replaced whole on each change, so event() calls them without a lock.
  std::shared_ptr<const Taps> current_taps() const;
  void set_taps(Taps taps);
  mutable std::mutex taps_mutex_;
  std::shared_ptr<const Taps> taps_ = std::make_shared<const Taps>();
  std::uint64_t next_tap_ = 1;
};

/// `text` escaped as the inside of a JSON string, always valid UTF-8: well-formed UTF-8
/// passes through, each ill-formed part (a stray byte, an overlong form, a surrogate, a
/// truncated sequence) becomes \ufffd.
std::string json_escape(std::string_view text);

}  // namespace dropsim
