#include "event_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <future>
#include <thread>

#include <spdlog/async_logger.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/sinks/ansicolor_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace dropsim {
namespace {

/// spdlog's colour sink on a FILE of its own over a copy of descriptor 2, closed with it.
/// Not `stderr` itself: the writer thread holds a FILE's lock while write() blocks, and
/// the exit flushes `stderr` (std::cerr's teardown): on a stalled pipe the exit would wait
/// for that lock forever. Only the writer thread writes, so no console mutex either.
class StderrCopySink final : public spdlog::sinks::ansicolor_sink<spdlog::details::console_nullmutex> {
 public:
  /// Takes `file`, unbuffered: a line is one write() when not in colour, and the exit's
  /// flush of every FILE finds nothing pending here that it would wait to write.
  explicit StderrCopySink(FILE* file) : ansicolor_sink(file, spdlog::color_mode::automatic), file_(file) {}
  ~StderrCopySink() override { std::fclose(file_); }

 private:
  FILE* file_;
};

/// The sink the stderr log writes to.
spdlog::sink_ptr make_stderr_sink() {
  const int fd = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
  FILE* file = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
  if (!file) {
    if (fd >= 0) ::close(fd);
    return std::make_shared<spdlog::sinks::stderr_color_sink_mt>();  // no descriptor to spare: stderr itself
  }
  std::setvbuf(file, nullptr, _IONBF, 0);
  return std::make_shared<StderrCopySink>(file);
}

// One writer thread of our own (not spdlog's global pool), so that finish() can wait for
// exactly these lines.
std::shared_ptr<spdlog::details::thread_pool> make_queue(std::size_t lines) {
  return std::make_shared<spdlog::details::thread_pool>(lines, 1);
}

std::shared_ptr<spdlog::logger> make_async_logger(spdlog::sink_ptr sink,
                                                  const std::shared_ptr<spdlog::details::thread_pool>& queue,
                                                  LogFormat format, spdlog::level::level_enum level) {
  // overrun_oldest: a full queue drops its oldest line and counts it
  // (thread_pool::overrun_counter); a line is never waited for.
  auto logger = std::make_shared<spdlog::async_logger>("dropsim", std::move(sink), queue,
                                                       spdlog::async_overflow_policy::overrun_oldest);
  logger->set_level(level);
  // Flushed by the writer thread after each line (it never queues a flush): a line per
  // event is the contract.
  logger->flush_on(spdlog::level::trace);
  if (format == LogFormat::json) {
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l",%v})");
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  }
  return logger;
}

/// One UTF-8 sequence at the start of a text.
struct Utf8Run {
  std::size_t length;  ///< bytes it takes (at least 1)
  bool valid;          ///< well-formed; else `length` is its maximal subpart
};

/// The sequence at the start of `text` (not empty, first byte >= 0x80) by Unicode's table
/// of well-formed byte sequences (Table 3-7): the second byte's range depends on the lead,
/// which rules out overlongs (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code
/// points past U+10FFFF (F4 90..); C0, C1 and F5..FF never lead.
Utf8Run utf8_run(std::string_view text) {
  const auto byte = [&text](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  std::size_t continuations = 0;
  unsigned char low = 0x80, high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    continuations = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    continuations = 2;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    continuations = 3;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return {1, false};
  }
  for (std::size_t i = 1; i <= continuations; ++i) {
    if (i >= text.size() || byte(i) < low || byte(i) > high) return {i, false};
    low = 0x80;
    high = 0xBF;
  }
  return {continuations + 1, true};
}

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::text;
  if (text == "json") return LogFormat::json;
  return std::nullopt;
}

EventLog::EventLog(LogFormat format, spdlog::level::level_enum level)
    : EventLog(make_stderr_sink(), format, level, kLogQueueLines) {}

EventLog::EventLog(spdlog::sink_ptr sink, LogFormat format, spdlog::level::level_enum level,
                   std::size_t queue_lines)
    : queue_(make_queue(queue_lines)),
      queue_lines_(queue_lines),
      logger_(make_async_logger(std::move(sink), queue_, format, level)),
      format_(format) {}

EventLog::EventLog(std::shared_ptr<spdlog::logger> logger, LogFormat format)
    : logger_(std::move(logger)), format_(format) {}

EventLog::~EventLog() { finish(); }

std::uint64_t EventLog::dropped_lines() const { return queue_ ? queue_->overrun_counter() : dropped_; }

