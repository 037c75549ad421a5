// The control API over real sockets on 127.0.0.1: an in-process Runtime and ApiServer on
// their own io_context thread (the Runtime is only touched there), an EchoServer as the
// upstream, and blocking clients with bounded waits. Toxiproxy's endpoints are checked
// against the shapes, codes and messages of Toxiproxy 2.12; dropsim's own endpoints
// against the README's table.

#include <poll.h>
#include <sys/socket.h>

#include <tuple>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api_client_util.h"
#include "api_server.h"
#include "net_util.h"
#include "runtime.h"

namespace dropsim::test {
namespace {

using nlohmann::json;
using Steady = std::chrono::steady_clock;

using ApiUnderTest = ApiServerUnderTest;

json body_of(const Reply& r) { return json::parse(r.body); }

/// Sends `msg` and reads it back; the round trip in ms, or -1 when it did not come back.
double echo_ms(int fd, const std::string& msg, Ms timeout = Ms(3000)) {
  const auto t0 = Steady::now();
  if (!send_all(fd, msg)) return -1;
  if (recv_exact(fd, msg.size(), timeout) != msg) return -1;
  return std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
}

void expect_error(const Reply& r, int status, const std::string& message) {
  EXPECT_EQ(r.status, status) << r.body;
  ASSERT_FALSE(r.body.empty());
  const json j = body_of(r);
  EXPECT_EQ(j["status"], status);
  EXPECT_EQ(j["error"], message);
}

/// Every test runs with the sessions on the API's thread and on two workers (`--threads`).
class ControlApiTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  EchoServer echo_;
  ApiUnderTest api_{{}, false, spdlog::level::debug, {}, GetParam()};
  ApiClient client_{api_.port()};

  /// Creates proxy `name` to the echo server; returns its JSON.
  json create(const std::string& name, const json& extra = json::object()) {
    const Reply r = client_.request("POST", "/proxies", proxy_body(name, echo_.port(), extra));
    EXPECT_EQ(r.status, 201) << r.body;
    return body_of(r);
  }
};

// ------------------------------------------------------------------ Toxiproxy's API

TEST_P(ControlApiTest, VersionIsToxiproxysShape) {
  const Reply r = client_.request("GET", "/version");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"version\": \"2.12.0\"}\n");
  EXPECT_EQ(r.header("Content-Type"), "application/json;charset=utf-8");
  const json own = body_of(client_.request("GET", "/dropsim/version"));
  EXPECT_EQ(own["toxiproxy"], "2.12.0");
  EXPECT_FALSE(own["dropsim"].get<std::string>().empty());
}

TEST_P(ControlApiTest, ProxyLifecycle) {
  EXPECT_EQ(client_.request("GET", "/proxies").body, "{}\n");
  const json created = create("echo");
  EXPECT_EQ(created["name"], "echo");
  EXPECT_EQ(created["upstream"], "127.0.0.1:" + std::to_string(echo_.port()));
  EXPECT_EQ(created["enabled"], true);
  EXPECT_EQ(created["toxics"], json::array());
  EXPECT_NE(listen_port(created), 0);  // the bound port, not ":0"
  // Toxiproxy's exact keys, in its order.
  std::vector<std::string> keys;
  for (auto it = created.begin(); it != created.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys.size(), 5u);

  const json all = body_of(client_.request("GET", "/proxies"));
  ASSERT_TRUE(all.is_object());
  EXPECT_EQ(all["echo"]["listen"], created["listen"]);
  EXPECT_EQ(body_of(client_.request("GET", "/proxies/echo")), created);

  expect_error(client_.request("POST", "/proxies", proxy_body("echo", echo_.port())), 409, "proxy already exists");

  const Reply disabled = client_.request("PATCH", "/proxies/echo", R"({"enabled":false})");
  EXPECT_EQ(disabled.status, 200);
  EXPECT_EQ(body_of(disabled)["enabled"], false);
  EXPECT_THROW(connect_to(listen_port(created)), std::exception);  // no longer listening
  // POST works as PATCH (Toxiproxy's deprecated form, which the Node client uses).
  EXPECT_EQ(body_of(client_.request("POST", "/proxies/echo", R"({"enabled":true})"))["enabled"], true);

  EXPECT_EQ(client_.request("DELETE", "/proxies/echo").status, 204);
  expect_error(client_.request("GET", "/proxies/echo"), 404, "proxy not found");
  expect_error(client_.request("DELETE", "/proxies/echo"), 404, "proxy not found");
  expect_error(client_.request("PATCH", "/proxies/echo", "{}"), 404, "proxy not found");
}

