#include "metrics.h"

#include <charconv>
#include <map>
#include <stdexcept>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace dropsim {
namespace {

// ---------------------------------------------------------------------------------------
// A strict reader of the text format 0.0.4, as much of it as dropsim writes: every line is
// `# HELP name text`, `# TYPE name counter|gauge|histogram` or `name{label="value",...} value`
// (a histogram's samples are name_bucket with `le`, name_sum, which may be fractional, and
// name_count).

/// One series: its name and its labels, sorted by label name.
using Series = std::pair<std::string, std::map<std::string, std::string>>;

/// What the reader found.
struct Exposition {
  std::vector<std::string> families;    ///< in order of their TYPE lines
  std::map<std::string, std::string> types;  ///< family → counter/gauge
  std::map<std::string, std::string> help;   ///< family → help, unescaped
  std::map<Series, std::uint64_t> samples;
  std::map<Series, double> sums;  ///< histograms' _sum samples
  std::string error;  ///< the first violation, "" when none
};

/// True for a metric or label name: [a-zA-Z_:][a-zA-Z0-9_:]* (no ':' in a label name).
bool valid_name(std::string_view name, bool label) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    (c == ':' && !label);
    if (!ok) return false;
  }
  return true;
}

/// Reads `{a="x",b="y"}` from `line` at `at` (just after the name); advances `at` past it.
std::optional<std::map<std::string, std::string>> read_labels(std::string_view line, std::size_t& at) {
  std::map<std::string, std::string> labels;
  if (at >= line.size() || line[at] != '{') return labels;
  ++at;
  while (at < line.size() && line[at] != '}') {
    const auto eq = line.find('=', at);
    if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return std::nullopt;
    const std::string name(line.substr(at, eq - at));
    if (!valid_name(name, true)) return std::nullopt;
    std::string value;
    at = eq + 2;
    for (;; ++at) {
      if (at >= line.size()) return std::nullopt;
      const char c = line[at];
      if (c == '"') break;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (++at >= line.size()) return std::nullopt;
      switch (line[at]) {
        case '\\': value += '\\'; break;
        case '"': value += '"'; break;
        case 'n': value += '\n'; break;
        default: return std::nullopt;  // no other escape exists
      }
    }
    ++at;  // the closing quote
    if (!labels.emplace(name, value).second) return std::nullopt;  // a label twice
    if (at < line.size() && line[at] == ',') ++at;
    else if (at >= line.size() || line[at] != '}') return std::nullopt;
  }
  if (at >= line.size()) return std::nullopt;
  ++at;  // '}'
  return labels;
}

/// `\\` and `\n` undone, as in HELP text.
std::optional<std::string> unescape_help(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i >= text.size()) return std::nullopt;
    if (text[i] == '\\') out += '\\';
    else if (text[i] == 'n') out += '\n';
    else return std::nullopt;
  }
  return out;
}

