#include "metrics.h"

// The Prometheus text format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): one family after the
// other, each as `# HELP`, `# TYPE` and then every proxy's samples, so the samples of a
// family are never split. A family is printed even when it has no sample yet, so that a
// scraper sees the same families from the first scrape on.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

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
constexpr Family kActiveSessions{"dropsim_active_sessions", "gauge",
                                  "Sessions connecting or open now; one that ended (closing, blackholed) is not."};
constexpr Family kBlackholedSessions{"dropsim_blackholed_sessions", "gauge",
                                     "Sessions ended by a blackhole (the flow forgotten) whose sockets are still held."};
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
constexpr Family kTimerLateness{"dropsim_timer_lateness_seconds", "histogram",
                                "Real time from an expiring timer's deadline to its firing: how well the proxy keeps time "
                                "under its load (a timer that ends a session closes it in the same step)."};
constexpr Family kFaults{"dropsim_faults_applied_total", "counter", "Faults applied to a session, by toxic type."};
constexpr Family kAcceptErrors{"dropsim_accept_errors_total", "counter",
                               "Accepts that failed (out of descriptors or memory); each retried after 100 ms."};
constexpr Family kBlackholed{"dropsim_blackholed_sockets", "gauge",
                             "Sockets of blackholed (forgotten) flows held open and silent now, until their peer "
                             "sends (RST) or the profile's blackhole_hold passes."};
constexpr Family kBlackholeExpired{"dropsim_blackhole_expired_total", "counter",
                                   "Blackholed sockets released after blackhole_hold without a word from their peer."};
constexpr Family kUnansweredCloses{"dropsim_close_unanswered_total", "counter",
                                   "Sessions in which a peer did not hang up within --drain-timeout of dropsim's close "
                                   "frame (closed then)."};
constexpr Family kRefusedRemotePeers{
    "dropsim_refused_remote_peers_total", "counter",
    "Clients closed at accept for not being loopback: the proxy listens on every interface but was made through a "
    "loopback-only API (--allow-remote-listen lifts it)."};

// The process's capacity (SessionBudget).
constexpr Family kMaxSessions{"dropsim_max_sessions", "gauge", "Sessions the process holds at most (--max-sessions)."};
constexpr Family kOpenSessions{"dropsim_open_sessions", "gauge", "Sessions holding descriptors now, every proxy."};
constexpr Family kAccepting{"dropsim_accepting", "gauge",
                            "1, or 0 while new clients wait in the listen backlog at the session cap."};
constexpr Family kAcceptPauses{"dropsim_accept_pauses_total", "counter", "Times accepting stopped at the session cap."};
constexpr Family kDescriptorLimit{"dropsim_descriptor_limit", "gauge", "The soft RLIMIT_NOFILE."};

// The control API (ApiServer).
constexpr Family kApiConnections{"dropsim_api_connections", "gauge",
                                 "Control API connections open now, event streams included."};
constexpr Family kApiMaxConnections{"dropsim_api_max_connections", "gauge",
                                    "Control API connections open at most (--api-max-connections)."};
constexpr Family kApiRefusedConnections{"dropsim_api_refused_connections_total", "counter",
                                        "Control API connections over the cap, answered 503 and closed."};
constexpr Family kApiRequestTimeouts{
    "dropsim_api_request_timeouts_total", "counter",
    "Control API requests whose head and body did not arrive in time after their first byte (408, closed)."};

constexpr Family kLogLinesDropped{
    "dropsim_log_lines_dropped_total", "counter",
    "Log lines dropped because their reader (stderr) was slower than they came; the data path never waits for it."};

// Toxiproxy's (collectors/proxy.go): namespace toxiproxy, subsystem proxy.
constexpr Family kToxiproxyReceived{"toxiproxy_proxy_received_bytes_total", "counter",
                                    "Bytes received on a proxy link in a direction (read from its source)."};
constexpr Family kToxiproxySent{"toxiproxy_proxy_sent_bytes_total", "counter",
                                "Bytes sent on a proxy link in a direction (written to its destination)."};

// Prometheus's process collector.
constexpr Family kProcessCpu{"process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds."};
constexpr Family kProcessStart{"process_start_time_seconds", "gauge",
                               "Start time of the process since unix epoch in seconds."};
