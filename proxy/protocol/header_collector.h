#pragma once
// What both llhttp users (HttpTracker for proxied traffic, HttpRequestReader for the
// control API) do with llhttp's header callbacks: build (name, value) pairs from pieces,
// count what they cost against a head limit, refuse an empty name, trim the value.

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace dropsim {

/// Headers in order, names as sent.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// Assembles one message's headers from llhttp's callbacks.
class HeaderCollector {
 public:
  /// A new message begins.
  void reset() { field_open_ = false; }
  /// A piece of a header name; returns what it costs against the head limit (a new
  /// header also costs its ": " and CRLF).
  std::size_t field(HeaderList& headers, const char* at, std::size_t n);
  /// The name is complete; false when it is empty, which llhttp 8.1 accepts (": value")
  /// and RFC 9110 §5.1 and nginx do not (400, "client sent invalid header line").
  bool field_complete(const HeaderList& headers);
  /// A piece of a header value; returns its cost.
  std::size_t value(HeaderList& headers, const char* at, std::size_t n);
  /// The value is complete: llhttp drops the whitespace before a value but keeps the
  /// whitespace after it, which is not part of the value either (RFC 9112 §5).
  static void value_complete(HeaderList& headers);

 private:
  /// A name is being received: on_header_field_complete closes it, so an empty value
  /// (no on_header_value at all) cannot glue two names together.
  bool field_open_ = false;
};

}  // namespace dropsim
