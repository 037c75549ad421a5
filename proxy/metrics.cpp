#include "metrics.h"

// The Prometheus text format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): one family after the
// other, each as `# HELP`, `# TYPE` and then every proxy's samples, so the samples of a
// family are never split. A family is printed even when it has no sample yet, so that a
// scraper sees the same families from the first scrape on.

#include <iterator>

#include <fmt/format.h>

namespace dropsim {

namespace {

/// One metric family: its name as the samples carry it, its type and its help line.
struct Family {
  std::string_view name;
  std::string_view type;  ///< "counter" or "gauge"
  std::string_view help;
};

// In the order render_prometheus prints them.
constexpr Family kActiveSessions{"dropsim_active_sessions", "gauge", "Sessions open now."};
constexpr Family kSessions{"dropsim_sessions_total", "counter", "Sessions accepted since the proxy started."};
constexpr Family kClosesByCause{
    "dropsim_closes_total", "counter",
    "Sessions closed, by cause: the profile's timer (proxy_read_timeout), the fault type (reset_peer), "
    "or the peer that closed (client_fin)."};
constexpr Family kClosesByCode{"dropsim_websocket_closes_total", "counter",
                               "WebSocket sessions closed, by the close code the client saw (1006: no close frame)."};
constexpr Family kBytes{"dropsim_bytes_total", "counter",
                        "Bytes read from the source, by direction (upstream: client to server)."};
constexpr Family kFrames{"dropsim_websocket_frames_total", "counter",
                         "WebSocket frames, by direction and kind (data: text, binary and continuation)."};
constexpr Family kTimerFirings{"dropsim_timer_firings_total", "counter", "Timers that fired, by the profile's name."};
constexpr Family kFaults{"dropsim_faults_applied_total", "counter", "Faults applied to a session, by toxic type."};

/// `text` with `\` and newline escaped (HELP text), and `"` too when `quote` (label values).
std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

/// A label beside `proxy`.
struct Label {
  std::string_view name;
  std::string value;
};

/// Writes families and samples into one string.
class Writer {
 public:
  /// Starts `f`: its HELP and TYPE lines.
  void begin(const Family& f) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", f.name, escape(f.help, false), f.name,
                   f.type);
  }

  /// One sample of `f` for `proxy`, with `labels` after the proxy label.
  void sample(const Family& f, std::string_view proxy, std::initializer_list<Label> labels, std::uint64_t value) {
    fmt::format_to(std::back_inserter(out_), "{}{{proxy=\"{}\"", f.name, escape(proxy, true));
    for (const Label& l : labels) fmt::format_to(std::back_inserter(out_), ",{}=\"{}\"", l.name, escape(l.value, true));
    fmt::format_to(std::back_inserter(out_), "}} {}\n", value);
  }

  /// A family whose samples are one map of each proxy's counters, keyed by `label`.
  template <class Map>
  void by_key(const Family& f, std::string_view label, std::span<const MetricsSample> samples,
              Map ProxyMetrics::*counters) {
    begin(f);
    for (const MetricsSample& s : samples) {
      for (const auto& [key, value] : s.counters->*counters) sample(f, s.proxy, {{label, fmt::format("{}", key)}}, value);
    }
  }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string render_prometheus(std::span<const MetricsSample> samples) {
  Writer w;
  w.begin(kActiveSessions);
  for (const MetricsSample& s : samples) w.sample(kActiveSessions, s.proxy, {}, s.active_sessions);
  w.begin(kSessions);
  for (const MetricsSample& s : samples) w.sample(kSessions, s.proxy, {}, s.counters->sessions_total);
  w.by_key(kClosesByCause, "cause", samples, &ProxyMetrics::closes_by_cause);
  w.by_key(kClosesByCode, "code", samples, &ProxyMetrics::closes_by_code);
  // Directions and frame kinds are a fixed set: every series is there from the start, at 0.
  w.begin(kBytes);
  for (const MetricsSample& s : samples) {
    for (const Direction d : kDirections) {
      w.sample(kBytes, s.proxy, {{"direction", std::string(to_string(d))}}, s.counters->bytes[index(d)]);
    }
  }
  w.begin(kFrames);
  for (const MetricsSample& s : samples) {
    for (const Direction d : kDirections) {
      for (const FrameKind k : kFrameKinds) {
        w.sample(kFrames, s.proxy, {{"direction", std::string(to_string(d))}, {"kind", std::string(to_string(k))}},
                 s.counters->frames[index(d)][static_cast<std::size_t>(k)]);
      }
    }
  }
  w.by_key(kTimerFirings, "timer", samples, &ProxyMetrics::timer_firings);
  w.by_key(kFaults, "type", samples, &ProxyMetrics::faults_applied);
  return w.take();
}

}  // namespace dropsim
