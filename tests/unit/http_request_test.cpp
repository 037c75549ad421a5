#include "http_request.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace dropsim {
namespace {

using Status = HttpRequestReader::Result::Status;

std::span<const char> span_of(std::string_view s) { return {s.data(), s.size()}; }

/// Feeds `bytes` in pieces cut at `cuts` (offsets) and returns every request read, in
/// order, or the first error's status as a negative number in `error`.
std::vector<HttpRequest> read_all(HttpRequestReader& reader, std::string_view bytes,
                                  const std::vector<std::size_t>& cuts, int* error = nullptr) {
  std::vector<HttpRequest> out;
  std::size_t start = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(bytes.size());
  for (std::size_t end : ends) {
    std::string_view piece = bytes.substr(start, end - start);
    start = end;
    while (true) {
      const auto r = reader.feed(span_of(piece));
      if (r.status == Status::error) {
        if (error != nullptr) *error = r.http_status;
        return out;
      }
      if (r.status == Status::need_more) {
        EXPECT_EQ(r.consumed, piece.size());
        break;
      }
      out.push_back(reader.take());
      piece.remove_prefix(r.consumed);
      if (piece.empty()) break;
    }
  }
  return out;
}

const std::string kPost =
    "POST /proxies/a%2Fb/toxics?x=1&name=two+words HTTP/1.1\r\n"
    "Host: 127.0.0.1:8474\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "{\"name\":\"x\"}\n";

const std::string kGet = "GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n";

const std::string kChunked =
    "PATCH /proxies/p HTTP/1.1\r\n"
    "Host: localhost\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5\r\n{\"ena\r\n"
    "a;ext=1\r\nbled\":true\r\n"
    "1\r\n}\r\n"
    "0\r\n"
    "\r\n";

void expect_post(const HttpRequest& r) {
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/proxies/a%2Fb/toxics");
  EXPECT_EQ(r.query, "x=1&name=two+words");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("HOST"), "127.0.0.1:8474");
  EXPECT_EQ(r.header("Missing"), "");
  EXPECT_EQ(r.body, "{\"name\":\"x\"}\n");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(r.query_param("name"), "two words");
  EXPECT_EQ(r.query_param("x"), "1");
  EXPECT_EQ(r.query_param("y"), std::nullopt);
}

TEST(HttpRequestReader, ReadsARequestWithItsBody) {
  HttpRequestReader reader;
  const auto r = reader.feed(span_of(kPost));
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.consumed, kPost.size());
  expect_post(reader.take());
}

TEST(HttpRequestReader, SplitAtEveryByteGivesTheSameRequest) {
  for (std::size_t cut = 1; cut < kPost.size(); ++cut) {
    HttpRequestReader reader;
    const auto got = read_all(reader, kPost, {cut});
    ASSERT_EQ(got.size(), 1u) << "cut at " << cut;
    expect_post(got[0]);
  }
}

TEST(HttpRequestReader, OneByteAtATime) {
  HttpRequestReader reader;
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < kPost.size(); ++i) cuts.push_back(i);
  const auto got = read_all(reader, kPost, cuts);
  ASSERT_EQ(got.size(), 1u);
  expect_post(got[0]);
}

TEST(HttpRequestReader, PipelinedRequestsComeOneAtATime) {
  const std::string three = kGet + kPost + kGet;
  HttpRequestReader reader;
  auto r = reader.feed(span_of(three));
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.consumed, kGet.size());  // the rest waits until the first is answered
  // Before take(), feeding again does not skip the request.
  EXPECT_EQ(reader.feed(span_of(std::string_view(three).substr(r.consumed))).status, Status::complete);
  EXPECT_EQ(reader.take().path, "/version");
  r = reader.feed(span_of(std::string_view(three).substr(kGet.size())));
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.consumed, kPost.size());
  expect_post(reader.take());
  r = reader.feed(span_of(std::string_view(three).substr(kGet.size() + kPost.size())));
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(reader.take().method, "GET");
}

TEST(HttpRequestReader, PipelinedAndSplitAtEveryByte) {
  const std::string three = kGet + kPost + kChunked;
  for (std::size_t cut = 1; cut < three.size(); ++cut) {
    HttpRequestReader reader;
    const auto got = read_all(reader, three, {cut});
    ASSERT_EQ(got.size(), 3u) << "cut at " << cut;
    EXPECT_EQ(got[0].path, "/version");
    expect_post(got[1]);
    EXPECT_EQ(got[2].body, "{\"enabled\":true}");
  }
}

TEST(HttpRequestReader, ChunkedBodyIsJoined) {
  HttpRequestReader reader;
  const auto got = read_all(reader, kChunked, {});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "PATCH");
  EXPECT_EQ(got[0].body, "{\"enabled\":true}");
}

