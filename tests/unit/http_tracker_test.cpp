#include "http_tracker.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace dropsim {
namespace {

using Status = HttpTracker::Result::Status;
using Role = HttpTracker::Role;

/// Records what a tracker reports: heads, and "H"/"C" events in order.
struct Recorder : HttpObserver {
  std::vector<HttpHead> heads;
  std::string events;
  void on_head(const HttpHead& head) override {
    heads.push_back(head);
    events += 'H';
  }
  void on_message_complete() override { events += 'C'; }
};

std::span<const char> span_of(std::string_view s) { return {s.data(), s.size()}; }

const std::string kUpgradeRequest =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

const std::string kSwitchingResponse =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "\r\n";

/// A masked text frame "Hello" (client) and an unmasked one (server), RFC 6455 §5.7.
const std::string kClientFrame("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
const std::string kServerFrame("\x81\x05Hello", 7);

void expect_upgrade_request_head(const HttpHead& h) {
  EXPECT_TRUE(h.is_request);
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.url, "/chat?room=1");
  EXPECT_EQ(h.version_major, 1);
  EXPECT_EQ(h.version_minor, 1);
  ASSERT_EQ(h.headers.size(), 6u);
  EXPECT_EQ(h.headers[0].first, "Host");
  EXPECT_EQ(h.headers[0].second, "example.com");
  EXPECT_EQ(h.headers[4].first, "Sec-WebSocket-Version");
  EXPECT_EQ(h.headers[4].second, "13");
  EXPECT_EQ(h.header("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_TRUE(h.is_websocket_upgrade());
  EXPECT_TRUE(h.permessage_deflate());
}

void expect_switching_head(const HttpHead& h) {
  EXPECT_FALSE(h.is_request);
  EXPECT_EQ(h.status, 101);
  EXPECT_EQ(h.reason, "Switching Protocols");
  ASSERT_EQ(h.headers.size(), 3u);
  EXPECT_EQ(h.headers[2].first, "Sec-WebSocket-Accept");
  EXPECT_EQ(h.headers[2].second, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_TRUE(h.is_websocket_upgrade());
  EXPECT_FALSE(h.permessage_deflate());
}

/// Feeds `wire` split at `cut`; checks the upgrade ends exactly at `head_len`.
void check_upgrade_split(Role role, const std::string& wire, std::size_t head_len, std::size_t cut,
                         Recorder& rec) {
  HttpTracker t(role);
  if (role == Role::response) t.expect_response_to("GET");
  const auto first = t.feed(span_of(std::string_view(wire).substr(0, cut)), rec);
  const auto second = t.feed(span_of(std::string_view(wire).substr(cut)), rec);
  if (cut < head_len) {
    EXPECT_EQ(first.status, Status::ok) << "cut " << cut;
    EXPECT_EQ(second.status, Status::upgrade) << "cut " << cut;
    EXPECT_EQ(second.offset, head_len - cut) << "cut " << cut;
  } else {
    EXPECT_EQ(first.status, Status::upgrade) << "cut " << cut;
    EXPECT_EQ(first.offset, head_len) << "cut " << cut;
    EXPECT_EQ(second.status, Status::upgrade) << "cut " << cut;
    EXPECT_EQ(second.offset, 0u) << "cut " << cut;
  }
  EXPECT_EQ(rec.events, "HC") << "cut " << cut;
}

TEST(HttpTrackerTest, UpgradeRequestStopsAtTheFirstFrameByte) {
  HttpTracker t(Role::request);
  Recorder rec;
  const std::string wire = kUpgradeRequest + kClientFrame;
  const auto r = t.feed(span_of(wire), rec);
  EXPECT_EQ(r.status, Status::upgrade);
  EXPECT_EQ(r.offset, kUpgradeRequest.size());
  EXPECT_EQ(rec.events, "HC");
  ASSERT_EQ(rec.heads.size(), 1u);
  expect_upgrade_request_head(rec.heads[0]);
  // Paused: nothing more is HTTP.
  const auto again = t.feed(span_of(kClientFrame), rec);
  EXPECT_EQ(again.status, Status::upgrade);
  EXPECT_EQ(again.offset, 0u);
  EXPECT_EQ(rec.events, "HC");
}

TEST(HttpTrackerTest, SwitchingResponseStopsAtTheFirstFrameByte) {
  HttpTracker t(Role::response);
  t.expect_response_to("GET");
  Recorder rec;
  const std::string wire = kSwitchingResponse + kServerFrame;
  const auto r = t.feed(span_of(wire), rec);
  EXPECT_EQ(r.status, Status::upgrade);
  EXPECT_EQ(r.offset, kSwitchingResponse.size());
  ASSERT_EQ(rec.heads.size(), 1u);
  expect_switching_head(rec.heads[0]);
}

TEST(HttpTrackerTest, UpgradeRequestSplitAtEveryByte) {
  const std::string wire = kUpgradeRequest + kClientFrame;
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    Recorder rec;
    check_upgrade_split(Role::request, wire, kUpgradeRequest.size(), cut, rec);
    ASSERT_EQ(rec.heads.size(), 1u) << "cut " << cut;
    expect_upgrade_request_head(rec.heads[0]);
  }
}

TEST(HttpTrackerTest, SwitchingResponseSplitAtEveryByte) {
  const std::string wire = kSwitchingResponse + kServerFrame;
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    Recorder rec;
    check_upgrade_split(Role::response, wire, kSwitchingResponse.size(), cut, rec);
    ASSERT_EQ(rec.heads.size(), 1u) << "cut " << cut;
    expect_switching_head(rec.heads[0]);
  }
}

TEST(HttpTrackerTest, UpgradeInRandomChunks) {
  std::mt19937 rng(20240607);
  for (const Role role : {Role::request, Role::response}) {
    const std::string& head = role == Role::request ? kUpgradeRequest : kSwitchingResponse;
    const std::string wire = head + (role == Role::request ? kClientFrame : kServerFrame);
    for (int round = 0; round < 300; ++round) {
      HttpTracker t(role);
      t.expect_response_to("GET");
      Recorder rec;
      std::size_t pos = 0;
      std::size_t upgrade_at = 0;
      bool upgraded = false;
      while (pos < wire.size() && !upgraded) {
        const std::size_t n = std::min<std::size_t>(wire.size() - pos, 1 + rng() % 17);
        const auto r = t.feed(span_of(std::string_view(wire).substr(pos, n)), rec);
        ASSERT_NE(r.status, Status::error) << r.reason;
        if (r.status == Status::upgrade) {
          ASSERT_LE(r.offset, n);
          upgrade_at = pos + r.offset;
          upgraded = true;
        }
        pos += n;
      }
      ASSERT_TRUE(upgraded);
      EXPECT_EQ(upgrade_at, head.size());
      ASSERT_EQ(rec.heads.size(), 1u);
      if (role == Role::request) {
        expect_upgrade_request_head(rec.heads[0]);
      } else {
        expect_switching_head(rec.heads[0]);
      }
    }
  }
}

const std::string kPipelined =
    "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    "GET /b HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
    "GET /c?q=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n";

TEST(HttpTrackerTest, PipelinedGetsInOneFeed) {
  HttpTracker t(Role::request);
  Recorder rec;
  const auto r = t.feed(span_of(kPipelined), rec);
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(rec.events, "HCHCHC");
  ASSERT_EQ(rec.heads.size(), 3u);
  EXPECT_EQ(rec.heads[0].url, "/a");
  EXPECT_EQ(rec.heads[1].url, "/b");
  EXPECT_EQ(rec.heads[1].header("connection"), "keep-alive");
  EXPECT_EQ(rec.heads[2].url, "/c?q=1");
  ASSERT_EQ(rec.heads[2].headers.size(), 2u);
  EXPECT_EQ(rec.heads[2].headers[1].second, "*/*");
  EXPECT_FALSE(rec.heads[0].is_websocket_upgrade());
}

TEST(HttpTrackerTest, PipelinedGetsSplitAtEveryByte) {
  for (std::size_t cut = 0; cut <= kPipelined.size(); ++cut) {
    HttpTracker t(Role::request);
    Recorder rec;
    EXPECT_EQ(t.feed(span_of(std::string_view(kPipelined).substr(0, cut)), rec).status, Status::ok);
    EXPECT_EQ(t.feed(span_of(std::string_view(kPipelined).substr(cut)), rec).status, Status::ok);
    ASSERT_EQ(rec.events, "HCHCHC") << "cut " << cut;
    EXPECT_EQ(rec.heads[1].headers[1].first, "Connection") << "cut " << cut;
    EXPECT_EQ(rec.heads[1].headers[1].second, "keep-alive") << "cut " << cut;
    EXPECT_EQ(rec.heads[2].url, "/c?q=1") << "cut " << cut;
  }
}

TEST(HttpTrackerTest, ChunkedBodySplitOddlyCompletesAtItsLastByte) {
  const std::string first =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n"
      "1A;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n"
      "0\r\nX-Trailer: t\r\n\r\n";
  const std::string second = "HTTP/1.1 204 No Content\r\n\r\n";
  const std::string wire = first + second;
  for (const std::size_t step : {1u, 2u, 3u, 7u, 13u}) {
    HttpTracker t(Role::response);
    Recorder rec;
    std::vector<std::size_t> completed_by;  // bytes fed when each "C" appeared
    for (std::size_t pos = 0; pos < wire.size(); pos += step) {
      const std::size_t n = std::min(step, wire.size() - pos);
      const std::size_t before = rec.events.size();
      ASSERT_EQ(t.feed(span_of(std::string_view(wire).substr(pos, n)), rec).status, Status::ok);
      for (std::size_t i = before; i < rec.events.size(); ++i) {
        if (rec.events[i] == 'C') completed_by.push_back(pos + n);
      }
    }
    EXPECT_EQ(rec.events, "HCHC") << "step " << step;
    ASSERT_EQ(completed_by.size(), 2u);
    // The first message completes in the feed holding its last byte, not earlier.
    EXPECT_GE(completed_by[0], first.size()) << "step " << step;
    EXPECT_LT(completed_by[0], first.size() + step) << "step " << step;
    EXPECT_EQ(rec.heads[1].status, 204);
  }
}

TEST(HttpTrackerTest, ContentLengthBodiesAreNotParsedAsHttp) {
  const std::string body = "GET /smuggled HTTP/1.1\r\n\r\n";
  const std::string wire = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) +
                           "\r\n\r\n" + body + "GET /after HTTP/1.1\r\nHost: h\r\n\r\n";
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    HttpTracker t(Role::request);
    Recorder rec;
    EXPECT_EQ(t.feed(span_of(std::string_view(wire).substr(0, cut)), rec).status, Status::ok);
    EXPECT_EQ(t.feed(span_of(std::string_view(wire).substr(cut)), rec).status, Status::ok);
    ASSERT_EQ(rec.events, "HCHC") << "cut " << cut;
    EXPECT_EQ(rec.heads[0].method, "POST");
    EXPECT_EQ(rec.heads[1].url, "/after");
  }
}

