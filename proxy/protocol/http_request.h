#pragma once
// HTTP/1.1 requests as the control API receives them: an incremental reader that turns
// bytes into whole requests (method, path, query, headers, body), one at a time, so that
// pipelined requests are answered in order. Pure: it never touches a socket; ApiServer
// reads and writes. Built on llhttp, which only this pair and http_tracker include.
//
//   bytes ──► HttpRequestReader::feed ──► complete ──► take() ──► HttpRequest
//                                     ├─► need_more (every byte consumed)
//                                     └─► error: 400 malformed, 413 body, 431 head

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dropsim {

/// One complete request.
struct HttpRequest {
  std::string method;  ///< "GET", as sent (methods are case-sensitive)
  std::string path;    ///< the target before '?', still percent-encoded: "/proxies/a%2Fb"
  std::string query;   ///< the target after '?', still encoded; "" when none
  std::vector<std::pair<std::string, std::string>> headers;  ///< in order, names as sent
  std::string body;        ///< de-chunked
  bool keep_alive = true;  ///< the connection may carry another request after this one

  /// The first header named `name` (case-insensitive); "" when absent.
  std::string_view header(std::string_view name) const;
  /// The decoded value of query parameter `name` (first one); nullopt when absent.
  std::optional<std::string> query_param(std::string_view name) const;
};

/// Percent-decodes `text` ("%2F" → "/"; '+' → ' ' when `plus_is_space`, as in a query);
/// nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false);

/// Reads requests from a byte stream, one at a time.
class HttpRequestReader {
 public:
  /// What a request may take. The bounds protect memory, not a protocol rule.
  struct Limits {
    std::size_t max_head = 64 * 1024;   ///< request line and headers
    std::size_t max_body = 1024 * 1024;  ///< body, after de-chunking
  };

  /// What one feed() saw.
  struct Result {
    enum class Status {
      need_more,  ///< every byte consumed; the request is not complete yet
      complete,   ///< a request ended after `consumed` bytes: take() it, feed the rest again
      error,      ///< malformed or too large: answer `http_status` and close
    };
    Status status = Status::need_more;
    std::size_t consumed = 0;  ///< bytes of this feed that belong to the request(s) read
    int http_status = 0;       ///< error: 400, 413 (body) or 431 (head)
    std::string reason;        ///< error: what was wrong
  };

  explicit HttpRequestReader(Limits limits);
  HttpRequestReader();
  ~HttpRequestReader();
  HttpRequestReader(const HttpRequestReader&) = delete;
  HttpRequestReader& operator=(const HttpRequestReader&) = delete;

  /// Consumes `bytes` up to the end of the next complete request. After `complete`,
  /// take() the request before feeding again; after `error` it stays failed.
  Result feed(std::span<const char> bytes);
  /// The request that feed() completed; the reader then waits for the next one.
  HttpRequest take();
  /// True once per request whose head asked `Expect: 100-continue` and whose body has
  /// not arrived: the server should answer "100 Continue" so the client sends it.
  bool take_continue();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dropsim
