// The Inspector: HTTP until the upgrade, frames after it, handshake policies and limits.
// Pure: chunks in, verdicts and policy activity out, time from a ManualClock.

#include "inspector.h"

#include <gtest/gtest.h>

#include "manual_clock.h"
#include "ws_frame.h"

namespace dropsim {
namespace {

constexpr std::string_view kUpgrade =
    "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
constexpr std::string_view kSwitching =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzrZDY5+zo/0=\r\n\r\n";

std::string frame(Opcode op, std::string_view payload, bool masked) {
  const auto f = encode_frame(op, {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()}, true,
                              masked ? std::optional<std::uint32_t>(0x01020304u) : std::nullopt);
  return {f.begin(), f.end()};
}

Profile http_profile() {
  Profile p;
  p.name = "t";
  p.mode = Mode::http;
  TimerSpec t;
  t.name = "idle";
  t.timeout = std::chrono::seconds(10);
  p.timers.push_back(t);
  return p;
}

class InspectorTest : public ::testing::Test {
 protected:
  Verdict feed(Direction d, std::string_view bytes) { return inspector_.inspect(d, bytes, clock_.now()); }
  void upgrade() {
    ASSERT_EQ(feed(Direction::upstream, kUpgrade).action, Verdict::Action::forward);
    ASSERT_EQ(feed(Direction::downstream, kSwitching).action, Verdict::Action::forward);
    ASSERT_TRUE(inspector_.websocket());
  }