TEST(HttpTrackerTest, ContentLengthResponseWaitsForItsBody) {
  HttpTracker t(Role::response);
  Recorder rec;
  EXPECT_EQ(t.feed(span_of("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"), rec).status, Status::ok);
  EXPECT_EQ(rec.events, "H");
  EXPECT_EQ(t.feed(span_of("5678"), rec).status, Status::ok);
  EXPECT_EQ(rec.events, "H");
  EXPECT_EQ(t.feed(span_of("9"), rec).status, Status::ok);
  EXPECT_EQ(rec.events, "HC");
}

const std::string kHeadThenGet =
    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

TEST(HttpTrackerTest, ResponseToHeadHasNoBody) {
  HttpTracker t(Role::response);
  t.expect_response_to("HEAD");
  t.expect_response_to("GET");
  Recorder rec;
  EXPECT_EQ(t.feed(span_of(kHeadThenGet), rec).status, Status::ok);
  EXPECT_EQ(rec.events, "HCHC");
  ASSERT_EQ(rec.heads.size(), 2u);
  EXPECT_EQ(rec.heads[0].header("Content-Length"), "1000");
  EXPECT_EQ(rec.heads[1].header("Content-Length"), "5");
}

TEST(HttpTrackerTest, WithoutExpectHeadTheNextResponseIsTakenAsBody) {
  HttpTracker t(Role::response);  // nothing queued: assumed GET
  Recorder rec;
  EXPECT_EQ(t.feed(span_of(kHeadThenGet), rec).status, Status::ok);
  EXPECT_EQ(rec.events, "H");
}

