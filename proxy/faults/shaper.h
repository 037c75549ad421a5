#pragma once
// The pure side of a pipe's faults: given one direction's DirectionFaults, a seeded RNG
// and the times it is told, which pieces a chunk is written in and when each may go.
// No sockets, no timers, no clock reads: the Pipe passes every time point in, so unit
// tests drive it with explicit instants.
//
//   chunk read at t ──latency ± jitter──► ready ──bandwidth──► pieces of rate/10 bytes,
//   (never before the previous piece)           (Toxiproxy's   each at start + bytes/rate
//                                                100 ms steps)          │
//                                       slicer: each piece cut in halves ◄┘
//                                       (Toxiproxy's recursion), `delay` apart
//
// The stages run in the order Toxiproxy's documentation chains them (latency, then
// bandwidth, then slicer): a rate-limited link adds its serialization time to the
// latency, as a real one does. Unlike Toxiproxy, a piece is never scheduled before the
// previous one, so jitter never reorders bytes and latency never caps throughput.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "clock.h"
#include "toxic.h"

namespace dropsim {

/// Part of a chunk and the earliest time it may be written.
struct Piece {
  std::size_t size = 0;  ///< bytes
  TimePoint at;          ///< not before this
  bool operator==(const Piece&) const = default;
};

/// Schedules one direction's bytes under its faults; one per DirectionFaults in force.
class Shaper {
 public:
  /// `after`: when the direction last wrote (nothing is planned before it). `admitted`:
  /// bytes already counted against `faults.limit` (a limit carried over from an earlier
  /// Shaper; 0 counts from now).
  Shaper(const DirectionFaults& faults, std::uint64_t seed, TimePoint after, std::uint64_t admitted = 0);

  /// The pieces `n` bytes read at `arrival` are written in, in order, each with its time.
  std::vector<Piece> plan(std::size_t n, TimePoint arrival);
  /// How many of the next `n` bytes the limit lets through; counts them as passed.
  std::size_t admit(std::size_t n);
  /// Bytes the limit still lets through (nullopt: no limit).
  std::optional<std::uint64_t> remaining() const;
  /// True when a limit is set and used up: the pipe ends (Toxiproxy's limit_data closes).
  bool exhausted() const { return remaining() == 0; }
  /// Bytes counted against the limit so far.
  std::uint64_t admitted() const { return admitted_; }
  /// When the source's FIN, read at `eof`, may be passed on once the last byte before it
  /// was written at `drained` (Toxiproxy's slow_close: `delay` after the FIN reached it).
  TimePoint fin_time(TimePoint eof, TimePoint drained) const;
  /// The faults this shaper applies.
  const DirectionFaults& faults() const { return faults_; }

 private:
  /// A uniform draw in [0, n) (0 when n is 0), the same on every platform for a seed.
  std::uint64_t below(std::uint64_t n);
  /// latency ± jitter: Toxiproxy's `latency + rand(2*jitter) - jitter`.
  Duration delay();
  /// Toxiproxy's slicer: the sizes `n` bytes are cut into (halving ± variation until a
  /// part is at most average + variation).
  void slice(std::size_t n, std::vector<std::size_t>& sizes);
  /// Appends one piece at `at` or later (never before the previous piece).
  void emit(std::size_t size, TimePoint at, std::vector<Piece>& out);

  DirectionFaults faults_;
  std::mt19937_64 rng_;
  TimePoint last_;  ///< the time of the last piece planned (or of the last write)
  std::uint64_t admitted_ = 0;
};

}  // namespace dropsim
