#pragma once
// A small blocking HTTP/1.1 client for the control API's tests and bench: one keep-alive
// connection, every call bounded by a timeout. Written against the protocol, not against
// dropsim's own parser, so that the two check each other.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "api_server.h"
#include "net_util.h"
#include "runtime.h"
#include "runtime_under_test.h"

namespace dropsim::test {

/// A response as received.
struct Reply {
  int status = 0;  ///< 0: no response (connection closed or timed out)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  /// The first header named `name` (case-insensitive); "" when absent.
  std::string header(const std::string& name) const;
};

/// {"name":NAME,"upstream":"127.0.0.1:PORT"} plus `extra` fields.
std::string proxy_body(const std::string& name, std::uint16_t upstream,
                       const nlohmann::json& extra = nlohmann::json::object());
/// The port a proxy JSON listens on ("127.0.0.1:40123" → 40123).
std::uint16_t listen_port(const nlohmann::json& proxy);

/// One connection to the API, reopened when the server closed it.
class ApiClient {
 public:
  explicit ApiClient(std::uint16_t port, Ms timeout = Ms(5000));
  /// Sends one request and reads its response. `headers` are added after Host (and
  /// Content-Length when there is a body).
  Reply request(const std::string& method, const std::string& path, const std::string& body = "",
                const std::vector<std::pair<std::string, std::string>>& headers = {});
  /// Sends `bytes` as they are on the current connection and reads one response.
  Reply raw(const std::string& bytes);
  /// Reads one more response from the current connection (pipelining).
  Reply read_reply();
  /// True when the server has closed the current connection (EOF within `wait`).
  bool closed_by_server(Ms wait = Ms(2000));

 private:
  void ensure_connected();

  std::uint16_t port_;
  Ms timeout_;
  Fd fd_;
  std::string buffered_;  ///< bytes read past the last response
};

/// An event-stream reader: GET /events?QUERY, then everything the server sends.
class EventReader {
 public:
  EventReader(std::uint16_t port, const std::string& query = "");
  /// Reads until the stream holds `needle` after `from` (byte offset); returns its offset
  /// or std::string::npos after `timeout`.
  std::size_t wait_for(const std::string& needle, Ms timeout = Ms(3000), std::size_t from = 0);
  /// Everything received so far, head included.
  const std::string& text() const { return text_; }
  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

 private:
  Fd fd_;
  std::string text_;
};

/// A Runtime and its ApiServer on 127.0.0.1:0, on the runtime's own io_context thread
/// (RuntimeUnderTest: the Runtime is touched only there), with captured logs.
class ApiServerUnderTest {
 public:
  /// `runtime` sets the Runtime's own options (a fake `lookup` for listen names);
  /// `workers`: the sessions' worker threads (RuntimeUnderTest's).
  explicit ApiServerUnderTest(ApiServerOptions options = {}, bool allow_remote = false,
                              spdlog::level::level_enum level = spdlog::level::debug, RuntimeOptions runtime = {},
                              std::size_t workers = 0);
  ~ApiServerUnderTest();
  std::uint16_t port() const { return port_; }
  /// Everything logged so far.
  std::string logs() const { return rt_.logs(); }

 private:
  RuntimeUnderTest rt_;
  std::unique_ptr<ApiServer> server_;
  std::uint16_t port_ = 0;
};

/// `sessions` clients pushing bulk data through `port` (a proxy) as fast as it takes it,
/// into a sink that accepts on `sink` and discards; stops when destroyed.
class BulkLoad {
 public:
  BulkLoad(std::uint16_t port, Listener& sink, int sessions);
  ~BulkLoad();
  /// Bytes the sink received so far.
  std::uint64_t bytes() const { return moved_.load(); }
  /// Waits until the sink received `n` bytes; false after `timeout`.
  bool wait_bytes(std::uint64_t n, Ms timeout) const;

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> moved_{0};
  std::vector<std::thread> threads_;
};

}  // namespace dropsim::test
