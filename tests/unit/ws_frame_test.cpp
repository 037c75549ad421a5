#include "close_action.h"
#include "ws_frame.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

// Every stream is fed three ways (whole, split in two at every byte, random chunks) and
// must give the same frames each time: the tracker may not care where a read() ended.

namespace dropsim {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Status = FeedResult::Status;

constexpr std::uint32_t kRfcKey = 0x37FA213D;  // the key of RFC 6455 §5.7's examples

/// One frame to write. The test's own encoder, so the tracker is not checked against itself.
struct Spec {
  Opcode opcode = Opcode::binary;
  bool fin = true;
  std::uint8_t rsv = 0;  // 4 = RSV1, 2 = RSV2, 1 = RSV3
  std::string payload;
  std::optional<std::uint32_t> mask;
  std::optional<std::uint64_t> announced;  // a length to write instead of payload.size()
};

std::uint8_t key_byte(std::uint32_t key, std::size_t i) {
  return static_cast<std::uint8_t>(key >> (24 - 8 * (i % 4)));
}

Bytes encode(const Spec& s) {
  const std::uint64_t length = s.announced.value_or(s.payload.size());
  Bytes out;
  out.push_back(static_cast<std::uint8_t>((s.fin ? 0x80 : 0) | (s.rsv << 4) | static_cast<std::uint8_t>(s.opcode)));
  const std::uint8_t mask_bit = s.mask ? 0x80 : 0;
  if (length < 126) {
    out.push_back(static_cast<std::uint8_t>(mask_bit | length));
  } else if (length <= 0xFFFF) {
    out.push_back(mask_bit | 126);
    for (int shift = 8; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(length >> shift));
  } else {
    out.push_back(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(length >> shift));
  }
  if (s.mask) {
    for (std::size_t k = 0; k < 4; ++k) out.push_back(key_byte(*s.mask, k));
  }
  for (std::size_t k = 0; k < s.payload.size(); ++k) {
    out.push_back(static_cast<std::uint8_t>(s.payload[k]) ^ (s.mask ? key_byte(*s.mask, k) : 0));
  }
  return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string close_body(std::uint16_t code, std::string_view reason) {
  std::string body{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  return body.append(reason);
}

/// A frame as the observer saw it, owning its strings.
struct Seen {
  Opcode opcode = Opcode::binary;
  bool fin = true;
  std::uint8_t rsv = 0;
  bool masked = false;
  std::uint32_t mask_key = 0;
  std::uint64_t payload_length = 0;
  std::size_t header_length = 0;
  std::string control_payload;
  std::uint16_t close_code = 0;
  std::string close_reason;
  bool operator==(const Seen&) const = default;
};

void PrintTo(const Seen& s, std::ostream* os) {
  *os << "{opcode " << int(s.opcode) << " fin " << s.fin << " rsv " << int(s.rsv) << " masked " << s.masked
      << " key " << std::hex << s.mask_key << std::dec << " len " << s.payload_length << " hlen "
      << s.header_length << " control '" << s.control_payload << "' close " << s.close_code << " '"
      << s.close_reason << "'}";
}

bool is_control(Opcode op) { return op == Opcode::close || op == Opcode::ping || op == Opcode::pong; }

std::uint8_t kind_of(Opcode op) {
  switch (op) {
    case Opcode::ping: return kKindPing;
    case Opcode::pong: return kKindPong;
    case Opcode::close: return kKindClose;
    default: return kKindData;
  }
}

/// What the tracker should report for `s`, worked out independently.
Seen expected(const Spec& s) {
  Seen e;
  e.opcode = s.opcode;
  e.fin = s.fin;
  e.rsv = s.rsv;
  e.masked = s.mask.has_value();
  e.mask_key = s.mask.value_or(0);
  e.payload_length = s.payload.size();
  e.header_length = 2 + (s.payload.size() < 126 ? 0 : s.payload.size() <= 0xFFFF ? 2 : 8) + (s.mask ? 4 : 0);
  if (is_control(s.opcode)) e.control_payload = s.payload;
  if (s.opcode == Opcode::close && s.payload.size() >= 2) {
    e.close_code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(s.payload[0]) << 8) |
                                              static_cast<std::uint8_t>(s.payload[1]));
    e.close_reason = s.payload.substr(2);
  }
  return e;
}

class Recorder : public FrameObserver {
 public:
  void on_frame(const FrameEvent& f) override {
    seen.push_back(Seen{f.header.opcode, f.header.fin, f.header.rsv, f.header.masked, f.header.mask_key,
                        f.header.payload_length, f.header.header_length, std::string(f.control_payload),
                        f.close_code, std::string(f.close_reason)});
  }
  std::vector<Seen> seen;
};

FeedResult feed(FrameTracker& t, const Bytes& bytes, std::size_t from, std::size_t to, Recorder& r) {
  return t.feed(std::span<const std::uint8_t>(bytes).subspan(from, to - from), r);
}

FeedResult feed(FrameTracker& t, const Bytes& bytes, Recorder& r) { return feed(t, bytes, 0, bytes.size(), r); }

/// A stream of frames, with where each one starts and ends.
struct Stream {
  Bytes bytes;
  std::vector<Seen> frames;
  std::vector<std::size_t> begin, end;
  std::vector<std::uint8_t> kind;

