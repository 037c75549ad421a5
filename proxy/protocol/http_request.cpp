#include "http_request.h"

// llhttp calls back with spans of the caller's buffer; a span cut by the end of a feed
// arrives in pieces, so every text field is appended to, never assigned. The reader
// pauses llhttp at the end of each request (HPE_PAUSED from on_message_complete): the
// bytes after it, a pipelined request, stay unconsumed until the first one is answered.

#include <llhttp.h>

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "header_collector.h"

namespace dropsim {
namespace {

/// What a header costs beyond its name and value (": " and CRLF): a flood of empty
/// headers must not cost more memory than the head limit says.

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (iequals(field, name)) return value;
  }
  return {};
}

std::optional<std::string> HttpRequest::query_param(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const std::size_t eq = pair.find('=');
    const auto key = percent_decode(pair.substr(0, eq), true);
    if (key && *key == name) {
      if (eq == std::string_view::npos) return std::string();
      return percent_decode(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_digit(text[i + 1]);
      const int lo = hex_digit(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

struct HttpRequestReader::Impl {
  explicit Impl(Limits l) : limits(l) {
    llhttp_init(&parser, HTTP_REQUEST, &kSettings);
    parser.data = this;
  }

  static Impl& of(llhttp_t* p) { return *static_cast<Impl*>(p->data); }

  /// Stops llhttp with HPE_USER and remembers the status to answer.
  int fail(int status, std::string why) {
    own_status = status;
    own_reason = std::move(why);
    return HPE_USER;
  }

  /// 413 naming the limit: a client that sent too much learns how much it may send.
  int too_large() { return fail(413, fmt::format("request body over the limit of {} bytes", limits.max_body)); }

  /// Counts head bytes; past the limit, stops with 431.
  int count(std::size_t n) {
    head_bytes += n;
    return head_bytes <= limits.max_head ? HPE_OK : fail(431, "request head over the limit");
  }

  static int on_message_begin(llhttp_t* p) {
    Impl& self = of(p);
    self.request = HttpRequest{};
    self.target.clear();
    self.head_bytes = 0;
    self.collector.reset();
    self.head_done = false;
    self.continue_pending = false;
    return HPE_OK;
  }

  static int on_method(llhttp_t* p, const char* at, std::size_t n) {
    Impl& self = of(p);
    self.request.method.append(at, n);
    return self.count(n);
  }

  static int on_url(llhttp_t* p, const char* at, std::size_t n) {
    Impl& self = of(p);
    self.target.append(at, n);
    return self.count(n);
  }

  static int on_header_field(llhttp_t* p, const char* at, std::size_t n) {
    Impl& self = of(p);
    return self.count(self.collector.field(self.request.headers, at, n));
  }

  static int on_header_field_complete(llhttp_t* p) {
    Impl& self = of(p);
    return self.collector.field_complete(self.request.headers) ? HPE_OK : self.fail(400, "empty header name");
  }

  static int on_header_value(llhttp_t* p, const char* at, std::size_t n) {
    Impl& self = of(p);
    return self.count(self.collector.value(self.request.headers, at, n));
  }

  static int on_header_value_complete(llhttp_t* p) {
    HeaderCollector::value_complete(of(p).request.headers);
    return HPE_OK;
  }

  static int on_headers_complete(llhttp_t* p) {
    Impl& self = of(p);
    HttpRequest& r = self.request;
    if (r.method.empty()) r.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    const std::size_t q = self.target.find('?');
    r.path = self.target.substr(0, q);
    if (q != std::string::npos) r.query = self.target.substr(q + 1);
    // Refused before a byte of it is read: the client learns at once, not after 1 MiB.
    if ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > self.limits.max_body) {
      self.too_large();
      return -1;
    }
    self.head_done = true;
    self.continue_pending = iequals(r.header("Expect"), "100-continue");
    return 0;
  }

  static int on_body(llhttp_t* p, const char* at, std::size_t n) {
    Impl& self = of(p);
    self.continue_pending = false;
    if (self.request.body.size() + n > self.limits.max_body) return self.too_large();
    self.request.body.append(at, n);
    return HPE_OK;
  }

  static int on_message_complete(llhttp_t* p) {
    Impl& self = of(p);
    self.continue_pending = false;
    self.request.keep_alive = llhttp_should_keep_alive(p) != 0;
    if (p->upgrade != 0) {
      // An upgrade or CONNECT: llhttp reads no HTTP after it, and the API speaks no other
      // protocol, so this request is answered and the connection ends.
      self.upgraded = true;
      self.request.keep_alive = false;
    }
    return HPE_PAUSED;
  }

  static llhttp_settings_t make_settings() {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &Impl::on_message_begin;
    s.on_method = &Impl::on_method;
    s.on_url = &Impl::on_url;
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

  Limits limits;
  llhttp_t parser{};
  HttpRequest request;       ///< the request being read
  std::string target;        ///< its request-target, split at on_headers_complete
  std::size_t head_bytes = 0;
  HeaderCollector collector;  ///< builds request.headers
  bool head_done = false;
  bool continue_pending = false;
  bool paused = false;       ///< a complete request waits for take()
  bool upgraded = false;     ///< llhttp stopped for good at an upgrade or CONNECT
  int own_status = 0;        ///< set when a callback, not llhttp's grammar, failed
  std::string own_reason;    ///< why, when own_status is set
  std::optional<Result> failure;  ///< set once, then returned by every feed()
};

const llhttp_settings_t HttpRequestReader::Impl::kSettings = HttpRequestReader::Impl::make_settings();

HttpRequestReader::HttpRequestReader(Limits limits) : impl_(std::make_unique<Impl>(limits)) {}

HttpRequestReader::HttpRequestReader() : HttpRequestReader(Limits{}) {}

HttpRequestReader::~HttpRequestReader() = default;

HttpRequestReader::Result HttpRequestReader::feed(std::span<const char> bytes) {
  using Status = Result::Status;
  Impl& impl = *impl_;
  if (impl.failure) return *impl.failure;
  if (impl.paused) return Result{Status::complete, 0, 0, {}};  // take() first
  if (impl.upgraded) {
    // After an upgrade request llhttp reads no more HTTP; neither does the API.
    impl.failure = Result{Status::error, 0, 400, "request after an upgrade or CONNECT"};
    return *impl.failure;
  }

  const llhttp_errno_t err = llhttp_execute(&impl.parser, bytes.data(), bytes.size());
  if (err == HPE_OK) return Result{Status::need_more, bytes.size(), 0, {}};

  const char* pos = llhttp_get_error_pos(&impl.parser);
  std::size_t offset = bytes.size();
  if (pos != nullptr && pos >= bytes.data() && pos <= bytes.data() + bytes.size()) {
    offset = static_cast<std::size_t>(pos - bytes.data());
  }
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    impl.paused = true;
    return Result{Status::complete, offset, 0, {}};
  }
  Result failed{Status::error, offset, 400, {}};
  if (impl.own_status != 0) {
    failed.http_status = impl.own_status;
    failed.reason = impl.own_reason;
  } else {
    const char* why = llhttp_get_error_reason(&impl.parser);
    failed.reason = std::string(why != nullptr ? why : "malformed request") + " (" + llhttp_errno_name(err) + ")";
  }
  impl.failure = failed;
  return failed;
}

HttpRequest HttpRequestReader::take() {
  Impl& impl = *impl_;
  HttpRequest out = std::move(impl.request);
  impl.request = HttpRequest{};
  if (impl.paused) {
    impl.paused = false;
    if (!impl.upgraded) llhttp_resume(&impl.parser);
  }
  return out;
}

bool HttpRequestReader::take_continue() {
  Impl& impl = *impl_;
  if (!impl.head_done || !impl.continue_pending) return false;
  impl.continue_pending = false;
  return true;
}

}  // namespace dropsim
