// Feeds arbitrary bytes to an HttpTracker in chunks and traps on a broken invariant.
//
//   data[0]: bit 0 role (0 request, 1 response); bits 1-3 how to cut the rest into chunks;
//            bit 4 resume after an upgrade; bits 5-7 seed of the chunk sizes
//   data[1]: responses only, two bits per queued request method (GET, HEAD, CONNECT, POST)
//   rest:    the bytes, as they would arrive from a socket

#include "chunks.h"
#include "http_tracker.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace {

using dropsim::fuzz::check;
using dropsim::fuzz::next_chunk;
using dropsim::HttpHead;
using dropsim::HttpObserver;
using dropsim::HttpTracker;
using Status = HttpTracker::Result::Status;

/// Bytes a head takes as the tracker counts them toward its 64 KiB limit.
std::size_t counted_bytes(const HttpHead& h) {
  std::size_t n = h.method.size() + h.url.size() + h.reason.size();
  for (const auto& [name, value] : h.headers) n += name.size() + value.size() + 4;
  return n;
}

struct Checker : HttpObserver {
  bool is_request = true;
  bool nested = false;  ///< checking strip_upgrade's output: do not strip it again
  bool open = false;  ///< a head was reported and its message has not completed
  std::size_t heads = 0;

  void on_head(const HttpHead& h) override {
    check(!open);
    open = true;
    ++heads;
    check(h.is_request == is_request);
    if (is_request) {
      check(!h.method.empty());
    } else {
      check(h.status >= 0 && h.status <= 999);  // llhttp 8.1 takes 1 to 3 digits: "46" passes
    }
    check(counted_bytes(h) <= 64 * 1024);
    for (const auto& header : h.headers) check(!header.first.empty());
    // The helpers must hold up on anything llhttp accepted.
    (void)h.is_websocket_upgrade();
    (void)h.permessage_deflate();
    (void)h.header_has_token("Connection", "upgrade");
    if (is_request && !nested && counted_bytes(h) < 60 * 1024) {
      // What nginx would send upstream must itself parse as one request head.
      const std::string stripped = dropsim::strip_upgrade(h);
      HttpTracker again(HttpTracker::Role::request);
      Checker inner;
      inner.nested = true;
      const auto r = again.feed(std::span<const char>(stripped.data(), stripped.size()), inner);
      check(r.status == Status::ok);
      check(inner.heads == 1);
    }
  }

  void on_message_complete() override {
    check(open);
    open = false;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t control = data[0];
  const bool response = (control & 1) != 0;
  const unsigned pattern = (control >> 1) & 7;
  const bool resume = (control & 0x10) != 0;
  std::uint32_t state = control >> 5;

  HttpTracker tracker(response ? HttpTracker::Role::response : HttpTracker::Role::request);
  if (response) {
    static constexpr std::string_view kMethods[] = {"GET", "HEAD", "CONNECT", "POST"};
    for (int i = 0; i < 4; ++i) tracker.expect_response_to(kMethods[(data[1] >> (2 * i)) & 3]);
  }
  Checker checker;
  checker.is_request = !response;

  const char* bytes = reinterpret_cast<const char*>(data + 2);
  std::size_t left = size - 2;
  std::size_t upgrades = 0;
  while (true) {
    const std::size_t n = next_chunk(pattern, state, left);
    const auto r = tracker.feed(std::span<const char>(bytes, n), checker);
    check(r.offset <= n);
    if (r.status == Status::ok) {
      check(r.offset == 0 && r.reason.empty());
    } else if (r.status == Status::error) {
      check(!r.reason.empty());
      const auto again = tracker.feed(std::span<const char>(bytes, n), checker);
      check(again.status == Status::error && again.offset == 0 && again.reason == r.reason);
      return 0;
    } else {
      check(r.reason.empty());
      check(!checker.open);  // the upgrade message is complete
      // Paused: more bytes are the new protocol, offset 0.
      const auto again = tracker.feed(std::span<const char>(bytes + r.offset, n - r.offset), checker);
      check(again.status == Status::upgrade && again.offset == 0);
      if (!resume || ++upgrades > 64) return 0;
      tracker.resume_after_upgrade();
      bytes += r.offset;
      left -= r.offset;
      continue;  // the rest of this chunk is HTTP again
    }
    bytes += n;
    left -= n;
    if (left == 0) return 0;
  }
}