TEST(HttpTrackerTest, InterimResponsesDoNotConsumeTheExpectedMethod) {
  HttpTracker t(Role::response);
  t.expect_response_to("HEAD");
  Recorder rec;
  const std::string wire = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + kHeadThenGet;
  EXPECT_EQ(t.feed(span_of(wire), rec).status, Status::ok);
  EXPECT_EQ(rec.events, "HCHCHCHC");
  ASSERT_EQ(rec.heads.size(), 4u);
  EXPECT_EQ(rec.heads[0].status, 100);
  EXPECT_EQ(rec.heads[1].status, 103);
  EXPECT_EQ(rec.heads[1].reason, "Early Hints");
}

TEST(HttpTrackerTest, NotModifiedWithContentLengthHasNoBody) {
  HttpTracker t(Role::response);
  Recorder rec;
  EXPECT_EQ(t.feed(span_of("HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\n\r\n"
                           "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
                   rec)
                .status,
            Status::ok);
  EXPECT_EQ(rec.events, "HCHC");
}

TEST(HttpTrackerTest, RefusedUpgradeThenResumeParsesTheNextRequest) {
  const std::string next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string requests = kUpgradeRequest + next;
  HttpTracker req(Role::request);
  Recorder req_rec;
  const auto r = req.feed(span_of(requests), req_rec);
  ASSERT_EQ(r.status, Status::upgrade);
  EXPECT_EQ(r.offset, kUpgradeRequest.size());

  for (const std::string refusal :
       {"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 3\r\n\r\nno!",
        "HTTP/1.1 400 Bad Request\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n"}) {
    HttpTracker resp(Role::response);
    resp.expect_response_to("GET");
    resp.expect_response_to("GET");
    Recorder resp_rec;
    const std::string wire = refusal + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    EXPECT_EQ(resp.feed(span_of(wire), resp_rec).status, Status::ok) << refusal;
    EXPECT_EQ(resp_rec.events, "HCHC") << refusal;
    ASSERT_EQ(resp_rec.heads.size(), 2u);
    EXPECT_FALSE(resp_rec.heads[0].is_websocket_upgrade());
  }

  req.resume_after_upgrade();
  const auto rest = req.feed(span_of(std::string_view(requests).substr(r.offset)), req_rec);
  EXPECT_EQ(rest.status, Status::ok);
  EXPECT_EQ(req_rec.events, "HCHC");
  ASSERT_EQ(req_rec.heads.size(), 2u);
  EXPECT_EQ(req_rec.heads[1].url, "/next");
  ASSERT_EQ(req_rec.heads[1].headers.size(), 1u);
  EXPECT_EQ(req_rec.heads[1].headers[0].second, "h");
}

TEST(HttpTrackerTest, ConnectIsAnUpgradeOnlyWhenAccepted) {
  HttpTracker req(Role::request);
  Recorder rec;
  const std::string connect = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
  const auto r = req.feed(span_of(connect + "\x16\x03\x01"), rec);
  EXPECT_EQ(r.status, Status::upgrade);
  EXPECT_EQ(r.offset, connect.size());
  EXPECT_EQ(rec.heads.at(0).method, "CONNECT");
  EXPECT_EQ(rec.heads.at(0).url, "example.com:443");

  HttpTracker accepted(Role::response);
  accepted.expect_response_to("CONNECT");
  const std::string ok = "HTTP/1.1 200 Connection Established\r\n\r\n";
  const auto a = accepted.feed(span_of(ok + "\x16\x03\x03"), rec);
  EXPECT_EQ(a.status, Status::upgrade);
  EXPECT_EQ(a.offset, ok.size());

  HttpTracker refused(Role::response);
  refused.expect_response_to("CONNECT");
  refused.expect_response_to("GET");
  Recorder refused_rec;
  const auto f = refused.feed(span_of("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 1\r\n\r\nx"
                                      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
                              refused_rec);
  EXPECT_EQ(f.status, Status::ok);
  EXPECT_EQ(refused_rec.events, "HCHC");
}

TEST(HttpTrackerTest, HeaderNamesAndTokensAreCaseInsensitive) {
  HttpTracker t(Role::request);
  Recorder rec;
  const std::string wire =
      "GET /ws HTTP/1.1\r\n"
      "host: h\r\n"
      "UPGRADE: WebSocket\r\n"
      "connection: keep-alive, Upgrade\r\n"
      "sec-websocket-key: abc==\r\n"
      "SEC-WEBSOCKET-EXTENSIONS: x-webkit-deflate-frame, PerMessage-Deflate ; server_no_context_takeover\r\n"
      "\r\n";
  const auto r = t.feed(span_of(wire), rec);
  EXPECT_EQ(r.status, Status::upgrade);  // llhttp folds case too
  EXPECT_EQ(r.offset, wire.size());
  ASSERT_EQ(rec.heads.size(), 1u);
  const HttpHead& h = rec.heads[0];
  EXPECT_EQ(h.headers[1].first, "UPGRADE");  // as sent
  EXPECT_EQ(h.header("Upgrade"), "WebSocket");
  EXPECT_EQ(h.header("connection"), "keep-alive, Upgrade");
  EXPECT_TRUE(h.header_has_token("Connection", "upgrade"));
  EXPECT_TRUE(h.header_has_token("CONNECTION", "Keep-Alive"));
  EXPECT_FALSE(h.header_has_token("Connection", "close"));
  EXPECT_FALSE(h.header_has_token("Connection", "keep"));
  EXPECT_TRUE(h.is_websocket_upgrade());
  EXPECT_TRUE(h.permessage_deflate());
}

TEST(HttpTrackerTest, TokensAcrossRepeatedHeadersAndPadding) {
  HttpHead h;
  h.method = "GET";
  h.headers = {{"Connection", "keep-alive"}, {"Connection", " ,\tUpgrade ,"}, {"Upgrade", "websocket"},
               {"Sec-WebSocket-Key", "k"}, {"Sec-WebSocket-Extensions", "permessage-deflatex, foo"}};
  EXPECT_TRUE(h.header_has_token("connection", "upgrade"));
  EXPECT_EQ(h.header("Connection"), "keep-alive");
  EXPECT_EQ(h.header("Absent"), "");
  EXPECT_TRUE(h.is_websocket_upgrade());
  EXPECT_FALSE(h.permessage_deflate());
  h.method = "POST";
  EXPECT_FALSE(h.is_websocket_upgrade());
  h.method = "GET";
  h.headers[3].second = "";
  EXPECT_FALSE(h.is_websocket_upgrade());

  HttpHead resp;
  resp.is_request = false;
  resp.status = 101;
  resp.headers = {{"upgrade", "WebSocket"}};
  EXPECT_TRUE(resp.is_websocket_upgrade());
  resp.status = 200;
  EXPECT_FALSE(resp.is_websocket_upgrade());
}

TEST(HttpTrackerTest, EmptyHeaderValueKeepsHeadersApart) {
  const std::string wire = "GET / HTTP/1.1\r\nX-Empty:\r\nX-B:  2  \r\n\r\n";
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    HttpTracker t(Role::request);
    Recorder rec;
    t.feed(span_of(std::string_view(wire).substr(0, cut)), rec);
    EXPECT_EQ(t.feed(span_of(std::string_view(wire).substr(cut)), rec).status, Status::ok);
    ASSERT_EQ(rec.heads.size(), 1u);
    ASSERT_EQ(rec.heads[0].headers.size(), 2u) << "cut " << cut;
    EXPECT_EQ(rec.heads[0].headers[0].first, "X-Empty");
    EXPECT_EQ(rec.heads[0].headers[0].second, "");
    EXPECT_EQ(rec.heads[0].headers[1].first, "X-B");
    EXPECT_EQ(rec.heads[0].header("x-b"), "2") << "cut " << cut;  // llhttp keeps trailing OWS; we don't
  }
}

struct Malformed {
  std::string wire;
  std::size_t offset;
  std::string reason;
};

TEST(HttpTrackerTest, MalformedRequestsFailWithAReason) {
  const std::vector<Malformed> cases = {
      {"FOO / HTTP/1.1\r\n\r\n", 1, "Invalid method encountered (HPE_INVALID_METHOD)"},
      {"GET / HTTP/9.9\r\n\r\n", 14, "Invalid HTTP version (HPE_INVALID_VERSION)"},
      {"GET / HTTP/1.1\r\nX-A\x01: b\r\n\r\n", 19, "Invalid header token (HPE_INVALID_HEADER_TOKEN)"},
      {"GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 23, "Invalid header value char (HPE_INVALID_HEADER_TOKEN)"},
  };
  for (const Malformed& c : cases) {
    HttpTracker t(Role::request);
    Recorder rec;
    const auto r = t.feed(span_of("GET /fine HTTP/1.1\r\n\r\n" + c.wire), rec);
    EXPECT_EQ(r.status, Status::error) << c.wire;
    EXPECT_EQ(r.offset, 22 + c.offset) << c.wire;
    EXPECT_EQ(r.reason, c.reason) << c.wire;
    EXPECT_EQ(rec.events, "HC") << c.wire;
    // Stays failed.
    const auto again = t.feed(span_of("GET / HTTP/1.1\r\n\r\n"), rec);
    EXPECT_EQ(again.status, Status::error);
    EXPECT_EQ(again.offset, 0u);
    EXPECT_EQ(again.reason, c.reason);
    EXPECT_EQ(rec.events, "HC");
  }
}

TEST(HttpTrackerTest, EmptyHeaderNameFails) {
  // llhttp 8.1 alone would report a header named "".
  for (const Role role : {Role::request, Role::response}) {
    HttpTracker t(role);
    Recorder rec;
    const std::string wire = role == Role::request ? "GET / HTTP/1.1\r\nA: b\r\n: x\r\n\r\n"
                                                   : "HTTP/1.1 200 OK\r\n: x\r\n\r\n";
    const auto r = t.feed(span_of(wire), rec);
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.reason, "empty header name");
    EXPECT_EQ(r.offset, wire.size() - 6);  // just past the ":"
    EXPECT_TRUE(rec.heads.empty());
  }
}

TEST(HttpTrackerTest, MalformedResponseFails) {
  HttpTracker t(Role::response);
  Recorder rec;
  const auto r = t.feed(span_of("HTTP/1.1 2x0 OK\r\n\r\n"), rec);
  EXPECT_EQ(r.status, Status::error);
  EXPECT_NE(r.reason.find("HPE_INVALID_STATUS"), std::string::npos) << r.reason;
  EXPECT_LE(r.offset, 19u);
}

TEST(HttpTrackerTest, HeadOver64KiBFails) {
  // One long URL, fed in pieces.
  {
    HttpTracker t(Role::request);
    Recorder rec;
    EXPECT_EQ(t.feed(span_of("GET /"), rec).status, Status::ok);
    const std::string piece(16 * 1024, 'a');
    HttpTracker::Result r;
    int pieces = 0;
    while (r.status == Status::ok && pieces < 10) {
      r = t.feed(span_of(piece), rec);
      ++pieces;
    }
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(pieces, 4);  // 5 + 4 * 16384 > 65536
    EXPECT_EQ(r.reason, "request head over 64 KiB");
    EXPECT_LE(r.offset, piece.size());
    EXPECT_TRUE(rec.heads.empty());
    EXPECT_EQ(t.feed(span_of(" HTTP/1.1\r\n\r\n"), rec).reason, "request head over 64 KiB");
  }
  // Many small headers in one feed.
  {
    HttpTracker t(Role::response);
    Recorder rec;
    std::string wire = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 20000; ++i) wire += "a:\r\n";
    const auto r = t.feed(span_of(wire), rec);
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.reason, "response head over 64 KiB");
    EXPECT_LT(r.offset, wire.size());
  }
  // Just under the limit is fine.
  {
    HttpTracker t(Role::request);
    Recorder rec;
    const std::string wire = "GET / HTTP/1.1\r\nX-Big: " + std::string(60 * 1024, 'b') + "\r\n\r\n";
    EXPECT_EQ(t.feed(span_of(wire), rec).status, Status::ok);
    ASSERT_EQ(rec.heads.size(), 1u);
    EXPECT_EQ(rec.heads[0].header("X-Big").size(), 60u * 1024);
  }
}