TEST_P(ControlApiTest, ProxyCreateBadInput) {
  expect_error(client_.request("POST", "/proxies", ""), 400, "bad request body: EOF");
  const Reply malformed = client_.request("POST", "/proxies", "{\"name\":");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(body_of(malformed)["error"].get<std::string>().rfind("bad request body: ", 0), 0u);
  expect_error(client_.request("POST", "/proxies", R"({"upstream":"127.0.0.1:1"})"), 400,
               "missing required field: name");
  expect_error(client_.request("POST", "/proxies", R"({"name":"a"})"), 400, "missing required field: upstream");
  // Unknown fields are ignored, as Go's decoder ignores them.
  EXPECT_EQ(client_.request("POST", "/proxies", proxy_body("a", echo_.port(), {{"colour", "blue"}})).status, 201);
  // A listen address in use: Toxiproxy's 500 with the system's words.
  const Listener taken;
  const Reply busy = client_.request(
      "POST", "/proxies", proxy_body("b", echo_.port(), {{"listen", "127.0.0.1:" + std::to_string(taken.port())}}));
  EXPECT_EQ(busy.status, 500) << busy.body;
  EXPECT_NE(body_of(busy)["error"].get<std::string>().find("address already in use"), std::string::npos) << busy.body;
}

TEST_P(ControlApiTest, ToxicsCrud) {
  create("p");
  EXPECT_EQ(client_.request("GET", "/proxies/p/toxics").body, "[]\n");
  const Reply added = client_.request("POST", "/proxies/p/toxics",
                                      R"({"type":"latency","attributes":{"latency":100,"jitter":10}})");
  EXPECT_EQ(added.status, 200);  // Toxiproxy answers a new toxic with 200
  EXPECT_EQ(added.body,
            R"({"attributes":{"latency":100,"jitter":10},"name":"latency_downstream","type":"latency",)"
            R"("stream":"downstream","toxicity":1})"
            "\n");
  expect_error(client_.request("POST", "/proxies/p/toxics", R"({"type":"latency"})"), 409, "toxic already exists");
  expect_error(client_.request("POST", "/proxies/p/toxics", R"({"type":"plague"})"), 400,
               "invalid toxic type \"plague\"; valid types: " + toxic_type_names());
  expect_error(client_.request("POST", "/proxies/p/toxics", R"({"type":"latency","stream":"sideways"})"), 400,
               "stream was invalid, can be either upstream or downstream");
  expect_error(client_.request("POST", "/proxies/nope/toxics", R"({"type":"latency"})"), 404, "proxy not found");

  const json got = body_of(client_.request("GET", "/proxies/p/toxics/latency_downstream"));
  EXPECT_EQ(got["attributes"]["latency"], 100);
  const Reply updated =
      client_.request("PATCH", "/proxies/p/toxics/latency_downstream", R"({"attributes":{"latency":5}})");
  EXPECT_EQ(updated.status, 200);
  EXPECT_EQ(body_of(updated)["attributes"]["latency"], 5);
  EXPECT_EQ(body_of(updated)["attributes"]["jitter"], 10);  // kept
  EXPECT_EQ(body_of(client_.request("GET", "/proxies/p"))["toxics"].size(), 1u);
  expect_error(client_.request("GET", "/proxies/p/toxics/nope"), 404, "toxic not found");
  expect_error(client_.request("PATCH", "/proxies/p/toxics/nope", "{}"), 404, "toxic not found");
  EXPECT_EQ(client_.request("DELETE", "/proxies/p/toxics/latency_downstream").status, 204);
  expect_error(client_.request("DELETE", "/proxies/p/toxics/latency_downstream"), 404, "toxic not found");
  EXPECT_EQ(client_.request("GET", "/proxies/p/toxics").body, "[]\n");
}

