#include "ws_frame.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "enum_names.h"

// How feed() walks a chunk: one pass, one state machine per direction.
//
//   between frames ──byte 0──► header (2..14 bytes, copied into header_) ──► payload
//        ▲                                                                    │
//        └───────────── complete_frame(): on_frame, reset ◄── last byte ──────┘
//
// - Header bytes are checked as soon as the byte that carries a field arrives: byte 0
//   (opcode, RSV, FIN against the message state), byte 1 (MASK); lengths and limits when
//   the header is whole, so a frame over a limit is refused before any of its payload.
// - Data payload is skipped by length: one min(left, available) step per frame per chunk.
//   Control payload (≤125 bytes) is unmasked into control_, reserved once, so the data
//   path never allocates; reasons are built only when something is wrong.
// - kinds_touched gets a frame's bit as soon as one of its bytes (header or payload) is
//   in the chunk and its opcode is known. On an error, the offending frame counts too
//   when its opcode is a real one (its header bytes were in the chunk).
// - inside_message() is true from the header of a fragmented message's first frame
//   (FIN=0) to the last byte of its final continuation frame. A one-frame message
//   (FIN=1) is never "inside a message", only inside a frame.

namespace dropsim {
namespace {

constexpr EnumNames<Opcode, 6> kOpcodeNames{{{Opcode::continuation, "continuation"},
                                             {Opcode::text, "text"},
                                             {Opcode::binary, "binary"},
                                             {Opcode::close, "close"},
                                             {Opcode::ping, "ping"},
                                             {Opcode::pong, "pong"}}};

/// RFC 6455 §5.5: every control frame's payload fits in a 7-bit length.
constexpr std::size_t kMaxControlPayload = 125;
/// A close payload: a 2-byte code, then the reason.
constexpr std::size_t kMaxCloseReason = kMaxControlPayload - 2;

bool is_known_opcode(std::uint8_t raw) { return raw <= 0x2 || (raw >= 0x8 && raw <= 0xA); }

/// Opcodes 0x8..0xF are control frames (§5.5).
bool is_control(Opcode op) { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

std::string_view name(Opcode op) { return name_of(kOpcodeNames, op); }

std::uint8_t kind_bit(Opcode op) {
  switch (op) {
    case Opcode::ping: return kKindPing;
    case Opcode::pong: return kKindPong;
    case Opcode::close: return kKindClose;
    default: return kKindData;
  }
}

/// Byte `i` of the masking key (key byte i % 4, §5.3).
std::uint8_t key_byte(std::uint32_t key, std::size_t i) {
  return static_cast<std::uint8_t>(key >> (24 - 8 * (i % 4)));
}

/// a + b, pinned at the maximum instead of wrapping (lengths are attacker-chosen).
std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return b > std::numeric_limits<std::uint64_t>::max() - a ? std::numeric_limits<std::uint64_t>::max()
                                                           : a + b;
}

}  // namespace

FrameTracker::FrameTracker(Options options) : options_(options) { control_.reserve(kMaxControlPayload); }

bool FrameTracker::inside_frame() const { return header_have_ > 0 || in_payload_; }

bool FrameTracker::inside_message() const { return in_message_; }

std::optional<FrameTracker::Violation> FrameTracker::take_first_byte(std::uint8_t byte) {
  const auto raw_opcode = static_cast<std::uint8_t>(byte & 0x0F);
  if (!is_known_opcode(raw_opcode)) {
    return Violation{FeedResult::Status::malformed, fmt::format("reserved opcode 0x{:X}", raw_opcode)};
  }
  current_ = FrameHeader{};
  current_.fin = (byte & 0x80) != 0;
  current_.rsv = static_cast<std::uint8_t>((byte >> 4) & 0x7);
  current_.opcode = static_cast<Opcode>(raw_opcode);
  const Opcode op = current_.opcode;

  if ((current_.rsv & 0x3) != 0) {
    return Violation{FeedResult::Status::malformed, "RSV2/RSV3 set (no extension negotiated uses them)"};
  }
  if ((current_.rsv & 0x4) != 0) {
    if (!options_.allow_rsv1) return Violation{FeedResult::Status::malformed, "RSV1 set without permessage-deflate"};
    // RFC 7692 §6: the "Per-Message Compressed" bit is on a data message's first frame only.
    if (is_control(op)) {
      return Violation{FeedResult::Status::malformed, fmt::format("RSV1 set on a control frame ({})", name(op))};
    }
    if (op == Opcode::continuation) {
      return Violation{FeedResult::Status::malformed, "RSV1 set on a continuation frame"};
    }
  }
  if (is_control(op) && !current_.fin) {
    return Violation{FeedResult::Status::malformed, fmt::format("control frame ({}) is fragmented (FIN=0)", name(op))};
  }
  if (op == Opcode::continuation && !in_message_) {
    return Violation{FeedResult::Status::malformed, "continuation frame with no message in progress"};
  }
  if ((op == Opcode::text || op == Opcode::binary) && in_message_) {
    return Violation{FeedResult::Status::malformed,
                     fmt::format("new {} frame while a fragmented message is in progress", name(op))};
  }
  return std::nullopt;
}

std::optional<FrameTracker::Violation> FrameTracker::take_second_byte(std::uint8_t byte) {
  current_.masked = (byte & 0x80) != 0;
  if (options_.expect_masked && !current_.masked) {
    return Violation{FeedResult::Status::malformed, "unmasked frame from the client"};
  }
  if (!options_.expect_masked && current_.masked) {
    return Violation{FeedResult::Status::malformed, "masked frame from the server"};
  }
  const std::uint8_t length7 = byte & 0x7F;
  header_need_ = 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + (current_.masked ? 4 : 0);
  return std::nullopt;
}

std::optional<FrameTracker::Violation> FrameTracker::complete_header() {
  const std::uint8_t length7 = header_[1] & 0x7F;
  std::size_t at = 2;
  std::uint64_t length = length7;
  if (length7 >= 126) {
    // Big-endian 16- or 64-bit length (§5.2). Non-minimal encodings are accepted: the
    // RFC forbids them, but no intermediary we emulate closes over one.
    const std::size_t bytes = length7 == 126 ? 2 : 8;
    length = 0;
    for (std::size_t k = 0; k < bytes; ++k) length = (length << 8) | header_[at + k];
    at += bytes;
    if ((length >> 63) != 0) {
      return Violation{FeedResult::Status::malformed, "64-bit length with the most significant bit set"};
    }
  }
  current_.payload_length = length;
  current_.header_length = header_need_;
  if (current_.masked) {
    current_.mask_key = (std::uint32_t{header_[at]} << 24) | (std::uint32_t{header_[at + 1]} << 16) |
                        (std::uint32_t{header_[at + 2]} << 8) | std::uint32_t{header_[at + 3]};
  }

  const Opcode op = current_.opcode;
  if (is_control(op)) {
    if (length > kMaxControlPayload) {
      return Violation{FeedResult::Status::malformed,
                       fmt::format("control frame payload of {} bytes (max {})", length, kMaxControlPayload)};
    }
    if (op == Opcode::close && length == 1) {
      return Violation{FeedResult::Status::malformed, "close frame with a 1-byte payload"};
    }
  }
  if (options_.max_frame != 0 && length > options_.max_frame) {
    return Violation{FeedResult::Status::too_big,
                     fmt::format("frame of {} bytes over the limit of {}", length, options_.max_frame)};
  }
  if (!is_control(op)) {
    if (op != Opcode::continuation) message_bytes_ = 0;
    message_bytes_ = saturating_add(message_bytes_, length);
    if (options_.max_message != 0 && message_bytes_ > options_.max_message) {
      return Violation{FeedResult::Status::too_big,
                       fmt::format("message of {} bytes over the limit of {}", message_bytes_, options_.max_message)};
    }
    if (op != Opcode::continuation && !current_.fin) in_message_ = true;
  } else {
    control_.clear();
  }
  payload_left_ = length;
  in_payload_ = true;
  return std::nullopt;
}

void FrameTracker::complete_frame(FrameObserver& observer) {
  FrameEvent event;
  event.header = current_;
  if (is_control(current_.opcode)) {
    event.control_payload = control_;
    if (current_.opcode == Opcode::close && control_.size() >= 2) {
      event.close_code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(control_[0]) << 8) |
                                                    static_cast<std::uint8_t>(control_[1]));
      event.close_reason = event.control_payload.substr(2);
    }
  } else if (current_.fin && current_.opcode == Opcode::continuation) {
    in_message_ = false;
  }
  // Reset first: an observer asking inside_frame() from on_frame hears "between frames".
  in_payload_ = false;
  header_have_ = 0;
  header_need_ = 2;
  observer.on_frame(event);
}

