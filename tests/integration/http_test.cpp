// http mode on real sockets: ordinary HTTP passes untouched, timers apply before the
// upgrade, and an HTTP status can be the expiry action.

#include <thread>

#include <gtest/gtest.h>

#include "builtin_profiles.h"
#include "net_util.h"
#include "profile_yaml.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;

Profile builtin(const std::string& name, const std::vector<SettingOverride>& sets = {}) {
  const auto text = find_profile_text(name);
  return load_profile(text.text, text.file, sets);
}

TEST(Http, KeepAlivePipelinedAndChunkedPassByteIdentical) {
  Listener server;
  ProxyUnderTest proxy(builtin("nginx"), server.port());
  Fd client = connect_to(proxy.port());
  Fd conn = server.accept();
  ASSERT_TRUE(conn.valid());
  const std::string requests =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
      "GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
  // Pipelined, and split mid-header to make the tracker work across reads.
  ASSERT_TRUE(send_all(client.get(), requests.substr(0, 20)));
  std::this_thread::sleep_for(milliseconds(20));
  ASSERT_TRUE(send_all(client.get(), requests.substr(20)));
  EXPECT_EQ(recv_exact(conn.get(), requests.size(), milliseconds(2000)), requests);
  const std::string responses =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
      "HTTP/1.1 204 No Content\r\n\r\n";
  ASSERT_TRUE(send_all(conn.get(), responses));
  EXPECT_EQ(recv_exact(client.get(), responses.size(), milliseconds(2000)), responses);
  EXPECT_EQ(proxy.logs().find("closed"), std::string::npos) << proxy.logs();
}

