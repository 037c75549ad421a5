#pragma once
// Kernel pipes for splice(2), lent only while bytes are in flight, like BufferPool's
// chunks. A raw TCP direction with nothing to inspect and no fault moves its bytes
// socket → kernel pipe → socket and never copies them into user space (HAProxy's
// splicing, `option splice-auto`): on loopback that roughly halves the copying per byte.
// Only a bulk transfer is worth it (a 64 B message costs two splices where a read and a
// write do), so a pipe is lent only once a read brings 16 KiB or more. An idle session holds no pipe; a pipe goes back to the pool only
// empty, and one still holding bytes (the session ended mid-transfer) is closed, so a
// later session never receives another's bytes.
//
// A pipe costs two descriptors, which the session capacity (SessionBudget: two per
// session after a reserve) does not count on: a pool holds at most kMaxPipes, and lends
// a new one only while kHeadroom session slots (twice as many descriptors) are free, so
// near the descriptor limit it copies rather than take what sessions and the control API
// were promised. Single-threaded, like BufferPool.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "session_budget.h"

namespace dropsim {

/// A free list of kernel pipes (non-blocking, close-on-exec).
class SplicePool {
 public:
  /// Bytes a pipe holds: asked of the kernel with F_SETPIPE_SZ (it may give less, up to
  /// /proc/sys/fs/pipe-max-size, or keep its 64 KiB default).
  static constexpr std::size_t kDefaultCapacity = 256 * 1024;
  /// Pipes a pool holds at most, lent and free (two descriptors each).
  static constexpr std::size_t kMaxPipes = 16;
  /// Free session slots below which no new pipe is made and none is kept.
  static constexpr std::size_t kHeadroom = 64;

  /// One pipe on loan. The borrower records what it put in and took out, so that the
  /// lease knows whether the pipe is empty when it ends.
  class Lease {
   public:
    Lease(SplicePool& pool, int read_fd, int write_fd, std::size_t capacity)
        : pool_(&pool), read_fd_(read_fd), write_fd_(write_fd), capacity_(capacity) {}
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    int read_fd() const { return read_fd_; }     ///< splice from here to the destination
    int write_fd() const { return write_fd_; }   ///< splice from the source to here
    std::size_t capacity() const { return capacity_; }  ///< at most this many bytes fit
    void filled(std::size_t n) { held_ += n; }   ///< n bytes were spliced in
    void drained(std::size_t n) { held_ -= n; }  ///< n bytes were spliced out
    std::size_t held() const { return held_; }   ///< bytes in the pipe now

   private:
    SplicePool* pool_;
    int read_fd_;
    int write_fd_;
    std::size_t capacity_;
    std::size_t held_ = 0;
  };

  /// `keep_free` bounds the pipes kept for reuse, `max_pipes` those open at all.
  explicit SplicePool(std::size_t capacity = kDefaultCapacity, std::size_t keep_free = kMaxPipes,
                      std::size_t max_pipes = kMaxPipes)
      : capacity_(capacity), keep_free_(keep_free), max_pipes_(max_pipes) {}
  SplicePool(const SplicePool&) = delete;
  SplicePool& operator=(const SplicePool&) = delete;
  ~SplicePool();

  /// Lends a pipe; nothing when splicing is off or the system refuses a pipe (out of
  /// descriptors): the caller copies instead.
  std::optional<Lease> take();
  /// At most `max_pipes` open (and kept): a proxy's shards share kMaxPipes.
  void limit(std::size_t max_pipes) {
    max_pipes_ = max_pipes;
    keep_free_ = std::min(keep_free_, max_pipes);
  }
  /// Splicing stops for good (the kernel refused splice on these sockets, or the user
  /// asked for copying): take() lends nothing from now on.
  void disable() { enabled_ = false; }
  /// take() may lend a pipe.
  bool enabled() const { return enabled_; }
  /// The process's session budget (null: none), whose free slots the pool leaves alone.
  void set_budget(std::shared_ptr<const SessionBudget> budget) { budget_ = std::move(budget); }
  /// Pipes currently lent out.
  std::size_t in_use() const { return in_use_; }
  /// Pipes waiting for reuse.
  std::size_t free_count() const { return free_.size(); }

 private:
  struct Fds {
    int read_fd;
    int write_fd;
    std::size_t capacity;
  };
  void give_back(Fds fds, bool empty);
  /// The budget, if any, has at least kHeadroom free session slots.
  bool roomy() const;

  std::size_t capacity_;
  std::size_t keep_free_;
  std::size_t max_pipes_;
  std::shared_ptr<const SessionBudget> budget_;
  bool enabled_ = true;
  std::size_t in_use_ = 0;
  std::vector<Fds> free_;
};

}  // namespace dropsim