TEST(HttpTrackerTest, LimitIsPerHeadNotPerConnection) {
  HttpTracker t(Role::request);
  Recorder rec;
  const std::string one = "GET / HTTP/1.1\r\nX-Big: " + std::string(40 * 1024, 'b') + "\r\n\r\n";
  for (int i = 0; i < 4; ++i) ASSERT_EQ(t.feed(span_of(one), rec).status, Status::ok);
  EXPECT_EQ(rec.heads.size(), 4u);
}

TEST(HttpTrackerTest, StripUpgradeSendsHttp10WithoutHopByHopHeaders) {
  HttpTracker t(Role::request);
  Recorder rec;
  const std::string wire =
      "GET /chat?room=1 HTTP/1.1\r\n"
      "Host: example.com\r\n"
      "upgrade: websocket\r\n"
      "Connection: keep-alive, Upgrade\r\n"
      "Keep-Alive: timeout=5\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "TE: trailers\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "Origin: http://example.com\r\n"
      "\r\n";
  ASSERT_EQ(t.feed(span_of(wire), rec).status, Status::upgrade);
  ASSERT_EQ(rec.heads.size(), 1u);
  EXPECT_EQ(strip_upgrade(rec.heads[0]),
            "GET /chat?room=1 HTTP/1.0\r\n"
            "Host: example.com\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Origin: http://example.com\r\n"
            "Connection: close\r\n"
            "\r\n");
}

