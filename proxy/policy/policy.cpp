#include "policy.h"

#include <algorithm>

namespace dropsim {

Policy::Policy(const Profile& profile, TimePoint opened_at)
    : profile_(profile),
      opened_at_(opened_at),
      armed_(profile.timers.size()),
      last_reset_(profile.timers.size(), opened_at),
      fired_(profile.timers.size(), false),
      sampled_{opened_at, opened_at} {
  // Idle timers start counting at the connection's open, as if the open were traffic.
  for (std::size_t i = 0; i < profile_.timers.size(); ++i) {
    const TimerSpec& t = profile_.timers[i];
    if (t.kind == TimerKind::idle && t.timeout) armed_[i] = opened_at + *t.timeout;
  }
}

void Policy::rearm(std::size_t i, TimePoint now) {
  const TimerSpec& t = profile_.timers[i];
  if (!t.timeout) return;
  const TimePoint wanted = now + *t.timeout;
  // nginx's ngx_add_timer() leaves a timer alone when the new deadline is within
  // NGX_TIMER_LAZY_DELAY (300 ms) of the old one: the real idle time is in (T-300ms, T].
  if (armed_[i] && t.rearm_granularity.count() > 0) {
    const Duration shift = wanted > *armed_[i] ? wanted - *armed_[i] : *armed_[i] - wanted;
    if (shift < t.rearm_granularity) return;
  }
  armed_[i] = wanted;
}

namespace {
const FrameStats kNone;
}  // namespace

const FrameStats& DirectionActivity::of(FrameKind k) const {
  return frames ? (*frames)[static_cast<std::size_t>(k)] : kNone;
}

const FrameStats& DirectionActivity::probes() const { return keepalives ? *keepalives : kNone; }

Duration keepalive_interval(Duration timeout) { return std::max(timeout / 8, Duration{std::chrono::milliseconds(1)}); }

bool Policy::counts_keepalives(const TimerSpec& t, Direction d) {
  return t.kind == TimerKind::idle && t.timeout && t.reset_by.contains(d) && t.reset_on.keepalive;
}

bool Policy::counts_keepalives(Direction d) const {
  return std::any_of(profile_.timers.begin(), profile_.timers.end(),
                     [d](const TimerSpec& t) { return counts_keepalives(t, d); });
}

void Policy::on_keepalive_sample(Direction d, std::uint64_t probes, TimePoint now) {
  const TimePoint since = sampled_[index(d)];
  sampled_[index(d)] = now;
  if (probes == 0) return;
  const TimePoint at = since + (now - since) / 2;
  DirectionActivity& a = activity_[index(d)];
  if (!a.keepalives) a.keepalives = std::make_unique<FrameStats>();
  FrameStats& k = *a.keepalives;
  k.count += probes;
  if (!k.first) k.first = at;
  k.last = at;
  for (std::size_t i = 0; i < profile_.timers.size(); ++i) {
    // Data that came after the probe's date already moved the timer further.
    if (counts_keepalives(profile_.timers[i], d) && at > last_reset_[i]) {
      last_reset_[i] = at;
      rearm(i, at);
    }
  }
}

std::optional<TimePoint> Policy::next_keepalive_sample(Direction d) const {
  std::optional<Duration> every;
  for (std::size_t i = 0; i < profile_.timers.size(); ++i) {
    const TimerSpec& t = profile_.timers[i];
    if (!counts_keepalives(t, d) || !deadline(i)) continue;
    const Duration e = keepalive_interval(*t.timeout);
    if (!every || e < *every) every = e;
  }
  if (!every) return std::nullopt;
  return sampled_[index(d)] + *every;
}

bool Policy::needs_keepalive_sample(Direction d, TimePoint now) const {
  const auto next = next_keepalive_sample(d);
  if (!next) return false;
  if (*next <= now) return true;
  for (std::size_t i = 0; i < profile_.timers.size(); ++i) {
    const auto due = deadline(i);
    if (due && *due <= now && counts_keepalives(profile_.timers[i], d)) return true;
  }
  return false;
}

std::optional<Duration> FrameStats::interval() const {
  if (count < 2 || !first || !last) return std::nullopt;
  return (*last - *first) / static_cast<std::int64_t>(count - 1);
}

void Policy::on_bytes(Direction d, std::uint64_t n, TimePoint now, std::uint8_t frame_kinds) {
  DirectionActivity& a = activity_[index(d)];
  a.bytes += n;
  ++a.chunks;
  a.last_byte = now;
  for (std::size_t i = 0; i < profile_.timers.size(); ++i) {
    const TimerSpec& t = profile_.timers[i];
    if (t.kind == TimerKind::idle && t.reset_by.contains(d) && t.reset_on.counts(frame_kinds)) {
      last_reset_[i] = now;
      rearm(i, now);
    }
  }
}

void Policy::on_frame(Direction d, FrameKind k, bool fin, TimePoint now) {
  if (k == FrameKind::data && !fin) return;  // a message counts once, at its last frame
  auto& frames = activity_[index(d)].frames;
  if (!frames) frames = std::make_unique<std::array<FrameStats, 4>>();
  FrameStats& f = (*frames)[static_cast<std::size_t>(k)];
  ++f.count;
  if (!f.first) f.first = now;
  f.last = now;
}

void Policy::on_close_frame(Direction d, std::uint16_t code, std::string_view reason) {
  DirectionActivity& a = activity_[index(d)];
  a.close_code = code;
  a.close_reason = std::string(reason);
}

void Policy::on_finished(Direction d, TimePoint now) {
  std::vector<bool> ran(profile_.timers.size());
  for (std::size_t i = 0; i < ran.size(); ++i) ran[i] = runs_now(profile_.timers[i]);
  activity_[index(d)].finished_at = now;
  // A timer that starts running with this half-close (HAProxy's client-fin / server-fin)
  // counts its idle time from the FIN.
  for (std::size_t i = 0; i < ran.size(); ++i) {
    const TimerSpec& t = profile_.timers[i];
    if (!ran[i] && runs_now(t) && t.kind == TimerKind::idle && t.timeout) {
      armed_[i] = now + *t.timeout;
      last_reset_[i] = now;
    }
  }
}

void Policy::on_write_blocked(Direction d, std::uint64_t pending, TimePoint now) {
  DirectionActivity& a = activity_[index(d)];
  if (!a.blocked_since) a.blocked_since = now;
  a.pending_bytes = pending;
}

void Policy::on_write_progress(Direction d, std::uint64_t pending, TimePoint now) {
  DirectionActivity& a = activity_[index(d)];
  a.pending_bytes = pending;
  if (pending == 0) {
    a.blocked_since.reset();
    // A timer paused by this blocked write starts again from a full timeout, as nginx
    // re-adds a deleted timer (not lazily: there is no old deadline to compare with).
    for (std::size_t i = 0; i < profile_.timers.size(); ++i) {
      const TimerSpec& t = profile_.timers[i];
      if (t.kind == TimerKind::idle && t.timeout && t.paused_while_blocked == d) {
        armed_[i] = now + *t.timeout;
        last_reset_[i] = now;
      }
    }
  } else {
    a.blocked_since = now;
  }
}

void Policy::on_fired(const TimerSpec& timer) {
  for (std::size_t i = 0; i < profile_.timers.size(); ++i) {
    if (&profile_.timers[i] == &timer) fired_[i] = true;
  }
}

bool Policy::both_finished() const {
  return activity_[0].finished_at.has_value() && activity_[1].finished_at.has_value();
}

bool Policy::runs_now(const TimerSpec& t) const {
  const bool up = activity_[index(Direction::upstream)].finished_at.has_value();
  const bool down = activity_[index(Direction::downstream)].finished_at.has_value();
  if (up && down) return false;
  if (up) return t.phases.upstream_finished;
  if (down) return t.phases.downstream_finished;
  return t.phases.open;
}

std::optional<TimePoint> Policy::deadline(std::size_t i) const {
  const TimerSpec& t = profile_.timers[i];
  if (!t.timeout || !runs_now(t) || fired_[i]) return std::nullopt;
  switch (t.kind) {
    case TimerKind::idle:
      if (t.paused_while_blocked && activity_[index(*t.paused_while_blocked)].blocked_since) return std::nullopt;
      return armed_[i];
    case TimerKind::blocked_write: {
      const auto& since = activity_[index(t.direction)].blocked_since;
      if (!since) return std::nullopt;
      return *since + *t.timeout;
    }
    case TimerKind::lifetime:
      return opened_at_ + *t.timeout;
  }
  return std::nullopt;
}

std::optional<TimePoint> Policy::next_deadline() const {
  std::optional<TimePoint> best;
  for (std::size_t i = 0; i < profile_.timers.size(); ++i) {
    const auto d = deadline(i);
    if (d && (!best || *d < *best)) best = d;
  }
  return best;
}

std::optional<Expiry> Policy::expired(TimePoint now) const {
  std::optional<Expiry> best;
  for (std::size_t i = 0; i < profile_.timers.size(); ++i) {
    const auto d = deadline(i);
    if (!d || *d > now) continue;
    if (best && best->deadline <= *d) continue;
    const TimerSpec& t = profile_.timers[i];
    best = Expiry{&t, *d, t.kind == TimerKind::idle ? now - last_reset_[i] : Duration{0}};
  }
  return best;
}

Duration Policy::idle(Direction d, TimePoint now) const {
  const auto& last = activity_[index(d)].last_byte;
  return now - (last ? *last : opened_at_);
}

Duration Policy::idle(DirectionSet set, TimePoint now) const {
  TimePoint latest = opened_at_;
  for (Direction d : kDirections) {
    const auto& last = activity_[index(d)].last_byte;
    if (set.contains(d) && last) latest = std::max(latest, *last);
  }
  return now - latest;
}

}  // namespace dropsim
