#include "http_tracker.h"

// One of the two files that include llhttp (with http_request.cpp). llhttp calls back with spans of the caller's buffer;
// a span cut by the end of a feed arrives in pieces, so every text field is appended to,
// never assigned.
//
//   bytes ──► llhttp_execute ──► on_* callbacks ──► HttpHead ──► HttpObserver::on_head
//                  │                                          └─► on_message_complete
//                  └─► HPE_PAUSED_UPGRADE: the rest of the bytes are another protocol

#include <llhttp.h>

#include "header_collector.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>

namespace dropsim {
namespace {

/// Bytes a head may take (request or status line and headers), as nginx's
/// large_client_header_buffers bounds it: protects memory, not a protocol rule.
constexpr std::size_t kMaxHeadBytes = 64 * 1024;

/// What a queued request tells the response tracker.
enum class Expect : std::uint8_t { plain, head, connect };

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower(x) == lower(y);
         });
}

/// Strips optional whitespace (SP, HTAB) from both ends.
std::string_view trim(std::string_view s) {
  const auto ows = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && ows(s.back())) s.remove_suffix(1);
  return s;
}

/// Calls `fn` on each trimmed, non-empty element of a comma-separated list; stops early
/// when `fn` returns true, and returns whether it did.
template <typename Fn>
bool any_list_element(std::string_view list, Fn fn) {
  while (true) {
    const std::size_t comma = list.find(',');
    const std::string_view element = trim(list.substr(0, comma));
    if (!element.empty() && fn(element)) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

bool is_hop_by_hop(std::string_view name) {
  for (const std::string_view hop : {"Upgrade", "Connection", "Keep-Alive", "Proxy-Connection", "TE",
                                     "Trailer", "Transfer-Encoding"}) {
    if (iequals(name, hop)) return true;
  }
  return false;
}

}  // namespace

std::string_view HttpHead::header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (iequals(field, name)) return value;
  }
  return {};
}

bool HttpHead::header_has_token(std::string_view name, std::string_view token) const {
  // A list header may be sent as several lines; each counts (RFC 9110 §5.3).
  for (const auto& [field, value] : headers) {
    if (!iequals(field, name)) continue;
    if (any_list_element(value, [&](std::string_view element) { return iequals(element, token); })) {
      return true;
    }
  }
  return false;
}

bool HttpHead::is_websocket_upgrade() const {
  if (is_request) {
    return method == "GET" && header_has_token("Upgrade", "websocket") &&
           header_has_token("Connection", "upgrade") && !trim(header("Sec-WebSocket-Key")).empty();
  }
  return status == 101 && header_has_token("Upgrade", "websocket");
}

bool HttpHead::permessage_deflate() const {
  constexpr std::string_view kName = "permessage-deflate";
  for (const auto& [field, value] : headers) {
    if (!iequals(field, "Sec-WebSocket-Extensions")) continue;
    // Each offer is "name; param; param": only the name before the first ';' counts.
    if (any_list_element(value, [&](std::string_view offer) {
          return iequals(trim(offer.substr(0, offer.find(';'))), kName);
        })) {
      return true;
    }
  }
  return false;
}

struct HttpTracker::Impl {
  explicit Impl(Role r) : role(r) {
    llhttp_init(&parser, r == Role::request ? HTTP_REQUEST : HTTP_RESPONSE, &kSettings);
    parser.data = this;
    head.is_request = r == Role::request;
  }

  static Impl& of(llhttp_t* p) { return *static_cast<Impl*>(p->data); }

  /// Counts head bytes; past the limit, makes llhttp stop with HPE_USER.
  int count(std::size_t n) {
    head_bytes += n;
    if (head_bytes <= kMaxHeadBytes) return HPE_OK;
    own_reason = role == Role::request ? "request head over 64 KiB" : "response head over 64 KiB";
    return HPE_USER;
  }

  static int on_message_begin(llhttp_t* p) {
    Impl& self = of(p);
    self.head = HttpHead{};
    self.head.is_request = self.role == Role::request;
    self.head_bytes = 0;
    self.collector.reset();
    return HPE_OK;
  }

  static int on_method(llhttp_t* p, const char* at, std::size_t n) {
    Impl& self = of(p);
    self.head.method.append(at, n);
    return self.count(n);
  }