FeedResult FrameTracker::feed(std::span<const std::uint8_t> bytes, FrameObserver& observer) {
  if (failed_) return FeedResult{.status = failed_->status, .offset = 0, .reason = failed_->reason};

  FeedResult result;
  const std::size_t size = bytes.size();
  std::size_t i = 0;
  // Where the frame being read began in this chunk; stays 0 when it began in an earlier one.
  std::size_t frame_at = 0;
  auto fail = [&](Violation&& v) {
    result.status = v.status;
    result.offset = frame_at;
    failed_ = FeedResult{.status = v.status, .offset = 0, .reason = v.reason};
    result.reason = std::move(v.reason);
    return result;
  };

  while (i < size) {
    if (!in_payload_) {
      std::optional<Violation> violation;
      if (header_have_ == 0) {
        frame_at = i;
        header_[header_have_++] = bytes[i++];
        const auto raw_opcode = static_cast<std::uint8_t>(header_[0] & 0x0F);
        if (is_known_opcode(raw_opcode)) result.kinds_touched |= kind_bit(static_cast<Opcode>(raw_opcode));
        violation = take_first_byte(header_[0]);
      } else if (header_have_ == 1) {
        result.kinds_touched |= kind_bit(current_.opcode);
        header_[header_have_++] = bytes[i++];
        violation = take_second_byte(header_[1]);
      } else {
        result.kinds_touched |= kind_bit(current_.opcode);
        const std::size_t take = std::min(header_need_ - header_have_, size - i);
        std::memcpy(header_ + header_have_, bytes.data() + i, take);
        header_have_ += take;
        i += take;
      }
      if (violation) return fail(std::move(*violation));
      if (header_have_ < header_need_) continue;
      if (auto v = complete_header()) return fail(std::move(*v));
      if (payload_left_ == 0) complete_frame(observer);
      continue;
    }

    result.kinds_touched |= kind_bit(current_.opcode);
    const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, size - i));
    if (is_control(current_.opcode)) {
      // ≤125 bytes: unmasked here so the observer can read a close code and reason.
      const std::size_t done = control_.size();
      for (std::size_t k = 0; k < take; ++k) {
        const std::uint8_t key = current_.masked ? key_byte(current_.mask_key, done + k) : 0;
        control_.push_back(static_cast<char>(bytes[i + k] ^ key));
      }
    }
    i += take;
    payload_left_ -= take;
    if (payload_left_ == 0) complete_frame(observer);
  }
  return result;
}

