#pragma once
// A stand-in for your server: a line protocol over TCP whose sessions outlive their
// connections.
//
//   client ──► HELLO <token> <last_seq>   "-" and 0 the first time
//   server ──► WELCOME <token>
//              MSG <seq> <text>           what the client has not seen, then each new one
//              PING                       after 100 ms with nothing else sent: the heartbeat
//
// Each session keeps a log. A message goes into the log whether or not the client is
// connected, so a client that was away comes back to a backlog, and messages written
// into a connection just before it died are still in the log. On HELLO the server
// replays the log after the client's last_seq: the client says what it has, the server
// sends the rest. That is all "resume" means.
//
// Everything runs on one io_context thread; port(), pause() and replayed() may be called
// from others.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

/// Publishes a message to every session every `publish_every` and serves resuming clients.
class ResumableServer {
 public:
  using Ms = std::chrono::milliseconds;

  ResumableServer(asio::io_context& io, Ms publish_every, Ms heartbeat_every, bool resume = true)
      : io_(io), acceptor_(io), publish_every_(publish_every), heartbeat_every_(heartbeat_every), resume_(resume) {}

  /// Listens on 127.0.0.1 on a port the kernel picks (port()).
  void start() {
    const asio::ip::tcp::endpoint any_port(asio::ip::address_v4::loopback(), 0);
    acceptor_.open(any_port.protocol());
    acceptor_.bind(any_port);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    asio::co_spawn(io_, publish_loop(), asio::detached);
  }
  /// The port it listens on.
  std::uint16_t port() const { return port_; }
  /// Stops or restarts publishing; heartbeats go on (a quiet chat room is still alive).
  void pause(bool paused) { paused_ = paused; }
  /// Messages sent again on a resume: missed while away or lost in flight.
  std::uint64_t replayed() const { return replayed_; }

 private:
  struct Session {
    std::vector<std::string> log;  ///< log[i] is message i + 1, a whole line
    std::uint64_t connection = 0;  ///< the newest connection; an older one stops writing
  };

  asio::awaitable<void> accept_loop() {
    for (;;) {
      asio::ip::tcp::socket socket = co_await acceptor_.async_accept(asio::use_awaitable);
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> publish_loop() {
    asio::steady_timer timer(io_);
    for (;;) {
      timer.expires_after(publish_every_);
      co_await timer.async_wait(asio::use_awaitable);
      if (paused_) continue;
      for (auto& [token, session] : sessions_) {
        const std::string seq = std::to_string(session.log.size() + 1);
        session.log.push_back("MSG " + seq + " hello #" + seq + "\n");
      }
    }
  }

  asio::awaitable<void> serve(asio::ip::tcp::socket socket) {
    try {
      std::string hello;
      co_await asio::async_read_until(socket, asio::dynamic_buffer(hello), '\n', asio::use_awaitable);
      std::istringstream words(hello);
      std::string verb, token;
      std::uint64_t last_seq = 0;
      words >> verb >> token >> last_seq;
      if (verb != "HELLO") co_return;
      if (token == "-") token = "s" + std::to_string(sessions_.size() + 1);
      Session& session = sessions_[token];
      // A client that reconnects while its old connection still looks alive here (a
      // blackhole is silent both ways) gets the session; the old connection stops.
      const std::uint64_t me = ++session.connection;

      // The resume. A server without one sends only what is published from now on.
      std::size_t sent = resume_ ? std::min<std::size_t>(last_seq, session.log.size()) : session.log.size();
      replayed_ += session.log.size() - sent;

      std::string out = "WELCOME " + token + "\n";
      auto last_write = std::chrono::steady_clock::now();
      asio::steady_timer poll(io_);
      while (session.connection == me) {
        for (; sent < session.log.size(); ++sent) out += session.log[sent];
        if (out.empty() && std::chrono::steady_clock::now() - last_write >= heartbeat_every_) out = "PING\n";
        if (!out.empty()) {
          co_await asio::async_write(socket, asio::buffer(out), asio::use_awaitable);
          out.clear();
          last_write = std::chrono::steady_clock::now();
        }
        // Polling the log every 2 ms keeps this short; a real server would be woken.
        poll.expires_after(Ms(2));
        co_await poll.async_wait(asio::use_awaitable);
      }
    } catch (const std::system_error&) {
      // The connection broke (reset, broken pipe). Only the connection ends: the session
      // and its log stay for the client's next HELLO.
    }
  }

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  Ms publish_every_;
  Ms heartbeat_every_;
  bool resume_;
  std::map<std::string, Session> sessions_;
  std::atomic<bool> paused_ = false;
  std::atomic<std::uint64_t> replayed_ = 0;
};
