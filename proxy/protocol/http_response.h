#pragma once
// What the control API answers: status, type, body and the few headers it sets, turned
// into HTTP/1.1 bytes by one function. Pure; ApiServer writes the bytes.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dropsim {

/// One response.
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";  ///< omitted when the body is empty
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra ones ("Allow")
};

/// The response as bytes: status line, Content-Type, Content-Length, Connection
/// (keep-alive or close), the extra headers, then the body.
std::string serialize(const HttpResponse& response, bool keep_alive);

/// The head of a Server-Sent Events response: 200, text/event-stream, no length (the
/// stream ends when the connection does), no caching.
std::string event_stream_head();

}  // namespace dropsim
