#pragma once
// What an http-mode session makes of its bytes: HTTP/1.1 until a WebSocket upgrade, RFC
// 6455 frames after it. For each chunk a pipe is about to write, the Inspector feeds the
// trackers, tells the Policy what passed (bytes, frame kinds, close codes), and returns
// a Verdict: forward it (almost always), write a rewritten head instead (strip_upgrade),
// hold it, or cut the stream before a bad frame. Pure: no sockets; `now` is passed in.
//
//   Pipe ──chunk──► Inspector ──► HttpTracker (request | response) ──► FrameTracker ×2
//                      │                                              (after the 101)
//                      ├─► Policy (activity, frames)
//                      └─► Verdict {forward | replace | cut} + Problem

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "clock.h"
#include "direction.h"
#include "http_tracker.h"
#include "policy.h"
#include "profile.h"
#include "verdict.h"
#include "ws_frame.h"

namespace dropsim {

/// Why a session must end because of what a peer sent.
struct Problem {
  std::string cause;           ///< "malformed_frame", "message_too_big", "malformed_http", "handshake_rejected"
  Side from = Side::client;    ///< who sent it
  std::string reason;          ///< in a person's words
  SideActions actions;         ///< how each side is closed
  std::string reply_to_client; ///< bytes to send the client before closing (a status response)
};

/// The protocol view of one http-mode session.
class Inspector {
 public:
  /// `profile` and `policy` must outlive the Inspector.
  Inspector(const Profile& profile, Policy& policy);
  ~Inspector();
  Inspector(const Inspector&) = delete;
  Inspector& operator=(const Inspector&) = delete;

  /// Inspects `bytes` read in direction `d` at `now`.
  Verdict inspect(Direction d, std::span<const char> bytes, TimePoint now);
  /// Whether `d`'s bytes need no inspecting (a tcp profile, or the raw stream after
  /// strip_upgrade): inspect() would only count them, so count() may stand in for it.
  bool opaque(Direction d) const;
  /// `n` bytes moved unseen in `d` at `now` (spliced): counted as inspect() counts bytes
  /// it does not parse.
  void count(Direction d, std::size_t n, TimePoint now);

  /// Set when a verdict was `cut` (or a reject): what happened and what to do; else null.
  const Problem* problem() const { return problem_.get(); }
  /// A one-line notice from the last inspect() worth a log line ("upgraded to WebSocket ..."); cleared when read.
  std::optional<std::string> take_notice();
  /// True once the 101 passed: both directions carry frames.
  bool websocket() const { return websocket_; }
  /// True when a close frame could be written toward side `s` now without splitting a frame.
  bool at_frame_boundary_toward(Side s) const;
  /// True once any response byte went to the client (an HTTP status can no longer be sent).
  bool response_started() const { return response_started_; }
  /// The upgrade request, for logs: "GET /chat"; empty before one.
  const std::string& upgrade_request() const { return upgrade_request_; }

  // strip_upgrade with keepalive (nginx): the client connection outlives the exchange.
  /// True once the answer to a stripped upgrade began toward the client, rewritten for a
  /// client kept alive: when the upstream then closes, the client stays open.
  bool keeps_client_open() const { return rewrite_response_ && answered_; }
  /// The bytes that end the answer when the upstream's close ended its body (the last
  /// chunk of a re-chunked body); "" when none is due.
  std::string end_of_response();
  /// The exchange is over: the next client byte starts a new request on a new upstream
  /// connection, held and rewritten as the first one was.
  void next_exchange();

 private:
  /// Where a direction is in its protocol.
  enum class Stage {
    http,             ///< HTTP/1.1 messages
    upgrade_pending,  ///< an upgrade request passed; waiting for the response (requests only)
    frames,           ///< WebSocket frames
    raw,              ///< bytes we no longer parse (after strip_upgrade)
  };
  struct HttpSink;   // adapts HttpObserver to one direction
  struct FrameSink;  // adapts FrameObserver to one direction

  Verdict inspect_http(Direction d, std::span<const char> bytes);
  Verdict inspect_held_request(std::span<const char> bytes);
  Verdict inspect_frames(Direction d, std::span<const char> bytes);
  void on_head(Direction d, const HttpHead& head);
  void on_body(Direction d, std::span<const char> bytes);
  void on_message_complete(Direction d);
  void on_frame(Direction d, const FrameEvent& frame);
  void start_frames();
  Verdict fail(std::string cause, Side from, std::string reason, SideActions actions, std::size_t prefix);

  const Profile& profile_;
  Policy& policy_;
  TimePoint now_{};
  std::array<Stage, 2> stage_{Stage::http, Stage::http};
  HttpTracker requests_{HttpTracker::Role::request};
  HttpTracker responses_{HttpTracker::Role::response};
  // Heap-held and made only when needed (the sinks in http mode, a tracker after the 101):
  // a tcp session, and an idle one, pays a pointer for each.
  std::unique_ptr<HttpSink> http_sinks_[2];
  std::unique_ptr<FrameSink> frame_sinks_[2];
  std::unique_ptr<FrameTracker> frames_[2];
  bool holding_;             ///< strip_upgrade / reject: the first request head is held until complete
  std::string held_;         ///< its bytes so far
  std::string replacement_;  ///< what a `replace` verdict points at
  std::unique_ptr<HttpHead> first_head_;  ///< the first request's head, once complete
  bool upgrade_pending_ = false;
  bool rewrite_response_ = false;  ///< the answer to a stripped upgrade goes out as to a keep-alive client
  bool answered_ = false;          ///< its rewritten head went out
  bool chunking_ = false;          ///< its body goes out chunked, the last chunk not yet sent
  bool complete_ = false;          ///< its end went by: the downstream direction ends there
  std::string rewritten_;          ///< what a rewritten answer's verdict points at
  bool deflate_ = false;
  bool websocket_ = false;
  bool response_started_ = false;
  std::string upgrade_request_;
  std::optional<std::string> notice_;
  std::unique_ptr<Problem> problem_;  ///< made when a peer is refused (168 B otherwise inline)
  /// By Direction: a refused frame was cut at its first byte (nothing of it forwarded).
  std::array<bool, 2> cut_at_boundary_{};
};

}  // namespace dropsim
