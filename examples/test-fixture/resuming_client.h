#pragma once
// A stand-in for your client: it stays connected to a ResumableServer whatever the
// network does to it.
//
//   connect ─► HELLO <token> <last_seq> ─► read lines, each within read_timeout ─┐
//      ▲                                                                        │ reset, EOF,
//      └──────────────── wait backoff.next() ◄──────────────────────────────────┘ or silence
//
// The three ways a connection ends, and how this client notices each:
//   - RST:       the read fails at once ("Connection reset by peer").
//   - FIN:       the read returns end of file: a clean close is still a disconnect.
//   - silence:   nothing at all (a blackhole, an NLB or NAT that forgot the flow). Only
//                a deadline notices: the server sends a PING whenever it has been quiet,
//                so no line for read_timeout means the connection is dead.
//
// Runs on one io_context thread; progress() may be called from any thread.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "reconnect_backoff.h"

/// Connects, resumes by token after every drop, and records what it was delivered.
class ResumingClient {
 public:
  using Ms = std::chrono::milliseconds;
  using TimePoint = std::chrono::steady_clock::time_point;

  /// What the test looks at.
  struct Progress {
    std::vector<std::uint64_t> delivered;  ///< every MSG's seq in arrival order, duplicates kept
    std::vector<TimePoint> connected_at;   ///< each WELCOME (the first one, then each reconnect)
    std::vector<std::string> drops;        ///< why each connection ended
  };

  ResumingClient(asio::io_context& io, std::uint16_t port, ReconnectBackoff backoff, Ms read_timeout)
      : io_(io), port_(port), backoff_(backoff), read_timeout_(read_timeout) {}

  void start() { asio::co_spawn(io_, run(), asio::detached); }

  /// A copy of the progress so far.
  Progress progress() const {
    std::lock_guard lock(mutex_);
    return progress_;
  }

 private:
  asio::awaitable<void> run() {
    for (;;) {
      try {
        co_await connect_and_read();
      } catch (const std::system_error& e) {
        std::lock_guard lock(mutex_);
        progress_.drops.push_back(e.what());
      }
      asio::steady_timer wait(io_, backoff_.next());
      co_await wait.async_wait(asio::use_awaitable);
    }
  }

  /// One connection, until it fails; every failure is a std::system_error.
  asio::awaitable<void> connect_and_read() {
    asio::ip::tcp::socket socket(io_);
    co_await socket.async_connect({asio::ip::address_v4::loopback(), port_}, asio::use_awaitable);
    const std::string hello = "HELLO " + token_ + " " + std::to_string(last_seq_) + "\n";
    co_await asio::async_write(socket, asio::buffer(hello), asio::use_awaitable);
    std::string buffer;
    for (;;) {
      std::istringstream line(co_await read_line(socket, buffer));
      std::string verb;
      line >> verb;
      if (verb == "WELCOME") {
        line >> token_;
        // Only a connection that worked resets the backoff: one that is refused or cut
        // straight away makes the next wait longer.
        backoff_.reset();
        std::lock_guard lock(mutex_);
        progress_.connected_at.push_back(std::chrono::steady_clock::now());
      } else if (verb == "MSG") {
        line >> last_seq_;
        std::lock_guard lock(mutex_);
        progress_.delivered.push_back(last_seq_);
      }  // PING: its arrival alone is the point.
    }
  }

  /// The next line; throws what the read failed with, or timed_out when no line comes
  /// within read_timeout.
  asio::awaitable<std::string> read_line(asio::ip::tcp::socket& socket, std::string& buffer) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer deadline(io_, read_timeout_);
    std::error_code error;
    // Whichever finishes first wins; the other is cancelled. `||` waits for the first to
    // *succeed*, so the read reports its error in `error` instead of throwing: a reset or
    // an end of file must win the race too, not lose it to the deadline.
    auto first = co_await (asio::async_read_until(socket, asio::dynamic_buffer(buffer), '\n',
                                                  asio::redirect_error(asio::use_awaitable, error)) ||
                           deadline.async_wait(asio::use_awaitable));
    if (first.index() == 1) {
      throw std::system_error(asio::error::timed_out, "no line for " + std::to_string(read_timeout_.count()) + " ms");
    }
    if (error) throw std::system_error(error);
    const std::size_t n = std::get<0>(first);
    std::string line = buffer.substr(0, n - 1);
    buffer.erase(0, n);
    co_return line;
  }

  asio::io_context& io_;
  std::uint16_t port_;
  ReconnectBackoff backoff_;
  Ms read_timeout_;
  std::string token_ = "-";     ///< the server's name for our session
  std::uint64_t last_seq_ = 0;  ///< the last message we have: what we resume from
  mutable std::mutex mutex_;
  Progress progress_;
};
