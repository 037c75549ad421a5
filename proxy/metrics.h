#pragma once
// Counters per proxy, moved by its sessions as bytes and frames pass (not only at close),
// and their Prometheus text exposition (GET /metrics).

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "direction.h"
#include "profile.h"

namespace dropsim {

/// One proxy's counters. Plain data: sessions add to it on the io thread.
struct ProxyMetrics {
  std::uint64_t sessions_total = 0;                   ///< accepted since the proxy started
  std::array<std::uint64_t, 2> bytes{};               ///< read from the source, by Direction
  std::array<std::array<std::uint64_t, 4>, 2> frames{};  ///< WebSocket frames, by Direction then FrameKind
  std::map<std::string, std::uint64_t> closes_by_cause;  ///< "proxy_read_timeout", "client_fin", "reset_peer", ...
  std::map<std::uint16_t, std::uint64_t> closes_by_code;  ///< WebSocket sessions: the close code the client saw (1006: none)
  std::map<std::string, std::uint64_t> timer_firings;    ///< by the profile's timer name
  std::map<std::string, std::uint64_t> faults_applied;   ///< by toxic type
};

/// What /metrics shows of one proxy.
struct MetricsSample {
  std::string proxy;              ///< the `proxy` label
  std::uint64_t active_sessions;  ///< open now
  const ProxyMetrics* counters;   ///< the proxy's counters
};

/// The Prometheus text exposition format (version 0.0.4) of every proxy's metrics, each
/// family with # HELP and # TYPE once, label values escaped.
std::string render_prometheus(std::span<const MetricsSample> samples);

}  // namespace dropsim
