#pragma once
// Counters per proxy, moved by its sessions as bytes and frames pass (not only at close),
// and their Prometheus text exposition (GET /metrics).

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "direction.h"
#include "profile.h"

namespace dropsim {

/// The upper bounds (seconds) of dropsim_timer_lateness_seconds's buckets, +Inf after them:
/// how long after its deadline a timer fired, from well within a millisecond to a machine
/// too loaded to keep time.
inline constexpr std::array<double, 9> kLatenessBounds{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5};

/// A histogram of timer lateness: counts per bucket (the last is +Inf), not cumulative.
struct LatenessHistogram {
  std::array<std::uint64_t, kLatenessBounds.size() + 1> buckets{};
  double sum_seconds = 0;
  std::uint64_t count = 0;
  /// One timer fired `late` seconds after its deadline (0 when on time or early).
  void add(double late);
};

/// One proxy's counters, or one part of them (a worker's sessions add to their own part,
/// on their thread; the parts are summed to read them). Plain data.
struct ProxyMetrics {
  std::uint64_t sessions_total = 0;                   ///< accepted since the proxy started
  std::uint64_t accept_errors = 0;                    ///< failed accepts (out of descriptors)
  std::uint64_t blackholed = 0;          ///< sockets of forgotten flows held open now (a gauge)
  std::uint64_t blackhole_expired = 0;   ///< of those, released after the profile's blackhole_hold
  std::uint64_t unanswered_closes = 0;   ///< sessions whose peer did not close within close_wait of dropsim's close frame
  std::uint64_t refused_remote_peers = 0;             ///< non-loopback clients closed at accept (loopback-only proxy)
  std::array<std::uint64_t, 2> bytes{};               ///< read from the source, by Direction
  std::array<std::uint64_t, 2> sent{};                ///< written to the destination, by Direction
  std::array<std::array<std::uint64_t, 4>, 2> frames{};  ///< WebSocket frames, by Direction then FrameKind
  std::map<std::string, std::uint64_t> closes_by_cause;  ///< "proxy_read_timeout", "client_fin", "reset_peer", ...
  std::map<std::uint16_t, std::uint64_t> closes_by_code;  ///< WebSocket sessions: the close code the client saw (1006: none)
  std::map<std::string, std::uint64_t> timer_firings;    ///< by the profile's timer name
  std::map<std::string, std::uint64_t> faults_applied;   ///< by toxic type
  LatenessHistogram timer_lateness;  ///< real seconds from each expiring timer's deadline to its firing
};

/// Adds `b` to `a`, counter by counter and key by key (summing a proxy's parts).
ProxyMetrics& operator+=(ProxyMetrics& a, const ProxyMetrics& b);

/// What /metrics shows of one proxy.
struct MetricsSample {
  std::string proxy;              ///< the `proxy` label
  std::uint64_t active_sessions;  ///< connecting or open now (not ended ones still holding sockets)
  const ProxyMetrics* counters;   ///< the proxy's counters; never null
  std::string listener;           ///< Toxiproxy's `listener` label: the listen address
  std::string upstream;           ///< Toxiproxy's `upstream` label: as given
  std::uint64_t blackholed_sessions = 0;  ///< ended by a blackhole, sockets still held
};

/// The process's session capacity (SessionBudget) and descriptors.
struct CapacityStats {
  std::uint64_t max_sessions = 0;      ///< the cap (--max-sessions)
  std::uint64_t open_sessions = 0;     ///< sessions holding descriptors now, every proxy
  bool accepting = true;               ///< false while the proxies wait at the cap
  std::uint64_t pauses = 0;            ///< times accepting stopped at the cap
  std::uint64_t descriptor_limit = 0;  ///< the soft RLIMIT_NOFILE
};

/// The control API's connections and the guards that need time and sockets (ApiServer).
struct ApiStats {
  std::uint64_t open_connections = 0;     ///< API connections open now, event streams included
  std::uint64_t max_connections = 0;      ///< the cap (--api-max-connections)
  std::uint64_t refused_connections = 0;  ///< connections over the cap, answered 503 and closed
  std::uint64_t request_timeouts = 0;     ///< requests not read within the request deadline (408)
};

/// The process's own numbers (Prometheus's standard process_* families).
struct ProcessStats {
  double cpu_seconds = 0;          ///< user + system
  double start_time_seconds = 0;   ///< since the Unix epoch
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t max_fds = 0;       ///< the soft RLIMIT_NOFILE
};

/// The Content-Type header of render_prometheus's text.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

/// The Prometheus text exposition format (version 0.0.4) of every proxy's metrics, each
/// family with # HELP and # TYPE once (even with no sample), families in a fixed order,
/// samples in the order of `samples` (whose proxy names must be unique), label values
/// escaped. Families, all labelled `proxy`:
///   dropsim_active_sessions                 gauge    (connecting or open; an ended session is not)
///   dropsim_blackholed_sessions             gauge    (ended by a blackhole, sockets still held)
///   dropsim_sessions_total                  counter
///   dropsim_closes_total                    counter  cause
///   dropsim_websocket_closes_total          counter  code
///   dropsim_bytes_total                     counter  direction (every one, from 0)
///   dropsim_websocket_frames_total          counter  direction, kind (every pair, from 0)
///   dropsim_timer_firings_total             counter  timer
///   dropsim_timer_lateness_seconds          histogram (le buckets: kLatenessBounds)
///   dropsim_faults_applied_total            counter  type
///   dropsim_accept_errors_total             counter  (failed accepts: out of descriptors)
///   dropsim_refused_remote_peers_total      counter  (non-loopback clients closed at accept)
std::string render_prometheus(std::span<const MetricsSample> samples);

/// The process's log families, unlabelled:
///   dropsim_log_lines_dropped_total         counter  lines the log's full queue dropped (EventLog)
std::string render_log_prometheus(std::uint64_t dropped_lines);

/// Toxiproxy 2.12's proxy families (toxiproxy-server -proxy-metrics), with its names and
/// labels, so that dashboards and scripts written for Toxiproxy keep working:
///   toxiproxy_proxy_received_bytes_total  counter  direction, listener, proxy, upstream
///   toxiproxy_proxy_sent_bytes_total      counter  direction, listener, proxy, upstream
/// Toxiproxy adds a link's bytes when the link closes; dropsim as they pass.
std::string render_toxiproxy_prometheus(std::span<const MetricsSample> samples);

/// The capacity families, unlabelled: dropsim_max_sessions, dropsim_open_sessions,
/// dropsim_accepting (1, or 0 while clients wait in the listen backlog at the cap),
/// dropsim_accept_pauses_total, dropsim_descriptor_limit.
std::string render_capacity_prometheus(const CapacityStats& stats);

/// The API's families, unlabelled: dropsim_api_connections, dropsim_api_max_connections,
/// dropsim_api_refused_connections_total, dropsim_api_request_timeouts_total.
std::string render_api_prometheus(const ApiStats& stats);

/// Prometheus's standard process families (-runtime-metrics): process_cpu_seconds_total,
/// process_start_time_seconds, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_open_fds, process_max_fds.
std::string render_process_prometheus(const ProcessStats& stats);

/// Reads /proc/self/stat's fields 14, 15 (utime, stime), 22 (starttime), 23 (vsize) and 24
/// (rss) from `stat`, given the clock ticks per second, the page size and the boot time;
/// nullopt when `stat` is not in that shape. Pure (the test feeds it text).
std::optional<ProcessStats> parse_proc_stat(std::string_view stat, long ticks_per_second, long page_size,
                                            double boot_time_seconds);

/// This process's stats now (/proc/self, getrlimit); zeros where Linux's /proc is missing.
ProcessStats read_process_stats();

}  // namespace dropsim
