// The kernel-pipe pool: lent while bytes are in flight, reused only empty, bounded, and
// off for good once disabled. Real pipes, no sockets, no waiting.

#include "splice_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string_view>

namespace dropsim {
namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

TEST(SplicePoolTest, LendsANonBlockingPipeOfAtLeastTheDefaultSize) {
  SplicePool pool;
  auto lease = pool.take();
  ASSERT_TRUE(lease);
  EXPECT_GE(lease->capacity(), 64u * 1024);
  EXPECT_TRUE(::fcntl(lease->read_fd(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(lease->write_fd(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(lease->read_fd(), F_GETFD) & FD_CLOEXEC);
  // A reader of an empty pipe does not block.
  char c;
  EXPECT_EQ(::read(lease->read_fd(), &c, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(pool.in_use(), 1u);
}

/// SIGPIPE's disposition now.
void (*sigpipe_handler())(int) {
  struct sigaction current {};
  ::sigaction(SIGPIPE, nullptr, &current);
  return current.sa_handler;
}

void count_sigpipe(int) {}

TEST(SplicePoolTest, MakingAPipeIgnoresADefaultSigpipeButKeepsAProgramsHandler) {
  // splice(2) has no MSG_NOSIGNAL: at SIGPIPE's default a peer hanging up would kill us.
  ::signal(SIGPIPE, SIG_DFL);
  {
    SplicePool pool;
    ASSERT_TRUE(pool.take());
  }
  EXPECT_EQ(sigpipe_handler(), SIG_IGN);
  ::signal(SIGPIPE, count_sigpipe);
  {
    SplicePool pool;
    ASSERT_TRUE(pool.take());
  }
  EXPECT_EQ(sigpipe_handler(), &count_sigpipe);
  ::signal(SIGPIPE, SIG_IGN);
}

TEST(SplicePoolTest, AnEmptyPipeIsReused) {
  SplicePool pool;
  int read_fd = -1;
  {
    auto lease = pool.take();
    ASSERT_TRUE(lease);
    read_fd = lease->read_fd();
    ASSERT_EQ(::write(lease->write_fd(), "abc", 3), 3);
    lease->filled(3);
    char buf[3];
    ASSERT_EQ(::read(lease->read_fd(), buf, 3), 3);
    lease->drained(3);
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.free_count(), 1u);
  auto again = pool.take();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->read_fd(), read_fd);
}

TEST(SplicePoolTest, APipeStillHoldingBytesIsClosedNotReused) {
  SplicePool pool;
  int read_fd = -1;
  int write_fd = -1;
  {
    auto lease = pool.take();
    ASSERT_TRUE(lease);
    read_fd = lease->read_fd();
    write_fd = lease->write_fd();
    ASSERT_EQ(::write(write_fd, "left", 4), 4);
    lease->filled(4);
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.free_count(), 0u);
  EXPECT_FALSE(is_open(read_fd));
  EXPECT_FALSE(is_open(write_fd));
}

TEST(SplicePoolTest, KeepsAtMostKeepFreeAndClosesTheRest) {
  SplicePool pool(SplicePool::kDefaultCapacity, 1);
  int first_fd = -1;
  int second_fd = -1;
  {
    auto a = pool.take();
    auto b = pool.take();
    ASSERT_TRUE(a && b);
    first_fd = a->read_fd();
    second_fd = b->read_fd();
    EXPECT_EQ(pool.in_use(), 2u);
  }  // b comes back first and is kept; a finds the free list full
  EXPECT_EQ(pool.free_count(), 1u);
  EXPECT_TRUE(is_open(second_fd));
  EXPECT_FALSE(is_open(first_fd));
}

TEST(SplicePoolTest, MakesNoMoreThanMaxPipes) {
  SplicePool pool(SplicePool::kDefaultCapacity, 2, 2);
  auto a = pool.take();
  auto b = pool.take();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(pool.take());  // the caller copies
  a.reset();
  EXPECT_TRUE(pool.take());  // the free one again
}

TEST(SplicePoolTest, LeavesTheSessionBudgetsLastFreeSlotsAlone) {
  auto budget = std::make_shared<SessionBudget>(SplicePool::kHeadroom + 1);
  SplicePool pool;
  pool.set_budget(budget);
  auto lent = pool.take();
  ASSERT_TRUE(lent);  // kHeadroom + 1 slots free
  budget->take();     // a session: kHeadroom free, still enough
  auto second = pool.take();
  ASSERT_TRUE(second);
  budget->take();     // kHeadroom - 1 free: no new pipe, and none kept
  EXPECT_FALSE(pool.take());
  lent.reset();
  EXPECT_EQ(pool.free_count(), 0u);
  budget->give_back();
  second.reset();
  EXPECT_EQ(pool.free_count(), 1u);
}

TEST(SplicePoolTest, ADisabledPoolLendsNothingAndClosesWhatComesBack) {
  SplicePool pool;
  auto lease = pool.take();
  ASSERT_TRUE(lease);
  const int fd = lease->read_fd();
  pool.disable();
  EXPECT_FALSE(pool.enabled());
  EXPECT_FALSE(pool.take());
  lease.reset();
  EXPECT_EQ(pool.free_count(), 0u);
  EXPECT_FALSE(is_open(fd));
}

TEST(SplicePoolTest, AMovedLeaseReturnsThePipeOnce) {
  SplicePool pool;
  {
    auto lease = pool.take();
    ASSERT_TRUE(lease);
    SplicePool::Lease moved(std::move(*lease));
    lease.reset();
    EXPECT_EQ(pool.in_use(), 1u);  // the moved-from lease gave nothing back
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.free_count(), 1u);
}

}  // namespace
}  // namespace dropsim