/// Reads `text` into `e`; throws std::runtime_error naming the first line that breaks a rule.
void read(const std::string& text, Exposition& e) {
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("the text does not end with a newline");
  std::set<std::string> finished;  // families whose samples are over
  std::string current;             // the family whose lines come now
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const auto fail = [&](std::string_view why) {
      throw std::runtime_error(fmt::format("line {}: {}: {}", number, why, line));
    };
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const std::string_view rest = std::string_view(line).substr(7);
      const auto space = rest.find(' ');
      if (space == std::string_view::npos) fail("no text after the name");
      const std::string name(rest.substr(0, space));
      const std::string_view value = rest.substr(space + 1);
      if (!valid_name(name, false)) fail("bad family name");
      if (name != current) {
        if (!current.empty()) finished.insert(current);
        if (finished.contains(name)) fail("a family comes back after another one");
        current = name;
      }
      if (line[2] == 'H') {
        if (e.help.contains(name)) fail("HELP twice");
        if (e.types.contains(name)) fail("HELP after TYPE");
        const auto help = unescape_help(value);
        if (!help) fail("bad escape in HELP");
        e.help[name] = *help;
      } else {
        if (e.types.contains(name)) fail("TYPE twice");
        if (value != "counter" && value != "gauge" && value != "histogram") fail("not counter, gauge or histogram");
        if (value == "counter" && !name.ends_with("_total")) fail("a counter's name must end in _total");
        e.types[name] = value;
        e.families.push_back(name);
      }
      continue;
    }
    if (line.empty() || line[0] == '#') fail("not a HELP, TYPE or sample line");
    std::size_t at = line.find_first_of("{ ");
    if (at == std::string::npos) fail("no value");
    const std::string name = line.substr(0, at);
    std::string family = name;
    std::string suffix;
    for (const std::string_view sfx : {"_bucket", "_sum", "_count"}) {
      const std::string base = name.substr(0, name.size() - std::min(name.size(), sfx.size()));
      if (name.ends_with(sfx) && e.types.contains(base) && e.types.at(base) == "histogram") {
        family = base;
        suffix = sfx;
      }
    }
    if (family != current || !e.types.contains(family)) fail("a sample outside its family's HELP and TYPE");
    if (e.types.at(family) == "histogram" && suffix.empty()) fail("a histogram sample without _bucket/_sum/_count");
    const auto labels = read_labels(line, at);
    if (!labels) fail("bad labels");
    if (suffix == "_bucket" && !labels->contains("le")) fail("a bucket without le");
    if (at >= line.size() || line[at] != ' ') fail("no space before the value");
    const std::string value_text = line.substr(at + 1);
    if (suffix == "_sum") {
      double sum = 0;
      const auto [end, ec] = std::from_chars(value_text.data(), value_text.data() + value_text.size(), sum);
      if (ec != std::errc() || end != value_text.data() + value_text.size()) fail("value not a number");
      if (!e.sums.emplace(Series{name, *labels}, sum).second) fail("a series twice");
      continue;
    }
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(value_text.data(), value_text.data() + value_text.size(), value);
    if (ec != std::errc() || end != value_text.data() + value_text.size()) fail("value not an integer");
    if (!labels->contains("proxy")) fail("no proxy label");
    if (!e.samples.emplace(Series{name, *labels}, value).second) fail("a series twice");
  }
  for (const auto& [name, type] : e.types) {
    if (!e.help.contains(name)) throw std::runtime_error("no HELP for " + name);
  }
}

/// Reads `text`; Exposition::error names the first line that breaks a rule.
Exposition parse(const std::string& text) {
  Exposition e;
  try {
    read(text, e);
  } catch (const std::runtime_error& x) {
    e.error = x.what();
  }
  return e;
}

/// The value of one series; fails the test when it is missing.
std::uint64_t value(const Exposition& e, const std::string& name, std::map<std::string, std::string> labels) {
  const auto it = e.samples.find(Series{name, labels});
  if (it == e.samples.end()) {
    ADD_FAILURE() << "no series " << name << " with those labels";
    return 0;
  }
  return it->second;
}

/// How many series of family `name` there are.
std::size_t count(const Exposition& e, const std::string& name) {
  std::size_t n = 0;
  for (const auto& [series, v] : e.samples) n += series.first == name ? 1 : 0;
  return n;
}

/// The exposition of `samples`, checked by the strict reader.
Exposition render(const std::vector<MetricsSample>& samples) {
  const std::string text = render_prometheus(samples);
  Exposition e = parse(text);
  EXPECT_EQ(e.error, "") << text;
  return e;
}

const std::vector<std::string> kFamilies{
    "dropsim_active_sessions",     "dropsim_blackholed_sessions",    "dropsim_sessions_total",
    "dropsim_closes_total",
    "dropsim_websocket_closes_total", "dropsim_bytes_total",         "dropsim_websocket_frames_total",
    "dropsim_timer_firings_total", "dropsim_timer_lateness_seconds", "dropsim_faults_applied_total",
    "dropsim_accept_errors_total",
    "dropsim_blackholed_sockets",  "dropsim_blackhole_expired_total", "dropsim_close_unanswered_total",
    "dropsim_refused_remote_peers_total"};

// ---------------------------------------------------------------------------------------
// The reader itself: each rule it enforces rejects a text that breaks it.

