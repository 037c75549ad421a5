#include "inspector.h"

#include <fmt/format.h>

namespace dropsim {

struct Inspector::HttpSink final : HttpObserver {
  HttpSink(Inspector& owner, Direction d) : owner_(owner), direction_(d) {}
  void on_head(const HttpHead& head) override { owner_.on_head(direction_, head); }
  void on_body(std::span<const char> bytes) override { owner_.on_body(direction_, bytes); }
  void on_message_complete() override { owner_.on_message_complete(direction_); }

 private:
  Inspector& owner_;
  Direction direction_;
};

struct Inspector::FrameSink final : FrameObserver {
  FrameSink(Inspector& owner, Direction d) : owner_(owner), direction_(d) {}
  void on_frame(const FrameEvent& frame) override { owner_.on_frame(direction_, frame); }

 private:
  Inspector& owner_;
  Direction direction_;
};

namespace {

std::span<const std::uint8_t> as_bytes(std::span<const char> s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

FrameKind kind_of(Opcode op) {
  switch (op) {
    case Opcode::ping: return FrameKind::ping;
    case Opcode::pong: return FrameKind::pong;
    case Opcode::close: return FrameKind::close;
    default: return FrameKind::data;
  }
}

}  // namespace

Inspector::Inspector(const Profile& profile, Policy& policy)
    : profile_(profile),
      policy_(policy),
      holding_(profile.mode == Mode::http &&
               (profile.handshake.kind != HandshakePolicy::Kind::forward || profile.handshake.strip_extensions)) {
  if (profile.mode == Mode::tcp) return;  // inspect() only counts: no parser is ever fed
  for (Direction d : kDirections) {
    http_sinks_[index(d)] = std::make_unique<HttpSink>(*this, d);
    frame_sinks_[index(d)] = std::make_unique<FrameSink>(*this, d);
  }
}

Inspector::~Inspector() = default;

std::optional<std::string> Inspector::take_notice() {
  auto n = std::move(notice_);
  notice_.reset();
  return n;
}

Verdict Inspector::inspect(Direction d, std::span<const char> bytes, TimePoint now) {
  now_ = now;
  if (profile_.mode == Mode::tcp || problem_) {
    count(d, bytes.size(), now);
    return {};
  }
  switch (stage_[index(d)]) {
    case Stage::http:
      if (d == Direction::upstream && holding_) return inspect_held_request(bytes);
      return inspect_http(d, bytes);
    case Stage::frames:
      return inspect_frames(d, bytes);
    case Stage::upgrade_pending:
    case Stage::raw:
      break;
  }
  // Bytes we do not parse (a client's early frames before the 101, or the stream after
  // strip_upgrade) still count as traffic.
  count(d, bytes.size(), now);
  return {};
}

bool Inspector::opaque(Direction d) const {
  return profile_.mode == Mode::tcp || stage_[index(d)] == Stage::raw;
}

void Inspector::count(Direction d, std::size_t n, TimePoint now) { policy_.on_bytes(d, n, now, 0); }

Verdict Inspector::inspect_http(Direction d, std::span<const char> bytes) {
  count(d, bytes.size(), now_);
  if (d == Direction::downstream && !bytes.empty()) response_started_ = true;
  HttpTracker& tracker = d == Direction::upstream ? requests_ : responses_;
  // The answer to a stripped upgrade is rebuilt from the parser's callbacks (rewritten_).
  const bool rewriting = d == Direction::downstream && rewrite_response_;
  if (rewriting) rewritten_.clear();
  const HttpTracker::Result r = tracker.feed(bytes, *http_sinks_[index(d)]);
  if (rewriting && r.status != HttpTracker::Result::Status::error) {
    // nginx ends the exchange with the answer's last byte, not at the upstream's close
    // (measured: an upstream holding its connection 3 s after a Content-Length answer did
    // not delay the client's next request); an answer delimited by the close ends there.
    return Verdict{complete_ ? Verdict::Action::finish : Verdict::Action::replace, rewritten_, 0};
  }
  switch (r.status) {
    case HttpTracker::Result::Status::ok:
      return {};
    case HttpTracker::Result::Status::error:
      return fail("malformed_http", source(d),
                  fmt::format("malformed HTTP {} from {}: {}", d == Direction::upstream ? "request" : "response",
                              peer(source(d)), r.reason),
                  SideActions{}, r.offset);
    case HttpTracker::Result::Status::upgrade:
      break;
  }
  if (d == Direction::upstream) {
    // The request asked to switch protocols; what follows waits for the response.
    stage_[index(d)] = Stage::upgrade_pending;
    return {};
  }
  if (!upgrade_pending_) return {};  // a 101 nobody asked for: keep following HTTP loosely
  start_frames();
  // Frames may follow the 101 in the same chunk.
  const auto rest = bytes.subspan(r.offset);
  if (rest.empty()) return {};
  const FeedResult fr = frames_[index(d)]->feed(as_bytes(rest), *frame_sinks_[index(d)]);
  if (fr.status == FeedResult::Status::ok) return {};
  // Rare: a bad frame right behind the 101. Cut at it like any other.
  const std::size_t at = r.offset + fr.offset;
  cut_at_boundary_[index(d)] = true;  // the frames began in this chunk, at a boundary
  if (fr.status == FeedResult::Status::too_big) {
    return fail("message_too_big", source(d), fr.reason, profile_.limits.on_exceed, at);
  }
  return fail("malformed_frame", source(d), fr.reason, SideActions{}, at);
}

Verdict Inspector::inspect_held_request(std::span<const char> bytes) {
  count(Direction::upstream, bytes.size(), now_);
  const std::size_t before = held_.size();
  held_.append(bytes.data(), bytes.size());
  const HttpTracker::Result r = requests_.feed(bytes, *http_sinks_[index(Direction::upstream)]);
  if (r.status == HttpTracker::Result::Status::error) {
    return fail("malformed_http", Side::client, "malformed HTTP request from client: " + r.reason,
                SideActions{}, 0);
  }
  if (!first_head_) return Verdict{Verdict::Action::replace, {}, 0};  // hold until the head is complete
  holding_ = false;
  const bool upgrade = r.status == HttpTracker::Result::Status::upgrade;
  // Where the head ends in held_: llhttp stops at an upgrade's; other requests go whole.
  const std::size_t head_end = upgrade ? before + r.offset : held_.size();
  if (!first_head_->is_websocket_upgrade()) {
    // Not a WebSocket: nothing to do to it. Let the held bytes go and follow HTTP on.
    replacement_ = std::move(held_);
    held_.clear();
    if (upgrade) stage_[index(Direction::upstream)] = Stage::raw;
    return Verdict{Verdict::Action::replace, replacement_, 0};
  }
  if (profile_.handshake.kind == HandshakePolicy::Kind::forward) {
    // strip_extensions: the upgrade goes on, byte for byte, but for its extension offer;
    // the rest is followed as a forwarded upgrade is (inspect_http).
    const bool offered = !first_head_->header("Sec-WebSocket-Extensions").empty();
    replacement_ = without_header(std::string_view(held_).substr(0, head_end), "Sec-WebSocket-Extensions") +
                   held_.substr(head_end);
    held_.clear();
    if (upgrade) stage_[index(Direction::upstream)] = Stage::upgrade_pending;
    if (offered) {
      notice_ = fmt::format("WebSocket upgrade {} sent upstream without its Sec-WebSocket-Extensions offer "
                            "(handshake: strip_extensions)", upgrade_request_);
    }
    return Verdict{Verdict::Action::replace, replacement_, 0};
  }
  if (profile_.handshake.kind == HandshakePolicy::Kind::reject) {
    Problem p;
    p.cause = "handshake_rejected";
    p.from = Side::client;
    p.reason = fmt::format("WebSocket upgrade {} refused with {} {} (handshake: reject)", upgrade_request_,
                           profile_.handshake.status, reason_phrase(profile_.handshake.status));
    p.reply_to_client = status_response(profile_.handshake.status);
    problem_ = std::make_unique<Problem>(std::move(p));
    return Verdict{Verdict::Action::cut, {}, 0};
  }
  // strip_upgrade: the upstream gets what nginx sends without proxy_http_version 1.1 and
  // the Upgrade/Connection headers. After that we stop parsing the request side.
  replacement_ = strip_upgrade(*first_head_) + held_.substr(head_end);
  held_.clear();
  upgrade_pending_ = false;  // the upstream was never asked to upgrade
  rewrite_response_ = profile_.handshake.keepalive > Duration::zero();
  stage_[index(Direction::upstream)] = Stage::raw;
  notice_ = fmt::format("WebSocket upgrade {} sent upstream as HTTP/1.0 without Upgrade (handshake: strip_upgrade)",
                        upgrade_request_);
  return Verdict{Verdict::Action::replace, replacement_, 0};
}

Verdict Inspector::inspect_frames(Direction d, std::span<const char> bytes) {
  const bool was_inside = frames_[index(d)]->inside_frame();
  const FeedResult r = frames_[index(d)]->feed(as_bytes(bytes), *frame_sinks_[index(d)]);
  policy_.on_bytes(d, bytes.size(), now_, r.kinds_touched);
  // The cut falls at the refused frame's first byte when that frame began in this chunk:
  // nothing of it was forwarded, so a close frame may still follow (1009 to the client).
  if (r.status != FeedResult::Status::ok) cut_at_boundary_[index(d)] = r.offset > 0 || !was_inside;
  switch (r.status) {
    case FeedResult::Status::ok:
      return {};
    case FeedResult::Status::too_big:
      return fail("message_too_big", source(d), fmt::format("{} from {}", r.reason, peer(source(d))),
                  profile_.limits.on_exceed, r.offset);
    case FeedResult::Status::malformed:
      break;
  }
  return fail("malformed_frame", source(d), fmt::format("malformed frame from {}: {}", peer(source(d)), r.reason),
              SideActions{}, r.offset);
}

void Inspector::on_head(Direction d, const HttpHead& head) {
  if (d == Direction::upstream) {
    responses_.expect_response_to(head.method);
    if (holding_ && !first_head_) first_head_ = std::make_unique<HttpHead>(head);
    if (head.is_websocket_upgrade()) {
      upgrade_pending_ = true;
      upgrade_request_ = fmt::format("{} {}", head.method, head.url);
    }
    return;
  }
  if (rewrite_response_ && !answered_ && head.status >= 200) {
    // nginx answers a client it keeps alive in its own words (measured, nginx 1.22):
    // HTTP/1.1, Connection: keep-alive, and a body without Content-Length chunked.
    answered_ = true;
    chunking_ = sent_chunked(head);
    rewritten_ += keep_alive_response(head, chunking_);
    return;
  }
  if (!upgrade_pending_ || (head.status < 200 && head.status != 101)) return;  // 1xx: not the answer yet
  if (head.is_websocket_upgrade()) {
    deflate_ = head.permessage_deflate();
    return;  // the tracker reports the upgrade when the head ends; frames start there
  }
  // The server refused the upgrade (400, 426, ...): the request side speaks HTTP again.
  upgrade_pending_ = false;
  requests_.resume_after_upgrade();
  stage_[index(Direction::upstream)] = Stage::http;
  notice_ = fmt::format("WebSocket upgrade {} refused by the upstream: {} {}", upgrade_request_, head.status,
                        head.reason);
}

void Inspector::on_body(Direction d, std::span<const char> bytes) {
  if (d != Direction::downstream || !answered_ || bytes.empty()) return;
  if (chunking_) fmt::format_to(std::back_inserter(rewritten_), "{:x}\r\n", bytes.size());
  rewritten_.append(bytes.data(), bytes.size());
  if (chunking_) rewritten_.append("\r\n");
}

void Inspector::on_message_complete(Direction d) {
  if (d != Direction::downstream || !answered_) return;
  rewritten_ += end_of_response();
  complete_ = true;
}

std::string Inspector::end_of_response() {
  if (!chunking_) return {};
  chunking_ = false;
  return "0\r\n\r\n";
}

void Inspector::next_exchange() {
  stage_ = {Stage::http, Stage::http};
  requests_.reset();
  responses_.reset();
  holding_ = true;
  held_.clear();
  first_head_.reset();
  upgrade_pending_ = false;
  response_started_ = false;
  rewrite_response_ = answered_ = chunking_ = complete_ = false;
  rewritten_.clear();
  upgrade_request_.clear();
}

void Inspector::start_frames() {
  const auto options = [this](bool masked) {
    FrameTracker::Options o;
    o.expect_masked = masked;
    o.allow_rsv1 = deflate_;
    o.max_frame = profile_.limits.max_frame;
    o.max_message = profile_.limits.max_message;
    return o;
  };
  frames_[index(Direction::upstream)] = std::make_unique<FrameTracker>(options(true));
  frames_[index(Direction::downstream)] = std::make_unique<FrameTracker>(options(false));
  stage_ = {Stage::frames, Stage::frames};
  websocket_ = true;
  upgrade_pending_ = false;
  notice_ = fmt::format("upgraded to WebSocket ({}{})", upgrade_request_, deflate_ ? ", permessage-deflate" : "");
}

void Inspector::on_frame(Direction d, const FrameEvent& frame) {
  const FrameKind kind = kind_of(frame.header.opcode);
  policy_.on_frame(d, kind, frame.header.fin, now_);
  if (kind == FrameKind::close) policy_.on_close_frame(d, frame.close_code, frame.close_reason);
}

bool Inspector::at_frame_boundary_toward(Side s) const {
  const Direction d = sent_by(s == Side::client ? Side::upstream : Side::client);
  if (stage_[index(d)] != Stage::frames) return false;
  // A refused frame leaves its tracker inside it, but when the cut fell at its first
  // byte the peer has seen only whole frames.
  return cut_at_boundary_[index(d)] || !frames_[index(d)]->inside_frame();
}

Verdict Inspector::fail(std::string cause, Side from, std::string reason, SideActions actions, std::size_t prefix) {
  problem_ = std::make_unique<Problem>(Problem{std::move(cause), from, std::move(reason), std::move(actions), {}});
  return Verdict{Verdict::Action::cut, {}, prefix};
}

}  // namespace dropsim
