#pragma once
// The pure heart of dropsim: given the profile, what the session has seen, and `now`,
// when is the next deadline and which timer has fired. No sockets, no real timers, no
// clock reads: callers pass `now`, so unit tests drive it with a ManualClock.
//
//   Pipe ──bytes/FIN/blocked──► Policy ──next_deadline()──► Session's one watchdog timer
//                                  └──expired(now)──► Expiry {timer, actions}
//
// Activity only moves deadlines later, so the watchdog never re-arms per chunk: it wakes
// at the deadline it last saw, asks again, and sleeps until the real one (STYLE.md).

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clock.h"
#include "direction.h"
#include "profile.h"

namespace dropsim {

/// How often one kind of WebSocket frame passed one way.
struct FrameStats {
  std::uint64_t count = 0;           ///< frames (data: messages, i.e. frames with FIN)
  std::optional<TimePoint> first;    ///< when the first one completed
  std::optional<TimePoint> last;     ///< when the last one completed

  /// The mean interval between them; nullopt with fewer than two.
  std::optional<Duration> interval() const;
};

/// What one direction has carried so far.
struct DirectionActivity {
  std::uint64_t bytes = 0;               ///< bytes read from the source
  std::uint64_t chunks = 0;              ///< reads that returned data
  std::optional<TimePoint> last_byte;    ///< when data last arrived
  std::optional<TimePoint> finished_at;  ///< when the source sent FIN
  std::optional<TimePoint> blocked_since;  ///< a write is pending with no progress since
  std::uint64_t pending_bytes = 0;         ///< bytes waiting for the destination to take them
  /// WebSocket frames, indexed by FrameKind; made at the first one, so that a session that
  /// never carries a frame (tcp, plain HTTP, or still idle) pays a pointer, not 160 B.
  std::unique_ptr<std::array<FrameStats, 4>> frames;
  /// TCP keepalive probes from this direction's source (count, and their dates as
  /// on_keepalive_sample dates them); made at the first one, as `frames`.
  std::unique_ptr<FrameStats> keepalives;
  std::optional<std::uint16_t> close_code;  ///< the code of the close frame this way (0: none in it)
  std::string close_reason;                 ///< its reason

  /// Stats for frames of kind `k` (all zero before the first frame).
  const FrameStats& of(FrameKind k) const;
  /// Stats for TCP keepalive probes (all zero before the first one).
  const FrameStats& probes() const;
};

/// A timer that fired.
struct Expiry {
  const TimerSpec* timer = nullptr;  ///< the profile's timer (owned by the Profile)
  TimePoint deadline;                ///< when it was due
  Duration idle{0};  ///< idle timers: time since the last traffic that counted for it
};

/// How often a session reads the keepalive counters of a timer with `timeout`: an eighth
/// of it, so that a probe is dated within a sixteenth (6 %) of when it came; at an NLB's
/// 350 s, one getsockopt per socket every 44 s.
Duration keepalive_interval(Duration timeout);

/// Per-session timer state: a pure function of the profile and the events fed to it.
class Policy {
 public:
  /// `profile` must outlive the Policy.
  Policy(const Profile& profile, TimePoint opened_at);

  /// `n` bytes arrived in direction `d` at `now`. `frame_kinds` is the mask (bit(FrameKind))
  /// of WebSocket frames those bytes belong to; 0 for bytes that are not frames (HTTP,
  /// tcp mode), which reset every idle timer of the direction.
  void on_bytes(Direction d, std::uint64_t n, TimePoint now, std::uint8_t frame_kinds = 0);
  /// A WebSocket frame of kind `k` completed in `d` (data: count a message when `fin`).
  void on_frame(Direction d, FrameKind k, bool fin, TimePoint now);
  /// A close frame passed in `d` with `code` (0: none) and `reason`.
  void on_close_frame(Direction d, std::uint16_t code, std::string_view reason);
  /// The source of direction `d` sent FIN at `now`.
  void on_finished(Direction d, TimePoint now);
  /// A write in `d` could not complete at once; `pending` bytes wait.
  void on_write_blocked(Direction d, std::uint64_t pending, TimePoint now);
  /// A blocked write in `d` made progress; `pending` bytes still wait (0: drained).
  void on_write_progress(Direction d, std::uint64_t pending, TimePoint now);

  /// The kernel's counters of the socket that is the source of `d` were read at `now`, and
  /// `probes` TCP keepalive probes arrived since the previous reading (the first reading,
  /// at the open, reports 0). No counter dates a probe (tcp_counters.h), so they count as
  /// traffic at the middle of (previous reading, now] for every idle timer that has
  /// `keepalive` in reset_on and `d` in reset_by; the readings are at most
  /// keepalive_interval() apart, so that date is within half of that of the real one.
  void on_keepalive_sample(Direction d, std::uint64_t probes, TimePoint now);
  /// When the session should next read the counters of `d`'s source: nullopt when no
  /// running idle timer counts keepalives from it. A timer that is about to fire needs a
  /// reading too (see needs_keepalive_sample).
  std::optional<TimePoint> next_keepalive_sample(Direction d) const;
  /// True when `d`'s counters must be read before acting at `now`: a reading is due, or a
  /// timer that counts keepalives from `d` has expired (a probe since the last reading
  /// would keep it alive).
  bool needs_keepalive_sample(Direction d, TimePoint now) const;
  /// True when an idle timer of the profile counts keepalives from `d` (running or not).
  bool counts_keepalives(Direction d) const;
  /// True when timer `t` is idle, has a timeout, and counts keepalives from `d`.
  static bool counts_keepalives(const TimerSpec& t, Direction d);

  /// `timer` fired without ending the session (a half_close): it will not fire again.
  void on_fired(const TimerSpec& timer);

  /// The earliest deadline among the timers that run now; nullopt when none does.
  std::optional<TimePoint> next_deadline() const;
  /// The timer with the earliest deadline at or before `now`, if any.
  std::optional<Expiry> expired(TimePoint now) const;
  /// The deadline of the profile's i-th timer; nullopt when it does not run now.
  std::optional<TimePoint> deadline(std::size_t i) const;

  /// What direction `d` has carried.
  const DirectionActivity& activity(Direction d) const { return activity_[index(d)]; }
  /// When the session opened.
  TimePoint opened_at() const { return opened_at_; }
  /// Time since the last byte in `d` (or since the session opened).
  Duration idle(Direction d, TimePoint now) const;
  /// Time since the last byte in any direction of `set` (or since the session opened).
  Duration idle(DirectionSet set, TimePoint now) const;
  /// True when both directions have finished.
  bool both_finished() const;

 private:
  /// True when timer `t` runs in the session's current phase.
  bool runs_now(const TimerSpec& t) const;
  /// Moves an idle timer's deadline to `now + timeout`, nginx-style lazily.
  void rearm(std::size_t i, TimePoint now);

  const Profile& profile_;
  TimePoint opened_at_;
  std::array<DirectionActivity, 2> activity_{};
  /// Idle timers only: the deadline as last armed (lazy re-arm keeps it put).
  std::vector<std::optional<TimePoint>> armed_;
  /// Idle timers only: the last traffic that counted for it (what "idle for" is measured from).
  std::vector<TimePoint> last_reset_;
  /// Timers that fired without ending the session; they stay quiet from then on.
  std::vector<bool> fired_;
  /// When each direction's source's counters were last read (on_keepalive_sample).
  std::array<TimePoint, 2> sampled_{};
};

}  // namespace dropsim