TEST_P(ControlApiTest, PopulateAndItsErrors) {
  const std::string two = "[" + proxy_body("a", echo_.port()) + "," +
                          proxy_body("b", echo_.port(), {{"enabled", false}}) + "]";
  const Reply r = client_.request("POST", "/populate", two);
  EXPECT_EQ(r.status, 201) << r.body;
  const json j = body_of(r);
  ASSERT_EQ(j["proxies"].size(), 2u);
  EXPECT_EQ(j["proxies"][1]["enabled"], false);
  EXPECT_EQ(j.size(), 1u);  // no error fields on success
  EXPECT_EQ(client_.request("POST", "/populate", "[]").body, "{\"proxies\":null}\n");

  const Reply missing = client_.request("POST", "/populate", R"([{"name":"c"}])");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(body_of(missing),
            json::parse(R"({"error":"missing required field: upstream at proxy 1","status":400,"proxies":null})"));
  EXPECT_EQ(client_.request("POST", "/populate", "{").status, 400);
  EXPECT_EQ(body_of(client_.request("GET", "/proxies")).size(), 2u);  // nothing changed by the failures
}

TEST_P(ControlApiTest, ResetRemovesToxicsAndEnablesProxies) {
  create("p");
  client_.request("POST", "/proxies/p/toxics", R"({"type":"latency","attributes":{"latency":100}})");
  client_.request("PATCH", "/proxies/p", R"({"enabled":false})");
  EXPECT_EQ(client_.request("POST", "/reset").status, 204);
  const json p = body_of(client_.request("GET", "/proxies/p"));
  EXPECT_EQ(p["enabled"], true);
  EXPECT_EQ(p["toxics"], json::array());
}

TEST_P(ControlApiTest, BytesFlowAndLatencyIsObserved) {
  const std::uint16_t port = listen_port(create("p"));
  Fd c = connect_to(port);
  // Undelayed round trips are checked against half the toxic's latency: far from it, yet
  // with room for a busy machine's scheduling.
  constexpr double kLatency = 1000;
  const double plain = echo_ms(c.get(), "ping");
  ASSERT_GE(plain, 0);
  EXPECT_LT(plain, kLatency / 2);
  ASSERT_EQ(client_.request("POST", "/proxies/p/toxics", R"({"type":"latency","attributes":{"latency":1000}})").status,
            200);
  const double slow = echo_ms(c.get(), "pong", Ms(4000));  // a connection open before the toxic gets it too
  EXPECT_GE(slow, kLatency - 10);
  EXPECT_LT(slow, 2.5 * kLatency);
  ASSERT_EQ(client_.request("DELETE", "/proxies/p/toxics/latency_downstream").status, 204);
  const double again = echo_ms(c.get(), "ping");
  ASSERT_GE(again, 0);
  EXPECT_LT(again, kLatency / 2);
}

TEST_P(ControlApiTest, ResetPeerResetsAConnectionOpenBeforeIt) {
  const std::uint16_t port = listen_port(create("p"));
  Fd c = connect_to(port);
  ASSERT_GE(echo_ms(c.get(), "hello"), 0);
  ASSERT_EQ(client_.request("POST", "/proxies/p/toxics", R"({"type":"reset_peer","attributes":{"timeout":0}})").status,
            200);
  const Ending end = wait_end(c.get(), Ms(3000));
  EXPECT_EQ(end.how, End::reset) << to_string(end.how);
}

// ------------------------------------------------------------------ dropsim's own

TEST_P(ControlApiTest, ProfilesListAndShow) {
  const json list = body_of(client_.request("GET", "/dropsim/profiles"));
  ASSERT_TRUE(list.is_array());
  const auto nginx = std::find_if(list.begin(), list.end(), [](const json& p) { return p["name"] == "nginx"; });
  ASSERT_NE(nginx, list.end());
  EXPECT_FALSE((*nginx)["settings"].empty());
  const json one = body_of(client_.request("GET", "/dropsim/profiles/nginx"));
  EXPECT_NE(one["yaml"].get<std::string>().find("proxy_read_timeout"), std::string::npos);
  EXPECT_EQ(client_.request("GET", "/dropsim/profiles/nope").status, 404);
  EXPECT_EQ(client_.request("GET", "/dropsim/profiles/..%2Fetc%2Fpasswd").status, 404);
}

