// WorkerPool and run_on: the threads sessions run on (`run --threads`), and the one way
// the control thread asks them something.

#include "worker_pool.h"

#include <memory>
#include <set>
#include <stdexcept>
#include <thread>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <gtest/gtest.h>

namespace dropsim {
namespace {

TEST(WorkerPool, NoneWhenAskedForNone) {
  WorkerPool pool(0);
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_TRUE(pool.contexts().empty());
}

TEST(WorkerPool, EachWorkerIsItsOwnThread) {
  WorkerPool pool(3);
  ASSERT_EQ(pool.contexts().size(), 3u);
  std::set<std::thread::id> threads;
  for (asio::io_context* io : pool.contexts()) {
    threads.insert(run_on(*io, [] { return std::this_thread::get_id(); }));
  }
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST(RunOn, ReturnsWhatTheWorkerComputedAndRethrowsWhatItThrew) {
  WorkerPool pool(1);
  asio::io_context& io = *pool.contexts().front();
  int touched = 0;
  EXPECT_EQ(run_on(io, [&] { return ++touched * 7; }), 7);
  run_on(io, [&] { ++touched; });  // void works too, and it has run when run_on returns
  EXPECT_EQ(touched, 2);
  EXPECT_THROW(run_on(io, []() -> int { throw std::invalid_argument("no"); }), std::invalid_argument);
}

TEST(RunOn, OnItsOwnThreadItRunsAtOnceRatherThanWaitingForItself) {
  WorkerPool pool(1);
  asio::io_context& io = *pool.contexts().front();
  // Posting and waiting from the worker itself would wait forever.
  EXPECT_EQ(run_on(io, [&] { return run_on(io, [] { return 42; }); }), 42);
  // A loop that is not running: the caller is its thread by contract, so no wait either.
  asio::io_context idle;
  bool ran = false;
  asio::post(idle, [&] { EXPECT_EQ(run_on(idle, [] { return 1; }), 1); ran = true; });
  idle.run();
  EXPECT_TRUE(ran);
}

TEST(WorkerPool, StopsWithWorkStillPending) {
  // A timer an hour away, owned by its handler: what a live session's watchdog looks like
  // at exit. The pool joins without waiting for it, and destroys it unfired.
  auto pool = std::make_unique<WorkerPool>(2);
  asio::io_context& io = *pool->contexts().front();
  auto fired = std::make_shared<bool>(false);
  std::weak_ptr<asio::steady_timer> watch;
  run_on(io, [&] {
    auto t = std::make_shared<asio::steady_timer>(io, std::chrono::hours(1));
    watch = t;
    t->async_wait([t, fired](const std::error_code& ec) { *fired = !ec; });
  });
  pool.reset();
  EXPECT_FALSE(*fired);
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace dropsim
