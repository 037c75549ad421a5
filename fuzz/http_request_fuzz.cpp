// libFuzzer target for HttpRequestReader (proxy/protocol/http_request.h), the control API's
// request reader, driven as ApiServer::serve drives it.
//
//   data[0]: bits 0-2 how the rest is cut into socket reads; bit 3 small limits (a 200-byte
//            head, a 300-byte body) so that 413 and 431 are reached; bits 4-7 seed
//   rest:    the bytes, as the API's socket would deliver them
//
// The stream is read twice, in pieces and in one read; both must give the same requests
// and the same ending. Every result is checked against what ApiServer relies on; a broken
// invariant is __builtin_trap(), which libFuzzer reports as a crash.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunks.h"
#include "http_request.h"

namespace {

using dropsim::fuzz::check;
using dropsim::fuzz::next_chunk;
using dropsim::HttpRequest;
using dropsim::HttpRequestReader;
using Status = HttpRequestReader::Result::Status;

/// What a run saw: every request in order, then how it ended.
struct Outcome {
  std::vector<HttpRequest> requests;
  Status last = Status::need_more;  ///< need_more (the bytes ran out) or error
  int http_status = 0;
  std::string reason;
};

bool same(const HttpRequest& a, const HttpRequest& b) {
  return a.method == b.method && a.path == b.path && a.query == b.query && a.headers == b.headers &&
         a.body == b.body && a.keep_alive == b.keep_alive;
}

/// Checks one complete request and exercises the accessors ControlApi calls on it.
void check_request(const HttpRequest& r, const HttpRequestReader::Limits& limits) {
  check(!r.method.empty());
  check(r.body.size() <= limits.max_body);
  check(r.method.size() + r.path.size() + r.query.size() <= limits.max_head);
  for (const auto& header : r.headers) check(!header.first.empty());
  (void)r.header("Content-Type");
  (void)r.header("authorization");
  (void)r.query_param("stream");
  (void)r.query_param("");
  if (const auto decoded = dropsim::percent_decode(r.path)) check(decoded->size() <= r.path.size());
}

/// Reads `bytes` delivered in the pieces `reads` gives, as ApiServer::serve does: a
/// buffer of pending bytes fed again after each complete request.
template <class NextRead>
Outcome run(std::string_view bytes, const HttpRequestReader::Limits& limits, NextRead next_read) {
  HttpRequestReader reader(limits);
  Outcome out;
  std::string pending;
  std::size_t at = 0;
  while (true) {
    while (!pending.empty()) {
      const auto r = reader.feed({pending.data(), pending.size()});
      check(r.consumed <= pending.size());
      if (r.status == Status::error) {
        check(r.http_status == 400 || r.http_status == 413 || r.http_status == 431);
        check(!r.reason.empty());
        // It stays failed, whatever comes next.
        const auto again = reader.feed({pending.data(), pending.size()});
        check(again.status == Status::error && again.http_status == r.http_status && again.reason == r.reason);
        out.last = Status::error;
        out.http_status = r.http_status;
        out.reason = r.reason;
        return out;
      }
      check(r.http_status == 0 && r.reason.empty());
      if (r.status == Status::need_more) {
        check(r.consumed == pending.size());
        pending.clear();
        break;
      }
      // Complete: until take(), feeding again consumes nothing.
      const auto held = reader.feed({pending.data(), pending.size()});
      check(held.status == Status::complete && held.consumed == 0);
      check(r.consumed > 0);  // a request takes bytes: the loop always moves on
      pending.erase(0, r.consumed);
      HttpRequest request = reader.take();
      check_request(request, limits);
      out.requests.push_back(std::move(request));
    }
    (void)reader.take_continue();
    if (at == bytes.size()) return out;
    const std::size_t n = next_read(bytes.size() - at);
    pending.append(bytes.substr(at, n));
    at += n;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t control = data[0];
  const unsigned pattern = control & 7;
  HttpRequestReader::Limits limits;
  if ((control & 8) != 0) {
    limits.max_head = 200;
    limits.max_body = 300;
  }
  std::uint32_t state = control >> 4;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  const Outcome cut = run(bytes, limits, [&](std::size_t left) { return next_chunk(pattern, state, left); });
  const Outcome whole = run(bytes, limits, [](std::size_t left) { return left; });

  // How the bytes were cut must not change what the API reads.
  check(cut.requests.size() == whole.requests.size());
  for (std::size_t i = 0; i < cut.requests.size(); ++i) check(same(cut.requests[i], whole.requests[i]));
  check(cut.last == whole.last);
  if (cut.http_status != whole.http_status) {
    // llhttp reports a span cut by the end of a read at that end, and a whole one only at
    // its end: a head (or chunked body) both over the limit and malformed further on is a
    // 431 (413) or a 400 depending on where the reads fell. Either is a fair answer.
    const auto limit = [](int status) { return status == 413 || status == 431; };
    check((cut.http_status == 400 && limit(whole.http_status)) || (whole.http_status == 400 && limit(cut.http_status)));
  } else {
    check(cut.reason == whole.reason);
  }
  return 0;
}