TEST_P(ControlApiTest, SetProfileAtRuntime) {
  create("p");
  const Reply r = client_.request("PUT", "/proxies/p/profile",
                                  R"({"profile":"alb","settings":{"idle_timeout":"3s"},"time_scale":0.5})");
  EXPECT_EQ(r.status, 200) << r.body;
  const json j = body_of(r);
  EXPECT_EQ(j["profile"], "alb");
  EXPECT_EQ(j["time_scale"], 0.5);
  EXPECT_EQ(body_of(client_.request("GET", "/proxies/p/profile"))["profile"], "alb");
  expect_error(client_.request("PUT", "/proxies/p/profile", R"({"profle":"alb"})"), 400,
               "unknown field \"profle\" in a profile change; allowed: profile, settings, time_scale");
  EXPECT_EQ(client_.request("PUT", "/proxies/p/profile", R"({"profile":"no-such-profile"})").status, 400);
  // Through the API the error names the body's field, not the command line's --profile.
  const Reply typo = client_.request("PUT", "/proxies/p/profile", R"({"profile":"ngnix"})");
  EXPECT_EQ(typo.status, 400);
  const std::string typo_error = body_of(typo)["error"];
  EXPECT_TRUE(typo_error.starts_with("profile: no built-in profile 'ngnix' (did you mean 'nginx'?)")) << typo_error;
  EXPECT_EQ(client_.request("PUT", "/proxies/nope/profile", R"({"profile":"alb"})").status, 404);
}

TEST_P(ControlApiTest, SessionsListedAndActedOn) {
  const std::uint16_t port = listen_port(create("p"));
  Fd a = connect_to(port);
  Fd b = connect_to(port);
  ASSERT_GE(echo_ms(a.get(), "abc"), 0);
  ASSERT_GE(echo_ms(b.get(), "abc"), 0);
  const json sessions = body_of(client_.request("GET", "/dropsim/sessions?proxy=p"));
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0]["proxy"], "p");
  EXPECT_EQ(sessions[0]["upstream"]["bytes"], 3);
  EXPECT_EQ(body_of(client_.request("GET", "/proxies/p/sessions")).size(), 2u);
  const std::string id = std::to_string(sessions[0]["id"].get<std::uint64_t>());
  EXPECT_EQ(body_of(client_.request("GET", "/dropsim/sessions/" + id))["id"], sessions[0]["id"]);

  expect_error(client_.request("POST", "/dropsim/sessions/" + id, R"({"action":"explode"})"), 400,
               "unknown action \"explode\"; expected one of rst, fin, blackhole, ws_close, drain, reload");
  expect_error(client_.request("POST", "/dropsim/sessions/" + id, R"({"acton":"rst"})"), 400,
               "unknown field \"acton\" in a session action; allowed: action, code, reason");
  EXPECT_EQ(client_.request("POST", "/dropsim/sessions/abc", "{}").status, 400);
  EXPECT_EQ(client_.request("POST", "/dropsim/sessions/999999", "{}").status, 404);

  const Reply rst = client_.request("POST", "/dropsim/sessions/" + id + "/rst");
  EXPECT_EQ(rst.status, 200) << rst.body;
  EXPECT_EQ(body_of(rst)["sessions"], 1);
  EXPECT_EQ(wait_end(a.get(), Ms(3000)).how, End::reset);

  const Reply all = client_.request("POST", "/proxies/p/sessions", R"({"action":"fin"})");
  EXPECT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(body_of(all)["sessions"], 1);
  EXPECT_EQ(wait_end(b.get(), Ms(3000)).how, End::eof);
  EXPECT_EQ(client_.request("GET", "/proxies/nope/sessions").status, 404);
}

TEST_P(ControlApiTest, MassDisconnectActsOnEveryProxy) {
  const std::uint16_t p1 = listen_port(create("one"));
  const std::uint16_t p2 = listen_port(create("two"));
  Fd a = connect_to(p1);
  Fd b = connect_to(p2);
  ASSERT_GE(echo_ms(a.get(), "x"), 0);
  ASSERT_GE(echo_ms(b.get(), "x"), 0);
  const Reply r = client_.request("POST", "/dropsim/sessions");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r), json::parse(R"({"action":"rst","sessions":2,"released_blackholed":0})"));
  EXPECT_EQ(wait_end(a.get(), Ms(3000)).how, End::reset);
  EXPECT_EQ(wait_end(b.get(), Ms(3000)).how, End::reset);
}

