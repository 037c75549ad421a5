// dropsim started the way Toxiproxy is started today: under the name toxiproxy-server,
// with its Go-style flags and its JSON config, as containers, scripts and the
// Testcontainers modules do; and `dropsim run` with host names where Toxiproxy's users
// write them. The real binary, the real resolver, loopback only.

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api_client_util.h"
#include "net_util.h"
#include "process_util.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;
const std::string kBinary = DROPSIM_BINARY;

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("dropsim_launch_" + std::to_string(::getpid()) + "_" + name);
}

/// `toxiproxy-server`: a symlink to the binary, as an image or a package would install it.
std::string toxiproxy_server() {
  const auto dir = temp_path("bin");
  std::filesystem::create_directories(dir);
  const auto link = dir / "toxiproxy-server";
  std::error_code ec;
  std::filesystem::remove(link, ec);
  std::filesystem::create_symlink(kBinary, link);
  return link.string();
}

std::uint16_t free_port() {
  Listener probe;
  return probe.port();
}

void expect_echo(std::uint16_t port, const std::string& text) {
  Fd c = connect_to(port);
  ASSERT_TRUE(send_all(c.get(), text));
  EXPECT_EQ(recv_exact(c.get(), text.size(), milliseconds(2000)), text);
}

// Testcontainers Go writes a JSON config and starts the image with -host and -config;
// compose files add -port and the metrics flags. Everything it then reads must be there.
TEST(ToxiproxyLaunch, AsAContainerStartsIt) {
  EchoServer app;
  const std::uint16_t api_port = free_port();
  const std::uint16_t echo_port = free_port();
  const std::uint16_t redis_port = free_port();
  const auto config = temp_path("proxies.json");
  std::ofstream(config) << fmt::format(R"([
  {{"name": "echo", "listen": "localhost:{}", "upstream": "localhost:{}", "enabled": true}},
  {{"name": "redis:6379", "listen": "127.0.0.1:{}", "upstream": "redis.invalid:6379"}},
  {{"name": "off", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9", "enabled": false}}
])",
                                       echo_port, app.port(), redis_port);
  ChildProcess child({toxiproxy_server(), fmt::format("-host=127.0.0.1"), fmt::format("-port={}", api_port),
                      "-config=" + config.string(), "-proxy-metrics", "-runtime-metrics"});
  ASSERT_TRUE(child.wait_err(fmt::format("control API listening on 127.0.0.1:{}", api_port), milliseconds(5000)))
      << child.err();

  ApiClient api(api_port);
  const Reply version = api.request("GET", "/version");
  EXPECT_EQ(version.status, 200);
  EXPECT_EQ(nlohmann::json::parse(version.body).at("version"), "2.12.0") << version.body;

  const Reply proxies = api.request("GET", "/proxies");
  ASSERT_EQ(proxies.status, 200);
  const auto all = nlohmann::json::parse(proxies.body);
  EXPECT_EQ(all.at("echo").at("listen"), fmt::format("127.0.0.1:{}", echo_port));  // the name, looked up
  EXPECT_EQ(all.at("redis:6379").at("upstream"), "redis.invalid:6379");
  EXPECT_EQ(all.at("redis:6379").at("enabled"), true);
  EXPECT_EQ(all.at("off").at("enabled"), false);

  expect_echo(echo_port, "hello");
  // The unresolvable upstream was no error at start: its connections fail, one by one.
  {
    Fd c = connect_to(redis_port);
    EXPECT_EQ(wait_end(c.get(), milliseconds(5000)).how, End::eof);
  }
  EXPECT_TRUE(child.wait_err("cannot resolve 'redis.invalid'", milliseconds(3000))) << child.err();

  const Reply metrics = api.request("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  for (const std::string& series :
       {fmt::format(R"(toxiproxy_proxy_received_bytes_total{{direction="upstream",listener="127.0.0.1:{}",)"
                    R"(proxy="echo",upstream="localhost:{}"}} 5)",
                    echo_port, app.port()),
        fmt::format(R"(toxiproxy_proxy_sent_bytes_total{{direction="downstream",listener="127.0.0.1:{}",)"
                    R"(proxy="echo",upstream="localhost:{}"}} 5)",
                    echo_port, app.port()),
        std::string("# TYPE process_open_fds gauge"), std::string("dropsim_sessions_total{proxy=\"echo\"} 1")}) {
    EXPECT_NE(metrics.body.find(series), std::string::npos) << "want " << series << " in\n" << metrics.body;
  }

  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(milliseconds(5000)), 0) << child.err();
  std::filesystem::remove(config);
}

// Without the flags, /metrics has dropsim's families only (Toxiproxy's are opt-in there too).
TEST(ToxiproxyLaunch, ToxiproxyMetricsOnlyWhenAskedFor) {
  ChildProcess child({kBinary, "run", "--api", "127.0.0.1:0"});
  ASSERT_TRUE(child.wait_err("control API listening on 127.0.0.1:", milliseconds(5000))) << child.err();
  const std::string& err = child.err();
  const auto at = err.find("control API listening on 127.0.0.1:") + 35;
  ApiClient api(static_cast<std::uint16_t>(std::stoi(err.substr(at))));
  const Reply metrics = api.request("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("dropsim_active_sessions"), std::string::npos);
  EXPECT_EQ(metrics.body.find("toxiproxy_proxy"), std::string::npos);
  EXPECT_EQ(metrics.body.find("process_"), std::string::npos);
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(milliseconds(5000)), 0);
}