TEST(MetricsParser, RejectsWhatBreaksTheFormat) {
  const std::string head = "# HELP a_total h\n# TYPE a_total counter\n";
  EXPECT_EQ(parse(head + "a_total{proxy=\"p\"} 1\n").error, "");
  EXPECT_NE(parse("a_total{proxy=\"p\"} 1\n").error, "");                                      // no HELP/TYPE
  EXPECT_NE(parse(head + "a_total{proxy=\"p\"} 1\na_total{proxy=\"p\"} 2\n").error, "");        // duplicate
  EXPECT_NE(parse(head + "a_total{proxy=\"p\\t\"} 1\n").error, "");                            // bad escape
  EXPECT_NE(parse(head + "a_total{proxy=\"p\"\"} 1\n").error, "");                              // raw quote
  EXPECT_NE(parse(head + "a_total{cause=\"x\"} 1\n").error, "");                               // no proxy
  EXPECT_NE(parse(head + "a_total{proxy=\"p\"} 1.5\n").error, "");                             // not an integer
  EXPECT_NE(parse("# HELP a h\n# TYPE a counter\n").error, "");                                 // counter w/o _total
  EXPECT_NE(parse(head + head).error, "");                                                     // HELP twice
  EXPECT_NE(parse(head + "# HELP b h\n# TYPE b gauge\na_total{proxy=\"p\"} 1\n").error, "");   // family split
  EXPECT_NE(parse(head + "a_total{proxy=\"p\"} 1").error, "");                                 // no final newline
  const std::string hist = "# HELP h_seconds h\n# TYPE h_seconds histogram\n";
  EXPECT_EQ(parse(hist + "h_seconds_bucket{proxy=\"p\",le=\"+Inf\"} 1\nh_seconds_sum{proxy=\"p\"} 0.5\n").error, "");
  EXPECT_NE(parse(hist + "h_seconds{proxy=\"p\"} 1\n").error, "");                            // no suffix
  EXPECT_NE(parse(hist + "h_seconds_bucket{proxy=\"p\"} 1\n").error, "");                     // bucket without le
  EXPECT_NE(parse(head + "a_total_sum{proxy=\"p\"} 1\n").error, "");                           // _sum of a counter
}

// ---------------------------------------------------------------------------------------
// render_prometheus

TEST(Metrics, EmptyHasEveryFamilyAndNoSample) {
  const Exposition e = render({});
  EXPECT_EQ(e.families, kFamilies);
  EXPECT_TRUE(e.samples.empty());
  EXPECT_EQ(e.types.at("dropsim_active_sessions"), "gauge");
  EXPECT_EQ(e.types.at("dropsim_bytes_total"), "counter");
}

TEST(Metrics, ProxyWithNoTrafficHasZeroBytesAndFrames) {
  const ProxyMetrics m;
  const Exposition e = render({{"alb", 0, &m}});
  EXPECT_EQ(value(e, "dropsim_active_sessions", {{"proxy", "alb"}}), 0u);
  EXPECT_EQ(value(e, "dropsim_sessions_total", {{"proxy", "alb"}}), 0u);
  EXPECT_EQ(count(e, "dropsim_bytes_total"), 2u);
  EXPECT_EQ(count(e, "dropsim_websocket_frames_total"), 8u);
  EXPECT_EQ(count(e, "dropsim_closes_total"), 0u);
  EXPECT_EQ(count(e, "dropsim_websocket_closes_total"), 0u);
  EXPECT_EQ(count(e, "dropsim_timer_firings_total"), 0u);
  EXPECT_EQ(count(e, "dropsim_faults_applied_total"), 0u);
}