  static int on_url(llhttp_t* p, const char* at, std::size_t n) {
    Impl& self = of(p);
    self.head.url.append(at, n);
    return self.count(n);
  }

  static int on_status(llhttp_t* p, const char* at, std::size_t n) {
    Impl& self = of(p);
    self.head.reason.append(at, n);
    return self.count(n);
  }

  static int on_header_field(llhttp_t* p, const char* at, std::size_t n) {
    Impl& self = of(p);
    return self.count(self.collector.field(self.head.headers, at, n));
  }

  static int on_header_field_complete(llhttp_t* p) {
    Impl& self = of(p);
    if (self.collector.field_complete(self.head.headers)) return HPE_OK;
    self.own_reason = "empty header name";
    return -1;
  }

  static int on_header_value(llhttp_t* p, const char* at, std::size_t n) {
    Impl& self = of(p);
    return self.count(self.collector.value(self.head.headers, at, n));
  }

  static int on_header_value_complete(llhttp_t* p) {
    HeaderCollector::value_complete(of(p).head.headers);
    return HPE_OK;
  }

  /// Returns 0 (body as framed), 1 (no body: HEAD, 1xx, 204, 304) or 2 (no body, and the
  /// bytes that follow are another protocol: 101, or 2xx to CONNECT).
  static int on_headers_complete(llhttp_t* p) {
    Impl& self = of(p);
    HttpHead& head = self.head;
    head.version_major = llhttp_get_http_major(p);
    head.version_minor = llhttp_get_http_minor(p);
    int verdict = 0;
    if (self.role == Role::request) {
      if (head.method.empty()) head.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    } else {
      head.status = llhttp_get_status_code(p);
      const bool interim = head.status / 100 == 1 && head.status != 101;
      Expect answers = Expect::plain;
      if (!interim && !self.expected.empty()) {
        answers = self.expected.front();
        self.expected.pop_front();
      }
      // llhttp frames a 101 as an upgrade only with Connection: upgrade, reads a body of a
      // 304 with Content-Length, and cannot know the request was HEAD or CONNECT: say so.
      if (head.status == 101 || (answers == Expect::connect && head.status / 100 == 2)) {
        verdict = 2;
      } else if (answers == Expect::head || interim || head.status == 204 || head.status == 304) {
        verdict = 1;
      }
    }
    if (self.observer != nullptr) self.observer->on_head(head);
    return verdict;
  }

  static int on_body(llhttp_t* p, const char* at, std::size_t n) {
    Impl& self = of(p);
    if (self.observer != nullptr) self.observer->on_body({at, n});
    return HPE_OK;
  }

  static int on_message_complete(llhttp_t* p) {
    Impl& self = of(p);
    if (self.observer != nullptr) self.observer->on_message_complete();
    return HPE_OK;
  }

  static llhttp_settings_t make_settings() {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &Impl::on_message_begin;
    s.on_method = &Impl::on_method;
    s.on_url = &Impl::on_url;
    s.on_status = &Impl::on_status;
    s.on_header_field = &Impl::on_header_field;
    s.on_header_field_complete = &Impl::on_header_field_complete;
    s.on_header_value = &Impl::on_header_value;
    s.on_header_value_complete = &Impl::on_header_value_complete;
    s.on_headers_complete = &Impl::on_headers_complete;
    s.on_body = &Impl::on_body;
    s.on_message_complete = &Impl::on_message_complete;
    return s;
  }

  /// llhttp keeps a pointer to its settings: one static table serves every parser.
  static const llhttp_settings_t kSettings;

  Role role;
  llhttp_t parser{};
  HttpHead head;                  ///< the message being parsed
  std::size_t head_bytes = 0;     ///< of `head`, against kMaxHeadBytes
  HeaderCollector collector;      ///< builds head.headers
  const char* own_reason = nullptr;  ///< set when a callback, not llhttp's grammar, failed
  bool upgraded = false;          ///< paused at an upgrade, until resume_after_upgrade()
  std::deque<Expect> expected;    ///< responses only: requests awaiting an answer, in order
  HttpObserver* observer = nullptr;  ///< valid during feed() only
  std::optional<Result> failure;  ///< set once, then returned by every feed()
};

const llhttp_settings_t HttpTracker::Impl::kSettings = HttpTracker::Impl::make_settings();

HttpTracker::HttpTracker(Role role) : role_(role) {}

