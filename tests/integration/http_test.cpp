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

}  // namespace
}  // namespace dropsim::test
