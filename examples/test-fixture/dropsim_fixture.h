#pragma once
// dropsim embedded in a GoogleTest fixture: no subprocess, no fixed port. Copy this file.
//
//   test thread ──call(f)──► dropsim's io_context thread: Runtime ──► Proxy "app" ──► sessions
//
// A dropsim::Runtime holds every proxy, its toxics and its live sessions, and offers the
// control API's actions as plain calls (act_all, add_toxic, partition, ...). It is
// single-threaded by design: every call must be made on the thread that runs its
// io_context. call() does that for the test: it posts the function there and waits.

#include <chrono>
#include <cstdint>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_future.hpp>
#include <gtest/gtest.h>

#include "event_log.h"
#include "proxy.h"
#include "runtime.h"

/// Starts dropsim in-process for each test; proxies are added with add_proxy().
class DropsimTest : public ::testing::Test {
 protected:
  DropsimTest() : thread_([this] { io_.run(); }) {}

  ~DropsimTest() override {
    call([](dropsim::Runtime& r) { r.stop_all(); });  // FIN to every session, stop listening
    work_.reset();
    io_.stop();
    thread_.join();
  }

  /// Runs `f(runtime)` on dropsim's thread and returns what it returns (or rethrows what
  /// it threw: dropsim::ApiError for a bad request, as the HTTP API would answer it).
  template <class F>
  auto call(F f) -> std::invoke_result_t<F, dropsim::Runtime&> {
    auto result = asio::post(io_, asio::use_future([this, f] { return f(runtime_); }));
    if (result.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
      throw std::runtime_error("dropsim's thread did not answer within 2 s");
    }
    return result.get();
  }

  /// Creates a proxy (listen defaults to 127.0.0.1:0; "localhost:0" and the other forms
  /// Toxiproxy takes work too) and returns the port it bound.
  std::uint16_t add_proxy(dropsim::ProxySpec spec) {
    // A listen host name is looked up first, on dropsim's thread and without blocking it
    // (the Runtime takes addresses): as the control API does.
    auto listen = asio::co_spawn(io_, runtime_.resolver().listen_address(spec.listen), asio::use_future);
    if (listen.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      throw std::runtime_error("looking up " + spec.listen + " took more than 10 s");
    }
    spec.listen = listen.get();
    // The bound port is only in the Proxy (ProxyInfo::listen is text), so ask it there.
    return call([spec](dropsim::Runtime& r) {
      r.create_proxy(spec);
      return r.find(spec.name)->local_endpoint().port();
    });
  }

 private:
  // Touched only on dropsim's thread (through call()), hence private.
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  dropsim::EventLog log_;  ///< dropsim's connection log, on stderr: why each session closed
  dropsim::Runtime runtime_{io_, log_};
  std::thread thread_;  ///< last: it starts once everything above exists
};