std::vector<std::uint8_t> encode_frame(Opcode opcode, std::span<const std::uint8_t> payload, bool fin,
                                       std::optional<std::uint32_t> mask_key) {
  std::vector<std::uint8_t> frame;
  frame.reserve(14 + payload.size());
  frame.push_back(static_cast<std::uint8_t>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(opcode)));
  const std::uint8_t mask_bit = mask_key ? 0x80 : 0x00;
  const std::uint64_t n = payload.size();
  if (n <= 125) {
    frame.push_back(static_cast<std::uint8_t>(mask_bit | n));
  } else if (n <= 0xFFFF) {
    frame.push_back(mask_bit | 126);
    frame.push_back(static_cast<std::uint8_t>(n >> 8));
    frame.push_back(static_cast<std::uint8_t>(n & 0xFF));
  } else {
    frame.push_back(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) frame.push_back(static_cast<std::uint8_t>(n >> shift));
  }
  if (mask_key) {
    for (std::size_t k = 0; k < 4; ++k) frame.push_back(key_byte(*mask_key, k));
  }
  const std::size_t body = frame.size();
  frame.insert(frame.end(), payload.begin(), payload.end());
  if (mask_key) {
    for (std::size_t k = 0; k < payload.size(); ++k) frame[body + k] ^= key_byte(*mask_key, k);
  }
  return frame;
}

std::vector<std::uint8_t> encode_close_frame(std::uint16_t code, std::string_view reason,
                                             std::optional<std::uint32_t> mask_key) {
  if (reason.size() > kMaxCloseReason) {
    // Cut before the UTF-8 sequence that straddles byte 123: back up over continuation
    // bytes (10xxxxxx) to the lead byte of that sequence.
    std::size_t cut = kMaxCloseReason;
    while (cut > 0 && (static_cast<std::uint8_t>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  std::vector<std::uint8_t> payload{static_cast<std::uint8_t>(code >> 8), static_cast<std::uint8_t>(code & 0xFF)};
  payload.insert(payload.end(), reason.begin(), reason.end());
  return encode_frame(Opcode::close, payload, true, mask_key);
}

}  // namespace dropsim
