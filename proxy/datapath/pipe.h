#pragma once
// One direction of a session: bytes from `from` to `to`, unchanged. A Session runs two,
// `upstream` (client→server) and `downstream` (server→client), the same code twice.
//
//   from ──wait readable──► read into a lent chunk ──► observer's verdict ──► write to `to`
//                                                                               │ would block
//                                                   report blocked, wait writable ◄┘
//
// Backpressure is structural: the next read starts only when the last chunk is written,
// so a peer that stops reading stops the other peer's reads and a pipe never holds more
// than one chunk.
//
// With faults (set_faults: Toxiproxy's toxics for this direction) the pipe shapes instead:
//
//   from ──read──► observer ──► backlog (≤ kMaxBacklog) ──Shaper: pieces, times──► one
//     ▲  (drop: read, discard)   bytes + arrival times      timer ──► write to `to`
//     └─ hold: no reads, no writes; bytes wait in the kernel and the sender feels it
//
// It keeps reading while earlier bytes wait for their time, so latency does not cap
// throughput; a full backlog stops the reads (backpressure again). Without faults none of
// this exists: no copy, no timer, no extra syscall.
//
// When the observer does not need to see a direction's bytes (raw TCP: only their count
// and time matter), no fault applies and a read brought 16 KiB or more (a bulk transfer:
// small messages are cheaper copied), the pipe splices the rest of its turn:
//
//   from ──splice into a lent kernel pipe──► on_passed(count) ──► splice to `to`
//
// the same loop with the same backpressure (the kernel pipe is emptied before the next
// splice in), so a fault added mid-transfer finds it empty and switches to copying
// between two chunks without losing or reordering a byte.

#include <cstddef>
#include <cstdint>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "buffer_pool.h"
#include "direction.h"
#include "splice_pool.h"
#include "toxic.h"
#include "verdict.h"

namespace dropsim {

/// What a pipe tells its session as bytes move.
class PipeObserver {
 public:
  virtual ~PipeObserver() = default;
  /// Bytes were read in direction `d`: what should be written?
  virtual Verdict on_chunk(Direction d, std::span<const char> bytes) = 0;
  /// A write in `d` would block with `pending` bytes left.
  virtual void on_write_blocked(Direction d, std::size_t pending) = 0;
  /// A blocked write in `d` progressed; `pending` bytes are left (0: drained).
  virtual void on_write_progress(Direction d, std::size_t pending) = 0;
  /// Whether `d`'s bytes may pass unseen (nothing parses them, no verdict can change
  /// them): the pipe may then splice them and report only how many passed.
  virtual bool opaque(Direction /*d*/) const { return false; }
  /// `n` bytes passed unseen in `d` (spliced): what on_chunk would have counted.
  virtual void on_passed(Direction /*d*/, std::size_t /*n*/) {}
};

/// How a pipe's run() ended.
struct PipeResult {
  enum class End {
    finished,  ///< the source sent FIN (or the observer said `finish`) and every byte before it was written
    failed,    ///< a read or write failed (reset, broken pipe): see `side` and `error`
    stopped,   ///< the session cancelled or closed a socket
    cut,       ///< the observer's verdict stopped the stream (a bad frame, a refused upgrade)
    limited,   ///< the faults' limit was reached and the bytes up to it written: close
  };
  End end = End::stopped;
  Side side = Side::client;  ///< failed: the side whose socket failed
  std::error_code error;     ///< failed: why
};

/// Copies bytes one way between two sockets owned by the session.
class Pipe {
 public:
  /// Bytes read but not yet written stay below this (then the pipe stops reading).
  static constexpr std::size_t kMaxBacklog = 1024 * 1024;

  /// With `splice` (null: always copy), opaque bytes move through its kernel pipes.
  Pipe(Direction direction, asio::ip::tcp::socket& from, asio::ip::tcp::socket& to,
       BufferPool& pool, PipeObserver& observer, SplicePool* splice = nullptr);
  ~Pipe();