TEST(Http, TimersApplyBeforeTheUpgrade) {
  // A server that never answers: nginx's proxy_read_timeout drops the request.
  Listener server;
  ProxyUnderTest proxy(builtin("nginx", {{"proxy_read_timeout", "300ms"}}), server.port());
  Fd client = connect_to(proxy.port());
  Fd conn = server.accept();
  ASSERT_TRUE(send_all(client.get(), std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  const Ending e = wait_end(client.get(), milliseconds(3000));
  EXPECT_EQ(e.how, End::eof);
  EXPECT_GE(e.after.count(), 250);
  EXPECT_TRUE(proxy.wait_log("closed by proxy_read_timeout after 0."));
}

TEST(Http, StatusAsTheExpiryActionBeforeAnyResponse) {
  Profile p = idle_profile(milliseconds(300), DirectionSet::both(), {CloseAction::http_status, CloseAction::fin});
  p.mode = Mode::http;
  p.timers[0].on_expiry.http_status = 504;
  Listener server;
  ProxyUnderTest proxy(p, server.port());
  Fd client = connect_to(proxy.port());
  Fd conn = server.accept();
  ASSERT_TRUE(send_all(client.get(), std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  const std::string got = recv_exact(client.get(), 12, milliseconds(3000));
  EXPECT_EQ(got, "HTTP/1.1 504");
  EXPECT_EQ(wait_end(client.get(), milliseconds(2000)).how, End::eof);
  EXPECT_TRUE(proxy.wait_log("504 to client, then FIN"));
}

TEST(Http, NoStatusOnceTheResponseBegan) {
  Profile p = idle_profile(milliseconds(300), DirectionSet::both(), {CloseAction::http_status, CloseAction::fin});
  p.mode = Mode::http;
  Listener server;
  ProxyUnderTest proxy(p, server.port());
  Fd client = connect_to(proxy.port());
  Fd conn = server.accept();
  ASSERT_TRUE(send_all(client.get(), std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  ASSERT_EQ(recv_exact(conn.get(), 27, milliseconds(2000)).size(), 27u);
  ASSERT_TRUE(send_all(conn.get(), std::string("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")));
  EXPECT_EQ(recv_exact(client.get(), 45, milliseconds(2000)).substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_EQ(wait_end(client.get(), milliseconds(3000)).how, End::eof) << "a plain FIN: a status would corrupt it";
  EXPECT_TRUE(proxy.wait_log("a response had already begun"));
}

TEST(Http, RawBytesInHttpModeCloseOnlyThatConnection) {
  Listener server;
  ProxyUnderTest proxy(builtin("alb"), server.port());
  Fd good = connect_to(proxy.port());
  Fd good_conn = server.accept();
  ASSERT_TRUE(good_conn.valid());
  Fd bad = connect_to(proxy.port());
  ASSERT_TRUE(send_all(bad.get(), std::string("\x16\x03\x01 not http\r\n\r\n")));
  EXPECT_EQ(wait_end(bad.get(), milliseconds(2000)).how, End::eof);
  EXPECT_TRUE(proxy.wait_log("malformed HTTP request from client"));
  const std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(send_all(good.get(), req));
  EXPECT_EQ(recv_exact(good_conn.get(), req.size(), milliseconds(2000)), req) << "the other connection is untouched";
  const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  ASSERT_TRUE(send_all(good_conn.get(), resp));
  EXPECT_EQ(recv_exact(good.get(), resp.size(), milliseconds(2000)), resp);
}


/// Reads from `fd` until a response head ended ("\r\n\r\n") or `timeout`; what arrived.
std::string recv_head(int fd, Ms timeout) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    const std::string c = recv_exact(fd, 1, milliseconds(50));
    got += c;
  }
  return got;
}

const std::string kUpgrade =
    "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

TEST(UnreachableUpstream, NginxAnswers502ThenKeepsAliveUntilKeepaliveTimeout) {
  const ClosedPort dead;
  ProxyUnderTest proxy(builtin("nginx", {{"keepalive_timeout", "300ms"}}), dead.port());
  Fd client = connect_to(proxy.port());
  // Nothing before the request: the real proxy answers a request, not a connection.
  EXPECT_EQ(recv_exact(client.get(), 1, milliseconds(100)), "");
  ASSERT_TRUE(send_all(client.get(), kUpgrade));
  const std::string head = recv_head(client.get(), milliseconds(2000));
  EXPECT_TRUE(head.starts_with("HTTP/1.1 502 Bad Gateway\r\n")) << head;
  EXPECT_NE(head.find("Connection: keep-alive"), std::string::npos) << head;
  const Ending e = wait_end(client.get(), milliseconds(3000));
  EXPECT_EQ(e.how, End::eof);
  EXPECT_GE(e.after.count(), 250);
  EXPECT_TRUE(proxy.wait_log("unreachable (Connection refused after")) << proxy.logs();
  EXPECT_TRUE(proxy.wait_log(": 502 to client; keep-alive idle for 0.3")) << proxy.logs();
}

TEST(UnreachableUpstream, HaproxyRetriesThenAnswers503) {
  const ClosedPort dead;
  ProxyUnderTest proxy(builtin("haproxy", {{"retries", "2"}, {"retry_interval", "100"},
                                           {"timeout_http_keep_alive", "0"}}),
                       dead.port());
  Fd client = connect_to(proxy.port());
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(send_all(client.get(), kUpgrade));
  const std::string head = recv_head(client.get(), milliseconds(3000));
  const auto after = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - sent);
  EXPECT_TRUE(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << head;
  EXPECT_GE(after.count(), 180);  // two retries, 100 ms apart
  EXPECT_LE(after.count(), 1500);
  EXPECT_EQ(wait_end(client.get(), milliseconds(2000)).how, End::eof);  // keep-alive 0: closed at once
  EXPECT_TRUE(proxy.wait_log("unreachable (Connection refused after 3 attempts in 0.2")) << proxy.logs();
  EXPECT_TRUE(proxy.wait_log("s): 503 to client, then FIN")) << proxy.logs();
}

TEST(UnreachableUpstream, HaproxyTcpClosesWithFinAfterItsRetries) {
  const ClosedPort dead;
  ProxyUnderTest proxy(builtin("haproxy-tcp", {{"retries", "1"}, {"retry_interval", "200"}}), dead.port());
  Fd client = connect_to(proxy.port());
  const Ending e = wait_end(client.get(), milliseconds(3000));
  EXPECT_EQ(e.how, End::eof);
  EXPECT_GE(e.after.count(), 180);
  EXPECT_TRUE(proxy.wait_log("(Connection refused after 2 attempts in 0.2")) << proxy.logs();
}

}  // namespace
}  // namespace dropsim::test
