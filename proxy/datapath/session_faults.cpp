// Session, faults: the proxy's toxics on this connection (rolled for, handed to the pipes,
// timed by the watchdog, fired) and the runtime actions the API asks for (act).
#include "session.h"

#include <fmt/format.h>

#include <algorithm>

namespace dropsim {

void Session::apply_toxics(const std::vector<Toxic>& toxics) {
  if (closing()) return;
  const TimePoint at = now();
  std::vector<ActiveToxic> next;
  for (const Toxic& t : toxics) {
    auto old = std::find_if(toxics_.begin(), toxics_.end(),
                            [&](const ActiveToxic& a) { return a.toxic.name == t.name; });
    if (old != toxics_.end() && old->toxic.type == t.type && old->toxic.stream == t.stream) {
      // Updated attributes keep the roll and the clock the toxic started with.
      ActiveToxic kept = *old;
      kept.toxic = t;
      next.push_back(std::move(kept));
      continue;
    }
    ActiveToxic a;
    a.toxic = t;
    a.applies = toxicity_roll(context_->seed, t.name, id_, t.toxicity);
    a.since = at;
    for (Direction d : kDirections) a.bytes_at[index(d)] = policy_.activity(d).bytes;
    if (a.applies) {
      ++context_->metrics->faults_applied[std::string(to_string(t.type))];
      context_->log->event(spdlog::level::debug, id_, "fault", "fault applies: " + t.describe(),
                           {{"toxic", t.name}, {"type", to_string(t.type)}});
    }
    next.push_back(std::move(a));
  }
  for (const ActiveToxic& a : toxics_) {
    const bool gone = std::none_of(next.begin(), next.end(),
                                   [&](const ActiveToxic& n) { return n.toxic.name == a.toxic.name; });
    if (gone && a.applies) {
      context_->log->event(spdlog::level::debug, id_, "fault_removed", "fault removed: " + a.toxic.name,
                           {{"toxic", a.toxic.name}});
    }
  }
  toxics_ = std::move(next);
  update_pipe_faults();
  reschedule();
}

void Session::update_pipe_faults() {
  std::vector<const Toxic*> active;
  for (const ActiveToxic& a : toxics_) {
    if (a.applies) active.push_back(&a.toxic);
  }
  for (Direction d : kDirections) {
    DirectionFaults f = pipe_faults(active, d);
    // Byte limits count from when each toxic began acting here, so the pipe gets what is left.
    const std::uint64_t carried_now = policy_.activity(d).bytes;
    std::optional<std::uint64_t> left;
    for (const ActiveToxic& a : toxics_) {
      if (!a.applies || a.toxic.stream != d) continue;
      std::int64_t limit = 0;
      if (a.toxic.type == ToxicType::limit_data) limit = a.toxic.get("bytes");
      if (a.toxic.type == ToxicType::reset_peer) limit = a.toxic.get("bytes");
      if (limit <= 0 && a.toxic.type != ToxicType::limit_data) continue;
      const std::uint64_t carried = carried_now - a.bytes_at[index(d)];
      const auto lim = static_cast<std::uint64_t>(limit);
      const std::uint64_t remaining = carried >= lim ? 0 : lim - carried;
      left = left ? std::min(*left, remaining) : remaining;
    }
    f.limit = left;
    // Jitter and slice sizes differ per session and direction, yet replay under --seed.
    pipes_[index(d)].set_faults(f, context_->seed ^ (id_ * 2 + index(d)));
  }
}

std::optional<TimePoint> Session::fault_deadline() const {
  std::optional<TimePoint> earliest;
  for (const ActiveToxic& a : toxics_) {
    if (!a.applies) continue;
    std::optional<TimePoint> due;
    const auto ms = [&](std::string_view attr) { return a.since + std::chrono::milliseconds(a.toxic.get(attr)); };
    // reset_peer with `bytes` waits for the bytes (the pipe's limit), not for a time.
    if (a.toxic.type == ToxicType::reset_peer && a.toxic.get("bytes") == 0) due = ms("timeout");
    if (a.toxic.type == ToxicType::timeout && a.toxic.get("timeout") > 0) due = ms("timeout");
    if (due && (!earliest || *due < *earliest)) earliest = due;
  }
  return earliest;
}

bool Session::fire_faults(TimePoint at) {
  const auto due = fault_deadline();
  if (!due || *due > at) return false;
  for (const ActiveToxic& a : toxics_) {
    if (!a.applies) continue;
    const Toxic& t = a.toxic;
    const Duration age = at - a.since;
    if (t.type == ToxicType::reset_peer && t.get("bytes") == 0 && age >= std::chrono::milliseconds(t.get("timeout"))) {
      SideActions rst;
      rst.client = rst.upstream = CloseAction::rst;
      // Toxiproxy's waits for the next byte before its timer starts; dropsim's counts from
      // when the toxic applied, so an idle connection is reset too.
      begin_closing(fmt::format("closed by fault {}: reset after {}", t.describe(), clock_.both(age)), rst,
                    "reset_peer");
      return true;
    }
    if (t.type == ToxicType::timeout && t.get("timeout") > 0 && age >= std::chrono::milliseconds(t.get("timeout"))) {
      begin_closing(fmt::format("closed by fault {} after {}, every byte held back", t.describe(), clock_.both(age)),
                    SideActions{}, "timeout");
      return true;
    }
  }
  return false;
}

void Session::on_limited(Direction d) {
  // The pipe stopped at the smallest limit of the direction: a reset_peer with `bytes`
  // resets, a limit_data closes with FIN (Toxiproxy closes the link).
  const std::uint64_t carried_now = policy_.activity(d).bytes;
  for (const ActiveToxic& a : toxics_) {
    if (!a.applies || a.toxic.stream != d || a.toxic.type != ToxicType::reset_peer) continue;
    const auto bytes = static_cast<std::uint64_t>(a.toxic.get("bytes"));
    if (bytes > 0 && carried_now - a.bytes_at[index(d)] >= bytes) {
      SideActions rst;
      rst.client = rst.upstream = CloseAction::rst;
      begin_closing(fmt::format("closed by fault {}: reset after {} bytes {}", a.toxic.describe(), bytes, flow(d)),
                    rst, "reset_peer");
      return;
    }
  }
  std::string which = "limit_data";
  for (const ActiveToxic& a : toxics_) {
    if (a.applies && a.toxic.stream == d && a.toxic.type == ToxicType::limit_data) which = a.toxic.describe();
  }
  begin_closing(fmt::format("closed by fault {}: the {} byte limit was reached", which, flow(d)), SideActions{},
                "limit_data");
}

ActResult Session::act(const ActionRequest& request) {
  if (closing()) {
    // Ended already (a close reply awaited, or a forgotten flow held): no close to send.
    // A drain still lets go of a forgotten flow's held sockets.
    if (request.action != SessionAction::drain || !holding()) return ActResult::none;
    for (Side s : kSides) release_blackholed(s, "by a drain");
    release_if_closed();
    return ActResult::released;
  }
  SideActions actions;
  std::string what = fmt::format("closed by the API: {}", to_string(request.action));
  switch (request.action) {
    case SessionAction::rst: actions.client = actions.upstream = CloseAction::rst; break;
    case SessionAction::fin: actions.client = actions.upstream = CloseAction::fin; break;
    case SessionAction::blackhole: actions.client = actions.upstream = CloseAction::blackhole; break;
    case SessionAction::ws_close:
    case SessionAction::drain:
      // A drain is what a restarting server or proxy sends both ways: 1001 "going away".
      actions.client = actions.upstream = CloseAction::ws_close;
      actions.ws_code = request.code;
      actions.ws_reason = request.reason;
      what += fmt::format(" {}{}", request.code, request.reason.empty() ? "" : " \"" + request.reason + "\"");
      break;
    case SessionAction::reload:
      // The API refuses a reload for a profile without one; a session that kept an older
      // profile (the proxy's was changed since) may still have none: then nothing happens.
      if (!profile_->reload) return ActResult::none;
      actions = *profile_->reload;
      what += fmt::format(", as {} does to open connections on a config reload", profile_->name);
      break;
  }
  begin_closing(what, actions, fmt::format("api_{}", to_string(request.action)));
  return ActResult::acted;
}

}  // namespace dropsim
