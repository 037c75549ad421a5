#include "api_guard.h"

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace dropsim {
namespace {

HttpRequest request(std::string method, std::vector<std::pair<std::string, std::string>> headers) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = "/proxies";
  r.headers = std::move(headers);
  return r;
}

/// The status check() answers `r` with; 0 when it may proceed.
int status_of(const ApiGuard& guard, const HttpRequest& r) {
  const auto refusal = guard.check(r);
  return refusal ? refusal->status : 0;
}

TEST(ApiGuard, LoopbackHostNames) {
  for (const char* host : {"", "localhost", "LOCALHOST:8474", "app.localhost", "127.0.0.1", "127.1.2.3:80", "[::1]",
                           "[::1]:8474"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (const char* host : {"rebind.example", "localhost.example", "192.168.1.5:80", "0.0.0.0", "[::]:1", "[::1",
                           "null", "evil.localhost.example:80"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
}

TEST(ApiGuard, OnlyGetHeadAndOptionsLeaveStateAlone) {
  for (const char* m : {"GET", "HEAD", "OPTIONS"}) EXPECT_FALSE(changes_state(m)) << m;
  for (const char* m : {"POST", "PUT", "PATCH", "DELETE", "get", "PROPFIND"}) EXPECT_TRUE(changes_state(m)) << m;
}

TEST(ApiGuard, BearerTokenMatchesExactly) {
  EXPECT_TRUE(bearer_matches("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(bearer_matches("bearer s3cret", "s3cret"));  // the scheme is case-insensitive
  EXPECT_TRUE(bearer_matches("  BEARER   s3cret  ", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer S3cret", "s3cret"));  // the token is not
  EXPECT_FALSE(bearer_matches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer s3cret!", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer ", "s3cret"));
  EXPECT_FALSE(bearer_matches("s3cret", "s3cret"));
  EXPECT_FALSE(bearer_matches("Basic s3cret", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearers3cret", "s3cret"));
  EXPECT_FALSE(bearer_matches("", "s3cret"));
  // A given token that shares a prefix, or is the secret twice, is no match.
  const std::string secret = "0123456789abcdef";
  for (std::size_t n = 0; n < secret.size(); ++n) EXPECT_FALSE(bearer_matches("Bearer " + secret.substr(0, n), secret));
  EXPECT_FALSE(bearer_matches("Bearer " + secret + secret, secret));
}

TEST(ApiGuard, BrowsersFromOtherSitesAreRefused) {
  EXPECT_TRUE(browser_refusal("cross-site", "", false));
  EXPECT_TRUE(browser_refusal("same-site", "", false));
  EXPECT_TRUE(browser_refusal("Cross-Site", "", true));  // allow_remote does not let web pages in
  EXPECT_FALSE(browser_refusal("same-origin", "", false));
  EXPECT_FALSE(browser_refusal("none", "", false));  // typed into the address bar
  EXPECT_FALSE(browser_refusal("", "", false));      // not a browser

  EXPECT_FALSE(browser_refusal("", "http://localhost:8474", false));
  EXPECT_FALSE(browser_refusal("", "http://127.0.0.1:3000", false));
  EXPECT_FALSE(browser_refusal("", "https://[::1]:8474", false));
  EXPECT_FALSE(browser_refusal("", "http://dashboard.localhost", false));
  const auto evil = browser_refusal("", "https://evil.example", false);
  ASSERT_TRUE(evil);
  EXPECT_NE(evil->find("--api-allow-remote"), std::string::npos) << *evil;
  EXPECT_TRUE(browser_refusal("", "null", false));  // a sandboxed frame or a file:// page
  EXPECT_TRUE(browser_refusal("", "http://localhost.evil.example", false));
  EXPECT_FALSE(browser_refusal("", "https://evil.example", true));
}

TEST(ApiGuard, ListenRules) {
  const auto rule = [](const char* listen, bool allow) { return listen_rule(parse_host_port(listen), allow); };
  EXPECT_EQ(rule("127.0.0.1:0", false), ListenRule::any_peer);
  EXPECT_EQ(rule("127.5.5.5:80", false), ListenRule::any_peer);
  EXPECT_EQ(rule("[::1]:0", false), ListenRule::any_peer);
  // Toxiproxy's users create these routinely: kept, for loopback clients only.
  EXPECT_EQ(rule(":8666", false), ListenRule::loopback_peers_only);
  EXPECT_EQ(rule("0.0.0.0:8666", false), ListenRule::loopback_peers_only);
  EXPECT_EQ(rule("[::]:8666", false), ListenRule::loopback_peers_only);
  EXPECT_EQ(rule("192.168.1.5:80", false), ListenRule::refused);
  EXPECT_EQ(rule("[fd00::2]:80", false), ListenRule::refused);
  EXPECT_EQ(rule("lan.example:80", false), ListenRule::refused);  // not looked up: not trusted
  for (const char* listen : {"127.0.0.1:0", ":8666", "[::]:8666", "192.168.1.5:80"}) {
    EXPECT_EQ(rule(listen, true), ListenRule::any_peer) << listen;
  }
}

TEST(ApiGuard, ListenRefusalNamesTheFlag) {
  const std::string why = ApiGuard::listen_refusal("lan.example:80", "192.168.1.5:80");
  EXPECT_NE(why.find("'lan.example:80' (192.168.1.5:80)"), std::string::npos) << why;
  EXPECT_NE(why.find("--allow-remote-listen"), std::string::npos) << why;
  EXPECT_NE(ApiGuard::listen_refusal("192.168.1.5:80", "192.168.1.5:80").find("'192.168.1.5:80' is not"),
            std::string::npos);
}

TEST(ApiGuard, RemoteApiImpliesRemoteListens) {
  EXPECT_EQ(ApiGuard(ApiAccess{}).listen("192.168.1.5:80"), ListenRule::refused);
  EXPECT_EQ(ApiGuard(ApiAccess{false, true, ""}).listen("192.168.1.5:80"), ListenRule::any_peer);
  EXPECT_EQ(ApiGuard(ApiAccess{true, false, ""}).listen("192.168.1.5:80"), ListenRule::any_peer);
  EXPECT_EQ(ApiGuard(ApiAccess{true, false, ""}).listen(":8666"), ListenRule::any_peer);
}

TEST(ApiGuard, TokenGuardsStateChangesOnly) {
  const ApiGuard guard(ApiAccess{false, false, "s3cret"});
  EXPECT_EQ(status_of(guard, request("GET", {})), 0);
  EXPECT_EQ(status_of(guard, request("HEAD", {})), 0);
  EXPECT_EQ(status_of(guard, request("OPTIONS", {})), 0);
  EXPECT_EQ(status_of(guard, request("POST", {})), 401);
  EXPECT_EQ(status_of(guard, request("DELETE", {{"Authorization", "Bearer wrong"}})), 401);
  EXPECT_EQ(status_of(guard, request("POST", {{"authorization", "Bearer s3cret"}})), 0);
  // The refusal never repeats what was sent.
  const auto wrong = guard.check(request("POST", {{"Authorization", "Bearer guess123"}}));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->message.find("guess123"), std::string::npos) << wrong->message;
  // Without a token, changes need none.
  EXPECT_EQ(status_of(ApiGuard(ApiAccess{}), request("POST", {})), 0);
}

TEST(ApiGuard, EveryGuardInOrder) {
  const ApiGuard guard(ApiAccess{false, false, "s3cret"});
  const std::pair<std::string, std::string> token{"Authorization", "Bearer s3cret"};
  EXPECT_EQ(status_of(guard, request("GET", {{"Host", "rebind.example"}})), 403);
  EXPECT_EQ(status_of(guard, request("GET", {{"Sec-Fetch-Site", "cross-site"}})), 403);
  EXPECT_EQ(status_of(guard, request("GET", {{"Origin", "https://evil.example"}})), 403);
  EXPECT_EQ(status_of(guard, request("GET", {{"User-Agent", "Mozilla/5.0"}})), 0);  // dashboards read
  EXPECT_EQ(status_of(guard, request("POST", {{"User-Agent", "Mozilla/5.0"}, token})), 403);
  EXPECT_EQ(status_of(guard, request("POST", {{"Origin", "http://localhost:8474"}, token})), 0);
  // A browser is told it is a browser before it is asked for a token.
  EXPECT_EQ(status_of(guard, request("POST", {{"Sec-Fetch-Site", "same-site"}})), 403);
  const ApiGuard remote(ApiAccess{true, false, ""});
  EXPECT_EQ(status_of(remote, request("GET", {{"Host", "dropsim.example"}})), 0);
  EXPECT_EQ(status_of(remote, request("GET", {{"Origin", "https://dash.example"}})), 0);
  EXPECT_EQ(status_of(remote, request("GET", {{"Sec-Fetch-Site", "cross-site"}})), 403);
}

}  // namespace
}  // namespace dropsim