void EventLog::finish(std::chrono::milliseconds wait) {
  if (!queue_) return;
  set_taps({});  // their streams may be gone by now; the count is for stderr
  const auto deadline = std::chrono::steady_clock::now() + wait;
  // Room for the count first, or its own line would push one more out and make it wrong.
  while (queue_->queue_size() >= queue_lines_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  dropped_ = dropped_lines();
  if (dropped_ > 0) {
    event(spdlog::level::warn, 0, "log_dropped", fmt::format("{} log lines dropped: stderr was not read", dropped_),
          {{"dropped", static_cast<std::int64_t>(dropped_)}});
  }
  // Nothing is queued after this, so the logger never meets a queue that is gone.
  logger_->set_level(spdlog::level::off);
  // The pool's destructor queues a stop behind the last line and joins the writer. It runs
  // on a thread of its own: with a stderr nobody reads it never returns, and this thread
  // waits for it only `wait`, then leaves it (and the lines) to the process's exit.
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  std::thread([queue = std::move(queue_), done]() mutable {
    queue.reset();
    done->set_value();
  }).detach();
  finished.wait_until(deadline);
}

void EventLog::event(spdlog::level::level_enum level, std::uint64_t conn,
                     std::string_view event, std::string_view message,
                     std::initializer_list<LogField> fields) {
  const bool logged = logger_->should_log(level);
  // A snapshot: sessions log on their workers while the API subscribes and unsubscribes.
  const std::shared_ptr<const Taps> taps = current_taps();
  if (!logged && taps->empty()) return;
  if (logged && format_ == LogFormat::text) {
    if (conn == 0) {
      logger_->log(level, "{}", message);
    } else {
      logger_->log(level, "[C{}] {}", conn, message);
    }
    if (taps->empty()) return;
  }
  std::string line = fmt::format(R"("event":"{}")", json_escape(event));
  if (conn != 0) line += fmt::format(R"(,"conn":{})", conn);
  for (const LogField& f : fields) {
    line += fmt::format(R"(,"{}":)", json_escape(f.key));
    std::visit(
        [&line](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            line += fmt::format(R"("{}")", json_escape(v));
          } else if constexpr (std::is_same_v<T, bool>) {
            line += v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, double>) {
            line += fmt::format("{:.6f}", v);
          } else {
            line += fmt::format("{}", v);
          }
        },
        f.value);
  }
  line += fmt::format(R"(,"msg":"{}")", json_escape(message));
  if (logged && format_ == LogFormat::json) logger_->log(level, "{}", line);
  if (taps->empty()) return;
  const std::string object = "{" + line + "}";
  // Called outside the lock, from the snapshot: a tap may unsubscribe (a stream whose
  // client went away) while being called.
  for (const auto& [id, tap] : *taps) tap(event, object);
}

bool EventLog::wants(spdlog::level::level_enum level) const {
  return logger_->should_log(level) || !current_taps()->empty();
}

std::shared_ptr<const EventLog::Taps> EventLog::current_taps() const {
  const std::lock_guard lock(taps_mutex_);
  return taps_;
}

void EventLog::set_taps(Taps taps) {
  auto next = std::make_shared<const Taps>(std::move(taps));
  const std::lock_guard lock(taps_mutex_);
  taps_ = std::move(next);
}

std::uint64_t EventLog::subscribe(Tap tap) {
  const std::lock_guard lock(taps_mutex_);
  const std::uint64_t id = next_tap_++;
  Taps next = *taps_;
  next.emplace(id, std::move(tap));
  taps_ = std::make_shared<const Taps>(std::move(next));
  return id;
}

void EventLog::unsubscribe(std::uint64_t id) {
  const std::lock_guard lock(taps_mutex_);
  Taps next = *taps_;
  next.erase(id);
  taps_ = std::make_shared<const Taps>(std::move(next));
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      // A JSON string holds characters, not bytes, so an ill-formed part has no faithful
      // spelling. \ufffd (one per maximal subpart, Unicode's recommended practice, as
      // WHATWG's decoder and Python's errors="replace" do) says "bytes here were not text";
      // \u00XX would decode to a real character (byte E9 as "é") the client never sent.
      const Utf8Run run = utf8_run(text.substr(i));
      if (run.valid) {
        out.append(text.substr(i, run.length));
      } else {
        out += "\\ufffd";
      }
      i += run.length;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out += c;
        }
    }
    ++i;
  }
  return out;
}

}  // namespace dropsim
