#include "api_client_util.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <future>
#include <stdexcept>

#include <asio/post.hpp>

namespace dropsim::test {
namespace {

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

/// Appends what arrives on `fd` within what is left of `deadline`; false on EOF, error
/// or timeout.
bool read_more(int fd, std::string& into, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char buf[16384];
  const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
  if (r <= 0) return false;
  into.append(buf, static_cast<std::size_t>(r));
  return true;
}

}  // namespace

std::string proxy_body(const std::string& name, std::uint16_t upstream, const nlohmann::json& extra) {
  nlohmann::json j = {{"name", name}, {"upstream", "127.0.0.1:" + std::to_string(upstream)}};
  j.update(extra);
  return j.dump();
}

std::uint16_t listen_port(const nlohmann::json& proxy) {
  const std::string listen = proxy.at("listen");
  return static_cast<std::uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
}

std::string Reply::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return "";
}

ApiClient::ApiClient(std::uint16_t port, Ms timeout) : port_(port), timeout_(timeout) {}

void ApiClient::ensure_connected() {
  if (fd_.valid()) return;
  fd_ = connect_to(port_);
  set_io_timeout(fd_.get(), timeout_);
  buffered_.clear();
}

Reply ApiClient::request(const std::string& method, const std::string& path, const std::string& body,
                         const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  out += "\r\n" + body;
  // A kept-alive connection the server has since closed: one retry on a new one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    ensure_connected();
    if (send_all(fd_.get(), out)) {
      Reply r = read_reply();
      if (r.status != 0 || attempt == 1) return r;
    }
    fd_.reset();
  }
  return {};
}

Reply ApiClient::raw(const std::string& bytes) {
  ensure_connected();
  if (!send_all(fd_.get(), bytes)) return {};
  return read_reply();
}

Reply ApiClient::read_reply() {
  Reply r;
  if (!fd_.valid()) return r;
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::size_t end;
  while ((end = buffered_.find("\r\n\r\n")) == std::string::npos) {
    if (!read_more(fd_.get(), buffered_, deadline)) {
      fd_.reset();
      return r;
    }
  }
  const std::string head = buffered_.substr(0, end);
  buffered_.erase(0, end + 4);
  // "HTTP/1.1 200 OK"
  const std::size_t sp = head.find(' ');
  r.status = std::stoi(head.substr(sp + 1, 3));
  std::size_t line = head.find("\r\n");
  while (line != std::string::npos) {
    const std::size_t next = head.find("\r\n", line + 2);
    const std::string h = head.substr(line + 2, next == std::string::npos ? std::string::npos : next - line - 2);
    const std::size_t colon = h.find(':');
    if (colon != std::string::npos) {
      std::string value = h.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers.emplace_back(h.substr(0, colon), value);
    }
    line = next;
  }
  const std::string length = r.header("Content-Length");
  if (!length.empty()) {
    const std::size_t n = std::stoul(length);
    while (buffered_.size() < n) {
      if (!read_more(fd_.get(), buffered_, deadline)) break;
    }
    r.body = buffered_.substr(0, n);
    buffered_.erase(0, std::min(n, buffered_.size()));
  } else if (r.status != 204 && r.status / 100 != 1) {
    while (read_more(fd_.get(), buffered_, deadline)) {}  // until close
    r.body = std::move(buffered_);
    buffered_.clear();
  }
  if (iequals(r.header("Connection"), "close")) fd_.reset();
  return r;
}

bool ApiClient::closed_by_server(Ms wait) {
  if (!fd_.valid()) return true;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::string ignored;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char b[512];
    const ssize_t n = ::recv(fd_.get(), b, sizeof b, 0);
    if (n <= 0) {
      fd_.reset();
      return true;
    }
  }
  return false;
}

EventReader::EventReader(std::uint16_t port, const std::string& query) {
  fd_ = connect_to(port);
  const std::string path = query.empty() ? "/events" : "/events?" + query;
  if (!send_all(fd_.get(), "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n")) {
    throw std::runtime_error("cannot send the event stream request");
  }
}

std::size_t EventReader::wait_for(const std::string& needle, Ms timeout, std::size_t from) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const std::size_t at = text_.find(needle, from);
    if (at != std::string::npos) return at;
    if (!fd_.valid() || !read_more(fd_.get(), text_, deadline)) return std::string::npos;
  }
}

ApiServerUnderTest::ApiServerUnderTest(ApiServerOptions options, bool allow_remote, spdlog::level::level_enum level,
                                       RuntimeOptions runtime, std::size_t workers)
    : rt_(std::move(runtime), level, workers) {
  server_ = rt_.call([&](Runtime& runtime) {
    auto server = std::make_unique<ApiServer>(rt_.io(), runtime, "127.0.0.1:0", allow_remote, options);
    server->start();
    return server;
  });
  port_ = server_->local_endpoint().port();
}

ApiServerUnderTest::~ApiServerUnderTest() {
  try {
    // Stopped and destroyed on its own thread; rt_ then stops the proxies and the thread.
    rt_.call([this](Runtime&) {
      server_->stop();
      server_.reset();
    });
  } catch (const std::exception&) {
    // The thread is stuck; rt_'s destructor still stops the context and ends the test.
  }
}

BulkLoad::BulkLoad(std::uint16_t port, Listener& sink, int sessions) {
  // The sink: accepts every session and discards what arrives.
  threads_.emplace_back([this, &sink, sessions] {
    std::vector<Fd> accepted;
    std::vector<pollfd> fds;
    std::vector<char> buf(256 * 1024);
    while (!stop_) {
      if (accepted.size() < static_cast<std::size_t>(sessions)) {
        Fd c = sink.accept(Ms(10));
        if (c.valid()) {
          fds.push_back({c.get(), POLLIN, 0});
          accepted.push_back(std::move(c));
        }
      }
      if (fds.empty() || ::poll(fds.data(), fds.size(), 10) <= 0) continue;
      for (auto& f : fds) {
        if (f.revents == 0) continue;
        const ssize_t n = ::recv(f.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n > 0) moved_ += static_cast<std::uint64_t>(n);
      }
    }
  });
  // The sources, from four threads. Blocking sends bounded by a 200 ms send timeout: the
  // writers sleep while the proxy is behind instead of spinning on the cores it needs.
  constexpr int kWriters = 4;
  for (int t = 0; t < kWriters; ++t) {
    const int mine = sessions / kWriters + (t < sessions % kWriters ? 1 : 0);
    threads_.emplace_back([this, port, mine] {
      std::vector<Fd> clients;
      try {
        for (int i = 0; i < mine; ++i) {
          clients.push_back(connect_to(port));
          set_io_timeout(clients.back().get(), Ms(200));
        }
      } catch (const std::exception&) {
        return;  // wait_bytes() reports that the load never ran
      }
      const std::string chunk(64 * 1024, 'x');
      while (!stop_) {
        for (auto& c : clients) ::send(c.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
      }
    });
  }
}

BulkLoad::~BulkLoad() {
  stop_ = true;
  for (auto& t : threads_) t.join();
}

bool BulkLoad::wait_bytes(std::uint64_t n, Ms timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (moved_.load() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(Ms(5));
  }
  return true;
}

}  // namespace dropsim::test
