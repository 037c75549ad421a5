// The control API's guards over real sockets: an in-process Runtime and ApiServer on
// 127.0.0.1 (ApiServerUnderTest), blocking clients, short real deadlines with generous
// tolerances, every loop bounded. The decisions themselves are unit-tested
// (tests/unit/api_guard_test.cpp); here, that the server applies them: Host, browsers,
// the token, proxies' listen addresses and their clients, the request deadline and the
// connection cap.

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api_client_util.h"
#include "api_server.h"
#include "net_util.h"

namespace dropsim::test {
namespace {

using nlohmann::json;
using Steady = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

/// A JSON error body with `status`, whose message holds `part`.
void expect_refused(const Reply& r, int status, const std::string& part) {
  EXPECT_EQ(r.status, status) << r.body;
  const json j = json::parse(r.body);
  EXPECT_EQ(j.value("status", 0), status) << r.body;
  EXPECT_NE(j.value("error", std::string()).find(part), std::string::npos) << "want '" << part << "' in " << r.body;
}

/// The value of `series` (its name and labels as printed) in a /metrics text; -1 when absent.
long long metric(const std::string& text, const std::string& series) {
  const std::size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + series.size() + 2));
}

/// An IPv4 address of this machine that is not loopback; "" when it has none.
std::string non_loopback_ipv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string found;
  for (const ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    found = text;
  }
  ::freeifaddrs(list);
  return found;
}

/// Connects to `address`:port, an address of this machine: the kernel gives the client
/// that address too, so the server sees a non-loopback peer. Invalid Fd on failure.
Fd connect_ipv4(const std::string& address, std::uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1) return Fd();
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return Fd();
  set_io_timeout(fd.get(), Ms(2000));
  return fd;
}