TEST(Metrics, EveryCounterOfTwoProxies) {
  ProxyMetrics alb;
  alb.sessions_total = 7;
  alb.bytes = {100, 2000};
  alb.frames[index(Direction::upstream)][static_cast<std::size_t>(FrameKind::ping)] = 3;
  alb.frames[index(Direction::downstream)][static_cast<std::size_t>(FrameKind::data)] = 11;
  alb.frames[index(Direction::downstream)][static_cast<std::size_t>(FrameKind::close)] = 1;
  alb.closes_by_cause = {{"idle_timeout", 4}, {"client_fin", 2}, {"reset_peer", 1}};
  alb.closes_by_code = {{1006, 4}, {1000, 2}};
  alb.timer_firings = {{"idle_timeout", 4}};
  alb.faults_applied = {{"reset_peer", 1}, {"latency", 6}};
  alb.blackholed = 2;
  alb.blackhole_expired = 5;
  alb.unanswered_closes = 3;
  alb.refused_remote_peers = 5;
  ProxyMetrics nginx;
  nginx.sessions_total = 3;
  nginx.bytes = {5, 6};
  nginx.closes_by_cause = {{"proxy_read_timeout", 3}};
  nginx.timer_firings = {{"proxy_read_timeout", 3}};

  const Exposition e = render({{"alb", 2, &alb, "", "", 1}, {"nginx", 0, &nginx}});
  EXPECT_EQ(e.families, kFamilies);
  // A blackholed session is held, not active: the two gauges never count it twice.
  EXPECT_EQ(value(e, "dropsim_blackholed_sessions", {{"proxy", "alb"}}), 1u);
  EXPECT_EQ(value(e, "dropsim_blackholed_sessions", {{"proxy", "nginx"}}), 0u);
  EXPECT_EQ(value(e, "dropsim_active_sessions", {{"proxy", "alb"}}), 2u);
  EXPECT_EQ(value(e, "dropsim_active_sessions", {{"proxy", "nginx"}}), 0u);
  EXPECT_EQ(value(e, "dropsim_sessions_total", {{"proxy", "alb"}}), 7u);
  EXPECT_EQ(value(e, "dropsim_sessions_total", {{"proxy", "nginx"}}), 3u);
  EXPECT_EQ(value(e, "dropsim_bytes_total", {{"proxy", "alb"}, {"direction", "upstream"}}), 100u);
  EXPECT_EQ(value(e, "dropsim_bytes_total", {{"proxy", "alb"}, {"direction", "downstream"}}), 2000u);
  EXPECT_EQ(value(e, "dropsim_bytes_total", {{"proxy", "nginx"}, {"direction", "downstream"}}), 6u);
  EXPECT_EQ(value(e, "dropsim_websocket_frames_total", {{"proxy", "alb"}, {"direction", "upstream"}, {"kind", "ping"}}),
            3u);
  EXPECT_EQ(value(e, "dropsim_websocket_frames_total", {{"proxy", "alb"}, {"direction", "downstream"}, {"kind", "data"}}),
            11u);
  EXPECT_EQ(
      value(e, "dropsim_websocket_frames_total", {{"proxy", "alb"}, {"direction", "downstream"}, {"kind", "close"}}),
      1u);
  EXPECT_EQ(value(e, "dropsim_websocket_frames_total", {{"proxy", "alb"}, {"direction", "upstream"}, {"kind", "pong"}}),
            0u);
  EXPECT_EQ(count(e, "dropsim_websocket_frames_total"), 16u);
  EXPECT_EQ(value(e, "dropsim_closes_total", {{"proxy", "alb"}, {"cause", "idle_timeout"}}), 4u);
  EXPECT_EQ(value(e, "dropsim_closes_total", {{"proxy", "alb"}, {"cause", "client_fin"}}), 2u);
  EXPECT_EQ(value(e, "dropsim_closes_total", {{"proxy", "alb"}, {"cause", "reset_peer"}}), 1u);
  EXPECT_EQ(value(e, "dropsim_closes_total", {{"proxy", "nginx"}, {"cause", "proxy_read_timeout"}}), 3u);
  EXPECT_EQ(count(e, "dropsim_closes_total"), 4u);
  EXPECT_EQ(value(e, "dropsim_websocket_closes_total", {{"proxy", "alb"}, {"code", "1006"}}), 4u);
  EXPECT_EQ(value(e, "dropsim_websocket_closes_total", {{"proxy", "alb"}, {"code", "1000"}}), 2u);
  EXPECT_EQ(value(e, "dropsim_timer_firings_total", {{"proxy", "alb"}, {"timer", "idle_timeout"}}), 4u);
  EXPECT_EQ(value(e, "dropsim_timer_firings_total", {{"proxy", "nginx"}, {"timer", "proxy_read_timeout"}}), 3u);
  EXPECT_EQ(value(e, "dropsim_faults_applied_total", {{"proxy", "alb"}, {"type", "latency"}}), 6u);
  EXPECT_EQ(value(e, "dropsim_faults_applied_total", {{"proxy", "alb"}, {"type", "reset_peer"}}), 1u);
  EXPECT_EQ(value(e, "dropsim_blackholed_sockets", {{"proxy", "alb"}}), 2u);
  EXPECT_EQ(value(e, "dropsim_blackholed_sockets", {{"proxy", "nginx"}}), 0u);
  EXPECT_EQ(value(e, "dropsim_blackhole_expired_total", {{"proxy", "alb"}}), 5u);
  EXPECT_EQ(value(e, "dropsim_close_unanswered_total", {{"proxy", "alb"}}), 3u);
  EXPECT_EQ(count(e, "dropsim_faults_applied_total"), 2u);
  EXPECT_EQ(value(e, "dropsim_refused_remote_peers_total", {{"proxy", "alb"}}), 5u);
  EXPECT_EQ(value(e, "dropsim_refused_remote_peers_total", {{"proxy", "nginx"}}), 0u);
}

