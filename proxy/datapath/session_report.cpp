// Session, reporting: the close line and the close counters, the proxy's metrics, the
// SIGUSR1 report line and what the API shows of a session.
#include "session.h"

#include <fmt/format.h>

#include <algorithm>

#include "explain.h"
#include "session_io.h"

namespace dropsim {

void Session::record_close(const std::string& what, const std::array<SideClose, 2>& closed, std::string_view cause,
                           std::optional<Side> describe_only, TimePoint at, bool websocket) {
  const SideClose& client = closed[index(Side::client)];
  const SideClose& upstream = closed[index(Side::upstream)];
  count_metrics();
  ProxyMetrics& m = *context_->metrics;
  ++m.closes_by_cause[std::string(cause)];
  if (websocket) {
    // The code the client's close event reports: dropsim's close frame, else the
    // server's that passed through, else 1006 (no close frame at all).
    const auto& from_server = policy_.activity(Direction::downstream).close_code;
    std::uint16_t code = 1006;
    if (client.ws_code) {
      code = *client.ws_code;
    } else if (from_server) {
      code = *from_server == 0 ? 1005 : *from_server;  // 1005: a close frame without a code
    }
    ++m.closes_by_code[code];
  }
  // Nobody reads the line (--log-level warn, no event stream): the story is not worth
  // formatting (a few string builds per close; in a burst of 9,000 expiries the gain was
  // within the run-to-run spread, so this is tidiness, not a measured speed-up).
  if (!context_->log->wants(spdlog::level::info)) return;

  std::string line = what;
  if (websocket) {
    line += ": " + frame_story(policy_, at, clock_) + "; " + websocket_outcome(policy_, client, upstream);
  } else if (describe_only) {
    line += ": " + describe_side(*describe_only, closed[index(*describe_only)]);
  } else {
    line += ": " + describe_side(Side::client, client) + ", " + describe_side(Side::upstream, upstream);
  }
  // A WebSocket's heartbeat line says it (heartbeat_summary); raw TCP has only this line.
  if (!websocket) {
    if (std::string keepalive = keepalive_summary(*profile_, policy_, clock_); !keepalive.empty()) {
      line += "; " + keepalive;
    }
  }
  const auto& up = policy_.activity(Direction::upstream);
  const auto& down = policy_.activity(Direction::downstream);
  context_->log->event(
      spdlog::level::info, id_, "close", line,
      {{"proxy", context_->proxy_name},
       {"cause", cause},
       {"client_action", to_string(client.action)},
       {"upstream_action", to_string(upstream.action)},
       {"client_close_code", static_cast<std::int64_t>(client.ws_code.value_or(0))},
       {"websocket", websocket},
       {"age_s", std::chrono::duration<double>(at - policy_.opened_at()).count()},
       {"upstream_idle_s", std::chrono::duration<double>(policy_.idle(Direction::upstream, at)).count()},
       {"downstream_idle_s", std::chrono::duration<double>(policy_.idle(Direction::downstream, at)).count()},
       {"upstream_bytes", static_cast<std::int64_t>(up.bytes)},
       {"downstream_bytes", static_cast<std::int64_t>(down.bytes)},
       {"time_scale", profile_->time_scale}});
  if (websocket) {
    context_->log->event(spdlog::level::info, id_, "heartbeat",
                         "heartbeat: " + heartbeat_summary(*profile_, policy_, clock_));
  }
}

void Session::report() {
  const TimePoint at = now();
  if (!closing()) sample_keepalives(at, true);
  // Profile time, as every log line, with the real time beside it when scaled (the API
  // gives real seconds first: both say which is which).
  const Duration age = at - policy_.opened_at();
  std::string line = fmt::format("{} {}{}",
                                 closing() ? fmt::format("{} (ended, sockets still held), age", to_string(state()))
                                         : "live for",
                                 clock_.seconds(age), clock_.real_note(age));
  if (inspector_.websocket()) {
    line += fmt::format(", WebSocket {}: {}; heartbeat: {}", inspector_.upgrade_request(),
                        frame_story(policy_, at, clock_), heartbeat_summary(*profile_, policy_, clock_));
  } else {
    line += fmt::format(", client→server idle {}, server→client idle {}", clock_.both(policy_.idle(Direction::upstream, at)),
                        clock_.both(policy_.idle(Direction::downstream, at)));
    if (std::string keepalive = keepalive_summary(*profile_, policy_, clock_); !keepalive.empty()) {
      line += "; " + keepalive;
    }
  }
  for (std::size_t i = 0; i < profile_->timers.size() && !closing(); ++i) {
    if (const auto d = policy_.deadline(i)) {
      line += fmt::format("; {} fires in {}", profile_->timers[i].name, clock_.both(std::max(*d - at, Duration::zero())));
    }
  }
  context_->log->event(spdlog::level::info, id_, "report", line);
}

void Session::count_metrics() {
  ProxyMetrics& m = *context_->metrics;
  for (Direction d : kDirections) {
    const DirectionActivity& a = policy_.activity(d);
    const std::size_t i = index(d);
    m.bytes[i] += a.bytes - counted_bytes_[i];
    counted_bytes_[i] = a.bytes;
    const std::uint64_t written = pipes_[i].written();
    m.sent[i] += written - counted_sent_[i];
    counted_sent_[i] = written;
    for (FrameKind k : kFrameKinds) {
      const auto j = static_cast<std::size_t>(k);
      m.frames[i][j] += a.of(k).count - counted_frames_[i][j];
      counted_frames_[i][j] = a.of(k).count;
    }
  }
}

SessionInfo Session::info() const {
  const TimePoint at = now();
  const auto seconds = [](Duration d) { return std::chrono::duration<double>(d).count(); };
  SessionInfo info;
  info.id = id_;
  info.proxy = context_->proxy_name;
  info.client = endpoint_text(sockets_[index(Side::client)]);
  info.age_s = seconds(at - policy_.opened_at());
  info.time_scale = profile_->time_scale;
  info.state = state();
  info.connected = info.state == SessionState::open;
  info.websocket = inspector_.websocket();
  for (Direction d : kDirections) {
    const DirectionActivity& a = policy_.activity(d);
    auto& way = info.ways[index(d)];
    way.bytes = a.bytes;
    for (FrameKind k : kFrameKinds) way.frames[static_cast<std::size_t>(k)] = a.of(k).count;
    if (a.last_byte) way.idle_s = seconds(at - *a.last_byte);
  }
  for (std::size_t i = 0; i < profile_->timers.size(); ++i) {
    SessionInfo::Timer t;
    t.name = profile_->timers[i].name;
    // An ended session runs no timer: what the policy still holds is history, not a
    // countdown. A live deadline just passed is firing now (the watchdog is on its way).
    if (const auto d = policy_.deadline(i); d && !closing()) t.fires_in_s = std::max(0.0, seconds(*d - at));
    info.timers.push_back(std::move(t));
  }
  for (const ActiveToxic& a : toxics_) {
    if (a.applies) info.toxics.push_back(a.toxic.name);
  }
  return info;
}

}  // namespace dropsim
