// dropsim_api_bench: how long a control API call takes while the proxies are busy. The
// API shares the proxies' io_context thread, so a call waits its turn behind the data
// path: this measures that wait. Target (issue 5): a call answers within 100 ms while 64
// sessions push bulk data. Prints numbers; never fails on a measurement (exit 1 only if
// setup breaks).
//
//   1. idle: no session open
//   2. load: 64 sessions pushing bulk data client->server through one proxy
//
// Each round times three calls one by one over one keep-alive connection: add a toxic,
// remove it, list the proxies (GET /proxies). The Runtime and ApiServer run in-process on
// their own io_context thread; clients and sink are blocking sockets on other threads
// (tests/integration/api_client_util.h, shared with the integration tests).
//
// Usage: dropsim_api_bench [--quick]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "worker_pool.h"

#include "../bench_util.h"
#include "api_client_util.h"

namespace {

using namespace dropsim;
using namespace dropsim::test;
using Steady = std::chrono::steady_clock;

/// The p-quantile (0..1) of sorted `v`, nearest rank.
double quantile(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

/// Times `rounds` rounds of three control calls; ms per call, sorted. -1 entries: failed.
std::vector<double> time_calls(ApiClient& client, const std::string& proxy, int rounds, int& failures) {
  const std::string toxic = R"({"type":"latency","attributes":{"latency":1}})";
  const struct {
    const char* method;
    std::string path;
    std::string body;
    int status;
  } calls[] = {{"POST", "/proxies/" + proxy + "/toxics", toxic, 200},
               {"DELETE", "/proxies/" + proxy + "/toxics/latency_downstream", "", 204},
               {"GET", "/proxies", "", 200}};
  std::vector<double> ms;
  for (int i = 0; i < rounds; ++i) {
    for (const auto& c : calls) {
      const auto t0 = Steady::now();
      const int status = client.request(c.method, c.path, c.body).status;
      ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
      if (status != c.status) ++failures;
    }
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

void print_row(const char* label, const std::vector<double>& ms, int failures, const std::string& extra) {
  fmt::print("    {:<24} {:>6} {:>9.2f} {:>9.2f} {:>9.2f} {:>8}  {}\n", label, ms.size(), quantile(ms, 0.5),
             quantile(ms, 0.99), ms.empty() ? 0 : ms.back(), failures, extra);
}

/// Times API calls idle and under a bulk load of `sessions`; 0, or 1 when setup failed.
int measure(int rounds, int sessions, std::size_t workers) {
  const int kSessions = sessions;
  try {
    ApiServerUnderTest api({}, false, spdlog::level::warn, {}, workers);
    Listener sink(512);
    ApiClient client(api.port());
    const auto created = client.request(
        "POST", "/proxies", R"({"name":"bulk","upstream":"127.0.0.1:)" + std::to_string(sink.port()) + R"("})");
    if (created.status != 201) throw std::runtime_error("cannot create the proxy: " + created.body);
    const std::string listen = nlohmann::json::parse(created.body)["listen"];
    const auto port = static_cast<std::uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));

    fmt::print("\n[1] {} rounds x 3 calls (POST toxic, DELETE toxic, GET /proxies), one keep-alive connection\n"
               "    {:<24} {:>6} {:>9} {:>9} {:>9} {:>8}  (ms per call)\n",
               rounds, "", "calls", "p50", "p99", "max", "failed");
    int failures = 0;
    print_row("idle", time_calls(client, "bulk", rounds, failures), failures, "");

    BulkLoad load(port, sink, kSessions);
    if (!load.wait_bytes(64u << 20, std::chrono::seconds(10))) throw std::runtime_error("the bulk load did not start");
    failures = 0;
    const std::uint64_t before = load.bytes();
    const auto t0 = Steady::now();
    const auto ms = time_calls(client, "bulk", rounds, failures);
    const double secs = std::chrono::duration<double>(Steady::now() - t0).count();
    const double gbit = double(load.bytes() - before) * 8 / secs / 1e9;
    print_row(fmt::format("{} sessions bulk", kSessions).c_str(), ms, failures,
              fmt::format("(bulk meanwhile: {:.2f} Gbit/s)", gbit));
    const auto over = std::count_if(ms.begin(), ms.end(), [](double x) { return x > 100; });
    fmt::print("    calls over 100 ms under load: {} of {}\n", over, ms.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "setup failed: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto option = bench::quick_option(argc, argv);
  if (!option) return 2;
  const bool quick = *option;
  const int rounds = quick ? 30 : 100;
  constexpr int kSessions = 64;
  fmt::print("dropsim_api_bench ({} run): control API call latency, in-process, loopback\n"
             "machine: nproc={}; load average (1 min) {}\n",
             quick ? "quick" : "full", std::thread::hardware_concurrency(), bench::loadavg());
  // Sessions on the API's own thread (run --threads 1), then on workers (the default).
  std::vector<std::size_t> modes{0};
  if (dropsim::default_threads() > 1) modes.push_back(dropsim::default_threads());
  for (const std::size_t workers : modes) {
    fmt::print("\n=== {} ===\n", workers == 0 ? std::string("--threads 1: sessions on the API's thread")
                                                 : fmt::format("--threads {}: sessions on worker threads", workers));
    if (const int failed = measure(rounds, kSessions, workers); failed != 0) return failed;
  }
  fmt::print("\nload average (1 min) at the end {}\n", bench::loadavg());
  return 0;
}
