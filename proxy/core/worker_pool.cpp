#include "worker_pool.h"

#include <algorithm>

#include <asio/steady_timer.hpp>

namespace dropsim {

WorkerPool::WorkerPool(std::size_t threads) {
  for (std::size_t i = 0; i < threads; ++i) {
    auto w = std::make_unique<Worker>();
    // A timer makes the io_context's reactor (epoll, eventfd, timerfd) now rather than at
    // its first session: the descriptors are taken at start, before anyone counts them.
    asio::steady_timer make_reactor(w->io);
    w->thread = std::thread([io = &w->io] { io->run(); });
    workers_.push_back(std::move(w));
  }
}

WorkerPool::~WorkerPool() {
  for (auto& w : workers_) {
    w->guard.reset();
    w->io.stop();
  }
  for (auto& w : workers_) w->thread.join();
}

std::vector<asio::io_context*> WorkerPool::contexts() const {
  std::vector<asio::io_context*> out;
  for (const auto& w : workers_) out.push_back(&w->io);
  return out;
}

std::size_t default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace dropsim