TEST(HttpTrackerTest, StripUpgradeOutputParsesAsAPlainRequest) {
  HttpHead h;
  h.method = "GET";
  h.url = "/";
  h.headers = {{"Host", "h"}, {"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Trailer", "x"},
               {"Transfer-Encoding", "chunked"}, {"Sec-WebSocket-Key", "k"}};
  const std::string out = strip_upgrade(h);
  EXPECT_EQ(out, "GET / HTTP/1.0\r\nHost: h\r\nSec-WebSocket-Key: k\r\nConnection: close\r\n\r\n");
  HttpTracker t(Role::request);
  Recorder rec;
  EXPECT_EQ(t.feed(span_of(out), rec).status, Status::ok);
  ASSERT_EQ(rec.heads.size(), 1u);
  EXPECT_EQ(rec.heads[0].version_minor, 0);
  EXPECT_FALSE(rec.heads[0].is_websocket_upgrade());
}

TEST(HttpTrackerTest, WithoutHeaderDropsEveryLineOfThatHeaderAndNothingElse) {
  const std::string head =
      "GET /chat HTTP/1.1\r\n"
      "Host: example.com\r\n"
      "sec-websocket-extensions: permessage-deflate;\r\n"
      "\t client_max_window_bits\r\n"  // an obs-fold continuation of it
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Extensions : x-webkit-deflate-frame\r\n"
      "X-Sec-WebSocket-Extensions: kept\r\n"
      "\r\n";
  EXPECT_EQ(without_header(head, "Sec-WebSocket-Extensions"),
            "GET /chat HTTP/1.1\r\n"
            "Host: example.com\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "X-Sec-WebSocket-Extensions: kept\r\n"
            "\r\n");
  EXPECT_EQ(without_header(head, "Absent"), head) << "nothing to drop: byte for byte the same";
  // The request line is never taken for a header, whatever it holds.
  EXPECT_EQ(without_header("Host: /x HTTP/1.1\r\nHost: h\r\n\r\n", "Host"), "Host: /x HTTP/1.1\r\n\r\n");
}

