// libFuzzer target for FrameTracker (proxy/protocol/ws_frame.h).
//
// Input: byte 0 picks the options (bits 0-3) and how the rest is cut into feeds
// (bits 4-7); the rest is the wire. The stream is fed twice, cut and whole, and the two
// runs must agree; every result and frame is checked against invariants that hold for
// any input. A violation is __builtin_trap(), which libFuzzer reports as a crash.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "chunks.h"
#include "ws_frame.h"

namespace {

using dropsim::FeedResult;
using dropsim::FrameEvent;
using dropsim::FrameTracker;
using dropsim::Opcode;

using dropsim::fuzz::check;

bool is_control(Opcode op) { return op == Opcode::close || op == Opcode::ping || op == Opcode::pong; }

/// Checks each frame as it completes and keeps a summary to compare runs with.
class Checker : public dropsim::FrameObserver {
 public:
  explicit Checker(const FrameTracker::Options& options) : options_(options) {}

  void on_frame(const FrameEvent& f) override {
    const auto& h = f.header;
    check(h.header_length >= 2 && h.header_length <= 14);
    const std::size_t length_bytes = h.header_length - 2 - (h.masked ? 4 : 0);
    check(length_bytes == 0 || length_bytes == 2 || length_bytes == 8);
    check(h.masked == options_.expect_masked);
    check((h.rsv & 0x3) == 0);
    check((h.rsv & 0x4) == 0 || (options_.allow_rsv1 && !is_control(h.opcode) && h.opcode != Opcode::continuation));
    check((h.payload_length >> 63) == 0);
    check(options_.max_frame == 0 || h.payload_length <= options_.max_frame);
    if (is_control(h.opcode)) {
      check(h.fin);
      check(h.payload_length <= 125);
      check(f.control_payload.size() == h.payload_length);
    } else {
      check(f.control_payload.empty());
    }
    if (h.opcode == Opcode::close) {
      check(h.payload_length != 1);
      if (h.payload_length >= 2) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(f.control_payload.data());
        check(f.close_code == ((p[0] << 8) | p[1]));
        check(f.close_reason.size() == h.payload_length - 2);
        check(f.close_reason.data() == f.control_payload.data() + 2);
      } else {
        check(f.close_code == 0 && f.close_reason.empty());
      }
    } else {
      check(f.close_code == 0 && f.close_reason.empty());
    }
    completed_bytes += h.header_length + h.payload_length;
    // A summary of the frame: the split-invariant parts, in order.
    summary.push_back(static_cast<std::uint64_t>(h.opcode) | (std::uint64_t{h.fin} << 4) |
                      (std::uint64_t{h.rsv} << 5) | (std::uint64_t{h.mask_key} << 8));
    summary.push_back(h.payload_length ^ (std::uint64_t{h.header_length} << 56));
    summary.insert(summary.end(), f.control_payload.begin(), f.control_payload.end());
    summary.push_back(f.close_code);
  }

  std::uint64_t completed_bytes = 0;
  std::vector<std::uint64_t> summary;

 private:
  FrameTracker::Options options_;
};

/// How long the next chunk is under `pattern` (0: whole; 1..7: fixed; 8..15: varied).
std::size_t next_chunk(unsigned pattern, std::uint32_t& state, std::size_t left) {
  static constexpr std::size_t kFixed[] = {0, 1, 2, 3, 5, 14, 64, 4096};
  std::size_t n = 0;
  if (pattern == 0) {
    n = left;
  } else if (pattern < 8) {
    n = kFixed[pattern];
  } else {
    // xorshift32: sizes from 0 (an empty feed) to 2^(pattern - 4) bytes.
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    n = state % ((std::size_t{1} << (pattern - 4)) + 1);
  }
  return n < left ? n : left;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  FrameTracker::Options options;
  options.expect_masked = (flags & 0x1) != 0;
  options.allow_rsv1 = (flags & 0x2) != 0;
  options.max_frame = (flags & 0x4) != 0 ? 300 : 0;
  options.max_message = (flags & 0x8) != 0 ? 1000 : 0;
  const unsigned pattern = flags >> 4;
  const std::span<const std::uint8_t> wire(data + 1, size - 1);

  // Run 1: cut into chunks, checking each result.
  FrameTracker cut(options);
  Checker cut_frames(options);
  std::uint64_t consumed = 0;  // bytes fed before the current chunk
  std::uint32_t state = 0x9E3779B9u ^ static_cast<std::uint32_t>(size);
  FeedResult first_error;
  bool failed = false;
  std::size_t at = 0;
  std::size_t feeds = 0;
  do {
    std::size_t n = next_chunk(pattern, state, wire.size() - at);
    if (++feeds > 2 * wire.size() + 8) n = wire.size() - at;  // varied sizes may draw 0 for long
    const FeedResult r = cut.feed(wire.subspan(at, n), cut_frames);
    check((r.kinds_touched & ~0xF) == 0);
    check(n > 0 || r.kinds_touched == 0);
    if (r.status == FeedResult::Status::ok) {
      check(!failed);
      check(r.reason.empty() && r.offset == 0);
      // Completed frames cover at most what was fed, and all of it between frames.
      check(cut_frames.completed_bytes <= consumed + n);
      check(cut.inside_frame() == (cut_frames.completed_bytes < consumed + n));
    } else if (failed) {
      // Already failed: the same error, at offset 0, touching nothing, completing nothing.
      check(r.status == first_error.status && r.reason == first_error.reason);
      check(r.offset == 0 && r.kinds_touched == 0);
    } else {
      check(!r.reason.empty());
      check(n > 0 && r.offset < n);
      // Every completed frame ended before the offending frame began.
      check(cut_frames.completed_bytes <= consumed + r.offset);
      failed = true;
      first_error = r;
    }
    consumed += n;
    at += n;
  } while (at < wire.size());

  // Run 2: the same bytes in one feed must give the same frames and the same outcome.
  FrameTracker whole(options);
  Checker whole_frames(options);
  const FeedResult w = whole.feed(wire, whole_frames);
  check(w.status == (failed ? first_error.status : FeedResult::Status::ok));
  check(w.reason == (failed ? first_error.reason : std::string()));
  check(whole_frames.summary == cut_frames.summary);
  check(whole_frames.completed_bytes == cut_frames.completed_bytes);
  if (!failed) {
    check(whole.inside_frame() == cut.inside_frame());
    check(whole.inside_message() == cut.inside_message());
    check(whole_frames.completed_bytes <= wire.size());
  } else {
    // Frames are contiguous: all before the offending one are complete, and end at it.
    check(w.offset < wire.size());
    check(whole_frames.completed_bytes == w.offset);
  }
  return 0;
}
