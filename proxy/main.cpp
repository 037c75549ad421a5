// dropsim: the command line. Each subcommand is a thin wrapper over the library.

#include <cstdio>
#include <functional>
#include <iostream>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include "builtin_profiles.h"
#include "demo.h"
#include "event_log.h"
#include "profile_yaml.h"
#include "proxy.h"

namespace {

/// Exit codes: 1 for `check` finding a problem, 2 for usage and configuration errors.
constexpr int kExitInvalid = 1;
constexpr int kExitConfig = 2;

struct ProfileArgs {
  std::string profile;
  std::vector<std::string> sets;
  double time_scale = 1.0;
};

void add_profile_options(CLI::App& cmd, ProfileArgs& args) {
  cmd.add_option("--set", args.sets, "Override a setting by the real system's name: NAME=VALUE")
      ->type_name("NAME=VALUE");
  cmd.add_option("--time-scale", args.time_scale, "Multiply every duration (0.05: 60s becomes 3s)")
      ->check(CLI::PositiveNumber);
}

dropsim::Profile load(const ProfileArgs& args) {
  std::vector<dropsim::SettingOverride> overrides;
  for (const auto& s : args.sets) overrides.push_back(dropsim::parse_setting_override(s));
  const auto text = dropsim::find_profile_text(args.profile);
  return dropsim::load_profile(text.text, text.file, overrides, args.time_scale);
}

int run_proxy(const ProfileArgs& args, const std::string& listen, const std::string& upstream,
              dropsim::EventLog& log) {
  asio::io_context io(1);
  dropsim::ProxyOptions options;
  options.name = "proxy";
  options.listen = listen;
  options.upstream = upstream;
  options.profile = load(args);
  dropsim::Proxy proxy(io, options, log);
  proxy.start();

  // SIGUSR1: one line per live session, with its frames and heartbeat margins.
  asio::signal_set report(io, SIGUSR1);
  std::function<void(const std::error_code&, int)> on_report = [&](const std::error_code& ec, int) {
    if (ec) return;
    proxy.report();
    report.async_wait(on_report);
  };
  report.async_wait(on_report);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& ec, int signo) {
    if (ec) return;
    log.event(spdlog::level::info, 0, "shutdown",
              fmt::format("{}: stopping, closing {} session(s)", signo == SIGINT ? "SIGINT" : "SIGTERM",
                          proxy.active_sessions()));
    proxy.stop();
    report.cancel();
    io.stop();
  });
  io.run();
  return 0;
}

int list_profiles() {
  for (const auto& p : dropsim::embedded_profiles()) {
    const auto profile = dropsim::load_profile(p.text, std::string(p.path));
    std::cout << fmt::format("{:<26} {}\n", profile.name, profile.description);
  }
  return 0;
}

int check_files(const std::vector<std::string>& files) {
  int status = 0;
  for (const auto& file : files) {
    try {
      const auto text = dropsim::find_profile_text(file);
      const auto profile = dropsim::load_profile(text.text, text.file);
      std::cout << fmt::format("{}: ok (profile {}, {} timer(s))\n", text.file, profile.name,
                               profile.timers.size());
    } catch (const dropsim::ProfileError& e) {
      std::cerr << e.what() << "\n";
      status = kExitInvalid;
    }
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "dropsim: a proxy that drops connections the way real load balancers and reverse proxies "
      "do (nginx, HAProxy, AWS ALB/NLB), so that a production drop can be reproduced locally."};
  app.set_version_flag("--version,-V", std::string("dropsim ") + DROPSIM_VERSION);
  app.require_subcommand(1);
  // Global options may follow the subcommand too: `dropsim run --log-format json ...`.
  app.fallthrough();
  std::string log_format = "text";
  std::string log_level = "info";
  app.add_option("--log-format", log_format, "Log lines as text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();

  ProfileArgs run_args;
  std::string listen = "127.0.0.1:8080";
  std::string upstream;
  auto* run = app.add_subcommand("run", "Proxy LISTEN to UPSTREAM, behaving like PROFILE");
  run->add_option("--profile,-p", run_args.profile, "Built-in profile name or a YAML file")->required();
  run->add_option("--listen,-l", listen, "HOST:PORT to accept clients on")->capture_default_str();
  run->add_option("--upstream,-u", upstream, "HOST:PORT of the server")->required();
  add_profile_options(*run, run_args);

  ProfileArgs show_args;
  auto* profiles = app.add_subcommand("profiles", "List built-in profiles, or print one resolved as YAML");
  profiles->add_option("profile", show_args.profile, "Profile name or YAML file to print");
  add_profile_options(*profiles, show_args);

  std::vector<std::string> check_args;
  auto* check = app.add_subcommand("check", "Validate profile files; exit 1 with FILE:LINE:COL: message");
  check->add_option("files", check_args, "Profile YAML files (or built-in names)")->required();

  dropsim::DemoOptions demo_options;
  auto* demo = app.add_subcommand("demo", "Show a 60-second ALB drop and its fix, on loopback, time-compressed");
  demo->add_option("--time-scale", demo_options.time_scale, "Real seconds per profile second")
      ->check(CLI::Range(0.001, 1.0))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitConfig;
  }

  const auto format = dropsim::parse_log_format(log_format).value_or(dropsim::LogFormat::text);
  dropsim::EventLog log(format, spdlog::level::from_str(log_level));
  try {
    if (*run) return run_proxy(run_args, listen, upstream, log);
    if (*profiles) {
      if (show_args.profile.empty()) return list_profiles();
      std::cout << dropsim::to_yaml(load(show_args));
      return 0;
    }
    if (*check) return check_files(check_args);
    if (*demo) return dropsim::run_demo(demo_options, std::cout, log);
  } catch (const dropsim::ProfileError& e) {
    std::cerr << "dropsim: " << e.what() << "\n";
    return kExitConfig;
  } catch (const std::invalid_argument& e) {
    std::cerr << "dropsim: " << e.what() << "\n";
    return kExitConfig;
  } catch (const std::system_error& e) {
    std::cerr << "dropsim: " << e.what() << "\n";
    return kExitConfig;
  }
  return 0;
}