HttpTracker::Impl& HttpTracker::impl() {
  if (!impl_) impl_ = std::make_unique<Impl>(role_);
  return *impl_;
}

HttpTracker::~HttpTracker() = default;

HttpTracker::Result HttpTracker::feed(std::span<const char> bytes, HttpObserver& observer) {
  Impl& impl = this->impl();
  if (impl.failure) {
    Result again = *impl.failure;
    again.offset = 0;
    return again;
  }
  // Paused at an upgrade: llhttp would answer with a stale error position.
  if (impl.upgraded) return Result{Result::Status::upgrade, 0, {}};

  impl.observer = &observer;
  const llhttp_errno_t err = llhttp_execute(&impl.parser, bytes.data(), bytes.size());
  impl.observer = nullptr;
  if (err == HPE_OK) return Result{};

  const char* pos = llhttp_get_error_pos(&impl.parser);
  std::size_t offset = bytes.size();
  if (pos != nullptr && pos >= bytes.data() && pos <= bytes.data() + bytes.size()) {
    offset = static_cast<std::size_t>(pos - bytes.data());
  }
  if (err == HPE_PAUSED_UPGRADE) {
    impl.upgraded = true;
    return Result{Result::Status::upgrade, offset, {}};
  }
  Result failed{Result::Status::error, offset, {}};
  const char* why = llhttp_get_error_reason(&impl.parser);
  if (impl.own_reason != nullptr) {
    failed.reason = impl.own_reason;
  } else {
    failed.reason = std::string(why != nullptr ? why : "malformed HTTP") + " (" + llhttp_errno_name(err) + ")";
  }
  impl.failure = failed;
  return failed;
}

void HttpTracker::reset() { impl_.reset(); }

void HttpTracker::resume_after_upgrade() {
  if (!impl_ || !impl_->upgraded) return;
  Impl& impl = *impl_;
  impl.upgraded = false;
  llhttp_resume_after_upgrade(&impl.parser);
}

void HttpTracker::expect_response_to(std::string_view method) {
  if (role_ != Role::response) return;
  Impl& impl = this->impl();
  // Methods are case-sensitive (RFC 9110 §9.1): "head" is not HEAD.
  impl.expected.push_back(method == "HEAD"      ? Expect::head
                          : method == "CONNECT" ? Expect::connect
                                                : Expect::plain);
}

std::string strip_upgrade(const HttpHead& request) {
  std::string out;
  out.reserve(64 + request.url.size());
  out.append(request.method).append(" ").append(request.url).append(" HTTP/1.0\r\n");
  for (const auto& [name, value] : request.headers) {
    if (is_hop_by_hop(name)) continue;
    out.append(name).append(": ").append(value).append("\r\n");
  }
  out.append("Connection: close\r\n\r\n");
  return out;
}

std::string without_header(std::string_view head, std::string_view name) {
  std::string out;
  out.reserve(head.size());
  bool dropping = false;  // inside a dropped header: its continuation lines go too
  bool first = true;      // the request or status line is never a header
  while (!head.empty()) {
    const std::size_t eol = head.find('\n');
    const std::size_t len = eol == std::string_view::npos ? head.size() : eol + 1;
    const std::string_view line = head.substr(0, len);
    head.remove_prefix(len);
    const bool continuation = !first && (line.front() == ' ' || line.front() == '\t');
    if (!continuation) {
      const std::size_t colon = line.find(':');
      dropping = !first && colon != std::string_view::npos && iequals(trim(line.substr(0, colon)), name);
    }
    first = false;
    if (!dropping) out.append(line);
  }
  return out;
}

std::string keep_alive_response(const HttpHead& response, bool chunked) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + response.reason + "\r\n";
  for (const auto& [name, value] : response.headers) {
    if (is_hop_by_hop(name)) continue;
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (chunked) out.append("Transfer-Encoding: chunked\r\n");
  out.append("Connection: keep-alive\r\n\r\n");
  return out;
}

bool sent_chunked(const HttpHead& response) {
  const bool bodiless = response.status / 100 == 1 || response.status == 204 || response.status == 304;
  return !bodiless && response.header("Content-Length").empty();
}

std::string status_response(int status, std::string_view body, bool keep_alive) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  if (!body.empty()) out.append("Content-Type: text/plain\r\n");
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  out.append(keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
  out.append(body);
  return out;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

}  // namespace dropsim