TEST(ToxiproxyLaunch, VersionAsToxiproxyPrintsIt) {
  const ProcessResult r = run_process({toxiproxy_server(), "-version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("toxiproxy-server version 2.12.0", 0), 0u) << r.out;
}

// -host other than loopback is the API exposed on purpose, as --api-allow-remote.
TEST(ToxiproxyLaunch, ANonLoopbackHostExposesTheApi) {
  const std::uint16_t api_port = free_port();
  ChildProcess child({kBinary, "run", "-host=0.0.0.0", fmt::format("-port={}", api_port)});
  ASSERT_TRUE(child.wait_err("(remote clients allowed)", milliseconds(5000))) << child.err();
  EXPECT_NE(child.err().find(fmt::format("control API listening on [::]:{}", api_port)), std::string::npos)
      << child.err();
  ApiClient api(api_port);
  // A remote client's Host header: refused (403) without the exposure, answered with it.
  const Reply r = api.raw(fmt::format("GET /version HTTP/1.1\r\nHost: toxiproxy.example:{}\r\n\r\n", api_port));
  EXPECT_EQ(r.status, 200) << r.body;
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(milliseconds(5000)), 0);
}

TEST(ToxiproxyLaunch, ABadFlagValueIsAUsageError) {
  const ProcessResult r = run_process({toxiproxy_server(), "-proxy-metrics=maybe"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid boolean value 'maybe' for -proxy-metrics"), std::string::npos) << r.err;
}

// The API's token from --api-token or from DROPSIM_API_TOKEN (what a container or a
// toxiproxy-server launcher can set; the flag wins), asked of changes only, never logged.
TEST(ToxiproxyLaunch, ApiTokenFromTheFlagOrTheEnvironment) {
  struct Case {
    std::vector<std::string> args;
    std::string token;  ///< the one that works
    std::string other;  ///< one that does not
  };
  const std::string env = "/usr/bin/env";
  const std::uint16_t port = free_port();
  const std::vector<Case> cases{
      {{kBinary, "run", "--api", "127.0.0.1:0", "--api-token", "flag-t0ken"}, "flag-t0ken", "env-t0ken"},
      {{env, "DROPSIM_API_TOKEN=env-t0ken", toxiproxy_server(), "-host=127.0.0.1", fmt::format("-port={}", port)},
       "env-t0ken", "flag-t0ken"},
      {{env, "DROPSIM_API_TOKEN=env-t0ken", kBinary, "run", "--api", "127.0.0.1:0", "--api-token", "flag-t0ken"},
       "flag-t0ken", "env-t0ken"},
  };
  for (const Case& c : cases) {
    const std::string what = c.args[1] + " ... " + c.args.back();
    ChildProcess child(c.args);
    ASSERT_TRUE(child.wait_err("control API listening on 127.0.0.1:", milliseconds(5000))) << what << child.err();
    ASSERT_TRUE(child.wait_err("(token required for changes)", milliseconds(1000))) << what << child.err();
    const std::string& err = child.err();
    const auto at = err.find("control API listening on 127.0.0.1:") + 35;
    ApiClient api(static_cast<std::uint16_t>(std::stoi(err.substr(at))));
    EXPECT_EQ(api.request("GET", "/version").status, 200) << what;
    const Reply none = api.request("POST", "/reset");
    EXPECT_EQ(none.status, 401) << what << none.body;
    EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer") << what;
    EXPECT_EQ(api.request("POST", "/reset", "", {{"Authorization", "Bearer " + c.other}}).status, 401) << what;
    EXPECT_EQ(api.request("POST", "/reset", "", {{"Authorization", "Bearer " + c.token}}).status, 204) << what;
    child.signal(SIGTERM);
    EXPECT_EQ(child.wait(milliseconds(5000)), 0) << what;
    EXPECT_EQ(child.err().find("t0ken"), std::string::npos) << what << child.err();
  }
  const ProcessResult empty = run_process({kBinary, "run", "--api", "127.0.0.1:0", "--api-token", ""});
  EXPECT_EQ(empty.exit_code, 2) << empty.err;
  EXPECT_NE(empty.err.find("an empty token protects nothing"), std::string::npos) << empty.err;
  const ProcessResult help = run_process({kBinary, "run", "--help"});
  for (const char* flag : {"--api-token", "DROPSIM_API_TOKEN", "--allow-remote-listen", "--api-max-connections"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag << " not in\n" << help.out;
  }
}

// `dropsim run -l/-u` with host names, as `toxiproxy-cli create -l localhost:26380` users
// write them.
TEST(RunAddresses, HostNamesOnTheCommandLine) {
  EchoServer app;
  const std::uint16_t port = free_port();
  ChildProcess child({kBinary, "run", "-l", fmt::format("localhost:{}", port), "-u",
                      fmt::format("localhost:{}", app.port()), "--no-api"});
  ASSERT_TRUE(child.wait_err(fmt::format("listening on 127.0.0.1:{}", port), milliseconds(5000))) << child.err();
  expect_echo(port, "through localhost");
  child.signal(SIGINT);
  EXPECT_EQ(child.wait(milliseconds(5000)), 0);
}

TEST(RunAddresses, AListenNameThatDoesNotResolveIsAConfigurationError) {
  const ProcessResult r = run_process(
      {kBinary, "run", "-l", "dropsim-test.invalid:0", "-u", "127.0.0.1:9", "--no-api"}, milliseconds(20000));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("proxy 'proxy': listen dropsim-test.invalid:0: cannot resolve 'dropsim-test.invalid'"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace dropsim::test
