#include "event_log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace dropsim {
namespace {

std::shared_ptr<spdlog::logger> make_stderr_logger(LogFormat format,
                                                   spdlog::level::level_enum level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("dropsim", sink);
  logger->set_level(level);
  // A line per event is the contract; flush each so a killed process loses none.
  logger->flush_on(spdlog::level::trace);
  if (format == LogFormat::json) {
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l",%v})");
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  }
  return logger;
}

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::text;
  if (text == "json") return LogFormat::json;
  return std::nullopt;
}

EventLog::EventLog(LogFormat format, spdlog::level::level_enum level)
    : logger_(make_stderr_logger(format, level)), format_(format) {}

EventLog::EventLog(std::shared_ptr<spdlog::logger> logger, LogFormat format)
    : logger_(std::move(logger)), format_(format) {}

void EventLog::event(spdlog::level::level_enum level, std::uint64_t conn,
                     std::string_view event, std::string_view message,
                     std::initializer_list<LogField> fields) {
  const bool logged = logger_->should_log(level);
  if (!logged && taps_.empty()) return;
  if (logged && format_ == LogFormat::text) {
    if (conn == 0) {
      logger_->log(level, "{}", message);
    } else {
      logger_->log(level, "[C{}] {}", conn, message);
    }
    if (taps_.empty()) return;
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
  if (taps_.empty()) return;
  const std::string object = "{" + line + "}";
  // Copied: a tap may unsubscribe (a stream whose client went away) while being called.
  const auto taps = taps_;
  for (const auto& [id, tap] : taps) tap(event, object);
}

std::uint64_t EventLog::subscribe(Tap tap) {
  const std::uint64_t id = next_tap_++;
  taps_.emplace(id, std::move(tap));
  return id;
}

void EventLog::unsubscribe(std::uint64_t id) { taps_.erase(id); }

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (const char c : text) {
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
  }
  return out;
}

}  // namespace dropsim
