#pragma once
// A dropsim Runtime (every proxy, their toxics and sessions) in this process on its own
// io_context thread with captured logs: what the control API drives, driven directly.
// Every call runs on the runtime's thread, as the API's do, and is bounded. With
// `workers`, the sessions run on that many worker threads (`run --threads`).

#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "net_util.h"
#include "runtime.h"
#include "worker_pool.h"

namespace dropsim::test {

class RuntimeUnderTest {
 public:
  /// Lines below `level` are neither formatted nor captured (the API bench passes warn).
  explicit RuntimeUnderTest(RuntimeOptions options = {}, spdlog::level::level_enum level = spdlog::level::debug,
                            std::size_t workers = 0);
  ~RuntimeUnderTest();

  /// Runs `f(runtime)` on the runtime's thread and returns its result; rethrows what it
  /// threw (ApiError included); throws std::runtime_error if it takes over 2 s.
  template <class F>
  auto call(F f) -> std::invoke_result_t<F, Runtime&> {
    using R = std::invoke_result_t<F, Runtime&>;
    auto p = std::make_shared<std::promise<R>>();
    auto result = p->get_future();
    asio::post(io_, [this, p, f = std::move(f)]() mutable {
      try {
        if constexpr (std::is_void_v<R>) {
          f(*runtime_);
          p->set_value();
        } else {
          p->set_value(f(*runtime_));
        }
      } catch (...) {
        p->set_exception(std::current_exception());
      }
    });
    if (result.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
      throw std::runtime_error("the runtime's thread did not answer within 2 s");
    }
    return result.get();
  }

  /// Creates a proxy on 127.0.0.1:0 to `upstream_port` with `profile`; returns its port.
  std::uint16_t add_proxy(const std::string& name, std::uint16_t upstream_port, const std::string& profile = "tcp");
  /// The runtime's io_context, for what runs beside it there (an ApiServer).
  asio::io_context& io() { return io_; }
  /// Everything logged so far.
  std::string logs() const { return sink_->text(); }
  /// Waits until a log line contains `needle`; false after `timeout`.
  bool wait_log(const std::string& needle, Ms timeout = Ms(2000)) const;
  /// Waits until proxy `name` has `n` open sessions; false after `timeout`.
  bool wait_sessions(const std::string& name, std::size_t n, Ms timeout = Ms(2000));

 private:
  std::shared_ptr<CapturingSink> sink_;
  std::unique_ptr<EventLog> log_;
  /// Outlives the runtime, whose sessions run on it, and io_, where an accept may still
  /// hold a socket of a worker's io_context.
  WorkerPool workers_;
  asio::io_context io_;
  std::unique_ptr<Runtime> runtime_;
  std::thread thread_;
};

}  // namespace dropsim::test