TEST(HttpRequestReader, ConnectionCloseAndHttp10EndTheConnection) {
  for (const std::string req : {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"}) {
    HttpRequestReader reader;
    ASSERT_EQ(reader.feed(span_of(req)).status, Status::complete) << req;
    EXPECT_FALSE(reader.take().keep_alive) << req;
  }
  HttpRequestReader reader;
  ASSERT_EQ(reader.feed(span_of("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")).status, Status::complete);
  EXPECT_TRUE(reader.take().keep_alive);
}

TEST(HttpRequestReader, OversizedHeadIs431) {
  HttpRequestReader reader(HttpRequestReader::Limits{256, 1024});
  std::string req = "GET / HTTP/1.1\r\nX-Big: " + std::string(300, 'a') + "\r\n\r\n";
  int error = 0;
  EXPECT_TRUE(read_all(reader, req, {10, 100}, &error).empty());
  EXPECT_EQ(error, 431);
}

TEST(HttpRequestReader, ManyEmptyHeadersCountAgainstTheHeadLimit) {
  HttpRequestReader reader(HttpRequestReader::Limits{256, 1024});
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) req += "a:\r\n";
  int error = 0;
  read_all(reader, req + "\r\n", {}, &error);
  EXPECT_EQ(error, 431);
}

TEST(HttpRequestReader, DeclaredOversizedBodyIs413BeforeItArrives) {
  HttpRequestReader reader(HttpRequestReader::Limits{1024, 10});
  const std::string head = "POST /populate HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
  const auto r = reader.feed(span_of(head));  // no body byte sent yet
  EXPECT_EQ(r.status, Status::error);
  EXPECT_EQ(r.http_status, 413);
  EXPECT_EQ(r.reason, "request body over the limit of 10 bytes");
  // ...and it stays failed.
  EXPECT_EQ(reader.feed(span_of(kGet)).http_status, 413);
}

TEST(HttpRequestReader, BodyAtTheLimitIsAccepted) {
  HttpRequestReader reader(HttpRequestReader::Limits{1024, 10});
  const std::string req = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789";
  ASSERT_EQ(reader.feed(span_of(req)).status, Status::complete);
  EXPECT_EQ(reader.take().body, "0123456789");
}

TEST(HttpRequestReader, ChunkedOversizedBodyIs413) {
  HttpRequestReader reader(HttpRequestReader::Limits{1024, 10});
  const std::string req =
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n";
  int error = 0;
  EXPECT_TRUE(read_all(reader, req, {}, &error).empty());
  EXPECT_EQ(error, 413);
}

TEST(HttpRequestReader, MalformedRequestsAre400) {
  for (const std::string bad : {
           "GARBAGE\r\n\r\n",
           "GET / HTTP/1.1\r\n: no-name\r\n\r\n",
           "GET / HTTP/9.9\r\n\r\n",
           "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  // a TLS ClientHello
       }) {
    HttpRequestReader reader;
    int error = 0;
    EXPECT_TRUE(read_all(reader, bad, {}, &error).empty()) << bad;
    EXPECT_EQ(error, 400) << bad;
  }
}

TEST(HttpRequestReader, ExpectContinueIsReportedOnceBeforeTheBody) {
  HttpRequestReader reader;
  const std::string head = "POST /proxies HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  EXPECT_FALSE(reader.take_continue());
  ASSERT_EQ(reader.feed(span_of(head)).status, Status::need_more);
  EXPECT_TRUE(reader.take_continue());
  EXPECT_FALSE(reader.take_continue());
  ASSERT_EQ(reader.feed(span_of("{}")).status, Status::complete);
  EXPECT_EQ(reader.take().body, "{}");
  EXPECT_FALSE(reader.take_continue());
}

TEST(HttpRequestReader, AnUpgradeRequestIsAnsweredThenTheConnectionEnds) {
  HttpRequestReader reader;
  const std::string req =
      "GET /events HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET / HTTP/1.1\r\n\r\n";
  const auto r = reader.feed(span_of(req));
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_FALSE(reader.take().keep_alive);
  EXPECT_EQ(reader.feed(span_of(std::string_view(req).substr(r.consumed))).status, Status::error);
}

TEST(PercentDecode, DecodesAndRejectsBadEscapes) {
  EXPECT_EQ(percent_decode("a%2Fb%20c"), "a/b c");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%"), std::nullopt);
  EXPECT_EQ(percent_decode("%4"), std::nullopt);
  EXPECT_EQ(percent_decode("%zz"), std::nullopt);
  EXPECT_EQ(percent_decode(""), "");
}

}  // namespace
}  // namespace dropsim
