#pragma once
// The threads sessions run on (`run --threads N`): one io_context each, so that a session,
// its sockets, timers and pipes stay on one thread and need no lock, as Envoy's workers and
// nginx's worker processes do. The control thread (listeners, the API, the Runtime) hands
// each accepted client to a worker and asks workers about their sessions with run_on().
//
//   control thread: acceptors, API, Runtime ──hand-off──► worker 1: sessions C1, C3, ...
//                          │                 └──────────► worker 2: sessions C2, C4, ...
//                          └── run_on(worker, f): f runs there, the caller waits for its result
//
// Only the control thread waits on a worker, never a worker on anyone: no call can deadlock.

#include <cstddef>
#include <exception>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

namespace dropsim {

/// `threads` io_contexts, each run by its own thread until the pool is destroyed.
class WorkerPool {
 public:
  /// Starts `threads` workers (0: none; sessions then run on the caller's io_context).
  explicit WorkerPool(std::size_t threads);
  /// Stops every worker and joins it; what is still queued on a worker is destroyed, on
  /// this thread. Destroy whatever posts to the workers (the Runtime) first, and the
  /// io_context the listeners accept on too: a pending accept holds a worker's socket.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// The workers' io_contexts, in order (what ProxyOptions and RuntimeOptions take).
  std::vector<asio::io_context*> contexts() const;
  std::size_t size() const { return workers_.size(); }

 private:
  struct Worker {
    asio::io_context io{1};  // one thread runs it: Asio may skip its locks
    asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
    std::thread thread;
  };
  std::vector<std::unique_ptr<Worker>> workers_;
};

/// Descriptors a worker holds (its io_context's epoll, eventfd and timerfd), made when
/// the pool starts: the session capacity keeps them back.
inline constexpr std::size_t kDescriptorsPerWorker = 3;

/// The most `run --threads` takes: more threads than this would only cost memory.
inline constexpr std::size_t kMaxThreads = 256;

/// The cores of this machine (at least 1): `run --threads`'s default.
std::size_t default_threads();

/// Runs `f` on `io`'s thread and returns what it returns (or throws what it throws). Called
/// on that thread, it runs `f` at once; else it posts `f` and blocks until it ran, so `io`
/// must be running (a worker of a live WorkerPool).
template <class F>
auto run_on(asio::io_context& io, F&& f) -> std::invoke_result_t<F&> {
  using Result = std::invoke_result_t<F&>;
  if (io.get_executor().running_in_this_thread()) return f();
  std::promise<Result> done;
  asio::post(io, [&] {
    try {
      if constexpr (std::is_void_v<Result>) {
        f();
        done.set_value();
      } else {
        done.set_value(f());
      }
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  return done.get_future().get();
}

}  // namespace dropsim