TEST(HttpTrackerTest, KeepAliveResponseIsHttp11WithoutHopByHopHeaders) {
  HttpHead h;
  h.is_request = false;
  h.version_minor = 0;
  h.status = 426;
  h.reason = "Upgrade Required";
  h.headers = {{"Content-Type", "text/plain"}, {"Connection", "close"}, {"Keep-Alive", "timeout=5"},
               {"Content-Length", "17"}};
  EXPECT_EQ(keep_alive_response(h, false),
            "HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n"
            "Connection: keep-alive\r\n\r\n");
  h.headers = {{"Transfer-Encoding", "chunked"}, {"X-A", "1"}};
  EXPECT_EQ(keep_alive_response(h, true),
            "HTTP/1.1 426 Upgrade Required\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n"
            "Connection: keep-alive\r\n\r\n");
}

TEST(HttpTrackerTest, SentChunkedWhenABodyHasNoLength) {
  HttpHead h;
  h.is_request = false;
  h.status = 200;
  EXPECT_TRUE(sent_chunked(h)) << "close-delimited";
  h.headers = {{"Transfer-Encoding", "chunked"}};
  EXPECT_TRUE(sent_chunked(h)) << "chunked by the upstream: chunked again";
  h.headers = {{"content-length", "0"}};
  EXPECT_FALSE(sent_chunked(h));
  h.headers.clear();
  for (int status : {101, 204, 304}) {
    h.status = status;
    EXPECT_FALSE(sent_chunked(h)) << status << " carries no body";
  }
}