  Profile profile_ = http_profile();
  ManualClock clock_;
  Policy policy_{profile_, clock_.now()};
  Inspector inspector_{profile_, policy_};
};

TEST_F(InspectorTest, FollowsTheUpgradeAndCountsFramesBothWays) {
  upgrade();
  EXPECT_EQ(inspector_.take_notice(), "upgraded to WebSocket (GET /chat)");
  EXPECT_FALSE(inspector_.take_notice()) << "read once";
  EXPECT_EQ(inspector_.upgrade_request(), "GET /chat");
  clock_.advance(std::chrono::seconds(1));
  EXPECT_EQ(feed(Direction::upstream, frame(Opcode::ping, "hb", true)).action, Verdict::Action::forward);
  EXPECT_EQ(feed(Direction::downstream, frame(Opcode::pong, "hb", false) + frame(Opcode::text, "hi", false)).action,
            Verdict::Action::forward);
  EXPECT_EQ(policy_.activity(Direction::upstream).of(FrameKind::ping).count, 1u);
  EXPECT_EQ(policy_.activity(Direction::downstream).of(FrameKind::pong).count, 1u);
  EXPECT_EQ(policy_.activity(Direction::downstream).of(FrameKind::data).count, 1u);
  EXPECT_EQ(policy_.activity(Direction::upstream).bytes, kUpgrade.size() + 8);
}

TEST_F(InspectorTest, FramesInTheSameChunkAsThe101AreTracked) {
  ASSERT_EQ(feed(Direction::upstream, kUpgrade).action, Verdict::Action::forward);
  feed(Direction::downstream, std::string(kSwitching) + frame(Opcode::close, "\x03\xe9" "bye", false));
  ASSERT_TRUE(inspector_.websocket());
  EXPECT_EQ(policy_.activity(Direction::downstream).close_code, 1001);
  EXPECT_EQ(policy_.activity(Direction::downstream).close_reason, "bye");
}

TEST_F(InspectorTest, ARefusedUpgradeGoesBackToHttp) {
  feed(Direction::upstream, kUpgrade);
  feed(Direction::downstream, "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(inspector_.websocket());
  EXPECT_EQ(inspector_.take_notice(), "WebSocket upgrade GET /chat refused by the upstream: 426 Upgrade Required");
  // The next request on the connection is parsed as HTTP again.
  EXPECT_EQ(feed(Direction::upstream, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n").action, Verdict::Action::forward);
  EXPECT_EQ(feed(Direction::upstream, "NOT HTTP\r\n\r\n").action, Verdict::Action::cut)
      << "still parsed: garbage is caught";
}

TEST_F(InspectorTest, AMalformedFrameCutsBeforeIt) {
  upgrade();
  const std::string good = frame(Opcode::text, "ok", true);
  std::string bad = frame(Opcode::text, "no", true);
  bad[0] = static_cast<char>(0x83);  // reserved opcode 0x3
  const Verdict v = feed(Direction::upstream, good + bad);
  EXPECT_EQ(v.action, Verdict::Action::cut);
  EXPECT_EQ(v.prefix, good.size()) << "the good frame still goes through";
  ASSERT_TRUE(inspector_.problem());
  EXPECT_EQ(inspector_.problem()->cause, "malformed_frame");
  EXPECT_EQ(inspector_.problem()->from, Side::client);
  EXPECT_NE(inspector_.problem()->reason.find("malformed frame from client: reserved opcode"), std::string::npos)
      << inspector_.problem()->reason;
}

TEST_F(InspectorTest, AnUnmaskedClientFrameIsMalformed) {
  upgrade();
  EXPECT_EQ(feed(Direction::upstream, frame(Opcode::text, "x", false)).action, Verdict::Action::cut);
}

TEST_F(InspectorTest, AFrameOverTheLimitGetsTheLimitActions) {
  profile_.limits.max_frame = 10;
  upgrade();
  const Verdict v = feed(Direction::upstream, frame(Opcode::binary, std::string(11, 'x'), true));
  EXPECT_EQ(v.action, Verdict::Action::cut);
  EXPECT_EQ(v.prefix, 0u);
  ASSERT_TRUE(inspector_.problem());
  EXPECT_EQ(inspector_.problem()->cause, "message_too_big");
  EXPECT_EQ(inspector_.problem()->actions.client, CloseAction::ws_close);
  EXPECT_EQ(inspector_.problem()->actions.ws_code, 1009);
}

TEST_F(InspectorTest, MalformedHttpIsCut) {
  const Verdict v = feed(Direction::upstream, "GET / HTTP/9.9\r\n\r\n");
  EXPECT_EQ(v.action, Verdict::Action::cut);
  ASSERT_TRUE(inspector_.problem());
  EXPECT_EQ(inspector_.problem()->cause, "malformed_http");
}

TEST_F(InspectorTest, FrameBoundaryTowardEachSide) {
  EXPECT_FALSE(inspector_.at_frame_boundary_toward(Side::client)) << "no WebSocket yet";
  upgrade();
  EXPECT_TRUE(inspector_.at_frame_boundary_toward(Side::client));
  const std::string half = frame(Opcode::text, "hello", false).substr(0, 4);
  feed(Direction::downstream, half);
  EXPECT_FALSE(inspector_.at_frame_boundary_toward(Side::client)) << "mid-frame toward the client";
  EXPECT_TRUE(inspector_.at_frame_boundary_toward(Side::upstream));
}

TEST_F(InspectorTest, ResponseStartedOnceAByteWentDownstream) {
  feed(Direction::upstream, kUpgrade);
  EXPECT_FALSE(inspector_.response_started());
  feed(Direction::downstream, "HTTP/1.1 ");
  EXPECT_TRUE(inspector_.response_started());
}

TEST(InspectorHandshake, StripUpgradeHoldsTheHeadThenRewritesIt) {
  Profile p = http_profile();
  p.handshake.kind = HandshakePolicy::Kind::strip_upgrade;
  ManualClock clock;
  Policy policy(p, clock.now());
  Inspector inspector(p, policy);
  const Verdict first = inspector.inspect(Direction::upstream, kUpgrade.substr(0, 30), clock.now());
  EXPECT_EQ(first.action, Verdict::Action::replace);
  EXPECT_TRUE(first.replacement.empty()) << "held until the head is complete";
  const Verdict second = inspector.inspect(Direction::upstream, kUpgrade.substr(30), clock.now());
  ASSERT_EQ(second.action, Verdict::Action::replace);
  const std::string out(second.replacement);
  EXPECT_EQ(out.rfind("GET /chat HTTP/1.0\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("Upgrade:"), std::string::npos) << out;
  EXPECT_NE(out.find("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), std::string::npos) << out;
  // What follows passes untouched.
  EXPECT_EQ(inspector.inspect(Direction::upstream, std::string_view("anything"), clock.now()).action, Verdict::Action::forward);
}

TEST(InspectorHandshake, StripUpgradeLeavesOtherRequestsAlone) {
  Profile p = http_profile();
  p.handshake.kind = HandshakePolicy::Kind::strip_upgrade;
  ManualClock clock;
  Policy policy(p, clock.now());
  Inspector inspector(p, policy);
  const std::string_view get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  const Verdict v = inspector.inspect(Direction::upstream, get, clock.now());
  ASSERT_EQ(v.action, Verdict::Action::replace);
  EXPECT_EQ(v.replacement, get);
}

TEST(InspectorHandshake, StripExtensionsForwardsTheUpgradeWithoutItsOffer) {
  Profile p = http_profile();
  p.handshake.strip_extensions = true;
  ManualClock clock;
  Policy policy(p, clock.now());
  Inspector inspector(p, policy);
  const std::string head =
      "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
  const std::string early = "\x81\x85" "early";  // a frame sent right behind the head
  const std::string wire = head + early;
  const Verdict first = inspector.inspect(Direction::upstream, std::string_view(wire).substr(0, 40), clock.now());
  ASSERT_EQ(first.action, Verdict::Action::replace);
  EXPECT_TRUE(first.replacement.empty()) << "held until the head is complete";
  const Verdict second = inspector.inspect(Direction::upstream, std::string_view(wire).substr(40), clock.now());
  ASSERT_EQ(second.action, Verdict::Action::replace);
  const std::string stripped =
      "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  EXPECT_EQ(second.replacement, stripped + early);
  EXPECT_EQ(policy.activity(Direction::upstream).bytes, wire.size()) << "counted as the client sent it";
  const auto notice = inspector.take_notice();
  ASSERT_TRUE(notice);
  EXPECT_NE(notice->find("without its Sec-WebSocket-Extensions offer"), std::string::npos) << *notice;
  // Still an upgrade: the 101 starts the frames, as for any forwarded upgrade.
  inspector.inspect(Direction::downstream,
                    std::string_view("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                     "Connection: Upgrade\r\n\r\n"),
                    clock.now());
  EXPECT_TRUE(inspector.websocket());
}

/// nginx without the upgrade headers, keeping the client alive for `keepalive`.
Profile kept_alive_profile(Duration keepalive) {
  Profile p = http_profile();
  p.handshake.kind = HandshakePolicy::Kind::strip_upgrade;
  p.handshake.keepalive = keepalive;
  return p;
}

/// An inspector for kept_alive_profile().
struct KeptAlive {
  explicit KeptAlive(Duration keepalive = std::chrono::seconds(75)) : profile(kept_alive_profile(keepalive)) {}
  /// What the client gets for `bytes` from the upstream; `last`: they end the answer.
  std::string answer(std::string_view bytes, bool last = false) {
    const Verdict v = inspector.inspect(Direction::downstream, bytes, clock.now());
    EXPECT_EQ(v.action, last ? Verdict::Action::finish : Verdict::Action::replace);
    return std::string(v.replacement);
  }
  Profile profile;
  ManualClock clock;
  Policy policy{profile, clock.now()};
  Inspector inspector{profile, policy};
};

TEST(InspectorHandshake, KeptAliveClientGetsAContentLengthAnswerAsHttp11KeepAlive) {
  KeptAlive k;
  k.inspector.inspect(Direction::upstream, kUpgrade, k.clock.now());
  EXPECT_FALSE(k.inspector.keeps_client_open()) << "nothing answered yet";
  const std::string_view wire =
      "HTTP/1.0 426 Upgrade Required\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
  // Split inside the head: nothing goes out until the head is complete.
  EXPECT_EQ(k.answer(wire.substr(0, 20)), "");
  EXPECT_EQ(k.answer(wire.substr(20, wire.size() - 22)),
            "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhel");
  EXPECT_EQ(k.answer(wire.substr(wire.size() - 2), /*last=*/true), "lo") << "the exchange ends with its body";
  EXPECT_TRUE(k.inspector.keeps_client_open());
  EXPECT_EQ(k.inspector.end_of_response(), "") << "a Content-Length body needs no ending";
}

TEST(InspectorHandshake, KeptAliveClientGetsACloseDelimitedAnswerChunked) {
  KeptAlive k;
  k.inspector.inspect(Direction::upstream, kUpgrade, k.clock.now());
  EXPECT_EQ(k.answer("HTTP/1.0 400 Bad Request\r\n\r\nab"),
            "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n2\r\nab\r\n");
  EXPECT_EQ(k.answer(std::string(20, 'c')), "14\r\n" + std::string(20, 'c') + "\r\n");
  // The upstream's close ends the body: the last chunk, once.
  EXPECT_EQ(k.inspector.end_of_response(), "0\r\n\r\n");
  EXPECT_EQ(k.inspector.end_of_response(), "");
}

TEST(InspectorHandshake, KeptAliveClientGetsAChunkedAnswerRechunkedAndEnded) {
  KeptAlive k;
  k.inspector.inspect(Direction::upstream, kUpgrade, k.clock.now());
  EXPECT_EQ(k.answer("HTTP/1.1 426 Upgrade Required\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                     /*last=*/true),
            "HTTP/1.1 426 Upgrade Required\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
            "3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(k.inspector.end_of_response(), "") << "already ended with the message";
}

TEST(InspectorHandshake, NextExchangeHoldsAndRewritesTheNextRequestAgain) {
  KeptAlive k;
  k.inspector.inspect(Direction::upstream, kUpgrade, k.clock.now());
  k.answer("HTTP/1.0 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n", /*last=*/true);
  k.inspector.next_exchange();
  EXPECT_FALSE(k.inspector.keeps_client_open());
  const Verdict held = k.inspector.inspect(Direction::upstream, kUpgrade.substr(0, 10), k.clock.now());
  ASSERT_EQ(held.action, Verdict::Action::replace);
  EXPECT_TRUE(held.replacement.empty());
  const Verdict v = k.inspector.inspect(Direction::upstream, kUpgrade.substr(10), k.clock.now());
  ASSERT_EQ(v.action, Verdict::Action::replace);
  EXPECT_EQ(std::string(v.replacement).rfind("GET /chat HTTP/1.0\r\n", 0), 0u) << v.replacement;
  EXPECT_EQ(k.answer("HTTP/1.0 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n", /*last=*/true),
            "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
}

TEST(InspectorHandshake, WithoutKeepaliveTheAnswerPassesUnchanged) {
  KeptAlive k(Duration::zero());
  k.inspector.inspect(Direction::upstream, kUpgrade, k.clock.now());
  const Verdict v = k.inspector.inspect(Direction::downstream, std::string_view("HTTP/1.0 426 X\r\n\r\n"), k.clock.now());
  EXPECT_EQ(v.action, Verdict::Action::forward);
  EXPECT_FALSE(k.inspector.keeps_client_open());
}

TEST(InspectorHandshake, RejectAnswersTheStatusAndForwardsNothing) {
  Profile p = http_profile();
  p.handshake.kind = HandshakePolicy::Kind::reject;
  p.handshake.status = 403;
  ManualClock clock;
  Policy policy(p, clock.now());
  Inspector inspector(p, policy);
  const Verdict v = inspector.inspect(Direction::upstream, kUpgrade, clock.now());
  EXPECT_EQ(v.action, Verdict::Action::cut);
  EXPECT_EQ(v.prefix, 0u);
  ASSERT_TRUE(inspector.problem());
  EXPECT_EQ(inspector.problem()->cause, "handshake_rejected");
  EXPECT_EQ(inspector.problem()->reply_to_client.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u);
}

TEST(InspectorTcp, PassesEverythingAndCountsBytes) {
  Profile p;
  ManualClock clock;
  Policy policy(p, clock.now());
  Inspector inspector(p, policy);
  EXPECT_EQ(inspector.inspect(Direction::upstream, std::string_view("NOT HTTP AT ALL"), clock.now()).action, Verdict::Action::forward);
  EXPECT_EQ(policy.activity(Direction::upstream).bytes, 15u);
  EXPECT_FALSE(inspector.websocket());
}

}  // namespace
}  // namespace dropsim
