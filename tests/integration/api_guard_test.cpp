// The control API's guards over real sockets: an in-process Runtime and ApiServer on
// 127.0.0.1 (ApiServerUnderTest), blocking clients, every wait bounded. The decisions
// themselves are unit-tested (tests/unit/api_guard_test.cpp); here, that the server
// applies them: Host, browsers and the token.

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api_client_util.h"
#include "api_server.h"
#include "net_util.h"

namespace dropsim::test {
namespace {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

/// A JSON error body with `status`, whose message holds `part`.
void expect_refused(const Reply& r, int status, const std::string& part) {
  EXPECT_EQ(r.status, status) << r.body;
  const json j = json::parse(r.body);
  EXPECT_EQ(j.value("status", 0), status) << r.body;
  EXPECT_NE(j.value("error", std::string()).find(part), std::string::npos) << "want '" << part << "' in " << r.body;
}

// ------------------------------------------------------------------ Host and browsers

TEST(ControlApiGuards, NonLoopbackHostIsRefused) {
  ApiServerUnderTest api;
  ApiClient raw(api.port());
  const Reply evil = raw.raw("GET /proxies HTTP/1.1\r\nHost: rebind.example\r\n\r\n");
  expect_refused(evil, 403, "--api-allow-remote");
  EXPECT_EQ(raw.raw("GET /version HTTP/1.1\r\nHost: localhost:1\r\n\r\n").status, 200);
  EXPECT_EQ(raw.raw("GET /version HTTP/1.1\r\nHost: [::1]:1\r\n\r\n").status, 200);
}

TEST(ControlApiGuards, AllowRemoteAcceptsAnyHost) {
  ApiServerUnderTest api({}, true);
  ApiClient raw(api.port());
  EXPECT_EQ(raw.raw("GET /version HTTP/1.1\r\nHost: dropsim.example\r\n\r\n").status, 200);
}

TEST(ControlApiGuards, BrowsersMayReadButNotChange) {
  EchoServer echo;
  ApiServerUnderTest api;
  ApiClient client(api.port());
  const Headers browser{{"User-Agent", "Mozilla/5.0 (X11)"}};
  EXPECT_EQ(client.request("GET", "/proxies", "", browser).status, 200);
  expect_refused(client.request("POST", "/proxies", proxy_body("p", echo.port()), browser), 403,
                 "User agent not allowed");
  EXPECT_EQ(client.request("GET", "/proxies").body, "{}\n");
}

// A page of another site may not even read: /events and /metrics tell it what runs here.
TEST(ControlApiGuards, PagesOfOtherSitesAreRefusedEvenForReads) {
  ApiServerUnderTest api;
  ApiClient client(api.port());
  expect_refused(client.request("GET", "/proxies", "", {{"Origin", "https://evil.example"}}), 403,
                 "Origin 'https://evil.example'");
  expect_refused(client.request("GET", "/metrics", "", {{"Origin", "null"}}), 403, "--api-allow-remote");
  expect_refused(client.request("GET", "/events", "", {{"Sec-Fetch-Site", "cross-site"}}), 403, "Sec-Fetch-Site");
  expect_refused(client.request("POST", "/reset", "", {{"Sec-Fetch-Site", "same-site"}}), 403, "Sec-Fetch-Site");
  // Its own pages, and tools that are no browser, still may.
  EXPECT_EQ(client.request("GET", "/proxies", "", {{"Origin", "http://localhost:5173"}}).status, 200);
  EXPECT_EQ(client.request("GET", "/proxies", "", {{"Sec-Fetch-Site", "same-origin"}}).status, 200);
  EXPECT_EQ(client.request("POST", "/reset", "", {{"Sec-Fetch-Site", "none"}}).status, 204);

  ApiServerUnderTest remote({}, true);
  ApiClient far(remote.port());
  EXPECT_EQ(far.request("GET", "/proxies", "", {{"Origin", "https://dash.example"}}).status, 200);
  expect_refused(far.request("GET", "/proxies", "", {{"Sec-Fetch-Site", "cross-site"}}), 403, "Sec-Fetch-Site");
}

// ------------------------------------------------------------------ the token

TEST(ControlApiGuards, TokenIsNeededForChangesOnly) {
  EchoServer echo;
  ApiServerOptions options;
  options.token = "s3cret-t0ken";
  ApiServerUnderTest api(options);
  ApiClient client(api.port());
  EXPECT_EQ(client.request("GET", "/proxies").status, 200);
  EXPECT_EQ(client.request("GET", "/metrics").status, 200);

  const Reply none = client.request("POST", "/proxies", proxy_body("p", echo.port()));
  expect_refused(none, 401, "Authorization: Bearer");
  EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer");
  const Reply wrong =
      client.request("POST", "/proxies", proxy_body("p", echo.port()), {{"Authorization", "Bearer s3cret-t0keN"}});
  expect_refused(wrong, 401, "token");
  EXPECT_EQ(wrong.header("WWW-Authenticate"), "Bearer");
  expect_refused(client.request("POST", "/reset"), 401, "Authorization");
  EXPECT_EQ(client.request("GET", "/proxies").body, "{}\n");  // nothing changed

  const Headers bearer{{"Authorization", "Bearer s3cret-t0ken"}};
  EXPECT_EQ(client.request("POST", "/proxies", proxy_body("p", echo.port()), bearer).status, 201);
  EXPECT_EQ(client.request("DELETE", "/proxies/p", "", bearer).status, 204);
  EXPECT_EQ(api.logs().find("s3cret-t0ken"), std::string::npos) << api.logs();
}

}  // namespace
}  // namespace dropsim::test