  /// Moves bytes until the source finishes, a socket fails, the session stops it, or the
  /// faults' limit is reached.
  asio::awaitable<PipeResult> run();
  /// Applies `faults` from now on, also while run() waits: hold stops reads and writes
  /// after the write in progress, releasing it wakes the pipe, drop discards the bytes
  /// not yet written, a new limit counts from here (the same limit keeps counting), bytes
  /// waiting are scheduled again under the new faults. The same faults again change
  /// nothing. `seed` makes jitter and slice sizes reproducible.
  void set_faults(const DirectionFaults& faults, std::uint64_t seed);
  /// The faults in force.
  const DirectionFaults& faults() const;
  /// Bytes read but not yet written (0 without faults): a close frame must wait for them.
  std::size_t backlog() const;
  /// The session decided that this direction is over (an expiry, an action, a fault, a
  /// drain, the other side failing): from its next resumption on, run() neither reads nor
  /// writes another byte and returns `stopped`. Call it before closing or cancelling the
  /// sockets, which is what wakes a run() waiting on them; a shaped pipe's timer is
  /// cancelled here. Every way a session ends goes through this one flag, checked after
  /// every suspension point of run(), so a pipe that was parked in a yield, a wait or a
  /// partial write cannot touch a socket that was closed, blackholed or sent its close
  /// frame.
  void stop();
  /// stop() was called.
  bool stopped() const { return stopped_; }
  /// Undoes stop() once run() has returned: the session carries this direction again (a
  /// kept-alive client's next exchange), and run() may be called anew.
  void resume() { stopped_ = false; }
  /// Which way this pipe moves bytes.
  Direction direction() const { return direction_; }
  /// Bytes written to the destination so far.
  std::uint64_t written() const { return written_; }

 private:
  struct Shaping;

  /// The faulted loop: true when the pipe ends (the result in shaping_), false when the
  /// faults are gone and the backlog written (shaping_ freed: the plain loop goes on).
  asio::awaitable<bool> run_shaped();
  /// The source is readable: reads and writes while bytes keep coming (splicing a bulk
  /// transfer), for one turn; nothing when the pipe should wait again, else how it ends.
  asio::awaitable<std::optional<PipeResult>> move_bytes();
  /// Splices through `pipe` while bytes keep coming (run()'s copy loop without the
  /// copy): nothing when the source is drained or the bytes need seeing again, else how
  /// the pipe ends.
  asio::awaitable<std::optional<PipeResult>> splice_turn(SplicePool::Lease& pipe);
  /// Writes all of [data, data+n) to `to_`; returns the error that stopped it, if any.
  asio::awaitable<std::error_code> write_all(const char* data, std::size_t n);
  /// Splices all `n` bytes `pipe` holds to `to_`; returns the error that stopped it.
  asio::awaitable<std::error_code> splice_all(SplicePool::Lease& pipe, std::size_t n);
  /// write_all's loop: `write_some(want, ec)` writes at most `want` of the `n` bytes left
  /// and returns how many it wrote; it waits while `to_` is full and tells the observer.
  template <class WriteSome>
  asio::awaitable<std::error_code> deliver(std::size_t n, WriteSome write_some);
  /// Whether the turn that began at `turn` still has budget left (one clock read).
  static bool within_turn(std::chrono::steady_clock::time_point turn);
  /// The turn's budget is spent: yields the thread and starts a new turn in `turn`;
  /// false when the pipe must leave its loop (stopped, or faults arrived).
  asio::awaitable<bool> next_turn(std::chrono::steady_clock::time_point& turn);
  /// One non-blocking write of `out` to `to_`, counted in written_: how much it took
  /// (less when the socket is full, then `ec` is clear); `ec` set on a real failure.
  std::size_t write_now(std::string_view out, std::error_code& ec);
  /// One non-blocking read of at most `cap` bytes (0: a peek) into the backlog; false
  /// when there was nothing to read. Records in `s` how the source or the pipe ended.
  bool read_once(Shaping& s, std::size_t cap);
  /// The result for a read that failed (EOF: finished; closed by the session: stopped).
  PipeResult read_failed(const std::error_code& ec) const;
  /// The result for a failed write: stopped when the session closed `to_`.
  PipeResult write_failed(const std::error_code& ec) const;

  Direction direction_;
  asio::ip::tcp::socket& from_;
  asio::ip::tcp::socket& to_;
  BufferPool& pool_;
  PipeObserver& observer_;
  SplicePool* splice_;
  /// The faults (in its Shaper), backlog and timer, while faults apply or bytes they
  /// delayed still wait: an idle pipe without faults pays one pointer for them.
  std::unique_ptr<Shaping> shaping_;
  std::uint64_t written_ = 0;
  bool stopped_ = false;
};

}  // namespace dropsim