  explicit Stream(const std::vector<Spec>& specs) {
    for (const Spec& s : specs) {
      begin.push_back(bytes.size());
      const Bytes b = encode(s);
      bytes.insert(bytes.end(), b.begin(), b.end());
      end.push_back(bytes.size());
      frames.push_back(expected(s));
      kind.push_back(kind_of(s.opcode));
    }
  }
  /// Kinds of the frames with a byte in [from, to).
  std::uint8_t kinds_in(std::size_t from, std::size_t to) const {
    std::uint8_t k = 0;
    for (std::size_t f = 0; f < frames.size(); ++f) {
      if (begin[f] < to && end[f] > from) k |= kind[f];
    }
    return k;
  }
  bool at_boundary(std::size_t at) const {
    for (std::size_t f = 0; f < frames.size(); ++f) {
      if (begin[f] == at || end[f] == at) return true;
    }
    return at == 0;
  }
};

/// Feeds `stream` whole, split in two at every byte, and in random chunks; every way must
/// give the frames of the stream, in order, with exact kinds_touched and inside_frame().
void expect_same_every_way(const FrameTracker::Options& options, const Stream& stream) {
  const Bytes& bytes = stream.bytes;
  const std::size_t n = bytes.size();
  {
    SCOPED_TRACE("whole");
    FrameTracker t(options);
    Recorder r;
    const FeedResult res = feed(t, bytes, r);
    EXPECT_EQ(res.status, Status::ok) << res.reason;
    EXPECT_EQ(res.offset, 0u);
    EXPECT_EQ(res.kinds_touched, stream.kinds_in(0, n));
    EXPECT_EQ(r.seen, stream.frames);
    EXPECT_FALSE(t.inside_frame());
    EXPECT_FALSE(t.inside_message());
  }
  for (std::size_t k = 1; k < n; ++k) {
    FrameTracker t(options);
    Recorder r;
    const FeedResult a = feed(t, bytes, 0, k, r);
    const bool inside = t.inside_frame();
    const FeedResult b = feed(t, bytes, k, n, r);
    const bool ok = a.status == Status::ok && b.status == Status::ok && a.kinds_touched == stream.kinds_in(0, k) &&
                    b.kinds_touched == stream.kinds_in(k, n) && inside == !stream.at_boundary(k) &&
                    r.seen == stream.frames && !t.inside_frame();
    if (!ok) {
      ADD_FAILURE() << "split at byte " << k << " of " << n << ": status " << int(a.status) << "/" << int(b.status)
                    << " " << a.reason << b.reason << ", kinds " << int(a.kinds_touched) << "/"
                    << int(b.kinds_touched) << " (want " << int(stream.kinds_in(0, k)) << "/"
                    << int(stream.kinds_in(k, n)) << "), inside_frame " << inside << ", " << r.seen.size()
                    << " frames of " << stream.frames.size();
      return;
    }
  }
  for (const unsigned seed : {1u, 2u, 3u, 17u, 2024u}) {
    SCOPED_TRACE(::testing::Message() << "random chunks, seed " << seed);
    std::mt19937 rng(seed);
    FrameTracker t(options);
    Recorder r;
    std::size_t at = 0;
    while (at < n) {
      // Sizes spread over every scale, from 1 byte to 64 KiB.
      const std::size_t scale = std::size_t{1} << (rng() % 17);
      const std::size_t to = std::min(n, at + 1 + rng() % scale);
      const FeedResult res = feed(t, bytes, at, to, r);
      ASSERT_EQ(res.status, Status::ok) << res.reason;
      ASSERT_EQ(res.kinds_touched, stream.kinds_in(at, to)) << "chunk [" << at << ", " << to << ")";
      at = to;
      ASSERT_EQ(t.inside_frame(), !stream.at_boundary(at)) << "after byte " << at;
    }
    EXPECT_EQ(r.seen, stream.frames);
  }
}

/// Feeds `prefix` + `bad` every way; the error must come once, with `status` and `reason`,
/// at the bad frame's offset in the chunk that reports it (0 when it began in an earlier
/// chunk); the frames of `prefix` are delivered; every later feed repeats the error.
void expect_error_every_way(const FrameTracker::Options& options, const std::vector<Spec>& prefix_specs,
                            const Bytes& bad, Status status, const std::string& reason) {
  const Stream prefix(prefix_specs);
  const Bytes bytes = concat({prefix.bytes, bad});
  const std::size_t p = prefix.bytes.size();
  const std::size_t n = bytes.size();
  const auto repeats = [&](FrameTracker& t, Recorder& r) {
    const FeedResult again = feed(t, bytes, r);
    return again.status == status && again.reason == reason && again.offset == 0 && again.kinds_touched == 0;
  };
  {
    SCOPED_TRACE("whole");
    FrameTracker t(options);
    Recorder r;
    const FeedResult res = feed(t, bytes, r);
    EXPECT_EQ(res.status, status);
    EXPECT_EQ(res.reason, reason);
    EXPECT_EQ(res.offset, p);
    EXPECT_EQ(r.seen, prefix.frames);
    EXPECT_TRUE(repeats(t, r));
    EXPECT_EQ(r.seen, prefix.frames) << "no frame after the error";
  }
  for (std::size_t k = 1; k < n; ++k) {
    FrameTracker t(options);
    Recorder r;
    const FeedResult a = feed(t, bytes, 0, k, r);
    const FeedResult b = feed(t, bytes, k, n, r);
    bool ok = false;
    if (a.status != Status::ok) {
      // The bad header began in the first chunk; the second only repeats the error.
      ok = k > p && a.status == status && a.reason == reason && a.offset == p && b.status == status &&
           b.reason == reason && b.offset == 0;
    } else {
      ok = b.status == status && b.reason == reason && b.offset == (k <= p ? p - k : 0);
    }
    ok = ok && r.seen == prefix.frames && repeats(t, r);
    if (!ok) {
      ADD_FAILURE() << "split at byte " << k << " of " << n << " (bad frame at " << p << "): first "
                    << int(a.status) << " '" << a.reason << "' at " << a.offset << ", second " << int(b.status)
                    << " '" << b.reason << "' at " << b.offset << ", " << r.seen.size() << " frames";
      return;
    }
  }
}

FrameTracker::Options client_side() { return {.expect_masked = true}; }
FrameTracker::Options server_side() { return {.expect_masked = false}; }

// --- frames of every length encoding, masked and not, fed every way --------------------

class WsFrameStreamTest : public ::testing::TestWithParam<std::tuple<std::size_t, bool>> {};

TEST_P(WsFrameStreamTest, SameFramesHoweverTheBytesArrive) {
  const auto [size, masked] = GetParam();
  const auto key = [&](std::uint32_t k) { return masked ? std::optional<std::uint32_t>(k) : std::nullopt; };
  std::string data(size, '\0');
  for (std::size_t k = 0; k < size; ++k) data[k] = static_cast<char>(k * 7 + 3);
  const Stream stream({
      {.opcode = Opcode::binary, .payload = data, .mask = key(0xA1B2C3D4)},
      {.opcode = Opcode::ping, .payload = "are you there?", .mask = key(kRfcKey)},
      {.opcode = Opcode::text, .payload = std::string(size, 'x'), .mask = key(0x01020304)},
      {.opcode = Opcode::pong, .payload = std::string(125, 'p'), .mask = key(0xFFFFFFFF)},
      {.opcode = Opcode::close, .payload = close_body(1001, "going away, bye"), .mask = key(0x00000000)},
  });
  // The header length the encoding needs: 7-bit, 16-bit or 64-bit length, then the key.
  const std::size_t want_header = (size < 126 ? 2 : size <= 0xFFFF ? 4 : 10) + (masked ? 4 : 0);
  ASSERT_EQ(stream.frames[0].header_length, want_header);
  ASSERT_EQ(stream.frames[4].close_code, 1001);
  ASSERT_EQ(stream.frames[4].close_reason, "going away, bye");
  expect_same_every_way(masked ? client_side() : server_side(), stream);
}

INSTANTIATE_TEST_SUITE_P(WsFrameLengths, WsFrameStreamTest,
                         ::testing::Combine(::testing::Values(0, 125, 126, 65535, 65536, 70000), ::testing::Bool()),
                         [](const auto& info) {
                           return "payload" + std::to_string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_masked" : "_unmasked");
                         });

TEST(WsFrameTrackerTest, ReadsTheRfcExamples) {
  // RFC 6455 §5.7: an unmasked text "Hello", and a masked pong "Hello".
  const Bytes text = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  const Bytes pong = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  {
    FrameTracker t(server_side());
    Recorder r;
    EXPECT_EQ(feed(t, text, r).status, Status::ok);
    ASSERT_EQ(r.seen.size(), 1u);
    EXPECT_EQ(r.seen[0].opcode, Opcode::text);
    EXPECT_EQ(r.seen[0].payload_length, 5u);
    EXPECT_EQ(r.seen[0].header_length, 2u);
    EXPECT_EQ(r.seen[0].control_payload, "") << "data payload is skipped, not copied";
  }
  {
    FrameTracker t(client_side());
    Recorder r;
    EXPECT_EQ(feed(t, pong, r).status, Status::ok);
    ASSERT_EQ(r.seen.size(), 1u);
    EXPECT_EQ(r.seen[0].opcode, Opcode::pong);
    EXPECT_TRUE(r.seen[0].masked);
    EXPECT_EQ(r.seen[0].mask_key, kRfcKey);
    EXPECT_EQ(r.seen[0].header_length, 6u);
    EXPECT_EQ(r.seen[0].control_payload, "Hello");
  }
}

// --- fragmentation, control frames between fragments, RSV1 ------------------------------

std::vector<Spec> fragmented_hello(std::optional<std::uint32_t> mask, std::uint8_t first_rsv = 0) {
  return {
      {.opcode = Opcode::text, .fin = false, .rsv = first_rsv, .payload = "Hel", .mask = mask},
      {.opcode = Opcode::ping, .payload = "p1", .mask = mask},
      {.opcode = Opcode::continuation, .fin = false, .payload = "lo, ", .mask = mask},
      {.opcode = Opcode::pong, .payload = "", .mask = mask},
      {.opcode = Opcode::continuation, .fin = true, .payload = "world", .mask = mask},
  };
}

TEST(WsFrameTrackerTest, FragmentedMessageWithControlFramesBetweenFragments) {
  expect_same_every_way(server_side(), Stream(fragmented_hello(std::nullopt)));
  expect_same_every_way(client_side(), Stream(fragmented_hello(0xDEADBEEF)));
}

TEST(WsFrameTrackerTest, FragmentedMessageStateFrameByFrame) {
  const Stream stream(fragmented_hello(std::nullopt));
  FrameTracker t(server_side());
  Recorder r;
  EXPECT_FALSE(t.inside_message());
  // After each frame: still inside the message until the final continuation is through.
  const bool inside_after[] = {true, true, true, true, false};
  for (std::size_t f = 0; f < 5; ++f) {
    EXPECT_EQ(feed(t, stream.bytes, stream.begin[f], stream.end[f], r).status, Status::ok);
    EXPECT_EQ(t.inside_message(), inside_after[f]) << "after frame " << f;
    EXPECT_FALSE(t.inside_frame());
  }
  ASSERT_EQ(r.seen.size(), 5u);
  EXPECT_EQ(r.seen[1].control_payload, "p1");
  EXPECT_EQ(r.seen[3].control_payload, "");
}

TEST(WsFrameTrackerTest, InsideFrameAndInsideMessageByteByByte) {
  // text FIN=0 "abc", then continuation FIN=1 "de", unmasked.
  const Bytes bytes = concat({encode({.opcode = Opcode::text, .fin = false, .payload = "abc"}),
                              encode({.opcode = Opcode::continuation, .payload = "de"})});
  ASSERT_EQ(bytes.size(), 9u);
  //                         0      1     2     3     4      5     6     7     8
  const bool frame_after[] = {true, true, true, true, false, true, true, true, false};
  const bool message_after[] = {false, true, true, true, true, true, true, true, false};
  FrameTracker t(server_side());
  Recorder r;
  EXPECT_FALSE(t.inside_frame());
  EXPECT_FALSE(t.inside_message());
  for (std::size_t k = 0; k < bytes.size(); ++k) {
    ASSERT_EQ(feed(t, bytes, k, k + 1, r).status, Status::ok);
    EXPECT_EQ(t.inside_frame(), frame_after[k]) << "after byte " << k;
    EXPECT_EQ(t.inside_message(), message_after[k]) << "after byte " << k;
  }
  EXPECT_EQ(r.seen.size(), 2u);
}

TEST(WsFrameTrackerTest, ZeroLengthFrameCompletesRightAfterItsHeader) {
  const Bytes ping = encode({.opcode = Opcode::ping});
  FrameTracker t(server_side());
  Recorder r;
  EXPECT_EQ(feed(t, ping, 0, 1, r).status, Status::ok);
  EXPECT_TRUE(r.seen.empty());
  EXPECT_TRUE(t.inside_frame());
  EXPECT_EQ(feed(t, ping, 1, 2, r).status, Status::ok);
  ASSERT_EQ(r.seen.size(), 1u);
  EXPECT_EQ(r.seen[0].opcode, Opcode::ping);
  EXPECT_FALSE(t.inside_frame());
}

TEST(WsFrameTrackerTest, Rsv1IsLegalOnAMessagesFirstFrameWithPermessageDeflate) {
  FrameTracker::Options deflate = server_side();
  deflate.allow_rsv1 = true;
  const Stream single({{.opcode = Opcode::text, .rsv = 4, .payload = "compressed"}});
  expect_same_every_way(deflate, single);
  EXPECT_EQ(single.frames[0].rsv, 4);
  expect_same_every_way(deflate, Stream(fragmented_hello(std::nullopt, 4)));
  FrameTracker::Options client_deflate = client_side();
  client_deflate.allow_rsv1 = true;
  expect_same_every_way(client_deflate, Stream(fragmented_hello(0x11223344, 4)));
}

TEST(WsFrameTrackerTest, Rsv1WithoutPermessageDeflateIsMalformed) {
  expect_error_every_way(server_side(), {{.payload = "ok"}}, encode({.opcode = Opcode::text, .rsv = 4, .payload = "z"}),
                         Status::malformed, "RSV1 set without permessage-deflate");
}

TEST(WsFrameTrackerTest, Rsv1OnlyOnTheFirstDataFrame) {
  FrameTracker::Options deflate = server_side();
  deflate.allow_rsv1 = true;
  expect_error_every_way(deflate, {{.opcode = Opcode::text, .fin = false, .rsv = 4, .payload = "a"}},
                         encode({.opcode = Opcode::continuation, .rsv = 4, .payload = "b"}), Status::malformed,
                         "RSV1 set on a continuation frame");
  expect_error_every_way(deflate, {{.payload = "ok"}}, encode({.opcode = Opcode::ping, .rsv = 4, .payload = "p"}),
                         Status::malformed, "RSV1 set on a control frame (ping)");
}

// --- every malformed frame -----------------------------------------------------------

TEST(WsFrameTrackerTest, ReservedOpcodes) {
  for (const std::uint8_t op : {0x3, 0x4, 0x7, 0xB, 0xF}) {
    SCOPED_TRACE(int(op));
    const char* names[] = {"", "", "", "3", "4", "", "", "7", "", "", "", "B", "", "", "", "F"};
    expect_error_every_way(server_side(), {{.payload = "ok"}},
                           encode({.opcode = static_cast<Opcode>(op), .payload = "?"}), Status::malformed,
                           std::string("reserved opcode 0x") + names[op]);
  }
}

TEST(WsFrameTrackerTest, Rsv2AndRsv3AreNeverLegal) {
  for (const bool allow_rsv1 : {false, true}) {
    FrameTracker::Options o = server_side();
    o.allow_rsv1 = allow_rsv1;
    for (const std::uint8_t rsv : {2, 1, 3}) {
      expect_error_every_way(o, {{.payload = "ok"}}, encode({.rsv = rsv, .payload = "x"}), Status::malformed,
                             "RSV2/RSV3 set (no extension negotiated uses them)");
    }
  }
}

TEST(WsFrameTrackerTest, FragmentedControlFrame) {
  expect_error_every_way(server_side(), {{.payload = "ok"}}, encode({.opcode = Opcode::ping, .fin = false}),
                         Status::malformed, "control frame (ping) is fragmented (FIN=0)");
  expect_error_every_way(server_side(), {}, encode({.opcode = Opcode::close, .fin = false}), Status::malformed,
                         "control frame (close) is fragmented (FIN=0)");
}

TEST(WsFrameTrackerTest, ControlPayloadOver125Bytes) {
  expect_error_every_way(server_side(), {{.payload = "ok"}},
                         encode({.opcode = Opcode::ping, .payload = std::string(200, 'p')}), Status::malformed,
                         "control frame payload of 200 bytes (max 125)");
  expect_error_every_way(client_side(), {{.payload = "ok", .mask = 1}},
                         encode({.opcode = Opcode::close, .payload = std::string(126, 'c'), .mask = 2}),
                         Status::malformed, "control frame payload of 126 bytes (max 125)");
}

TEST(WsFrameTrackerTest, ContinuationWithNoMessage) {
  expect_error_every_way(server_side(), {{.payload = "complete"}},
                         encode({.opcode = Opcode::continuation, .payload = "orphan"}), Status::malformed,
                         "continuation frame with no message in progress");
}

TEST(WsFrameTrackerTest, NewDataFrameInsideAFragmentedMessage) {
  const std::vector<Spec> open = {{.opcode = Opcode::binary, .fin = false, .payload = "part"},
                                  {.opcode = Opcode::ping, .payload = "between"}};
  expect_error_every_way(server_side(), open, encode({.opcode = Opcode::text, .payload = "new"}), Status::malformed,
                         "new text frame while a fragmented message is in progress");
  expect_error_every_way(server_side(), open, encode({.opcode = Opcode::binary, .fin = false}), Status::malformed,
                         "new binary frame while a fragmented message is in progress");
}

TEST(WsFrameTrackerTest, SixtyFourBitLengthWithTheTopBitSet) {
  expect_error_every_way(server_side(), {{.payload = "ok"}},
                         encode({.announced = std::uint64_t{1} << 63}), Status::malformed,
                         "64-bit length with the most significant bit set");
  // The largest legal length is accepted, and skipped chunk by chunk.
  FrameTracker t(server_side());
  Recorder r;
  const Bytes header = encode({.announced = (std::uint64_t{1} << 63) - 1});
  EXPECT_EQ(feed(t, header, r).status, Status::ok);
  const Bytes chunk(1 << 20, 0x55);
  for (int k = 0; k < 8; ++k) EXPECT_EQ(feed(t, chunk, r).kinds_touched, kKindData);
  EXPECT_TRUE(t.inside_frame());
  EXPECT_TRUE(r.seen.empty());
}

TEST(WsFrameTrackerTest, MaskingMustMatchTheDirection) {
  expect_error_every_way(client_side(), {{.payload = "ok", .mask = kRfcKey}}, encode({.payload = "bare"}),
                         Status::malformed, "unmasked frame from the client");
  expect_error_every_way(server_side(), {{.payload = "ok"}}, encode({.payload = "hidden", .mask = kRfcKey}),
                         Status::malformed, "masked frame from the server");
}

TEST(WsFrameTrackerTest, CloseWithAOneBytePayload) {
  expect_error_every_way(server_side(), {{.payload = "ok"}}, encode({.opcode = Opcode::close, .payload = "\x03"}),
                         Status::malformed, "close frame with a 1-byte payload");
  // Zero bytes is legal: no code.
  const Stream empty_close({{.opcode = Opcode::close}});
  expect_same_every_way(server_side(), empty_close);
  EXPECT_EQ(empty_close.frames[0].close_code, 0);
}

TEST(WsFrameTrackerTest, OffsetIsZeroWhenTheBadHeaderBeganInAnEarlierFeed) {
  const Bytes ok = encode({.payload = "fine"});  // 6 bytes
  const Bytes bad = encode({.announced = std::uint64_t{1} << 63});  // 10 bytes
  const Bytes bytes = concat({ok, bad});
  FrameTracker t(server_side());
  Recorder r;
  const FeedResult first = feed(t, bytes, 0, ok.size() + 3, r);
  EXPECT_EQ(first.status, Status::ok);
  EXPECT_TRUE(t.inside_frame());
  const FeedResult second = feed(t, bytes, ok.size() + 3, bytes.size(), r);
  EXPECT_EQ(second.status, Status::malformed);
  EXPECT_EQ(second.offset, 0u);
  EXPECT_EQ(second.reason, "64-bit length with the most significant bit set");
  EXPECT_EQ(r.seen.size(), 1u);

  // The same bad frame in one chunk after the good one: its offset in that chunk.
  FrameTracker whole(server_side());
  const FeedResult at_once = feed(whole, bytes, r);
  EXPECT_EQ(at_once.status, Status::malformed);
  EXPECT_EQ(at_once.offset, 6u);
}

TEST(WsFrameTrackerTest, StaysFailedAfterAnError) {
  FrameTracker t(client_side());
  Recorder r;
  const Bytes bad = concat({encode({.payload = "x", .mask = 9}), encode({.payload = "bare"})});
  const FeedResult res = feed(t, bad, r);
  EXPECT_EQ(res.status, Status::malformed);
  EXPECT_EQ(res.offset, 7u);
  EXPECT_EQ(res.reason, "unmasked frame from the client");
  const Bytes good = encode({.opcode = Opcode::ping, .mask = 1});
  for (int k = 0; k < 3; ++k) {
    const FeedResult again = feed(t, good, r);
    EXPECT_EQ(again.status, Status::malformed);
    EXPECT_EQ(again.offset, 0u);
    EXPECT_EQ(again.reason, "unmasked frame from the client");
    EXPECT_EQ(again.kinds_touched, 0);
  }
  EXPECT_EQ(r.seen.size(), 1u);
}

// --- limits ----------------------------------------------------------------------------

TEST(WsFrameTrackerTest, FrameLimit) {
  FrameTracker::Options o = server_side();
  o.max_frame = 1000;
  expect_same_every_way(o, Stream({{.payload = std::string(1000, 'a')}, {.payload = std::string(999, 'b')}}));
  expect_error_every_way(o, {{.payload = std::string(1000, 'a')}}, encode({.payload = std::string(1001, 'b')}),
                         Status::too_big, "frame of 1001 bytes over the limit of 1000");
  // Refused as soon as the header is whole, before any payload byte.
  FrameTracker t(o);
  Recorder r;
  const Bytes header = encode({.opcode = Opcode::text, .announced = 5'000'000});
  const FeedResult res = feed(t, header, r);
  EXPECT_EQ(res.status, Status::too_big);
  EXPECT_EQ(res.offset, 0u);
  EXPECT_EQ(res.reason, "frame of 5000000 bytes over the limit of 1000");
}

TEST(WsFrameTrackerTest, MessageLimitCountsEveryFragment) {
  FrameTracker::Options o = client_side();
  o.max_message = 1000;
  // Exactly at the limit, with a ping between fragments (control frames do not count),
  // then a new message starts from zero.
  expect_same_every_way(o, Stream({{.opcode = Opcode::text, .fin = false, .payload = std::string(600, 'a'), .mask = 1},
                                   {.opcode = Opcode::ping, .payload = std::string(125, 'p'), .mask = 2},
                                   {.opcode = Opcode::continuation, .payload = std::string(400, 'b'), .mask = 3},
                                   {.opcode = Opcode::binary, .payload = std::string(1000, 'c'), .mask = 4}}));
  const std::vector<Spec> open = {{.opcode = Opcode::text, .fin = false, .payload = std::string(600, 'a'), .mask = 1},
                                  {.opcode = Opcode::ping, .payload = "hb", .mask = 2},
                                  {.opcode = Opcode::continuation, .fin = false, .payload = std::string(300, 'b'), .mask = 3}};
  expect_error_every_way(o, open, encode({.opcode = Opcode::continuation, .payload = std::string(101, 'c'), .mask = 4}),
                         Status::too_big, "message of 1001 bytes over the limit of 1000");
  // A single-frame message over the limit.
  expect_error_every_way(o, {}, encode({.payload = std::string(1001, 'd'), .mask = 5}), Status::too_big,
                         "message of 1001 bytes over the limit of 1000");
}

TEST(WsFrameTrackerTest, FrameAndMessageLimitsTogether) {
  FrameTracker::Options o = server_side();
  o.max_frame = 100;
  o.max_message = 150;
  expect_error_every_way(o, {{.opcode = Opcode::text, .fin = false, .payload = std::string(100, 'a')}},
                         encode({.opcode = Opcode::continuation, .payload = std::string(60, 'b')}), Status::too_big,
                         "message of 160 bytes over the limit of 150");
  expect_error_every_way(o, {}, encode({.payload = std::string(200, 'b')}), Status::too_big,
                         "frame of 200 bytes over the limit of 100");
}

// --- kinds_touched -------------------------------------------------------------------------

TEST(WsFrameTrackerTest, KindsTouchedNameEveryFrameWithBytesInTheChunk) {
  // text "hello" [0,7), ping "p" [7,10), pong [10,12), close 1000 [12,16).
  const Stream s({{.opcode = Opcode::text, .payload = "hello"},
                  {.opcode = Opcode::ping, .payload = "p"},
                  {.opcode = Opcode::pong},
                  {.opcode = Opcode::close, .payload = close_body(1000, "")}});
  ASSERT_EQ(s.bytes.size(), 16u);
  FrameTracker t(server_side());
  Recorder r;
  EXPECT_EQ(feed(t, s.bytes, 0, 3, r).kinds_touched, kKindData);
  EXPECT_EQ(feed(t, s.bytes, 3, 8, r).kinds_touched, kKindData | kKindPing);
  EXPECT_EQ(feed(t, s.bytes, 8, 12, r).kinds_touched, kKindPing | kKindPong);
  EXPECT_EQ(feed(t, s.bytes, 12, 13, r).kinds_touched, kKindClose);
  EXPECT_EQ(feed(t, s.bytes, 13, 13, r).kinds_touched, 0) << "an empty chunk touches nothing";
  EXPECT_EQ(feed(t, s.bytes, 13, 16, r).kinds_touched, kKindClose);
  ASSERT_EQ(r.seen.size(), 4u);
  EXPECT_EQ(r.seen[3].close_code, 1000);
  EXPECT_EQ(r.seen[3].close_reason, "");
}

// --- encode_close_frame and describe_close_code ----------------------------------------------

TEST(WsFrameCloseTest, EncodesExactBytes) {
  EXPECT_EQ(encode_close_frame(1000, ""), (Bytes{0x88, 0x02, 0x03, 0xE8}));
  // 03 E9 'b' 'y' 'e' XOR 01 02 03 04 01
  EXPECT_EQ(encode_close_frame(1001, "bye", 0x01020304),
            (Bytes{0x88, 0x85, 0x01, 0x02, 0x03, 0x04, 0x02, 0xEB, 0x61, 0x7D, 0x64}));
}

TEST(WsFrameCloseTest, RoundTripsThroughTheTracker) {
  for (const std::optional<std::uint32_t> key : {std::optional<std::uint32_t>{}, std::optional<std::uint32_t>{kRfcKey},
                                                 std::optional<std::uint32_t>{0}}) {
    SCOPED_TRACE(key ? "masked" : "unmasked");
    const Bytes frame = encode_close_frame(1009, "message too big: 70000 bytes", key);
    FrameTracker t(key ? client_side() : server_side());
    Recorder r;
    const FeedResult res = feed(t, frame, r);
    EXPECT_EQ(res.status, Status::ok) << res.reason;
    EXPECT_EQ(res.kinds_touched, kKindClose);
    ASSERT_EQ(r.seen.size(), 1u);
    EXPECT_EQ(r.seen[0].opcode, Opcode::close);
    EXPECT_TRUE(r.seen[0].fin);
    EXPECT_EQ(r.seen[0].masked, key.has_value());
    EXPECT_EQ(r.seen[0].mask_key, key.value_or(0));
    EXPECT_EQ(r.seen[0].close_code, 1009);
    EXPECT_EQ(r.seen[0].close_reason, "message too big: 70000 bytes");
    // The test's encoder writes the same bytes.
    EXPECT_EQ(frame, encode({.opcode = Opcode::close, .payload = close_body(1009, "message too big: 70000 bytes"),
                             .mask = key}));
  }
}

/// The reason a close frame carries, read back by the tracker.
std::string reason_after_encoding(const std::string& reason) {
  const Bytes frame = encode_close_frame(1000, reason, 0xCAFEF00D);
  FrameTracker t(client_side());
  Recorder r;
  EXPECT_EQ(feed(t, frame, r).status, Status::ok);
  return r.seen.empty() ? "<none>" : r.seen[0].close_reason;
}

TEST(WsFrameCloseTest, ReasonIsCutAt123BytesOnACharacterBoundary) {
  EXPECT_EQ(reason_after_encoding(std::string(123, 'a')), std::string(123, 'a'));
  EXPECT_EQ(reason_after_encoding(std::string(200, 'a')), std::string(123, 'a'));
  EXPECT_EQ(encode_close_frame(1000, std::string(200, 'a')).size(), 2u + 125u);
  // é is 2 bytes, € 3, 😀 4: each straddles byte 123, so it goes whole.
  EXPECT_EQ(reason_after_encoding(std::string(121, 'a') + "\xC3\xA9"), std::string(121, 'a') + "\xC3\xA9");
  EXPECT_EQ(reason_after_encoding(std::string(122, 'a') + "\xC3\xA9"), std::string(122, 'a'));
  EXPECT_EQ(reason_after_encoding(std::string(121, 'a') + "\xE2\x82\xAC"), std::string(121, 'a'));
  EXPECT_EQ(reason_after_encoding(std::string(120, 'a') + "\xE2\x82\xAC"), std::string(120, 'a') + "\xE2\x82\xAC");
  EXPECT_EQ(reason_after_encoding(std::string(120, 'a') + "\xF0\x9F\x98\x80" + "tail"), std::string(120, 'a'));
  EXPECT_EQ(reason_after_encoding(std::string(119, 'a') + "\xF0\x9F\x98\x80" + "tail"),
            std::string(119, 'a') + "\xF0\x9F\x98\x80");
}

TEST(WsFrameCloseTest, DescribesEveryRegisteredCode) {
  const std::pair<std::uint16_t, const char*> table[] = {
      {1000, "close 1000 (normal closure)"},  {1001, "close 1001 (going away)"},
      {1002, "close 1002 (protocol error)"},  {1003, "close 1003 (unsupported data)"},
      {1005, "close 1005 (no status received)"}, {1006, "close 1006 (abnormal closure)"},
      {1007, "close 1007 (invalid payload data)"}, {1008, "close 1008 (policy violation)"},
      {1009, "close 1009 (message too big)"}, {1010, "close 1010 (mandatory extension)"},
      {1011, "close 1011 (internal error)"},  {1012, "close 1012 (service restart)"},
      {1013, "close 1013 (try again later)"}, {1014, "close 1014 (bad gateway)"},
      {1015, "close 1015 (TLS handshake)"},
  };
  for (const auto& [code, text] : table) EXPECT_EQ(describe_close_code(code), text);
  EXPECT_EQ(describe_close_code(1004), "close 1004");
  EXPECT_EQ(describe_close_code(4000), "close 4000");
  EXPECT_EQ(describe_close_code(0), "close 0");
}

}  // namespace
}  // namespace dropsim