TEST(HttpTrackerTest, StatusResponseIsExact) {
  EXPECT_EQ(status_response(403),
            "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_response(502, "upstream refused\n"),
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n"
            "Connection: close\r\n\r\nupstream refused\n");
  EXPECT_EQ(status_response(599, "x"),
            "HTTP/1.1 599 Status\r\nContent-Type: text/plain\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx");
  // And it parses as one complete response.
  HttpTracker t(Role::response);
  Recorder rec;
  EXPECT_EQ(t.feed(span_of(status_response(426, "use a websocket")), rec).status, Status::ok);
  EXPECT_EQ(rec.events, "HC");
  EXPECT_EQ(rec.heads.at(0).reason, "Upgrade Required");
}

TEST(HttpTrackerTest, ReasonPhrases) {
  EXPECT_EQ(reason_phrase(101), "Switching Protocols");
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(400), "Bad Request");
  EXPECT_EQ(reason_phrase(403), "Forbidden");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(426), "Upgrade Required");
  EXPECT_EQ(reason_phrase(500), "Internal Server Error");
  EXPECT_EQ(reason_phrase(502), "Bad Gateway");
  EXPECT_EQ(reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(reason_phrase(504), "Gateway Timeout");
  EXPECT_EQ(reason_phrase(0), "Status");
  EXPECT_EQ(reason_phrase(299), "Status");
}

}  // namespace
}  // namespace dropsim
