#pragma once
// RFC 6455 frames, followed as they pass: a pure, incremental tracker per direction. It
// reads headers, skips payload by length (unmasking only the ≤125 bytes of a control
// frame, to read a close code), never buffers a message and never changes a byte.
//
//   bytes ──► FrameTracker::feed ──► FrameObserver::on_frame (one per complete frame)
//                                └─► FeedResult {kinds touched, or the first error}

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dropsim {

/// Frame opcodes (RFC 6455 §5.2).
enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// One frame's header, as read off the wire.
struct FrameHeader {
  bool fin = true;
  std::uint8_t rsv = 0;             ///< the three RSV bits, as 0b0RSV1RSV2RSV3 << 0 (RSV1 = 4)
  Opcode opcode = Opcode::binary;
  bool masked = false;
  /// The four key bytes as a big-endian number (key byte 0 is bits 31..24), valid when masked.
  std::uint32_t mask_key = 0;
  std::uint64_t payload_length = 0;
  std::size_t header_length = 0;    ///< 2 to 14 bytes
};

/// A complete frame, as the observer sees it.
struct FrameEvent {
  FrameHeader header;
  /// Control frames only: the unmasked payload (at most 125 bytes); empty otherwise.
  std::string_view control_payload;
  /// Close frames with a payload: the status code (0 when the close frame had no body).
  std::uint16_t close_code = 0;
  /// Close frames: the reason text.
  std::string_view close_reason;
};

/// Receives one call per complete frame.
class FrameObserver {
 public:
  virtual ~FrameObserver() = default;
  /// A frame was complete (its last payload byte passed).
  virtual void on_frame(const FrameEvent& frame) = 0;
};

/// Bits of FeedResult::kinds_touched.
enum FrameKindBit : std::uint8_t {
  kKindData = 1,   ///< text/binary/continuation payload or header bytes
  kKindPing = 2,
  kKindPong = 4,
  kKindClose = 8,
};

/// What one feed() saw.
struct FeedResult {
  enum class Status {
    ok,         ///< every byte was consumed
    malformed,  ///< a protocol violation; `offset` is the first byte of the offending frame
                ///< in this chunk (0 when that frame began in an earlier chunk)
    too_big,    ///< a frame or message over the limit; `offset` as for malformed
  };
  Status status = Status::ok;
  std::size_t offset = 0;
  std::string reason;               ///< for malformed / too_big, in a person's words
  std::uint8_t kinds_touched = 0;   ///< FrameKindBit of every frame with bytes in this chunk
};

/// Follows the frames of one direction.
class FrameTracker {
 public:
  /// Rules for one direction.
  struct Options {
    /// RFC 6455 §5.1: client→server frames are masked, server→client frames are not.
    bool expect_masked = false;
    /// permessage-deflate (RFC 7692) negotiated: RSV1 may be set on a message's first frame.
    bool allow_rsv1 = false;
    std::uint64_t max_frame = 0;    ///< payload bytes of one frame; 0: no limit
    std::uint64_t max_message = 0;  ///< payload bytes of one message (all its frames); 0: no limit
  };

  explicit FrameTracker(Options options);

  /// Consumes `bytes`; calls `observer` for each frame completed. After an error, the
  /// tracker stays failed and further feeds return the same error at offset 0.
  FeedResult feed(std::span<const std::uint8_t> bytes, FrameObserver& observer);

  /// True between a frame's first and last byte (a close frame injected now would corrupt it).
  bool inside_frame() const;
  /// True while a fragmented message is in progress.
  bool inside_message() const;
  /// The rules in force.
  const Options& options() const { return options_; }

 private:
  /// Why the stream is broken: malformed or too_big, and the reason.
  struct Violation {
    FeedResult::Status status;
    std::string reason;
  };
  /// Checks that need only byte 0 (FIN, RSV, opcode) against the message state.
  std::optional<Violation> take_first_byte(std::uint8_t byte);
  /// Checks that need byte 1 (MASK); sets how long the header is.
  std::optional<Violation> take_second_byte(std::uint8_t byte);
  /// The header is whole: reads length and key, checks lengths and limits.
  std::optional<Violation> complete_header();
  /// The frame's last byte passed: resets for the next header, then tells the observer.
  void complete_frame(FrameObserver& observer);

  Options options_;
  // Parser state (documented in ws_frame.cpp).
  std::uint8_t header_[14] = {};     ///< the current header's bytes, as they arrive
  std::size_t header_have_ = 0;      ///< how many of them arrived (0: between frames)
  std::size_t header_need_ = 2;      ///< its full length, known once byte 1 arrived
  FrameHeader current_{};            ///< the frame being read, filled as the header arrives
  std::uint64_t payload_left_ = 0;   ///< payload bytes still to pass
  bool in_payload_ = false;          ///< the header is complete, the payload is passing
  bool in_message_ = false;          ///< a fragmented message's first frame was seen, not its last
  std::uint64_t message_bytes_ = 0;  ///< payload of the current message so far (announced)
  std::string control_;  ///< a control frame's payload, unmasked as it arrives (≤125 bytes)
  std::optional<FeedResult> failed_;  ///< the first error, replayed (offset 0) ever after
};

/// One frame with `payload`, masked with `mask_key` when given (frames toward a server
/// must be masked); the shortest length encoding.
std::vector<std::uint8_t> encode_frame(Opcode opcode, std::span<const std::uint8_t> payload, bool fin = true,
                                       std::optional<std::uint32_t> mask_key = std::nullopt);

/// A close frame with `code` and `reason` (reason cut to 123 bytes), masked with
/// `mask_key` when given (frames toward a server must be masked).
std::vector<std::uint8_t> encode_close_frame(std::uint16_t code, std::string_view reason,
                                             std::optional<std::uint32_t> mask_key = std::nullopt);

}  // namespace dropsim
