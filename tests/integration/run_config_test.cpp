// `dropsim run` with a config file and the control API, as a user runs it: a chained
// config, faults declared in the file, --seed replaying toxicity rolls, --time-scale over
// the file, and the API's address checks.

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "api_client_util.h"
#include "net_util.h"
#include "process_util.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
const std::string kBinary = DROPSIM_BINARY;

std::string write_config(const std::string& name, const std::string& text) {
  const auto path =
      std::filesystem::temp_directory_path() / ("dropsim_run_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << text;
  return path.string();
}

/// A port the kernel just said was free (bound to 0, read, released).
std::uint16_t free_port() {
  Listener probe;
  return probe.port();
}

/// The port of "control API listening on 127.0.0.1:PORT".
std::uint16_t api_port(const std::string& err) {
  std::smatch m;
  if (!std::regex_search(err, m, std::regex(R"(control API listening on 127\.0\.0\.1:(\d+))"))) return 0;
  return static_cast<std::uint16_t>(std::stoi(m[1]));
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

TEST(RunConfig, AChainedConfigCarriesBytesThroughEveryHopWithItsFaultAndTimer) {
  EchoServer app;
  const std::uint16_t front = free_port();
  const std::uint16_t back = free_port();
  // front: nginx stream, proxy_timeout 6s at time scale 0.05 = 300 ms; back: a plain hop
  // that adds 100 ms of latency on the way back.
  const std::string config = write_config("chain.yaml", fmt::format(R"(
proxies:
  - name: front
    listen: 127.0.0.1:{}
    upstream: 127.0.0.1:{}
    profile: nginx-stream
    settings: {{proxy_timeout: 6s}}
  - name: back
    listen: 127.0.0.1:{}
    upstream: 127.0.0.1:{}
    faults:
      - type: latency
        attributes: {{latency: 100}}
)",
                                                                    front, back, back, app.port()));
  ChildProcess child({kBinary, "run", "--config", config, "--time-scale", "0.05", "--api", "127.0.0.1:0"});
  ASSERT_TRUE(child.wait_err("control API listening on", milliseconds(3000))) << child.err();
  ApiClient api(api_port(child.err()));

  Fd c = connect_to(front);
  const auto sent = Clock::now();
  ASSERT_TRUE(send_all(c.get(), "hello"));
  EXPECT_EQ(recv_exact(c.get(), 5, milliseconds(2000)), "hello");
  EXPECT_GE(ms_since(sent), 95) << "the back hop's latency";
  const auto idle_from = Clock::now();
  EXPECT_EQ(wait_end(c.get(), milliseconds(3000)).how, End::eof) << "front's proxy_timeout";
  EXPECT_GE(ms_since(idle_from), 150);
  EXPECT_LE(ms_since(idle_from), 1500) << "6s at time scale 0.05";
  ASSERT_TRUE(child.wait_err("closed by proxy_timeout", milliseconds(2000))) << child.err();

  const Reply proxies = api.request("GET", "/proxies");
  EXPECT_EQ(proxies.status, 200);
  EXPECT_NE(proxies.body.find("\"front\""), std::string::npos) << proxies.body;
  EXPECT_NE(proxies.body.find("\"latency_downstream\""), std::string::npos) << proxies.body;
  const Reply metrics = api.request("GET", "/metrics");
  EXPECT_NE(metrics.body.find(R"(dropsim_bytes_total{proxy="front",direction="upstream"} 5)"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(R"(dropsim_bytes_total{proxy="back",direction="downstream"} 5)"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(R"(dropsim_closes_total{proxy="front",cause="proxy_timeout"} 1)"), std::string::npos)
      << metrics.body;
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(milliseconds(3000)), 0) << child.err();
}

/// Which of `n` connections, opened one after the other, a reset_peer with toxicity 0.5
/// reset: "R" reset, "." carried its byte.
std::string reset_pattern(std::uint64_t seed, int n) {
  EchoServer echo;
  const std::uint16_t port = free_port();
  const std::string config = write_config("seed.yaml", fmt::format(R"(
proxies:
  - name: coin
    listen: 127.0.0.1:{}
    upstream: 127.0.0.1:{}
    faults:
      - type: reset_peer
        toxicity: 0.5
        attributes: {{timeout: 0}}
)",
                                                                   port, echo.port()));
  ChildProcess child({kBinary, "run", "--no-api", "--config", config, "--seed", std::to_string(seed)});
  if (!child.wait_err("listening on", milliseconds(3000))) return "did not start: " + child.err();
  std::string pattern;
  for (int i = 0; i < n; ++i) {
    Fd c = connect_to(port);
    send_all(c.get(), "x");
    pattern += recv_exact(c.get(), 1, milliseconds(1000)) == "x" ? "." : "R";
  }
  child.signal(SIGTERM);
  child.wait(milliseconds(3000));
  return pattern;
}

TEST(RunConfig, SeedReplaysWhichConnectionsAFaultHits) {
  const std::string first = reset_pattern(7, 16);
  ASSERT_EQ(first.size(), 16u) << first;
  EXPECT_NE(first.find('R'), std::string::npos) << first;
  EXPECT_NE(first.find('.'), std::string::npos) << first;
  EXPECT_EQ(reset_pattern(7, 16), first) << "the same seed, the same connections hit";
  EXPECT_NE(reset_pattern(8, 16), first) << "another seed, another draw (1 in 65536 to match)";
}

TEST(RunConfig, AScheduledActionActsOnTheSessionsOpenThenAndAReloadNeedsAProfileWithOne) {
  EchoServer echo;
  const std::string config = write_config(
      "actions.yaml", fmt::format("proxies:\n  - name: p\n    listen: 127.0.0.1:0\n    upstream: 127.0.0.1:{}\n"
                                  "    actions:\n      - {{after: 600ms, action: fin}}\n",
                                  echo.port()));
  const auto started = Clock::now();
  ChildProcess child({kBinary, "run", "--no-api", "--config", config});
  ASSERT_TRUE(child.wait_err("p: listening on", milliseconds(3000))) << child.err();
  std::smatch m;
  const std::string err = child.err();
  ASSERT_TRUE(std::regex_search(err, m, std::regex(R"(p: listening on 127\.0\.0\.1:(\d+))"))) << err;
  Fd c = connect_to(static_cast<std::uint16_t>(std::stoi(m[1])));
  ASSERT_TRUE(send_all(c.get(), "abc"));
  ASSERT_EQ(recv_exact(c.get(), 3, milliseconds(2000)), "abc") << "open before the action";
  EXPECT_EQ(wait_end(c.get(), milliseconds(3000)).how, End::eof) << child.err();
  EXPECT_GE(ms_since(started), 500.0) << "not before its time";
  EXPECT_TRUE(child.wait_err("p: fin applied to 1 session(s)", milliseconds(2000))) << child.err();
  child.signal(SIGINT);
  EXPECT_EQ(child.wait(milliseconds(3000)), 0);

  // nginx hands open connections to its old workers on a reload: nothing to schedule.
  const std::string nginx = write_config(
      "reload.yaml", "proxies:\n  - name: web\n    listen: 127.0.0.1:0\n    upstream: 127.0.0.1:9\n"
                     "    profile: nginx\n    actions:\n      - {after: 1s, action: reload}\n");
  const auto r = run_process({kBinary, "run", "--no-api", "--config", nginx});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("proxy web: a reload is scheduled, but its profile nginx defines none"), std::string::npos)
      << r.err;
}

