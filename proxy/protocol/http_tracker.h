#pragma once
// HTTP/1.1 as it passes, one tracker per direction: requests (client→server) or responses
// (server→client). One of the two llhttp users (the other is
// http_request, the control API's reader). Pure and incremental: it
// never touches a socket and never changes a byte; Session decides what to do.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dropsim {

/// A message head: request line or status line, and headers, as received.
struct HttpHead {
  bool is_request = true;
  std::string method;     ///< requests: "GET"
  std::string url;        ///< requests: "/chat?x=1"
  int status = 0;         ///< responses: 101, 200, ...
  std::string reason;     ///< responses: "Switching Protocols"
  int version_major = 1;
  int version_minor = 1;
  std::vector<std::pair<std::string, std::string>> headers;  ///< in order, names as sent

  /// The first header named `name` (case-insensitive); "" when absent.
  std::string_view header(std::string_view name) const;
  /// True when a comma-separated header `name` lists `token` (case-insensitive), as
  /// `Connection: keep-alive, Upgrade` lists "upgrade".
  bool header_has_token(std::string_view name, std::string_view token) const;
  /// A request that asks for a WebSocket: Upgrade: websocket, Connection: upgrade, and
  /// a Sec-WebSocket-Key. A response that accepts one: 101 with Upgrade: websocket.
  bool is_websocket_upgrade() const;
  /// Sec-WebSocket-Extensions names permessage-deflate.
  bool permessage_deflate() const;
};

/// What a tracker reports as messages pass.
class HttpObserver {
 public:
  virtual ~HttpObserver() = default;
  /// A message's head is complete.
  virtual void on_head(const HttpHead& head) = 0;
  /// Body bytes of the current message, as sent less any chunked framing.
  virtual void on_body(std::span<const char> /*bytes*/) {}
  /// A message (head and body) is complete.
  virtual void on_message_complete() {}
};

/// Follows the HTTP/1.x messages of one direction.
class HttpTracker {
 public:
  /// Requests or responses.
  enum class Role { request, response };

  /// What one feed() saw.
  struct Result {
    enum class Status {
      ok,       ///< every byte consumed as HTTP
      upgrade,  ///< an upgrade message ended at `offset`: later bytes are the new protocol
      error,    ///< malformed HTTP at `offset`; `reason` says what
    };
    Status status = Status::ok;
    std::size_t offset = 0;
    std::string reason;
  };

  /// Allocates nothing until the first byte: a tcp-mode session never feeds one, and an
  /// idle http one has not yet.
  explicit HttpTracker(Role role);
  ~HttpTracker();
  HttpTracker(const HttpTracker&) = delete;
  HttpTracker& operator=(const HttpTracker&) = delete;

  /// Consumes `bytes`, calling `observer` as heads and messages complete. Stops at an
  /// upgrade (status upgrade) or an error; after an error it stays failed.
  Result feed(std::span<const char> bytes, HttpObserver& observer);
  /// The upgrade was refused (no 101): parse what follows as HTTP again.
  void resume_after_upgrade();
  /// Forgets everything: the next byte starts a new connection's first message.
  void reset();
  /// Responses only: the next response answers a HEAD request (no body), or a request
  /// whose upgrade is pending. Call once per request, in order (pipelining).
  void expect_response_to(std::string_view method);

 private:
  struct Impl;
  /// The parser state, made on first use.
  Impl& impl();

  Role role_;
  std::unique_ptr<Impl> impl_;  ///< llhttp and the head being collected (~1 KB); null until used
};

/// The request head as nginx sends it upstream without `proxy_http_version 1.1` and the
/// Upgrade/Connection headers: HTTP/1.0, no Upgrade, Connection: close.
std::string strip_upgrade(const HttpHead& request);

/// `head` (a request or response head, "\r\n\r\n" included) without its `name` header
/// lines (case-insensitive, with their obs-fold continuation lines); every other byte
/// as it was.
std::string without_header(std::string_view head, std::string_view name);

/// The head of `response` as nginx sends it to a client it keeps alive (measured, nginx
/// 1.22 with an HTTP/1.0 upstream): HTTP/1.1 with the upstream's status, its headers
/// less the hop-by-hop ones, `Transfer-Encoding: chunked` when `chunked` (nginx re-frames
/// a body the upstream delimited by closing), and `Connection: keep-alive`.
std::string keep_alive_response(const HttpHead& response, bool chunked);

/// Whether a keep-alive client gets the body of `response` chunked: it has a body and no
/// Content-Length (the upstream chunked it, or ends it by closing).
bool sent_chunked(const HttpHead& response);

/// A complete minimal response: "HTTP/1.1 403 Forbidden", Content-Length: 0 (or a short
/// text body), Connection: close (or keep-alive when `keep_alive`).
std::string status_response(int status, std::string_view body = {}, bool keep_alive = false);

/// "Forbidden" for 403, "Gateway Timeout" for 504, ...; "Status" when unknown.
std::string_view reason_phrase(int status);

}  // namespace dropsim