TEST(Metrics, LargeCountersPrintAsIntegers) {
  ProxyMetrics m;
  m.bytes[index(Direction::upstream)] = 18'446'744'073'709'551'615ULL;  // 2^64-1: no exponent, no rounding
  const std::string text = render_prometheus(std::vector<MetricsSample>{{"p", 0, &m}});
  EXPECT_NE(text.find("dropsim_bytes_total{proxy=\"p\",direction=\"upstream\"} 18446744073709551615\n"),
            std::string::npos)
      << text;
}

TEST(Metrics, LabelValuesAreEscaped) {
  ProxyMetrics m;
  m.closes_by_cause = {{"say \"bye\"", 1}};
  const std::string proxy = "a\\b\"c\nd";
  const std::vector<MetricsSample> samples{{proxy, 1, &m}};
  const std::string text = render_prometheus(samples);
  EXPECT_NE(text.find("dropsim_active_sessions{proxy=\"a\\\\b\\\"c\\nd\"} 1\n"), std::string::npos) << text;
  const Exposition e = render(samples);  // and the reader reads the original values back
  EXPECT_EQ(value(e, "dropsim_active_sessions", {{"proxy", proxy}}), 1u);
  EXPECT_EQ(value(e, "dropsim_closes_total", {{"proxy", proxy}, {"cause", "say \"bye\""}}), 1u);
}

TEST(Metrics, FamiliesKeepTheirOrderWhateverTheProxies) {
  ProxyMetrics a;
  a.closes_by_cause = {{"client_fin", 1}};
  ProxyMetrics b;
  b.faults_applied = {{"latency", 1}};
  const std::string text = render_prometheus(std::vector<MetricsSample>{{"b", 0, &b}, {"a", 0, &a}});
  EXPECT_EQ(parse(text).families, kFamilies);
  // Samples follow the order given (the runtime passes proxies sorted by name).
  EXPECT_LT(text.find("dropsim_sessions_total{proxy=\"b\"}"), text.find("dropsim_sessions_total{proxy=\"a\"}"));
}

TEST(Metrics, TimerLatenessIsACumulativeHistogramInSeconds) {
  ProxyMetrics m;
  for (const double late : {0.0, 0.0003, 0.0015, 0.0015, 0.004, 0.2, 3.0}) m.timer_lateness.add(late);
  m.timer_lateness.add(-0.001);  // early (a wake-up just before): counted as on time
  ProxyMetrics other;
  other.timer_lateness.add(0.0007);
  m += other;  // a second worker's part
  const Exposition e = render({{"alb", 0, &m}});
  const auto bucket = [&](const char* le) {
    return value(e, "dropsim_timer_lateness_seconds_bucket", {{"proxy", "alb"}, {"le", le}});
  };
  EXPECT_EQ(e.types.at("dropsim_timer_lateness_seconds"), "histogram");
  EXPECT_EQ(bucket("0.0005"), 3u);  // 0, 0.0003 and the early one
  EXPECT_EQ(bucket("0.001"), 4u);   // + the other worker's 0.0007
  EXPECT_EQ(bucket("0.002"), 6u);
  EXPECT_EQ(bucket("0.005"), 7u);
  EXPECT_EQ(bucket("0.1"), 7u);
  EXPECT_EQ(bucket("0.5"), 8u);
  EXPECT_EQ(bucket("+Inf"), 9u);
  EXPECT_EQ(value(e, "dropsim_timer_lateness_seconds_count", {{"proxy", "alb"}}), 9u);
  EXPECT_NEAR(e.sums.at(Series{"dropsim_timer_lateness_seconds_sum", {{"proxy", "alb"}}}), 3.2080, 1e-9);
}

// ---------------------------------------------------------------------------------------
// Toxiproxy's families (-proxy-metrics) and the process ones (-runtime-metrics)