TEST(RunConfig, OneProxyFromFlagsIsInTheApiByItsName) {
  EchoServer echo;
  ChildProcess child({kBinary, "run", "-u", "127.0.0.1:" + std::to_string(echo.port()), "-l", "127.0.0.1:0",
                      "--name", "redis", "--api", "127.0.0.1:0"});
  ASSERT_TRUE(child.wait_err("control API listening on", milliseconds(3000))) << child.err();
  ApiClient api(api_port(child.err()));
  const Reply profile = api.request("GET", "/proxies/redis/profile");
  EXPECT_EQ(profile.status, 200) << profile.body;
  EXPECT_NE(profile.body.find("\"profile\":\"tcp\""), std::string::npos) << profile.body;
  child.signal(SIGINT);
  EXPECT_EQ(child.wait(milliseconds(3000)), 0);
}

TEST(RunConfig, TheApiRefusesANonLoopbackAddressWithoutTheFlag) {
  const auto r = run_process({kBinary, "run", "--api", "0.0.0.0:0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--api-allow-remote"), std::string::npos) << r.err;
}

TEST(RunConfig, AnApiPortInUseIsAConfigurationErrorThatSaysWhatToDo) {
  Listener taken;
  const auto r = run_process({kBinary, "run", "--api", "127.0.0.1:" + std::to_string(taken.port())});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--no-api"), std::string::npos) << r.err;
}

TEST(RunConfig, ABrokenConfigNamesFileLineAndColumn) {
  const std::string config = write_config("broken.yaml", "proxies:\n  - name: a\n    listen: 127.0.0.1:0\n    upstrem: x\n");
  const auto r = run_process({kBinary, "run", "--no-api", "--config", config});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(config + ":4:5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("upstream"), std::string::npos) << "did-you-mean: " << r.err;
}

TEST(RunConfig, NothingToRunIsAUsageError) {
  const auto r = run_process({kBinary, "run", "--no-api"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nothing to run"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dropsim::test
