// The dropsim binary as a user runs it: exit codes, messages, logs and signals.

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "api_client_util.h"
#include "net_util.h"
#include "process_util.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;
const std::string kBinary = DROPSIM_BINARY;

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("dropsim_cli_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << text;
  return path.string();
}

/// The port a `run` child logged in "listening on 127.0.0.1:PORT".
std::uint16_t logged_port(const std::string& err) {
  std::smatch m;
  if (!std::regex_search(err, m, std::regex(R"(listening on 127\.0\.0\.1:(\d+))"))) return 0;
  return static_cast<std::uint16_t>(std::stoi(m[1]));
}

TEST(Cli, Version) {
  const auto r = run_process({kBinary, "--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("dropsim 0."), std::string::npos) << r.out;
}

TEST(Cli, HelpNamesTheSubcommands) {
  const auto r = run_process({kBinary, "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"run", "profiles", "check", "demo"}) {
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  }
}

// The demo's output tells one story: A dropped with 1006, B alive then closed cleanly by
// itself, and no session cut short by the demo stopping (issue: it once said B survived,
// then logged B's connection closed with 1006 by "proxy stopping").
TEST(Cli, DemoEndsAsItsStorySays) {
  const auto r = run_process({kBinary, "demo", "--time-scale", "0.01"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("client B (heartbeat) the demo is over: it sends close 1000, the server answers 1000"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.err.find("proxy stopping"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the client will see 1000 (the server's close frame)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the client will see 1006 (no close frame), the server sees FIN"), std::string::npos) << r.err;
  // Directions and ends in words that cannot be confused, and advice where there was no heartbeat.
  EXPECT_NE(r.err.find("client→server: no heartbeat: ping at least every 30s to survive idle_timeout 60s"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("server→client: no heartbeat, none needed (client→server pings reset idle_timeout)"),
            std::string::npos)
      << r.err;
}

TEST(Cli, ProfilesListsEveryBuiltinOnALine) {
  const auto r = run_process({kBinary, "profiles"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"nginx ", "nginx-stream ", "haproxy ", "haproxy-tcp ", "alb ",
                           "alb-client-activity-only ", "nlb ", "api-gateway ", "azure-lb ", "cloudflare ", "nat-gateway ",
                           "envoy ", "gcp ", "heroku ", "ingress-nginx ", "apache ", "caddy "}) {
    EXPECT_NE(("\n" + r.out).find(std::string("\n") + name), std::string::npos) << name << " in\n" << r.out;
  }
}

TEST(Cli, ProfilesPrintsTheResolvedProfile) {
  const auto r = run_process({kBinary, "profiles", "nginx", "--set", "proxy_read_timeout=2s", "--time-scale", "0.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("name: nginx"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("timeout: 1s"), std::string::npos) << "2s scaled by 0.5\n" << r.out;
  EXPECT_NE(r.out.find("rearm_granularity: 150ms"), std::string::npos) << r.out;
}

TEST(Cli, CheckNamesFileLineAndColumn) {
  const std::string path = write_temp("bad.yaml",
                                      "name: bad\n"
                                      "mode: tcp\n"
                                      "timers:\n"
                                      "  - name: idle\n"
                                      "    kind: idle\n"
                                      "    timeout: 60\n");
  const auto r = run_process({kBinary, "check", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind(path + ":6:14: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("60s"), std::string::npos) << "the message shows the fix: " << r.err;
}

TEST(Cli, CheckAcceptsEveryBuiltinProfileFile) {
  std::vector<std::string> args{kBinary, "check"};
  for (const auto& f : std::filesystem::directory_iterator(std::string(DROPSIM_SOURCE_DIR) + "/profiles")) {
    args.push_back(f.path().string());
  }
  ASSERT_GT(args.size(), 8u);
  const auto r = run_process(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

/// The first ```yaml block of the document at `path` (relative to the source tree).
std::string first_yaml_block(const std::string& path) {
  std::ifstream doc(std::string(DROPSIM_SOURCE_DIR) + "/" + path);
  std::string line, yaml;
  bool inside = false;
  while (std::getline(doc, line)) {
    if (!inside && line == "```yaml") { inside = true; continue; }
    if (inside && line == "```") break;
    if (inside) yaml += line + "\n";
  }
  return yaml;
}

TEST(Cli, TheReadmeProfileExampleIsValid) {
  // "Writing a profile" in the README must stay a profile that loads.
  const std::string yaml = first_yaml_block("README.md");
  ASSERT_NE(yaml.find("name: my-lb"), std::string::npos) << "README's first yaml block is the example";
  const auto r = run_process({kBinary, "check", write_temp("readme.yaml", yaml)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

/// The lines of `text`, without the empty one after a final newline.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(Cli, CheckTellsAConfigFromAProfileAndChecksBoth) {
  const std::string config = write_temp("check_config.yaml",
                                        "api: 127.0.0.1:0\n"
                                        "proxies:\n"
                                        "  - {name: alb-front, listen: 127.0.0.1:0, upstream: 127.0.0.1:9, profile: alb,\n"
                                        "     settings: {idle_timeout: 30}}\n"
                                        "  - {name: api, listen: 127.0.0.1:0, upstream: 127.0.0.1:9, profile: nginx}\n");
  const std::string json = write_temp("check_toxiproxy.json",
                                      R"([{"name": "redis", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:6379"}])");
  const auto r = run_process({kBinary, "check", config, "nginx", json});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 3u) << r.out;
  EXPECT_EQ(out[0], config + ": config OK: 2 proxies (alb-front: alb, api: nginx)");
  EXPECT_EQ(out[1], "profiles/nginx.yaml: profile OK: nginx, 3 timer(s)");
  EXPECT_EQ(out[2], json + ": config OK: 1 proxy (redis: tcp)");
}

TEST(Cli, CheckAcceptsTheConfigExampleOfTheDocs) {
  // docs/config.md's full example, as a user copies it into dropsim.yaml.
  const auto r = run_process({kBinary, "check", write_temp("dropsim.yaml", first_yaml_block("docs/config.md"))});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(": config OK: 3 proxies (alb: alb, nginx: nginx, app: tcp)"), std::string::npos) << r.out;
}

TEST(Cli, CheckReportsEveryMistakeOfAFileInOneRun) {
  const std::string path = write_temp("five.yaml",
                                      "name: five\n"
                                      "mode: http\n"
                                      "settings:\n"
                                      "  idle_timeout: {type: duration, default: 60s}\n"
                                      "timers:\n"
                                      "  - name: idle\n"
                                      "    kind: idel\n"
                                      "    timout: 60s\n"
                                      "    reset_by: client\n"
                                      "    on_expiry: {client: fni, upstream: fin}\n"
                                      "  - {name: other, kind: idle, timeout: $idle_timeot}\n");
  const std::string good = write_temp("good.yaml", "name: good\nmode: tcp\n");
  const auto r = run_process({kBinary, "check", path, good});
  EXPECT_EQ(r.exit_code, 1) << "one bad file fails the run";
  const auto err = lines_of(r.err);
  ASSERT_EQ(err.size(), 5u) << r.err;
  const std::vector<std::pair<std::string, std::string>> want = {
      {":7:11: ", "idel"}, {":8:5: ", "did you mean 'timeout'?"}, {":9:15: ", "'client'"},
      {":10:25: ", "'fni'"}, {":11:40: ", "did you mean '$idle_timeout'?"}};
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(err[i].rfind(path + want[i].first, 0), 0u) << err[i];
    EXPECT_NE(err[i].find(want[i].second), std::string::npos) << err[i];
  }
  EXPECT_NE(r.out.find(good + ": profile OK: good, 0 timer(s)"), std::string::npos) << "the next file is checked";
}

TEST(Cli, ASettingOutsideTheRealRangeWarnsAndStrictRefusesIt) {
  const std::string config = write_temp("range.yaml",
                                        "proxies:\n"
                                        "  - name: lb\n"
                                        "    listen: 127.0.0.1:0\n"
                                        "    upstream: 127.0.0.1:9\n"
                                        "    profile: alb\n"
                                        "    settings: {idle_timeout: 5000s}\n");
  const auto warned = run_process({kBinary, "check", config});
  EXPECT_EQ(warned.exit_code, 0) << warned.err;
  EXPECT_NE(warned.err.find(config + ":6:30: warning: idle_timeout 5000s is outside what alb allows (1s-4000s, AWS"),
            std::string::npos)
      << warned.err;
  const auto strict = run_process({kBinary, "check", "--strict", config});
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_EQ(strict.err.rfind(config + ":6:30: idle_timeout 5000s is outside", 0), 0u) << strict.err;
  const auto profiles = run_process({kBinary, "profiles", "alb", "--set", "idle_timeout=5000s", "--strict"});
  EXPECT_EQ(profiles.exit_code, 2);
  EXPECT_NE(profiles.err.find("--set: idle_timeout 5000s is outside"), std::string::npos) << profiles.err;
}

TEST(Cli, RunConfigReportsEveryErrorBeforeStarting) {
  const std::string config = write_temp("run_bad.yaml",
                                        "proxies:\n"
                                        "  - name: a\n"
                                        "    listen: 127.0.0.1:0\n"
                                        "    upstream: 127.0.0.1:9\n"
                                        "    profile: nginx\n"
                                        "    settings: {proxy_read_timeot: 1s, send_timeout: soon}\n");
  const auto r = run_process({kBinary, "run", "--no-api", "--config", config}, milliseconds(5000));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("dropsim: 2 errors:\n" + config + ":6:16: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(config + ":6:53: 'soon' is not a duration"), std::string::npos) << r.err;
}

TEST(Cli, RunProfileFileReportsEveryErrorBeforeStarting) {
  const std::string path = write_temp("run_two.yaml",
                                      "name: two\n"
                                      "mode: tcp\n"
                                      "timers:\n"
                                      "  - {name: a, kind: idle, timeout: 60}\n"
                                      "  - {name: b, kind: lifetime, timeout: 1s, reset_by: both}\n");
  const auto r = run_process({kBinary, "run", "--no-api", "--profile", path, "--upstream", "127.0.0.1:9", "--listen",
                              "127.0.0.1:0"},
                             milliseconds(5000));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("dropsim: 2 errors:\n" + path + ":4:36: '60' is not a duration"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(path + ":5:44: 'reset_by' applies only to idle timers"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("listening"), std::string::npos) << "nothing started: " << r.err;
}

TEST(Cli, TimeScaleMustBeGreaterThanZero) {
  for (const char* bad : {"0", "-1", "nan"}) {
    SCOPED_TRACE(bad);
    const auto r = run_process({kBinary, "profiles", "nginx", "--time-scale", bad});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("must be greater than 0"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("e+308"), std::string::npos) << "no double bounds: " << r.err;
  }
}

TEST(Cli, ProfilesKeepsSettingsInProfileTimeBesideScaledTimers) {
  const auto r = run_process({kBinary, "profiles", "haproxy", "--set", "timeout_tunnel=1s", "--time-scale", "0.1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("default: 1s  # runs as 100ms after time_scale"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("timeout: 100ms"), std::string::npos) << "the tunnel timer, scaled\n" << r.out;
}

TEST(Cli, UnknownSettingIsAConfigurationError) {
  const auto r = run_process({kBinary, "run", "--no-api", "--profile", "nginx", "--upstream", "127.0.0.1:9",
                              "--listen", "127.0.0.1:0", "--set", "proxy_read_timout=2s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("proxy_read_timout"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("proxy_read_timeout"), std::string::npos) << "did-you-mean: " << r.err;
}

TEST(Cli, UnknownProfileIsAConfigurationError) {
  const auto r = run_process({kBinary, "run", "--no-api", "--profile", "ngnix", "--upstream", "127.0.0.1:9"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nginx"), std::string::npos) << r.err;
  // On the command line the error names the flag; through the API, the field (control_api_test).
  EXPECT_NE(r.err.find("--profile: no built-in profile 'ngnix'"), std::string::npos) << r.err;
}

TEST(Cli, MissingRequiredOptionIsAUsageError) {
  const auto r = run_process({kBinary, "run", "--no-api", "--profile", "nginx"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--upstream"), std::string::npos) << r.err;
}

TEST(Cli, ListenAddressInUseIsAConfigurationError) {
  Listener taken;
  const auto r = run_process({kBinary, "run", "--no-api", "--profile", "nginx", "--upstream", "127.0.0.1:9",
                              "--listen", "127.0.0.1:" + std::to_string(taken.port())});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("in use"), std::string::npos) << r.err;
}

class CliRun : public ::testing::TestWithParam<int> {};

TEST_P(CliRun, ExplainsTheDropAndStopsCleanlyOnSignal) {
  const int signo = GetParam();
  EchoServer echo;
  ChildProcess child({kBinary, "run", "--no-api", "--profile", "nginx", "--listen", "127.0.0.1:0", "--upstream",
                      "127.0.0.1:" + std::to_string(echo.port()), "--set", "proxy_read_timeout=300ms"});
  ASSERT_TRUE(child.wait_err("listening on", milliseconds(3000))) << child.err();
  const std::uint16_t port = logged_port(child.err());
  ASSERT_NE(port, 0) << child.err();
  Fd client = connect_to(port);  // silent: nginx's proxy_read_timeout drops it
  EXPECT_EQ(wait_end(client.get(), milliseconds(3000)).how, End::eof);
  ASSERT_TRUE(child.wait_err("FIN to server", milliseconds(2000))) << child.err();
  const std::regex close_line(
      R"(\[C\d+\] closed by proxy_read_timeout after 0\.\d{3}s idle \(client→server idle 0\.\d{3}s, server→client idle 0\.\d{3}s\): FIN to client, FIN to server)");
  EXPECT_TRUE(std::regex_search(child.err(), close_line)) << child.err();

  Fd open_one = connect_to(port);  // still open when the signal arrives
  ASSERT_TRUE(child.wait_err("connected to upstream", milliseconds(2000)));
  child.signal(signo);
  EXPECT_EQ(child.wait(milliseconds(3000)), 0) << child.err();
  EXPECT_EQ(wait_end(open_one.get(), milliseconds(2000)).how, End::eof) << "closed, not abandoned";
  EXPECT_NE(child.err().find(signo == SIGINT ? "SIGINT" : "SIGTERM"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Signals, CliRun, ::testing::Values(SIGINT, SIGTERM),
                         [](const auto& info) { return info.param == SIGINT ? "SIGINT" : "SIGTERM"; });

TEST(Cli, Sigusr1ReportsEveryLiveSession) {
  EchoServer echo;
  ChildProcess child({kBinary, "run", "--no-api", "--profile", "nginx-stream", "--listen", "127.0.0.1:0", "--upstream",
                      "127.0.0.1:" + std::to_string(echo.port())});
  ASSERT_TRUE(child.wait_err("listening on", milliseconds(3000))) << child.err();
  Fd client = connect_to(logged_port(child.err()));
  ASSERT_TRUE(child.wait_err("connected to upstream", milliseconds(2000)));
  child.signal(SIGUSR1);
  ASSERT_TRUE(child.wait_err("proxy_timeout fires in", milliseconds(2000))) << child.err();
  EXPECT_TRUE(std::regex_search(child.err(), std::regex(R"(\[C\d+\] live for \d+\.\d{3}s, client→server idle)"))) << child.err();
  EXPECT_NE(child.err().find("1 active session(s)"), std::string::npos) << child.err();
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(milliseconds(3000)), 0);
}

TEST(Cli, ThreadsSpreadSessionsOverWorkersThatReportAndDrainAsOne) {
  EchoServer echo;
  ChildProcess child({kBinary, "run", "--no-api", "--threads", "3", "--profile", "nginx-stream", "--listen",
                      "127.0.0.1:0", "--upstream", "127.0.0.1:" + std::to_string(echo.port())});
  ASSERT_TRUE(child.wait_err("listening on", milliseconds(3000))) << child.err();
  EXPECT_NE(child.err().find("sessions run on 3 worker threads"), std::string::npos) << child.err();
  const std::uint16_t port = logged_port(child.err());
  std::vector<Fd> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(connect_to(port));
    ASSERT_TRUE(send_all(clients.back().get(), "hi"));
    ASSERT_EQ(recv_exact(clients.back().get(), 2, milliseconds(2000)), "hi") << "client " << i;
  }
  child.signal(SIGUSR1);
  ASSERT_TRUE(child.wait_err("6 active session(s)", milliseconds(2000))) << child.err();
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(milliseconds(3000)), 0) << child.err();
  // Every worker's sessions reported (the rest of stderr is read by the wait).
  const std::string err = child.err();
  const std::regex live(R"(\[C\d+\] live for)");
  EXPECT_EQ(std::distance(std::sregex_iterator(err.begin(), err.end(), live), std::sregex_iterator()), 6) << err;
  for (auto& c : clients) EXPECT_EQ(wait_end(c.get(), milliseconds(2000)).how, End::eof);
  EXPECT_NE(child.err().find("drain: 6 session(s) closed cleanly"), std::string::npos) << child.err();
}

TEST(Cli, ThreadsTakesOneToMaxAndOneMeansTheApiThreadRunsTheSessions) {
  EchoServer echo;
  ChildProcess one({kBinary, "run", "--no-api", "--threads", "1", "--listen", "127.0.0.1:0", "--upstream",
                    "127.0.0.1:" + std::to_string(echo.port())});
  ASSERT_TRUE(one.wait_err("listening on", milliseconds(3000))) << one.err();
  EXPECT_NE(one.err().find("sessions run on one thread, with the API"), std::string::npos) << one.err();
  Fd c = connect_to(logged_port(one.err()));
  ASSERT_TRUE(send_all(c.get(), "ok"));
  EXPECT_EQ(recv_exact(c.get(), 2, milliseconds(2000)), "ok");
  one.signal(SIGTERM);
  EXPECT_EQ(one.wait(milliseconds(3000)), 0);
  for (const char* bad : {"0", "257", "two"}) {
    const auto r = run_process({kBinary, "run", "--no-api", "--threads", bad, "--upstream", "127.0.0.1:1"});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("--threads: Value " + std::string(bad) + " not in range 1 to 256"), std::string::npos) << r.err;
  }
}

/// Kernel pipes process `pid` holds open (each splicing direction holds two ends).
int pipe_ends_of(int pid) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code link_ec;
    if (std::filesystem::read_symlink(e.path(), link_ec).string().starts_with("pipe:")) ++n;
  }
  return n;
}

/// Whether `run` splices (the default) or was given --no-splice.
class CliSplice : public ::testing::TestWithParam<bool> {};

TEST_P(CliSplice, ARawTransferHeldByAFullServerHoldsAKernelPipeUnlessNoSplice) {
  const bool splice = GetParam();
  // Queues of a few hundred KiB on our sockets, whatever the kernel's defaults: the
  // client's sends and the server's window leave room for the 16 KiB reads that start
  // splicing (dropsim's own sockets keep the defaults).
  const SocketBuffers roomy{256 * 1024, 256 * 1024};
  Listener server(512, roomy);  // accepts, never reads: the transfer blocks inside dropsim
  std::vector<std::string> args{kBinary, "run", "--no-api", "--profile", "nginx-stream", "--listen", "127.0.0.1:0",
                                "--upstream", "127.0.0.1:" + std::to_string(server.port())};
  if (!splice) args.push_back("--no-splice");
  ChildProcess child(args);
  ASSERT_TRUE(child.wait_err("listening on", milliseconds(3000))) << child.err();
  const int before = pipe_ends_of(child.pid());
  Fd client = connect_to(logged_port(child.err()), true, roomy);
  Fd upstream = server.accept();
  ASSERT_TRUE(upstream.valid());
  const Pushed pushed = push_until_blocked(client.get(), std::size_t{256} << 20, milliseconds(300));
  ASSERT_TRUE(pushed.blocked) << pushed.bytes << " bytes went and the client never blocked";
  // Blocked on the server's full window, the client→server pipe holds its chunk: a kernel
  // pipe (two ends) when splicing, a user-space buffer with --no-splice. The client can
  // fill every queue and block before a busy machine has run dropsim at all (seen under
  // ASan with the suite in parallel), so dropsim gets up to 2 s to catch up (bounded);
  // without splicing, 200 ms in which no pipe may appear.
  const int want = splice ? 2 : 0;
  const auto settle = std::chrono::steady_clock::now() + milliseconds(splice ? 2000 : 200);
  int held = pipe_ends_of(child.pid()) - before;
  while ((splice ? held != want : held == want) && std::chrono::steady_clock::now() < settle) {
    std::this_thread::sleep_for(milliseconds(10));
    held = pipe_ends_of(child.pid()) - before;
  }
  EXPECT_EQ(held, want) << "pushed " << pushed.bytes << " bytes";
  // Every byte arrives, in order, once the server reads.
  std::size_t got = 0;
  char buf[65536];
  set_io_timeout(upstream.get(), milliseconds(2000));
  while (got < pushed.bytes) {
    const ssize_t n = ::recv(upstream.get(), buf, sizeof buf, 0);
    if (n <= 0) break;
    ASSERT_TRUE(std::all_of(buf, buf + n, [](char c) { return c == 'j'; })) << "after byte " << got;
    got += static_cast<std::size_t>(n);
  }
  EXPECT_EQ(got, pushed.bytes);
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(milliseconds(3000)), 0);
}

INSTANTIATE_TEST_SUITE_P(SpliceOrCopy, CliSplice, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Splice" : "Copy"; });

TEST(Cli, SplicingAServerHangingUpMidTransferEndsThatSessionOnly) {
  // splice(2) into a socket whose peer has gone raises SIGPIPE: the process must not die
  // of it (it did, before SIGPIPE was ignored), and the next client is served.
  Listener server;
  ChildProcess child({kBinary, "run", "--no-api", "--profile", "nginx-stream", "--listen",
                      "127.0.0.1:0", "--upstream", "127.0.0.1:" + std::to_string(server.port())});
  ASSERT_TRUE(child.wait_err("listening on", milliseconds(3000))) << child.err();
  const std::uint16_t port = logged_port(child.err());
  Fd client = connect_to(port);
  Fd upstream = server.accept();
  ASSERT_TRUE(upstream.valid());
  std::thread pusher([&] { push_until_blocked(client.get(), std::size_t{256} << 20, milliseconds(500)); });
  EXPECT_EQ(recv_exact(upstream.get(), std::size_t{4} << 20, milliseconds(3000)).size(), std::size_t{4} << 20);
  // A FIN, then a close with bytes unread: the RST that follows makes dropsim's next
  // splice toward the server fail with EPIPE (as when a server hangs up at the end of a
  // test), which is where SIGPIPE comes from.
  shutdown_write(upstream.get());
  upstream.reset();
  pusher.join();
  ASSERT_TRUE(child.wait_err("closed", milliseconds(3000))) << child.err();

  Fd next = connect_to(port);
  Fd next_upstream = server.accept();
  ASSERT_TRUE(next_upstream.valid()) << child.err();
  ASSERT_TRUE(send_all(next.get(), "still here"));
  EXPECT_EQ(recv_exact(next_upstream.get(), 10, milliseconds(2000)), "still here");
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(milliseconds(3000)), 0) << child.err();
}

TEST(Cli, AtATimeScaleLogLinesGiveRealTimeBesideAndApiProxiesShareTheScale) {
  EchoServer echo;
  ChildProcess child({kBinary, "run", "--api", "127.0.0.1:0", "--profile", "nginx-stream", "--time-scale", "0.5",
                      "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:" + std::to_string(echo.port())});
  ASSERT_TRUE(child.wait_err("control API listening on 127.0.0.1:", milliseconds(5000))) << child.err();
  Fd client = connect_to(logged_port(child.err()));
  ASSERT_TRUE(child.wait_err("connected to upstream", milliseconds(2000)));
  child.signal(SIGUSR1);
  ASSERT_TRUE(child.wait_err("proxy_timeout fires in", milliseconds(2000))) << child.err();
  // Profile time first, the real time beside it: the first duration names the scale.
  EXPECT_TRUE(std::regex_search(child.err(), std::regex(R"(\[C\d+\] live for \d+\.\d{3}s \(real \d+\.\d{3}s at time )"
                                                        R"(scale 0\.5\), client→server idle \d+\.\d{3}s \(real \d+\.\d{3}s\))")))
      << child.err();
  EXPECT_TRUE(std::regex_search(child.err(), std::regex(R"(proxy_timeout fires in \d+\.\d{3}s \(real \d+\.\d{3}s\))")))
      << child.err();
  // A proxy the API creates without a time_scale gets run's --time-scale.
  std::smatch m;
  const std::string err = child.err();
  ASSERT_TRUE(std::regex_search(err, m, std::regex(R"(control API listening on 127\.0\.0\.1:(\d+))")));
  ApiClient api(static_cast<std::uint16_t>(std::stoi(m[1])));
  const Reply created = api.request(
      "POST", "/proxies", R"({"name":"later","upstream":"127.0.0.1:)" + std::to_string(echo.port()) + R"("})");
  ASSERT_EQ(created.status, 201) << created.body;
  const Reply profile = api.request("GET", "/proxies/later/profile");
  EXPECT_NE(profile.body.find("\"time_scale\":0.5"), std::string::npos) << profile.body;
  // ...and one that gives its own keeps it.
  const Reply own = api.request("POST", "/proxies",
                                R"({"name":"own","time_scale":1,"upstream":"127.0.0.1:)" + std::to_string(echo.port()) +
                                    R"("})");
  ASSERT_EQ(own.status, 201) << own.body;
  EXPECT_NE(api.request("GET", "/proxies/own/profile").body.find("\"time_scale\":1.0"), std::string::npos);
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(milliseconds(3000)), 0);
}

TEST(Cli, JsonLogsCarryTheSameEvents) {
  EchoServer echo;
  ChildProcess child({kBinary, "--log-format", "json", "run", "--no-api", "--profile", "alb", "--listen", "127.0.0.1:0",
                      "--upstream", "127.0.0.1:" + std::to_string(echo.port()), "--set", "idle_timeout=200ms"});
  ASSERT_TRUE(child.wait_err("\"event\":\"listen\"", milliseconds(3000))) << child.err();
  std::smatch m;
  const std::string err = child.err();
  ASSERT_TRUE(std::regex_search(err, m, std::regex(R"("port":(\d+))"))) << err;
  Fd client = connect_to(static_cast<std::uint16_t>(std::stoi(m[1])));
  EXPECT_EQ(wait_end(client.get(), milliseconds(3000)).how, End::eof);
  ASSERT_TRUE(child.wait_err("\"event\":\"close\"", milliseconds(2000))) << child.err();
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(milliseconds(3000)), 0);
  std::istringstream lines(child.err());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    ++count;
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
    EXPECT_NE(line.find("\"event\":"), std::string::npos) << line;
  }
  EXPECT_GE(count, 4);
  EXPECT_TRUE(std::regex_search(child.err(), std::regex(R"("event":"close","conn":\d+,"proxy":"proxy","cause":"idle_timeout")")))
      << child.err();
}

}  // namespace
}  // namespace dropsim::test
