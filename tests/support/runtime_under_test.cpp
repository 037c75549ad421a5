#include "runtime_under_test.h"

#include <asio/executor_work_guard.hpp>

namespace dropsim::test {

RuntimeUnderTest::RuntimeUnderTest(RuntimeOptions options, spdlog::level::level_enum level, std::size_t workers)
    : sink_(std::make_shared<CapturingSink>()), workers_(workers) {
  options.workers = workers_.contexts();
  auto logger = std::make_shared<spdlog::logger>("test", sink_);
  logger->set_level(level);
  log_ = std::make_unique<EventLog>(logger, LogFormat::text);
  runtime_ = std::make_unique<Runtime>(io_, *log_, std::move(options));
  thread_ = std::thread([this] {
    auto work = asio::make_work_guard(io_);
    io_.run();
  });
}

RuntimeUnderTest::~RuntimeUnderTest() {
  try {
    call([](Runtime& r) { r.stop_all(); });
  } catch (const std::exception&) {
    // The thread is stuck; stopping the context below still ends the test.
  }
  // Let sessions unwind (bounded), then stop.
  const auto deadline = std::chrono::steady_clock::now() + Ms(2000);
  while (std::chrono::steady_clock::now() < deadline) {
    std::size_t open = 0;
    try {
      open = call([](Runtime& r) { return r.sessions().size(); });
    } catch (const std::exception&) {
      break;
    }
    if (open == 0) break;
    std::this_thread::sleep_for(Ms(5));
  }
  io_.stop();
  thread_.join();
  runtime_.reset();
}

std::uint16_t RuntimeUnderTest::add_proxy(const std::string& name, std::uint16_t upstream_port,
                                          const std::string& profile) {
  ProxySpec spec;
  spec.name = name;
  spec.listen = "127.0.0.1:0";
  spec.upstream = "127.0.0.1:" + std::to_string(upstream_port);
  spec.profile = profile;
  const ProxyInfo info = call([spec](Runtime& r) { return r.create_proxy(spec); });
  return static_cast<std::uint16_t>(std::stoi(info.listen.substr(info.listen.rfind(':') + 1)));
}

bool RuntimeUnderTest::wait_log(const std::string& needle, Ms timeout) const {
  return wait_until([&] { return logs().find(needle) != std::string::npos; }, timeout);
}

bool RuntimeUnderTest::wait_sessions(const std::string& name, std::size_t n, Ms timeout) {
  return wait_until([&] { return call([name](Runtime& r) { return r.sessions(name).size(); }) == n; }, timeout);
}

}  // namespace dropsim::test