constexpr Family kProcessResident{"process_resident_memory_bytes", "gauge", "Resident memory size in bytes."};
constexpr Family kProcessVirtual{"process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes."};
constexpr Family kProcessOpenFds{"process_open_fds", "gauge", "Number of open file descriptors."};
constexpr Family kProcessMaxFds{"process_max_fds", "gauge", "Maximum number of open file descriptors."};

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

  /// One sample of `f` with exactly `labels`, in their order (none: a bare name).
  /// `suffix` follows the name (a histogram's "_bucket", "_sum", "_count").
  template <class Value>
  void series(const Family& f, std::initializer_list<Label> labels, Value value, std::string_view suffix = "") {
    fmt::format_to(std::back_inserter(out_), "{}{}", f.name, suffix);
    const char* sep = "{";
    for (const Label& l : labels) {
      fmt::format_to(std::back_inserter(out_), "{}{}=\"{}\"", sep, l.name, escape(l.value, true));
      sep = ",";
    }
    fmt::format_to(std::back_inserter(out_), "{} {}\n", labels.size() ? "}" : "", value);
  }

  /// Families of one unlabelled sample each, in the order given.
  void unlabelled(std::initializer_list<std::pair<const Family*, double>> families) {
    for (const auto& [family, value] : families) {
      begin(*family);
      series(*family, {}, value);
    }
  }

  /// A family with one series per proxy, labelled only by it: its counter `field`.
  void per_proxy(const Family& f, std::span<const MetricsSample> samples, std::uint64_t ProxyMetrics::*field) {
    begin(f);
    for (const MetricsSample& s : samples) sample(f, s.proxy, {}, s.counters->*field);
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

void LatenessHistogram::add(double late) {
  late = std::max(late, 0.0);
  std::size_t i = 0;
  while (i < kLatenessBounds.size() && late > kLatenessBounds[i]) ++i;
  ++buckets[i];
  sum_seconds += late;
  ++count;
}

ProxyMetrics& operator+=(ProxyMetrics& a, const ProxyMetrics& b) {
  a.sessions_total += b.sessions_total;
  a.accept_errors += b.accept_errors;
  a.blackholed += b.blackholed;
  a.blackhole_expired += b.blackhole_expired;
  a.unanswered_closes += b.unanswered_closes;
  a.refused_remote_peers += b.refused_remote_peers;
  for (std::size_t d = 0; d < a.bytes.size(); ++d) {
    a.bytes[d] += b.bytes[d];
    a.sent[d] += b.sent[d];
    for (std::size_t k = 0; k < a.frames[d].size(); ++k) a.frames[d][k] += b.frames[d][k];
  }
  const auto merge = [](auto& into, const auto& from) {
    for (const auto& [key, n] : from) into[key] += n;
  };
  merge(a.closes_by_cause, b.closes_by_cause);
  merge(a.closes_by_code, b.closes_by_code);
  merge(a.timer_firings, b.timer_firings);
  merge(a.faults_applied, b.faults_applied);
  for (std::size_t i = 0; i < a.timer_lateness.buckets.size(); ++i) {
    a.timer_lateness.buckets[i] += b.timer_lateness.buckets[i];
  }
  a.timer_lateness.sum_seconds += b.timer_lateness.sum_seconds;
  a.timer_lateness.count += b.timer_lateness.count;
  return a;
}

std::string render_prometheus(std::span<const MetricsSample> samples) {
  Writer w;
  w.begin(kActiveSessions);
  for (const MetricsSample& s : samples) w.sample(kActiveSessions, s.proxy, {}, s.active_sessions);
  w.begin(kBlackholedSessions);
  for (const MetricsSample& s : samples) w.sample(kBlackholedSessions, s.proxy, {}, s.blackholed_sessions);
  w.per_proxy(kSessions, samples, &ProxyMetrics::sessions_total);
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
  w.begin(kTimerLateness);
  for (const MetricsSample& s : samples) {
    const LatenessHistogram& h = s.counters->timer_lateness;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.buckets.size(); ++i) {
      cumulative += h.buckets[i];
      const std::string le = i < kLatenessBounds.size() ? fmt::format("{}", kLatenessBounds[i]) : "+Inf";
      w.series(kTimerLateness, {{"proxy", s.proxy}, {"le", le}}, cumulative, "_bucket");
    }
    w.series(kTimerLateness, {{"proxy", s.proxy}}, h.sum_seconds, "_sum");
    w.series(kTimerLateness, {{"proxy", s.proxy}}, h.count, "_count");
  }
  w.by_key(kFaults, "type", samples, &ProxyMetrics::faults_applied);
  w.per_proxy(kAcceptErrors, samples, &ProxyMetrics::accept_errors);
  w.per_proxy(kBlackholed, samples, &ProxyMetrics::blackholed);
  w.per_proxy(kBlackholeExpired, samples, &ProxyMetrics::blackhole_expired);
  w.per_proxy(kUnansweredCloses, samples, &ProxyMetrics::unanswered_closes);
  w.per_proxy(kRefusedRemotePeers, samples, &ProxyMetrics::refused_remote_peers);
  return w.take();
}

