#include "splice_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

namespace dropsim {
namespace {

/// splice(2) into a socket whose peer has gone raises SIGPIPE, and unlike send() it has
/// no MSG_NOSIGNAL: a program that leaves SIGPIPE at its default (die) would die of a peer
/// hanging up mid-transfer. So before the first pipe is lent, SIGPIPE is ignored (as
/// nginx, HAProxy and every server do) unless the program installed a handler of its
/// own; the splice then fails with EPIPE like any write. Checked whenever a pipe is made
/// (rare: pipes are reused), so a program that restores the default later is covered too.
void ignore_default_sigpipe() {
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    ::signal(SIGPIPE, SIG_IGN);
  }
}

void close_pair(int read_fd, int write_fd) {
  ::close(read_fd);
  ::close(write_fd);
}

}  // namespace

SplicePool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), read_fd_(other.read_fd_), write_fd_(other.write_fd_),
      capacity_(other.capacity_), held_(other.held_) {
  other.read_fd_ = other.write_fd_ = -1;
}

SplicePool::Lease::~Lease() {
  if (read_fd_ >= 0) pool_->give_back({read_fd_, write_fd_, capacity_}, held_ == 0);
}

SplicePool::~SplicePool() {
  for (const Fds& f : free_) close_pair(f.read_fd, f.write_fd);
}

std::optional<SplicePool::Lease> SplicePool::take() {
  if (!enabled_) return std::nullopt;
  if (!free_.empty()) {
    const Fds f = free_.back();
    free_.pop_back();
    ++in_use_;
    return Lease(*this, f.read_fd, f.write_fd, f.capacity);
  }
  if (in_use_ >= max_pipes_ || !roomy()) return std::nullopt;
  ignore_default_sigpipe();
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return std::nullopt;
  // A bigger pipe moves more per splice; when the kernel refuses (over pipe-max-size or
  // the user's pipe quota), the default size still works.
  std::size_t capacity = 64 * 1024;
  const int got = ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(capacity_));
  if (got > 0) {
    capacity = static_cast<std::size_t>(got);
  } else if (const int size = ::fcntl(fds[1], F_GETPIPE_SZ); size > 0) {
    capacity = static_cast<std::size_t>(size);
  }
  ++in_use_;
  return Lease(*this, fds[0], fds[1], capacity);
}

bool SplicePool::roomy() const {
  return !budget_ || budget_->cap() - std::min(budget_->cap(), budget_->open()) >= kHeadroom;
}

void SplicePool::give_back(Fds fds, bool empty) {
  --in_use_;
  if (empty && enabled_ && free_.size() < keep_free_ && roomy()) {
    free_.push_back(fds);
  } else {
    close_pair(fds.read_fd, fds.write_fd);
  }
}

}  // namespace dropsim