TEST(ToxiproxyMetrics, ToxiproxysNamesAndLabelsForBothDirections) {
  ProxyMetrics redis;
  redis.bytes = {100, 2000};
  redis.sent = {90, 1999};  // a toxic still holds some
  const std::string text = render_toxiproxy_prometheus(
      std::vector<MetricsSample>{{"redis:6379", 1, &redis, "127.0.0.1:26379", "localhost:6379"}});
  const Exposition e = parse(text);
  ASSERT_EQ(e.error, "") << text;
  EXPECT_EQ(e.families,
            (std::vector<std::string>{"toxiproxy_proxy_received_bytes_total", "toxiproxy_proxy_sent_bytes_total"}));
  const auto labels = [](const char* direction) {
    return std::map<std::string, std::string>{
        {"direction", direction}, {"listener", "127.0.0.1:26379"}, {"proxy", "redis:6379"}, {"upstream", "localhost:6379"}};
  };
  EXPECT_EQ(value(e, "toxiproxy_proxy_received_bytes_total", labels("upstream")), 100u);
  EXPECT_EQ(value(e, "toxiproxy_proxy_received_bytes_total", labels("downstream")), 2000u);
  EXPECT_EQ(value(e, "toxiproxy_proxy_sent_bytes_total", labels("upstream")), 90u);
  EXPECT_EQ(value(e, "toxiproxy_proxy_sent_bytes_total", labels("downstream")), 1999u);
  // client_golang prints labels sorted by name; scripts that grep a whole series match it.
  EXPECT_NE(text.find("toxiproxy_proxy_sent_bytes_total{direction=\"upstream\",listener=\"127.0.0.1:26379\","
                      "proxy=\"redis:6379\",upstream=\"localhost:6379\"} 90\n"),
            std::string::npos)
      << text;
}

TEST(ProcessMetrics, ProcStatFieldsCountedFromTheLastParenthesis) {
  // A comm with a space and a ')' of its own; fields 14, 15 = 250, 50 ticks; 22 = 1000
  // ticks after boot; 23 = vsize; 24 = 300 pages.
  const std::string stat =
      "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1000 81920000 300 18446744073709551615";
  const auto stats = parse_proc_stat(stat, 100, 4096, 1'700'000'000.0);
  ASSERT_TRUE(stats);
  EXPECT_DOUBLE_EQ(stats->cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(stats->start_time_seconds, 1'700'000'010.0);
  EXPECT_EQ(stats->virtual_bytes, 81'920'000u);
  EXPECT_EQ(stats->resident_bytes, 300u * 4096u);
  EXPECT_FALSE(parse_proc_stat("42 (truncated) S 1 2", 100, 4096, 0));
  EXPECT_FALSE(parse_proc_stat("no parenthesis", 100, 4096, 0));
}

TEST(ProcessMetrics, PrometheusStandardNames) {
  ProcessStats stats;
  stats.cpu_seconds = 1.5;
  stats.open_fds = 12;
  stats.max_fds = 1024;
  stats.resident_bytes = 4096;
  const std::string text = render_process_prometheus(stats);
  for (const char* line : {"# TYPE process_cpu_seconds_total counter\n", "process_cpu_seconds_total 1.5\n",
                           "process_open_fds 12\n", "process_max_fds 1024\n", "process_resident_memory_bytes 4096\n",
                           "# TYPE process_start_time_seconds gauge\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "want '" << line << "' in:\n" << text;
  }
  // This process, read from /proc: it has run and holds descriptors.
  const ProcessStats self = read_process_stats();
  EXPECT_GT(self.open_fds, 2u);
  EXPECT_GT(self.resident_bytes, 0u);
  EXPECT_GT(self.max_fds, 0u);
}

// The process's one log counter: a bare name, no proxy label; there at 0 from the start.
TEST(LogMetrics, DroppedLinesIsAnUnlabelledCounter) {
  EXPECT_EQ(render_log_prometheus(0).substr(render_log_prometheus(0).find("# TYPE")),
            "# TYPE dropsim_log_lines_dropped_total counter\ndropsim_log_lines_dropped_total 0\n");
  EXPECT_NE(render_log_prometheus(1234).find("\ndropsim_log_lines_dropped_total 1234\n"), std::string::npos);
  EXPECT_EQ(render_log_prometheus(0).rfind("# HELP dropsim_log_lines_dropped_total ", 0), 0u);
}

// The control API's own numbers: bare names, there from the start.
TEST(ApiMetrics, ConnectionsAndTheirRefusals) {
  ApiStats stats;
  stats.open_connections = 3;
  stats.max_connections = 64;
  stats.refused_connections = 7;
  stats.request_timeouts = 2;
  const std::string text = render_api_prometheus(stats);
  for (const std::string line :
       {"# TYPE dropsim_api_connections gauge\ndropsim_api_connections 3\n",
        "# TYPE dropsim_api_max_connections gauge\ndropsim_api_max_connections 64\n",
        "# TYPE dropsim_api_refused_connections_total counter\ndropsim_api_refused_connections_total 7\n",
        "# TYPE dropsim_api_request_timeouts_total counter\ndropsim_api_request_timeouts_total 2\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " not in\n" << text;
  }
}

}  // namespace
}  // namespace dropsim