std::string render_capacity_prometheus(const CapacityStats& stats) {
  Writer w;
  w.unlabelled({{&kMaxSessions, static_cast<double>(stats.max_sessions)},
                {&kOpenSessions, static_cast<double>(stats.open_sessions)},
                {&kAccepting, stats.accepting ? 1.0 : 0.0},
                {&kAcceptPauses, static_cast<double>(stats.pauses)},
                {&kDescriptorLimit, static_cast<double>(stats.descriptor_limit)}});
  return w.take();
}

std::string render_api_prometheus(const ApiStats& stats) {
  Writer w;
  w.unlabelled({{&kApiConnections, static_cast<double>(stats.open_connections)},
                {&kApiMaxConnections, static_cast<double>(stats.max_connections)},
                {&kApiRefusedConnections, static_cast<double>(stats.refused_connections)},
                {&kApiRequestTimeouts, static_cast<double>(stats.request_timeouts)}});
  return w.take();
}

std::string render_log_prometheus(std::uint64_t dropped_lines) {
  Writer w;
  w.begin(kLogLinesDropped);
  w.series(kLogLinesDropped, {}, dropped_lines);
  return w.take();
}

std::string render_toxiproxy_prometheus(std::span<const MetricsSample> samples) {
  Writer w;
  // Labels in client_golang's order (sorted by name), as Toxiproxy prints them.
  for (const auto& [family, counts] : {std::pair{&kToxiproxyReceived, &ProxyMetrics::bytes},
                                       std::pair{&kToxiproxySent, &ProxyMetrics::sent}}) {
    w.begin(*family);
    for (const MetricsSample& s : samples) {
      for (const Direction d : kDirections) {
        w.series(*family,
                 {{"direction", std::string(to_string(d))},
                  {"listener", s.listener},
                  {"proxy", s.proxy},
                  {"upstream", s.upstream}},
                 (s.counters->*counts)[index(d)]);
      }
    }
  }
  return w.take();
}

std::string render_process_prometheus(const ProcessStats& stats) {
  Writer w;
  w.unlabelled({{&kProcessCpu, stats.cpu_seconds},
                {&kProcessOpenFds, static_cast<double>(stats.open_fds)},
                {&kProcessMaxFds, static_cast<double>(stats.max_fds)},
                {&kProcessVirtual, static_cast<double>(stats.virtual_bytes)},
                {&kProcessResident, static_cast<double>(stats.resident_bytes)},
                {&kProcessStart, stats.start_time_seconds}});
  return w.take();
}

std::optional<ProcessStats> parse_proc_stat(std::string_view stat, long ticks_per_second, long page_size,
                                            double boot_time_seconds) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the fields are
  // counted from the last ')'; the first after it is field 3.
  const std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::vector<std::string_view> fields;
  std::string_view rest = stat.substr(close + 1);
  while (!rest.empty()) {
    const std::size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const std::size_t end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  const auto field = [&](std::size_t n) -> std::optional<std::uint64_t> {
    if (n < 3 || n - 3 >= fields.size()) return std::nullopt;
    std::uint64_t value = 0;
    const std::string_view text = fields[n - 3];
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
  };
  const auto utime = field(14), stime = field(15), start = field(22), vsize = field(23), rss = field(24);
  if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
  ProcessStats stats;
  const auto ticks = static_cast<double>(ticks_per_second);
  stats.cpu_seconds = static_cast<double>(*utime + *stime) / ticks;
  stats.start_time_seconds = boot_time_seconds + static_cast<double>(*start) / ticks;
  stats.virtual_bytes = *vsize;
  stats.resident_bytes = *rss * static_cast<std::uint64_t>(page_size);
  return stats;
}

ProcessStats read_process_stats() {
  const auto slurp = [](const char* path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  };
  double boot = 0;
  const std::string proc_stat = slurp("/proc/stat");
  if (const auto at = proc_stat.find("\nbtime "); at != std::string::npos) boot = std::atof(proc_stat.c_str() + at + 7);
  ProcessStats stats = parse_proc_stat(slurp("/proc/self/stat"), sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), boot)
                           .value_or(ProcessStats{});
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++stats.open_fds;
  }
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0) stats.max_fds = limit.rlim_cur;
  return stats;
}

}  // namespace dropsim
