#include "http_response.h"

#include <fmt/format.h>

#include "http_tracker.h"

namespace dropsim {

std::string serialize(const HttpResponse& response, bool keep_alive) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nServer: dropsim/{}\r\n", response.status,
                                reason_phrase(response.status), DROPSIM_VERSION);
  if (!response.body.empty()) out += fmt::format("Content-Type: {}\r\n", response.content_type);
  // 204 carries no body and, by RFC 9110 §8.6, no Content-Length either.
  if (response.status != 204) out += fmt::format("Content-Length: {}\r\n", response.body.size());
  for (const auto& [name, value] : response.headers) out += fmt::format("{}: {}\r\n", name, value);
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  out += response.body;
  return out;
}

std::string event_stream_head() {
  return fmt::format(
      "HTTP/1.1 200 OK\r\nServer: dropsim/{}\r\nContent-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n",
      DROPSIM_VERSION);
}

}  // namespace dropsim
