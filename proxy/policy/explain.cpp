#include "explain.h"

#include <cmath>

#include <fmt/format.h>

#include "close_action.h"
#include "duration.h"

namespace dropsim {

std::string Clockface::seconds(Duration real) const { return format_seconds(scale(real, 1.0 / scale_)); }

std::string Clockface::short_seconds(Duration real) const {
  return fmt::format("{:.1f}s", std::chrono::duration<double>(scale(real, 1.0 / scale_)).count());
}

std::string Clockface::real_note(Duration real) const {
  if (scale_ == 1.0) return "";
  return fmt::format(" (real {} at time scale {})", format_seconds(real), scale_);
}

std::string Clockface::both(Duration real) const {
  if (scale_ == 1.0) return seconds(real);
  return fmt::format("{} (real {})", seconds(real), format_seconds(real));
}

std::string describe_side(Side s, const SideClose& c) {
  const std::string_view who = peer(s);
  std::string text;
  if (c.ws_code) {
    text = fmt::format("{} to {}, then FIN", describe_close_code(*c.ws_code), who);
  } else if (c.http_status != 0) {
    text = fmt::format("{} to {}, then FIN", c.http_status, who);
  } else {
    switch (c.action) {
      case CloseAction::blackhole:
        text = c.answer == BlackholeAnswer::none
                   ? fmt::format("{} blackholed (silence, and no answer to its next bytes)", who)
                   : fmt::format("{} blackholed (silence, RST on its next bytes)", who);
        break;
      default:
        text = fmt::format("{} to {}", describe(c.action), who);
    }
  }
  if (!c.fallback.empty()) text += fmt::format(" ({})", c.fallback);
  return text;
}

namespace {

/// How the wire event reads in a sentence about the client's WebSocket API.
std::string_view wire(const SideClose& c) {
  switch (c.action) {
    case CloseAction::rst: return "RST, no close frame";
    case CloseAction::fin_rst: return "FIN then RST, no close frame";
    case CloseAction::blackhole:
      return c.answer == BlackholeAnswer::none ? "silence, even when it sends: it learns only from its own timeouts"
                                               : "silence: it learns only when it next sends";
    default: return "no close frame";
  }
}

}  // namespace

std::string websocket_outcome(const Policy& policy, const SideClose& client, const SideClose& upstream) {
  std::string client_part;
  const auto& to_client = policy.activity(Direction::downstream);
  if (client.ws_code) {
    client_part = fmt::format("the client will see {}", *client.ws_code);
  } else if (to_client.close_code) {
    // The server's close frame already reached the client: its API reports that code.
    client_part = fmt::format("the client will see {} (the server's close frame)", *to_client.close_code == 0 ? 1005 : *to_client.close_code);
  } else {
    client_part = fmt::format("the client will see 1006 ({})", wire(client));
    // A close frame was asked for but could not go out: say why.
    if (!client.fallback.empty()) client_part += fmt::format(" because {}", client.fallback);
  }
  std::string upstream_part;
  if (upstream.ws_code) {
    upstream_part = fmt::format("the server sees close {}, then FIN", *upstream.ws_code);
  } else if (upstream.action == CloseAction::blackhole) {
    upstream_part = upstream.answer == BlackholeAnswer::none ? "the server hears nothing (nor any answer when it sends)"
                                                             : "the server hears nothing (RST when it next sends)";
  } else {
    upstream_part = fmt::format("the server sees {}", describe(upstream.action));
  }
  return client_part + ", " + upstream_part;
}

std::string frame_story(const Policy& policy, TimePoint now, const Clockface& clock) {
  std::string out;
  for (Direction d : kDirections) {
    const DirectionActivity& a = policy.activity(d);
    const FrameStats& data = a.of(FrameKind::data);
    const FrameStats& pings = a.of(FrameKind::ping);
    std::string part = std::string(flow(d)) + ": ";
    part += data.last ? fmt::format("last data {} ago", clock.short_seconds(now - *data.last)) : "no data";
    if (pings.count == 0) {
      part += ", no pings";
    } else if (const auto every = pings.interval()) {
      part += fmt::format(", pings every {}, last {} ago", clock.short_seconds(*every),
                          clock.short_seconds(now - *pings.last));
    } else {
      part += fmt::format(", 1 ping {} ago", clock.short_seconds(now - *pings.last));
    }
    const FrameStats& pongs = a.of(FrameKind::pong);
    if (pongs.count > 0) part += fmt::format(", {} pong{}", pongs.count, pongs.count == 1 ? "" : "s");
    out += out.empty() ? part : "; " + part;
  }
  return out;
}

namespace {

/// A direction's heartbeat: its pings if there are any, else its messages.
std::optional<std::pair<FrameKind, Duration>> heartbeat_of(const DirectionActivity& a) {
  for (FrameKind kind : {FrameKind::ping, FrameKind::data}) {
    const auto interval = a.of(kind).interval();
    if (interval && interval->count() > 0) return std::pair{kind, *interval};
  }
  return std::nullopt;
}

std::string_view plural(FrameKind k) { return k == FrameKind::ping ? "pings" : "messages"; }

/// `x` in the profile's own time, in seconds, as the user configures their client.
double profile_seconds(const Profile& profile, Duration x) {
  return std::chrono::duration<double>(scale(x, 1.0 / profile.time_scale)).count();
}

/// What a heartbeat must beat: the idle timeout less the re-arm granularity (nginx's lazy
/// 300 ms re-arm can cost that much of it).
Duration effective_timeout(const TimerSpec& t) { return *t.timeout - t.rearm_granularity; }

/// How many heartbeat intervals fit in `effective`.
double margin_of(Duration effective, Duration interval) {
  return std::chrono::duration<double>(effective) / std::chrono::duration<double>(interval);
}

/// The advice for a direction with no heartbeat: ping at half the shortest idle timer that
/// pings in that direction would reset (2x margin), or that no timer counts it.
std::string no_heartbeat(const Profile& profile, Direction d, const std::vector<HeartbeatCheck>& checks) {
  const TimerSpec* shortest = nullptr;
  Duration limit{};
  for (const TimerSpec& t : profile.timers) {
    if (t.kind != TimerKind::idle || !t.timeout || !t.reset_by.contains(d) || !t.reset_on.contains(FrameKind::ping)) {
      continue;
    }
    const Duration effective = effective_timeout(t);
    if (!shortest || effective < limit) {
      shortest = &t;
      limit = effective;
    }
  }
  if (!shortest) return fmt::format("{}: no heartbeat, and no idle timer would count one", flow(d));
  // A timer reset by both directions needs one heartbeat, not two: the other way's may do.
  for (const HeartbeatCheck& c : checks) {
    if (c.direction != d && c.timer == shortest->name && c.verdict == "ok") {
      return fmt::format("{}: no heartbeat, none needed ({} {} reset {})", flow(d), flow(c.direction),
                         plural(c.kind), c.timer);
    }
  }
  return fmt::format("{}: no heartbeat: ping at least every {:g}s to survive {} {:g}s", flow(d),
                     std::floor(profile_seconds(profile, limit) / 2 * 10) / 10, shortest->name,
                     profile_seconds(profile, *shortest->timeout));
}

}  // namespace

std::string_view margin_verdict(double margin) {
  // Below 1.5x a delayed ping (GC pause, a slow network) can miss the deadline.
  return margin >= 1.5 ? "ok" : margin >= 1.0 ? "will race" : "too slow: will drop";
}

std::vector<HeartbeatCheck> heartbeat_checks(const Profile& profile, const Policy& policy) {
  std::vector<HeartbeatCheck> checks;
  for (Direction d : kDirections) {
    const auto beat = heartbeat_of(policy.activity(d));
    if (!beat) continue;
    const auto [kind, interval] = *beat;
    for (const TimerSpec& t : profile.timers) {
      if (t.kind != TimerKind::idle || !t.timeout || !t.reset_by.contains(d) || !t.reset_on.contains(kind)) continue;
      HeartbeatCheck c{d, kind, interval, t.name, effective_timeout(t), 0, ""};
      c.margin = margin_of(c.timeout, interval);
      c.verdict = margin_verdict(c.margin);
      checks.push_back(std::move(c));
    }
  }
  return checks;
}

std::string heartbeat_summary(const Profile& profile, const Policy& policy, const Clockface& clock) {
  std::vector<std::string> parts;
  const auto checks = heartbeat_checks(profile, policy);
  for (Direction d : kDirections) {
    bool judged = false;
    for (const HeartbeatCheck& c : checks) {
      if (c.direction != d) continue;
      judged = true;
      parts.push_back(fmt::format("{}: {} every {} vs {} {:g}s: margin {:.1f}x, {}", flow(d), plural(c.kind),
                                  clock.short_seconds(c.interval), c.timer, profile_seconds(profile, c.timeout),
                                  c.margin, c.verdict));
    }
    if (judged) continue;
    if (const auto beat = heartbeat_of(policy.activity(d))) {
      // The war story's trap: a heartbeat that no timer counts keeps nothing alive.
      parts.push_back(fmt::format("{}: {} every {}, but no idle timer counts them", flow(d), plural(beat->first),
                                  clock.short_seconds(beat->second)));
    } else {
      parts.push_back(no_heartbeat(profile, d, checks));
    }
  }
  std::string out = fmt::format("{}", fmt::join(parts, "; "));
  if (std::string keepalive = keepalive_summary(profile, policy, clock); !keepalive.empty()) out += "; " + keepalive;
  return out;
}

std::string keepalive_summary(const Profile& profile, const Policy& policy, const Clockface& clock) {
  const bool counted_anywhere = policy.counts_keepalives(Direction::upstream) || policy.counts_keepalives(Direction::downstream);
  std::vector<std::string> parts;
  for (Direction d : kDirections) {
    const FrameStats& probes = policy.activity(d).probes();
    if (probes.count == 0) continue;
    const std::string_view from = peer(source(d));
    const auto interval = probes.interval();
    bool counted = false;
    for (const TimerSpec& t : profile.timers) {
      if (!Policy::counts_keepalives(t, d)) continue;
      counted = true;
      if (!interval || interval->count() <= 0) {
        parts.push_back(fmt::format("TCP keepalive from the {} ({} probe{}) counts for {} {:g}s", from, probes.count,
                                    probes.count == 1 ? "" : "s", t.name, profile_seconds(profile, *t.timeout)));
        continue;
      }
      const double margin = margin_of(effective_timeout(t), *interval);
      parts.push_back(fmt::format("TCP keepalive every {} from the {} counts for {} {:g}s: margin {:.1f}x, {}",
                                  clock.short_seconds(*interval), from, t.name, profile_seconds(profile, *t.timeout), margin,
                                  margin_verdict(margin)));
    }
    if (counted) continue;
    if (counted_anywhere) {
      parts.push_back(fmt::format("TCP keepalive probes from the {} ({}) count for no timer of {}: only data counts",
                                  from, probes.count, profile.name));
    } else {
      parts.push_back(fmt::format("TCP keepalive probes from the {} ({}) do not reach {} (it terminates TCP; its "
                                  "kernel answers them): only data counts",
                                  from, probes.count, profile.name));
    }
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

}  // namespace dropsim
