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

#include <cstddef>
#include <span>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "buffer_pool.h"
#include "direction.h"
#include "inspector.h"
#include "toxic.h"

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
};

/// How a pipe's run() ended.
struct PipeResult {
  enum class End {
    finished,  ///< the source sent FIN and every byte before it was written
    failed,    ///< a read or write failed (reset, broken pipe): see `side` and `error`
    stopped,   ///< the session cancelled or closed a socket
    cut,       ///< the observer's verdict stopped the stream (a bad frame, a refused upgrade)
    limited,   ///< the faults' byte limit was reached (limit_data)
  };
  End end = End::stopped;
  Side side = Side::client;  ///< failed: the side whose socket failed
  std::error_code error;     ///< failed: why
};

/// Copies bytes one way between two sockets owned by the session.
class Pipe {
 public:
  Pipe(Direction direction, asio::ip::tcp::socket& from, asio::ip::tcp::socket& to,
       BufferPool& pool, PipeObserver& observer);

  /// Moves bytes until the source finishes, a socket fails, or the session stops it.
  asio::awaitable<PipeResult> run();
  /// Faults to apply from now on (placeholder until the shaping pipe lands).
  void set_faults(const DirectionFaults& faults, std::uint64_t seed) { (void)faults; (void)seed; }
  /// Which way this pipe moves bytes.
  Direction direction() const { return direction_; }

 private:
  /// Writes all of [data, data+n) to `to_`; returns the error that stopped it, if any.
  asio::awaitable<std::error_code> write_all(const char* data, std::size_t n);

  Direction direction_;
  asio::ip::tcp::socket& from_;
  asio::ip::tcp::socket& to_;
  BufferPool& pool_;
  PipeObserver& observer_;
};

}  // namespace dropsim