/// Everything `fd` receives until the peer ends the connection or `timeout` passes.
std::string read_to_end(int fd, Ms timeout) {
  std::string text;
  const auto deadline = Steady::now() + timeout;
  char buf[4096];
  while (Steady::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

std::string metrics_of(std::uint16_t api_port) { return ApiClient(api_port).request("GET", "/metrics").body; }

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

// ------------------------------------------------------------------ listen addresses

TEST(ControlApiGuards, NonLoopbackListenIsRefusedThroughALoopbackApi) {
  EchoServer echo;
  RuntimeOptions runtime;
  // Listen names are looked up before the guard sees them: a fake DNS says where they point.
  runtime.lookup = [](const std::string& host, std::uint16_t port, Resolver::Done done) {
    const char* address = host == "lan.test" ? "192.0.2.77" : "127.0.0.1";
    done({}, {asio::ip::tcp::endpoint(asio::ip::make_address(address), port)});
  };
  ApiServerUnderTest api({}, false, spdlog::level::debug, runtime);
  ApiClient client(api.port());

  expect_refused(client.request("POST", "/proxies", proxy_body("p", echo.port(), {{"listen", "192.168.1.5:80"}})),
                 403, "--allow-remote-listen");
  expect_refused(client.request("POST", "/proxies", proxy_body("p", echo.port(), {{"listen", "[fd00::9]:80"}})), 403,
                 "--allow-remote-listen");
  expect_refused(client.request("POST", "/proxies", proxy_body("p", echo.port(), {{"listen", "lan.test:80"}})), 403,
                 "'lan.test:80' (192.0.2.77:80)");
  const Reply populate =
      client.request("POST", "/populate", "[" + proxy_body("q", echo.port(), {{"listen", "192.168.1.5:80"}}) + "]");
  expect_refused(populate, 403, "--allow-remote-listen");
  EXPECT_TRUE(json::parse(populate.body)["proxies"].is_null());
  EXPECT_EQ(client.request("GET", "/proxies").body, "{}\n");

  // A name that points at loopback, and every interface, are fine.
  const Reply named = client.request("POST", "/proxies", proxy_body("p", echo.port(), {{"listen", "box.test:0"}}));
  ASSERT_EQ(named.status, 201) << named.body;
  const std::string listen = json::parse(named.body)["listen"];
  EXPECT_EQ(listen.rfind("127.0.0.1:", 0), 0u) << listen;
  EXPECT_EQ(client.request("POST", "/proxies", proxy_body("w", echo.port(), {{"listen", ":0"}})).status, 201);

  // Moving a proxy there is refused too, and it stays where it was.
  for (const char* method : {"POST", "PATCH"}) {
    expect_refused(client.request(method, "/proxies/p", R"({"listen":"192.168.1.5:80"})"), 403,
                   "--allow-remote-listen");
  }
  EXPECT_EQ(json::parse(client.request("GET", "/proxies/p").body)["listen"], listen);
}

TEST(ControlApiGuards, AWildcardProxyFromALoopbackApiServesLoopbackClientsOnly) {
  const std::string lan = non_loopback_ipv4();
  if (lan.empty()) GTEST_SKIP() << "this machine has no non-loopback IPv4 address to connect from";
  EchoServer echo;
  ApiServerUnderTest api;
  ApiClient client(api.port());
  const Reply created = client.request("POST", "/proxies", proxy_body("wild", echo.port(), {{"listen", ":0"}}));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::uint16_t port = listen_port(json::parse(created.body));

  Fd remote = connect_ipv4(lan, port);
  ASSERT_TRUE(remote.valid()) << "cannot connect to " << lan << ":" << port;
  send_all(remote.get(), "hello");  // may already fail: the proxy closes it at once
  const Ending refused = wait_end(remote.get(), Ms(2000), true);
  EXPECT_TRUE(refused.how == End::eof || refused.how == End::reset) << "from " << lan << ": " << to_string(refused.how);
  EXPECT_EQ(metric(metrics_of(api.port()), "dropsim_refused_remote_peers_total{proxy=\"wild\"}"), 1);
  EXPECT_NE(api.logs().find("wild: closed a client from " + lan + ":"), std::string::npos) << api.logs();

  // Loopback clients are served, and the first one sums the episode up.
  Fd local = connect_to(port);
  ASSERT_TRUE(send_all(local.get(), "hello"));
  EXPECT_EQ(recv_exact(local.get(), 5, Ms(2000)), "hello");
  EXPECT_NE(api.logs().find("wild: refused 1 non-loopback client(s)"), std::string::npos) << api.logs();
}

TEST(ControlApiGuards, WithRemoteListensAllowedEveryClientIsServed) {
  const std::string lan = non_loopback_ipv4();
  if (lan.empty()) GTEST_SKIP() << "this machine has no non-loopback IPv4 address to listen on or connect from";
  EchoServer echo;
  ApiServerOptions options;
  options.allow_remote_listen = true;
  ApiServerUnderTest api(options);
  ApiClient client(api.port());
  for (const std::string& listen : {lan + ":0", std::string(":0")}) {
    const Reply created = client.request("POST", "/proxies", proxy_body("p" + listen, echo.port(), {{"listen", listen}}));
    ASSERT_EQ(created.status, 201) << listen << ": " << created.body;
    Fd remote = connect_ipv4(lan, listen_port(json::parse(created.body)));
    ASSERT_TRUE(remote.valid()) << listen;
    ASSERT_TRUE(send_all(remote.get(), "hello"));
    EXPECT_EQ(recv_exact(remote.get(), 5, Ms(2000)), "hello") << listen;
  }
  EXPECT_EQ(metric(metrics_of(api.port()), "dropsim_refused_remote_peers_total{proxy=\"p:0\"}"), 0);
}

// ------------------------------------------------------------------ the request deadline

// Each piece comes long before the idle timeout (60 s): only a deadline set at the
// request's first byte ends it. A head dribbled, and a body dribbled after a whole head.
TEST(ControlApiGuards, ARequestDribbledByteByByteIsCutAtItsDeadline) {
  ApiServerOptions options;
  options.request_timeout = Ms(300);
  ApiServerUnderTest api(options);
  for (const std::string start : {"GET /version HTTP/1.1\r\nHost: localhost\r\nX-Slow: ",
                                  "POST /reset HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n"}) {
    Fd c = connect_to(api.port());
    const auto t0 = Steady::now();
    ASSERT_TRUE(send_all(c.get(), start));
    Ms cut(-1);
    for (int i = 0; i < 100 && cut.count() < 0; ++i) {  // a byte every 50 ms, 5 s at most
      pollfd p{c.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) > 0 || ::send(c.get(), "a", 1, MSG_NOSIGNAL) != 1) {
        cut = std::chrono::duration_cast<Ms>(Steady::now() - t0);
      }
    }
    ASSERT_GE(cut.count(), 0) << "still reading after 5 s: " << start;
    EXPECT_GE(cut, Ms(250)) << start;
    EXPECT_LT(cut, Ms(2000)) << start;
    const std::string answer = read_to_end(c.get(), Ms(2000));
    EXPECT_EQ(answer.rfind("HTTP/1.1 408 ", 0), 0u) << answer;
    EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
    EXPECT_NE(answer.find(R"("status":408)"), std::string::npos) << answer;
  }
  // A request sent whole is answered as ever, and a kept-alive connection idle between
  // requests is not cut at the request deadline.
  ApiClient client(api.port());
  EXPECT_EQ(client.request("GET", "/version").status, 200);
  std::this_thread::sleep_for(Ms(500));
  EXPECT_EQ(client.request("GET", "/version").status, 200);
  EXPECT_EQ(metric(metrics_of(api.port()), "dropsim_api_request_timeouts_total"), 2);
}

// ------------------------------------------------------------------ the connection cap

TEST(ControlApiGuards, ConnectionsOverTheCapAre503AndTheApiAnswersAfterOthersClose) {
  ApiServerOptions options;
  options.max_connections = 4;
  ApiServerUnderTest api(options);
  std::vector<std::unique_ptr<ApiClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<ApiClient>(api.port()));
    ASSERT_EQ(clients.back()->request("GET", "/version").status, 200);
  }
  EventReader events(api.port());  // an event stream counts too
  ASSERT_NE(events.wait_for("text/event-stream"), std::string::npos) << events.text();

  Fd fifth = connect_to(api.port());
  ASSERT_TRUE(send_all(fifth.get(), "GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  const std::string answer = read_to_end(fifth.get(), Ms(2000));
  EXPECT_EQ(answer.rfind("HTTP/1.1 503 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  const json body = json::parse(answer.substr(answer.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["status"], 503);
  EXPECT_NE(body["error"].get<std::string>().find("--api-max-connections"), std::string::npos) << answer;
  EXPECT_NE(wait_end(fifth.get(), Ms(500)).how, End::timeout) << "the refused connection stays open";

  const std::string text = clients[0]->request("GET", "/metrics").body;
  EXPECT_EQ(metric(text, "dropsim_api_refused_connections_total"), 1) << text;
  EXPECT_EQ(metric(text, "dropsim_api_connections"), 4) << text;
  EXPECT_EQ(metric(text, "dropsim_api_max_connections"), 4) << text;

  // Two go; the API sees them go and takes new ones again.
  clients[1].reset();
  events.close();
  EXPECT_TRUE(wait_until([&] { return ApiClient(api.port()).request("GET", "/version").status == 200; }, Ms(3000)));
  ApiClient again(api.port());
  EXPECT_EQ(again.request("GET", "/proxies").status, 200);
}

}  // namespace
}  // namespace dropsim::test