TEST_P(ControlApiTest, PartitionHoldsBytesUntilHealed) {
  const std::uint16_t port = listen_port(create("p"));
  Fd c = connect_to(port);
  ASSERT_GE(echo_ms(c.get(), "before"), 0);
  const Reply part = client_.request("POST", "/proxies/p/partition", R"({"duration_ms":0})");
  EXPECT_EQ(part.status, 200) << part.body;
  EXPECT_EQ(body_of(part)["type"], "partition");
  ASSERT_TRUE(send_all(c.get(), "held"));
  EXPECT_EQ(recv_exact(c.get(), 4, Ms(300)), "");  // nothing passes
  EXPECT_EQ(client_.request("DELETE", "/proxies/p/partition").status, 204);
  EXPECT_EQ(recv_exact(c.get(), 4, Ms(3000)), "held");  // held, not lost
  expect_error(client_.request("DELETE", "/proxies/p/partition"), 404, "partition not found");
  expect_error(client_.request("POST", "/proxies/p/partition", R"({"seconds":1})"), 400,
               "unknown field \"seconds\" in a partition; allowed: duration_ms");
}

TEST_P(ControlApiTest, MetricsAreParseablePrometheusText) {
  const std::uint16_t port = listen_port(create("p"));
  {
    Fd c = connect_to(port);
    ASSERT_GE(echo_ms(c.get(), "12345"), 0);
  }
  const Reply r = client_.request("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  // Every line is a comment or `name{labels} value`.
  const std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.eE+\-]+(Inf)?$)");
  std::istringstream in(r.body);
  bool sessions_counted = false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    if (line.find("sessions_total") != std::string::npos && line.find("proxy=\"p\"") != std::string::npos) {
      sessions_counted = std::stod(line.substr(line.rfind(' ') + 1)) >= 1;
    }
  }
  EXPECT_TRUE(sessions_counted) << r.body;
}

TEST_P(ControlApiTest, EventStreamCarriesOpenCloseAndApiEvents) {
  EventReader events(api_.port());
  ASSERT_NE(events.wait_for("text/event-stream"), std::string::npos) << events.text();
  ASSERT_NE(events.wait_for("\r\n\r\n"), std::string::npos);
  const std::uint16_t port = listen_port(create("p"));
  EXPECT_NE(events.wait_for("event: api\n"), std::string::npos) << events.text();
  {
    Fd c = connect_to(port);
    ASSERT_GE(echo_ms(c.get(), "x"), 0);
  }
  const std::size_t open = events.wait_for("event: open\n");
  ASSERT_NE(open, std::string::npos) << events.text();
  EXPECT_NE(events.wait_for("event: close\n", Ms(3000), open), std::string::npos) << events.text();
  // Each data line is one JSON object.
  const std::size_t data = events.text().find("data: ", open);
  const json opened = json::parse(events.text().substr(data + 6, events.text().find('\n', data) - data - 6));
  EXPECT_EQ(opened["event"], "open");
  EXPECT_EQ(opened["proxy"], "p");
}

TEST_P(ControlApiTest, EventStreamFiltersByProxy) {
  EventReader events(api_.port(), "proxy=b");
  ASSERT_NE(events.wait_for("\r\n\r\n"), std::string::npos);
  const std::uint16_t pa = listen_port(create("a"));
  const std::uint16_t pb = listen_port(create("b"));
  for (std::uint16_t port : {pa, pb}) {
    Fd c = connect_to(port);
    ASSERT_GE(echo_ms(c.get(), "x"), 0);
  }
  ASSERT_NE(events.wait_for("event: close\n"), std::string::npos) << events.text();
  EXPECT_EQ(events.text().find("\"proxy\":\"a\""), std::string::npos) << events.text();
  EXPECT_EQ(events.text().find("event: open"), events.text().rfind("event: open"));  // one open: b's
  EXPECT_EQ(client_.request("GET", "/events?conn=abc").status, 400);
}

/// The value of the metrics sample that starts with `series` ("name{proxy=\"p\"}"); -1 when absent.
double metric(const std::string& text, const std::string& series) {
  const std::size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST_P(ControlApiTest, ABlackholedSessionIsHeldNotOpenAndADrainCountsOnlyWhatItClosed) {
  // nlb forgets a flow after its idle timeout: 60s at time scale 0.005 is 0.3 s.
  const std::uint16_t port =
      listen_port(create("nlb", {{"profile", "nlb"}, {"settings", {{"idle_timeout", "60s"}}}, {"time_scale", 0.005}}));
  Fd quiet = connect_to(port);
  ASSERT_GE(echo_ms(quiet.get(), "x"), 0);
  // Poll (bounded) until the idle timeout has fired and the session is held.
  json sessions;
  const bool held = wait_until(
      [&] {
        sessions = body_of(client_.request("GET", "/dropsim/sessions"));
        return sessions.size() == 1 && sessions[0]["state"] == "blackholed";
      },
      Ms(3000));
  ASSERT_TRUE(held) << sessions.dump();
  // New sessions get a 30 s real idle timeout: the next one stays open however slow the test.
  ASSERT_EQ(client_.request("PUT", "/proxies/nlb/profile",
                            R"({"profile":"nlb","settings":{"idle_timeout":"60s"},"time_scale":0.5})")
                .status,
            200);
  Fd busy = connect_to(port);
  ASSERT_GE(echo_ms(busy.get(), "y"), 0);
  sessions = body_of(client_.request("GET", "/dropsim/sessions"));
  ASSERT_EQ(sessions.size(), 2u) << sessions.dump();
  const json& gone = sessions[0];
  EXPECT_EQ(gone["state"], "blackholed");
  EXPECT_EQ(gone["connected"], false) << "it ended: not connected, whatever its sockets";
  for (const json& t : gone["timers"]) EXPECT_TRUE(t["fires_in_s"].is_null()) << gone.dump();
  const json& live = sessions[1];
  EXPECT_EQ(live["state"], "open");
  EXPECT_EQ(live["connected"], true);
  ASSERT_FALSE(live["timers"].empty());
  EXPECT_GE(live["timers"][0]["fires_in_s"].get<double>(), 0.0) << live.dump();
  // Real seconds, and the profile's beside them.
  EXPECT_EQ(live["time_scale"], 0.5);
  EXPECT_NEAR(live["profile_age_s"].get<double>(), live["age_s"].get<double>() / 0.5, 1e-6);
  EXPECT_LE(live["timers"][0]["fires_in_s"].get<double>(), 30.0);
  EXPECT_NEAR(live["timers"][0]["profile_fires_in_s"].get<double>(),
              live["timers"][0]["fires_in_s"].get<double>() / 0.5, 1e-6);

  const std::string metrics = client_.request("GET", "/metrics").body;
  EXPECT_EQ(metric(metrics, "dropsim_active_sessions{proxy=\"nlb\"}"), 1) << metrics;
  EXPECT_EQ(metric(metrics, "dropsim_blackholed_sessions{proxy=\"nlb\"}"), 1) << metrics;
  EXPECT_EQ(metric(metrics, "dropsim_blackholed_sockets{proxy=\"nlb\"}"), 2) << metrics;

  // The drain closes the open session; the blackholed one only has its sockets let go.
  const json drained = body_of(client_.request("POST", "/proxies/nlb/sessions", R"({"action":"drain"})"));
  EXPECT_EQ(drained["sessions"], 1) << drained.dump();
  EXPECT_EQ(drained["released_blackholed"], 1) << drained.dump();
  EXPECT_NE(api_.logs().find("nlb: drain applied to 1 session(s); released the held sockets of 1 blackholed "
                             "session(s)"),
            std::string::npos)
      << api_.logs();
  const bool released = wait_until(
      [&] {
        return metric(client_.request("GET", "/metrics").body, "dropsim_blackholed_sessions{proxy=\"nlb\"}") == 0;
      },
      Ms(3000));
  EXPECT_TRUE(released);
  // A second drain finds nothing left to act on.
  EXPECT_TRUE(wait_until([&] { return body_of(client_.request("GET", "/dropsim/sessions")).empty(); }, Ms(3000)));
  EXPECT_EQ(body_of(client_.request("POST", "/proxies/nlb/sessions", R"({"action":"drain"})"))["sessions"], 0);
}

TEST_P(ControlApiTest, AMistypedToxicAttributeIsKeptAt200ButWarnedAbout) {
  create("p");
  EventReader events(api_.port());
  ASSERT_NE(events.wait_for("\r\n\r\n"), std::string::npos);
  // Toxiproxy's decoder ignores the unknown field, and its clients expect the 200: dropsim
  // keeps both, and says what it ignored, in the answer, the log and the event stream.
  const Reply r = client_.request("POST", "/proxies/p/toxics", R"({"type":"bandwidth","attributes":{"rates":100}})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json added = body_of(r);
  EXPECT_EQ(added["attributes"]["rate"], 0);
  const std::string expected =
      "unknown attribute \"rates\" of a bandwidth toxic ignored (did you mean 'rate'?); its attributes: rate";
  EXPECT_EQ(added["warnings"], json::array({expected}));
  EXPECT_NE(api_.logs().find(expected), std::string::npos) << api_.logs();
  const std::size_t warning = events.wait_for("event: warning\n");
  ASSERT_NE(warning, std::string::npos) << events.text();
  EXPECT_NE(events.text().find("rates", warning), std::string::npos) << events.text();
  // A PATCH with the same slip says so too; a clean one has no "warnings" field at all.
  const json patched = body_of(client_.request("PATCH", "/proxies/p/toxics/bandwidth_downstream",
                                               R"({"attributes":{"rte":5}})"));
  ASSERT_TRUE(patched.contains("warnings")) << patched;
  EXPECT_NE(patched["warnings"][0].get<std::string>().find("(did you mean 'rate'?)"), std::string::npos);
  const json clean = body_of(client_.request("PATCH", "/proxies/p/toxics/bandwidth_downstream",
                                             R"({"attributes":{"rate":5}})"));
  EXPECT_FALSE(clean.contains("warnings")) << clean;
  EXPECT_EQ(clean["attributes"]["rate"], 5);
  // A mistyped type is refused, with the valid ones and the likely one.
  const Reply typo = client_.request("POST", "/proxies/p/toxics", R"({"type":"latancy"})");
  EXPECT_EQ(typo.status, 400);
  const std::string typo_error = body_of(typo)["error"];
  EXPECT_TRUE(typo_error.starts_with("invalid toxic type \"latancy\" (did you mean 'latency'?); valid types: latency, "))
      << typo_error;
}

TEST_P(ControlApiTest, EventStreamStartsASessionWithItsOpenEvent) {
  // A toxic already on the proxy applies to each new session as it is accepted: its
  // `fault` event used to come before the session's `open`, and a stream filtered by
  // proxy (which learns a connection from its open) lost it.
  const std::uint16_t port = listen_port(create("p"));
  ASSERT_EQ(client_.request("POST", "/proxies/p/toxics", R"({"type":"latency","attributes":{"latency":1}})").status,
            200);
  EventReader events(api_.port(), "proxy=p");
  ASSERT_NE(events.wait_for("\r\n\r\n"), std::string::npos);
  {
    Fd c = connect_to(port);
    ASSERT_GE(echo_ms(c.get(), "x"), 0);
  }
  ASSERT_NE(events.wait_for("event: close\n"), std::string::npos) << events.text();
  const std::size_t open = events.text().find("event: open\n");
  const std::size_t fault = events.text().find("event: fault\n");
  ASSERT_NE(open, std::string::npos) << events.text();
  ASSERT_NE(fault, std::string::npos) << events.text();
  EXPECT_LT(open, fault) << events.text();
}

TEST(ControlApiServer, EventStreamHeartbeatAndUnsubscribeOnClose) {
  ApiServerOptions options;
  options.heartbeat = Ms(100);
  ApiUnderTest api(options);
  {
    EventReader events(api.port());
    EXPECT_NE(events.wait_for(": heartbeat\n\n", Ms(2000)), std::string::npos) << events.text();
  }
  // The client went away: its subscription is dropped, the API still answers.
  ApiClient client(api.port());
  EXPECT_EQ(client.request("GET", "/version").status, 200);
}

TEST(ControlApiServer, ASlowEventReaderNeverBlocksTheDataPath) {
  ApiServerOptions options;
  options.event_queue = 8;
  ApiUnderTest api(options);
  EchoServer echo;
  ApiClient client(api.port());
  const json p = body_of(client.request("POST", "/proxies", proxy_body("p", echo.port())));
  // A reader that never reads: the kernel's buffers fill (the server keeps its own small,
  // the client's stays at its initial size while nothing is read), then the queue, then
  // events drop.
  EventReader stalled(api.port());
  const auto t0 = Steady::now();
  for (int i = 0; i < 1000; ++i) {
    Fd c = connect_to(listen_port(p));
    ASSERT_GE(echo_ms(c.get(), "x"), 0) << "connection " << i;
  }
  EXPECT_LT(std::chrono::duration<double>(Steady::now() - t0).count(), 20.0);
  // When it reads at last, it is told what it lost.
  EXPECT_NE(stalled.wait_for("event: dropped\n", Ms(5000)), std::string::npos)
      << stalled.text().size() << " bytes received: " << stalled.text().substr(0, 300) << " ... "
      << stalled.text().substr(stalled.text().size() > 300 ? stalled.text().size() - 300 : 0);
}

// ------------------------------------------------------------------ HTTP (the guards: api_guard_test.cpp)

TEST_P(ControlApiTest, UnknownPathsAndMethods) {
  EXPECT_EQ(client_.request("GET", "/nope").status, 404);
  const Reply r = client_.request("DELETE", "/version");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "GET");
}

TEST_P(ControlApiTest, MalformedRequestClosesOnlyItsConnection) {
  ApiClient bad(api_.port());
  const Reply r = bad.raw("BLAH\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(bad.closed_by_server());
  EXPECT_EQ(client_.request("GET", "/version").status, 200);
}

TEST_P(ControlApiTest, OversizedBodyIs413) {
  ApiClient big(api_.port());
  const Reply r = big.raw("POST /populate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000000\r\n\r\n");
  // The limit is in the answer: the client learns how much it may send.
  expect_error(r, 413, "request body over the limit of 1048576 bytes");
  EXPECT_TRUE(big.closed_by_server());
}

TEST_P(ControlApiTest, PipelinedRequestsAreAnsweredInOrder) {
  ApiClient pipe(api_.port());
  const std::string body = proxy_body("p", echo_.port());
  const Reply first = pipe.raw("GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n"
                               "POST /proxies HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body +
                               "GET /proxies/p HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(pipe.read_reply().status, 201);
  const Reply third = pipe.read_reply();
  EXPECT_EQ(third.status, 200);
  EXPECT_EQ(body_of(third)["name"], "p");
}

TEST_P(ControlApiTest, StateChangesAreLogged) {
  create("p");
  EXPECT_NE(api_.logs().find("API POST /proxies -> 201"), std::string::npos) << api_.logs();
}

TEST(ControlApiServer, StartErrors) {
  asio::io_context io;
  auto sink = std::make_shared<CapturingSink>();
  EventLog log(std::make_shared<spdlog::logger>("t", sink), LogFormat::text);
  Runtime runtime(io, log);
  ApiServer remote(io, runtime, "0.0.0.0:0", false);
  try {
    remote.start();
    ADD_FAILURE() << "a non-loopback address was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--api-allow-remote"), std::string::npos) << e.what();
  }
  const Listener taken;
  ApiServer busy(io, runtime, "127.0.0.1:" + std::to_string(taken.port()), false);
  EXPECT_THROW(busy.start(), std::system_error);
}

// ------------------------------------------------------------------ under load

TEST(ControlApiServer, ControlCallsAnswerWhile64SessionsPushBulkData) {
  ApiUnderTest api;
  Listener sink(512);
  ApiClient client(api.port());
  const json p = body_of(client.request("POST", "/proxies", proxy_body("bulk", sink.port())));
  BulkLoad load(listen_port(p), sink, 64);
  ASSERT_TRUE(load.wait_bytes(64u << 20, Ms(5000))) << "the bulk load did not run";
  double slowest = 0;
  for (int i = 0; i < 10; ++i) {
    for (const auto& [method, path, body, status] : std::vector<std::tuple<std::string, std::string, std::string, int>>{
             {"POST", "/proxies/bulk/toxics", R"({"type":"latency","attributes":{"latency":1}})", 200},
             {"DELETE", "/proxies/bulk/toxics/latency_downstream", "", 204},
             {"GET", "/proxies", "", 200}}) {
      const auto t0 = Steady::now();
      ASSERT_EQ(client.request(method, path, body).status, status) << method << " " << path;
      slowest = std::max(slowest, std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
    }
  }
  const std::uint64_t during = load.bytes();
  EXPECT_GT(during, 64u << 20);
  // Generous, so that a loaded machine or a sanitizer build passes; dropsim_api_bench
  // measures the 100 ms target (p50/p99/max). Before busy pipes yielded the thread
  // (pipe.cpp, kTurn), calls waited ~300 ms and up to 1.6 s here.
  EXPECT_LT(slowest, 1000.0) << "slowest control call under load";
}

INSTANTIATE_TEST_SUITE_P(Threads, ControlApiTest, ::testing::Values(std::size_t{0}, std::size_t{2}),
                         [](const auto& info) { return info.param == 0 ? std::string("one") : "workers" + std::to_string(info.param); });

}  // namespace
}  // namespace dropsim::test
