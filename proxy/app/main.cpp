// dropsim: the command line. Each subcommand is a thin wrapper over the library.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include "address.h"
#include "api_guard.h"
#include "api_json.h"
#include "api_server.h"
#include "builtin_profiles.h"
#include "config_yaml.h"
#include "demo.h"
#include "duration.h"
#include "event_log.h"
#include "profile_yaml.h"
#include "proxy.h"
#include "runtime.h"
#include "session_budget.h"
#include "toxiproxy_flags.h"
#include "worker_pool.h"

namespace {

/// Exit codes: 1 for `check` finding a problem, 2 for usage and configuration errors.
constexpr int kExitInvalid = 1;
constexpr int kExitConfig = 2;

struct ProfileArgs {
  std::string profile;
  std::vector<std::string> sets;
  double time_scale = 1.0;
  bool strict = false;
};

/// A number greater than 0. CLI::PositiveNumber would say so with the bounds of a double
/// ("out of range 2.2250738585072014e-308 to 1.7976931348623157e+308"), which reads as noise.
const CLI::Validator kGreaterThanZero(
    [](std::string& text) -> std::string {
      double value = 0;
      const bool read = CLI::detail::lexical_cast(text, value);
      if (read && value > 0 && std::isfinite(value)) return "";
      return "must be greater than 0, e.g. 0.05 to turn 60s into 3s (got " + text + ")";
    },
    "NUMBER > 0");

/// `--strict`, on every subcommand that loads a profile or a config.
void add_strict_option(CLI::App& cmd, bool& strict) {
  cmd.add_flag("--strict", strict,
               "A setting outside the range the real system allows (e.g. ALB's idle timeout over 4000s) is an error, "
               "not a warning");
}

void add_profile_options(CLI::App& cmd, ProfileArgs& args) {
  cmd.add_option("--set", args.sets, "Override a setting by the real system's name: NAME=VALUE")
      ->type_name("NAME=VALUE");
  cmd.add_option("--time-scale", args.time_scale, "Multiply every duration (0.05: 60s becomes 3s)")
      ->check(kGreaterThanZero);
  add_strict_option(cmd, args.strict);
}

/// Prints each warning on a line of stderr.
void print_warnings(const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) std::cerr << w << "\n";
}

/// The profile `args` name, resolved; its warnings are for the caller to print.
dropsim::Profile load(const ProfileArgs& args) {
  std::vector<dropsim::SettingOverride> overrides;
  for (const auto& s : args.sets) overrides.push_back(dropsim::parse_setting_override(s));
  const auto text = dropsim::find_profile_text(args.profile);
  return dropsim::load_profile(text.text, text.file, overrides, args.time_scale, args.strict);
}

/// `dropsim run`: proxies from the command line or a config file, and the control API.
struct RunArgs {
  ProfileArgs profile;
  std::string name = "proxy";
  std::string listen = "127.0.0.1:8080";
  std::string upstream;
  std::string config;
  std::string api = "127.0.0.1:8474";
  bool no_api = false;
  bool api_allow_remote = false;
  bool api_given = false;
  bool allow_remote_listen = false;  ///< implied by api_allow_remote (ApiGuard)
  std::string api_token;             ///< --api-token, else $DROPSIM_API_TOKEN; empty: none
  std::size_t api_max_connections = dropsim::kDefaultApiConnections;
  // toxiproxy-server's spelling of the API address: -host (default localhost), -port.
  std::string host = "localhost";
  std::string port = "8474";
  bool host_or_port_given = false;
  bool proxy_metrics = false;
  bool runtime_metrics = false;
  bool toxiproxy_version = false;
  std::size_t max_sessions = 0;  ///< 0: derived from the descriptor limit
  std::uint64_t seed = 0;
  bool seed_given = false;
  int drain_code = 1001;
  std::string drain_reason = "going away";
  std::string drain_timeout = "2s";
  bool no_splice = false;
  std::size_t threads = dropsim::default_threads();
};

/// What to start: one proxy from the flags, a config file's proxies, or none (API only).
/// Adds the warnings of what it loaded to `warnings` (the run's log prints them, in its format).
std::vector<dropsim::ProxySpec> proxy_specs(RunArgs& args, std::vector<std::string>& warnings) {
  std::vector<dropsim::ProxySpec> specs;
  if (!args.config.empty()) {
    if (!args.upstream.empty() || !args.profile.profile.empty() || !args.profile.sets.empty()) {
      throw std::invalid_argument(
          "--config names every proxy, its profile and settings: drop --profile/--upstream/--set, or drop --config");
    }
    dropsim::RunConfig config = dropsim::load_config_file(args.config, args.profile.strict);
    warnings = std::move(config.warnings);
    if (config.api && !args.api_given) args.api = *config.api;
    if (config.seed && !args.seed_given) args.seed = *config.seed;
    // A training room replays the same chain faster: --time-scale wins over the file.
    if (args.profile.time_scale != 1.0) {
      for (auto& spec : config.proxies) spec.time_scale = args.profile.time_scale;
    }
    return std::move(config.proxies);
  }
  if (args.upstream.empty()) {
    if (!args.profile.profile.empty()) throw std::invalid_argument("--profile needs --upstream HOST:PORT (the server)");
    return specs;  // the API alone, as toxiproxy-server starts
  }
  dropsim::ProxySpec spec;
  spec.name = args.name;
  spec.listen = args.listen;
  spec.upstream = args.upstream;
  spec.profile = args.profile.profile.empty() ? "tcp" : args.profile.profile;
  // Checked here so that a missing profile names the flag the user typed (--profile); the
  // runtime's own message names the API's field.
  dropsim::find_profile_text(spec.profile);
  // Every error and warning now, before anything binds.
  if (!args.profile.profile.empty()) warnings = load(args.profile).warnings;
  for (const auto& s : args.profile.sets) spec.settings.push_back(dropsim::parse_setting_override(s));
  spec.time_scale = args.profile.time_scale;
  specs.push_back(std::move(spec));
  return specs;
}

/// The API address `dropsim run` listens on, from --api or from toxiproxy-server's
/// -host/-port; a -host that is not loopback exposes the API on purpose.
void settle_api_address(RunArgs& args) {
  if (!args.host_or_port_given) return;
  const bool v6 = args.host.find(':') != std::string::npos;
  args.api = v6 ? fmt::format("[{}]:{}", args.host, args.port) : fmt::format("{}:{}", args.host, args.port);
  dropsim::parse_host_port(args.api);  // a bad -port is a usage error now, before anything starts
  // Loopback as the API's Host guard means it (localhost, *.localhost, 127.0.0.0/8, ::1).
  if (!dropsim::is_loopback_host(args.api)) args.api_allow_remote = true;
}

/// Creates every proxy and the API, looking host names up without blocking the io thread;
/// throws what the first failure threw.
asio::awaitable<void> start(RunArgs& args, const std::vector<dropsim::ProxySpec>& specs,
                            dropsim::Runtime& runtime, std::unique_ptr<dropsim::ApiServer>& api,
                            asio::io_context& io) {
  for (dropsim::ProxySpec spec : specs) {
    try {
      spec.listen = co_await runtime.resolver().listen_address(spec.listen);
      runtime.create_proxy(spec);
    } catch (const std::exception& e) {
      // A profile error already names FILE:LINE:COL; a listen error names the address.
      throw std::invalid_argument(fmt::format("proxy '{}': {}", spec.name, e.what()));
    }
  }
  if (args.no_api) co_return;
  const std::string address = co_await runtime.resolver().listen_address(args.api);
  dropsim::ApiServerOptions api_options;
  api_options.allow_remote_listen = args.allow_remote_listen;
  api_options.token = args.api_token;
  api_options.max_connections = args.api_max_connections;
  api = std::make_unique<dropsim::ApiServer>(io, runtime, address, args.api_allow_remote, api_options);
  try {
    api->start();
  } catch (const std::system_error& e) {
    throw std::invalid_argument(fmt::format(
        "control API: cannot listen on {} ({}); another dropsim or toxiproxy-server may hold it: "
        "pass --api 127.0.0.1:PORT (0 picks a free port) or --no-api",
        args.api, e.code().message()));
  }
}

int run_proxies(RunArgs& args, dropsim::EventLog& log) {
  if (args.toxiproxy_version) {
    std::cout << fmt::format("toxiproxy-server version {} (dropsim {})\n", dropsim::kToxiproxyVersion,
                             DROPSIM_VERSION);
    return 0;
  }
  std::vector<std::string> warnings;
  const auto specs = proxy_specs(args, warnings);
  for (const auto& w : warnings) log.event(spdlog::level::warn, 0, "setting_out_of_range", w);
  if (specs.empty() && args.no_api) {
    throw std::invalid_argument("nothing to run: give --upstream (one proxy), --config FILE, or the API (drop --no-api)");
  }
  settle_api_address(args);
  // Two descriptors a session: the cap keeps some back so that the API always answers,
  // more when the API may hold more connections than the reserve counts on.
  const dropsim::DescriptorLimit fds = dropsim::raise_descriptor_limit();
  const std::uint64_t more_api = args.api_max_connections > dropsim::kDefaultApiConnections
                                     ? args.api_max_connections - dropsim::kDefaultApiConnections
                                     : 0;
  const std::size_t workers_fds = args.threads > 1 ? args.threads * dropsim::kDescriptorsPerWorker : 0;
  const std::size_t capacity =
      dropsim::session_capacity(fds.soft, dropsim::kDescriptorReserve + more_api + workers_fds);
  const std::size_t max_sessions = args.max_sessions > 0 ? args.max_sessions : capacity;
  log.event(spdlog::level::info, 0, "limits",
            fmt::format("file descriptors: {}{} (hard limit {}); up to {} sessions at once{}", fds.soft,
                        fds.soft != fds.before ? fmt::format(", raised from {}", fds.before) : "", fds.hard,
                        max_sessions,
                        max_sessions > capacity ? fmt::format(" (more than the {} the descriptors allow)", capacity)
                                                : ""));
  // With one thread the control thread also runs the sessions; with more, it accepts and
  // answers the API while the workers run the sessions. Declared first, so destroyed last:
  // every proxy's sessions live on it, and an accept still pending on the control loop
  // when it is destroyed holds a socket of a worker's io_context.
  dropsim::WorkerPool workers(args.threads > 1 ? args.threads : 0);
  asio::io_context io(1);
  dropsim::RuntimeOptions options;
  options.workers = workers.contexts();
  options.seed = args.seed;
  // Proxies the API creates replay at the same pace as those from the command line.
  options.time_scale = args.profile.time_scale;
  options.drain_code = static_cast<std::uint16_t>(args.drain_code);
  options.drain_reason = args.drain_reason;
  options.drain_timeout = *dropsim::parse_duration(args.drain_timeout);  // checked by CLI11
  options.splice = !args.no_splice;
  options.toxiproxy_metrics = args.proxy_metrics;
  options.process_metrics = args.runtime_metrics;
  options.max_sessions = max_sessions;
  options.descriptor_limit = fds.soft;
  log.event(spdlog::level::info, 0, "threads",
            args.threads > 1 ? fmt::format("sessions run on {} worker threads", args.threads)
                             : std::string("sessions run on one thread, with the API"),
            {{"threads", static_cast<std::int64_t>(args.threads)}});
  dropsim::Runtime runtime(io, log, options);
  std::unique_ptr<dropsim::ApiServer> api;
  std::exception_ptr failed;
  asio::co_spawn(io, start(args, specs, runtime, api, io), [&](std::exception_ptr e) {
    if (!e) return;
    failed = e;
    io.stop();
  });

  // SIGUSR1: one line per live session, with its frames and heartbeat margins.
  asio::signal_set report(io, SIGUSR1);
  std::function<void(const std::error_code&, int)> on_report = [&](const std::error_code& ec, int) {
    if (ec) return;
    for (const auto& p : runtime.proxies()) {
      if (auto* proxy = runtime.find(p.name)) proxy->report();
    }
    report.async_wait(on_report);
  };
  report.async_wait(on_report);

  // SIGTERM drains as a restarting server does: the listeners close, WebSockets get close
  // 1001 and the rest FIN, and the process waits (up to --drain-timeout) for every peer
  // to answer and close, so that each close completes cleanly. SIGINT (Ctrl-C), or a
  // second signal during the drain, closes everything with FIN at once.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  const auto stop = [&] {
    if (api) api->stop();
    report.cancel();
    signals.cancel();
    io.stop();
  };
  bool draining = false;
  std::function<void(const std::error_code&, int)> on_signal = [&](const std::error_code& ec, int signo) {
    if (ec) return;
    const std::size_t open = runtime.open_sessions();
    if (signo == SIGTERM && !draining) {
      draining = true;
      log.event(spdlog::level::info, 0, "shutdown",
                fmt::format("SIGTERM: draining {} session(s) with close {} \"{}\", waiting up to {} for peers "
                            "to close", open, args.drain_code, args.drain_reason,
                            dropsim::format_seconds(options.drain_timeout)));
      runtime.drain([&](const dropsim::DrainOutcome& o) {
        log.event(spdlog::level::info, 0, "drained",
                  o.timed_out == 0
                      ? fmt::format("drain: {} session(s) closed cleanly in {}", o.sessions,
                                    dropsim::format_seconds(o.took))
                      : fmt::format("drain: {} of {} session(s) closed cleanly; {} closed at the {} drain timeout "
                                    "(a peer did not answer the close and hang up)",
                                    o.sessions - o.timed_out, o.sessions, o.timed_out,
                                    dropsim::format_seconds(options.drain_timeout)),
                  {{"sessions", static_cast<std::int64_t>(o.sessions)},
                   {"timed_out", static_cast<std::int64_t>(o.timed_out)},
                   {"took_s", std::chrono::duration<double>(o.took).count()}});
        stop();
      });
      signals.async_wait(on_signal);
      return;
    }
    log.event(spdlog::level::info, 0, "shutdown",
              fmt::format("{}{}: stopping, closing {} session(s)", signo == SIGTERM ? "SIGTERM" : "SIGINT",
                          draining ? " during the drain" : "", open));
    runtime.stop_all();
    stop();
  };
  signals.async_wait(on_signal);
  io.run();
  if (failed) std::rethrow_exception(failed);
  return 0;
}

/// Prints a configuration error after the lines logged before it; returns kExitConfig.
int config_error(dropsim::EventLog& log, const std::exception& e) {
  log.finish();  // the queued lines first, so the error is the last line on stderr
  std::cerr << "dropsim: " << e.what() << "\n";
  return kExitConfig;
}

/// A profile or config error: every error of the pass, one a line.
int config_error(dropsim::EventLog& log, const dropsim::ProfileError& e) {
  log.finish();
  const auto errors = e.errors();
  if (errors.size() > 1) std::cerr << fmt::format("dropsim: {} errors:\n", errors.size());
  else std::cerr << "dropsim: ";
  std::cerr << e.report() << "\n";
  return kExitConfig;
}

int list_profiles() {
  for (const auto& p : dropsim::embedded_profiles()) {
    const auto profile = dropsim::load_profile(p.text, std::string(p.path));
    std::cout << fmt::format("{:<26} {}\n", profile.name, profile.description);
  }
  return 0;
}

/// `dropsim check` of one config: exactly what `run --config` loads, without binding.
std::string check_config(const std::string& path, bool strict) {
  const dropsim::RunConfig config = dropsim::load_config_file(path, strict);
  print_warnings(config.warnings);
  std::vector<std::string> proxies;
  for (const auto& p : config.proxies) proxies.push_back(fmt::format("{}: {}", p.name, p.profile));
  return fmt::format("{}: config OK: {} {} ({})", path, config.proxies.size(),
                     config.proxies.size() == 1 ? "proxy" : "proxies", fmt::join(proxies, ", "));
}

/// `dropsim check` of one profile.
std::string check_profile(const dropsim::ProfileText& text, bool strict) {
  const auto profile = dropsim::load_profile(text.text, text.file, {}, 1.0, strict);
  print_warnings(profile.warnings);
  return fmt::format("{}: profile OK: {}, {} timer(s)", text.file, profile.name, profile.timers.size());
}

/// Checks each file, a profile or a config told apart by its content; 1 when any fails.
int check_files(const std::vector<std::string>& files, bool strict) {
  int status = 0;
  for (const auto& file : files) {
    try {
      // Toxiproxy's JSON config has no name a built-in profile could have.
      if (file.ends_with(".json")) {
        std::cout << check_config(file, strict) << "\n";
        continue;
      }
      const auto text = dropsim::find_profile_text(file);
      std::cout << (dropsim::looks_like_config(text.text) ? check_config(text.file, strict)
                                                          : check_profile(text, strict))
                << "\n";
    } catch (const dropsim::ProfileError& e) {
      std::cerr << e.report() << "\n";
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
  app.name("dropsim");
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

  RunArgs run_args;
  auto* run = app.add_subcommand(
      "run", "Proxy LISTEN to UPSTREAM behaving like PROFILE, or every proxy of a --config file; "
             "with neither, the control API alone (as toxiproxy-server)");
  run->add_option("--profile,-p", run_args.profile.profile, "Built-in profile name or a YAML file (default tcp)");
  run->add_option("--listen,-l", run_args.listen, "HOST:PORT to accept clients on")->capture_default_str();
  run->add_option("--upstream,-u", run_args.upstream, "HOST:PORT of the server");
  run->add_option("--name", run_args.name, "The proxy's name in logs, metrics and the API")->capture_default_str();
  add_profile_options(*run, run_args.profile);
  run->add_option("--config,-c", run_args.config,
                  "YAML file listing proxies, settings and faults (docs/config.md), or Toxiproxy's JSON config");
  auto* api_opt = run->add_option("--api", run_args.api, "HOST:PORT of the control API (Toxiproxy's and dropsim's)")
                      ->capture_default_str();
  // toxiproxy-server's flags (translate_toxiproxy_flags turns -host=X into --host X).
  auto* host_opt = run->add_option("--host", run_args.host,
                                   "toxiproxy-server's -host: the API's host (not loopback: the API is exposed)")
                       ->capture_default_str()
                       ->excludes(api_opt);
  auto* port_opt = run->add_option("--port", run_args.port, "toxiproxy-server's -port: the API's port")
                       ->capture_default_str()
                       ->excludes(api_opt);
  run->add_flag("--proxy-metrics", run_args.proxy_metrics,
                "Also serve Toxiproxy's proxy metrics on /metrics (toxiproxy_proxy_*_bytes_total)");
  run->add_flag("--runtime-metrics", run_args.runtime_metrics, "Also serve the process_* metrics on /metrics");
  run->add_flag("--toxiproxy-version", run_args.toxiproxy_version,
                "Print the Toxiproxy version the API speaks (toxiproxy-server -version)");
  run->add_flag("--no-api", run_args.no_api, "Do not start the control API")->excludes(api_opt, host_opt, port_opt);
  run->add_flag("--api-allow-remote", run_args.api_allow_remote,
                "Let the API listen on a non-loopback address and answer any Host and Origin (anyone who reaches "
                "it can cut your connections); implies --allow-remote-listen");
  run->add_flag("--allow-remote-listen", run_args.allow_remote_listen,
                "Let proxies made through a loopback-only API listen on a non-loopback address, and serve "
                "non-loopback clients on every interface (without it: 403, and loopback clients only)");
  run->add_option("--api-token", run_args.api_token,
                  "Require 'Authorization: Bearer TOKEN' on every API change (not GET/HEAD/OPTIONS); default "
                  "none. $DROPSIM_API_TOKEN, used when the flag is not given, keeps it out of the process list")
      ->envname("DROPSIM_API_TOKEN")
      ->type_name("TOKEN")
      ->check([](const std::string& token) { return token.empty() ? "an empty token protects nothing" : ""; },
              "");
  run->add_option("--api-max-connections", run_args.api_max_connections,
                  "API connections open at once, event streams included; one more is answered 503")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* seed_opt = run->add_option("--seed", run_args.seed, "Seed for toxicity rolls and jitter: replays a run");
  run->add_option("--drain-code", run_args.drain_code, "Close code SIGTERM's drain sends to WebSockets")
      ->check(CLI::Range(1000, 4999))
      ->capture_default_str();
  run->add_option("--drain-reason", run_args.drain_reason, "Close reason of the drain")->capture_default_str();
  run->add_flag("--no-splice", run_args.no_splice,
               "Copy bulk raw TCP through user space instead of splicing it kernel to kernel (faster only "
               "when the machine's cores are all busy: the peers' copies from spliced pages cost more)");
  run->add_option("--drain-timeout", run_args.drain_timeout,
                  "SIGTERM waits this long for peers to answer the close and hang up before closing the rest "
                  "(also how long any close frame waits for its reply)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            const auto d = dropsim::parse_duration(text);
            if (d && *d > dropsim::Duration::zero()) return "";
            return "'" + text + "' is not a duration: write e.g. 2s, 500ms, 1m";
          },
          "DURATION"))
      ->capture_default_str();
  run->add_option("--max-sessions", run_args.max_sessions,
                  "Sessions open at once over every proxy; at the cap new clients wait in the listen backlog "
                  "(default: from the descriptor limit, two per session after a reserve)")
      ->check(CLI::PositiveNumber);
  run->add_option("--threads", run_args.threads,
                  "Worker threads the sessions are spread over, each client to the least loaded (1: one "
                  "thread does everything; default: the number of cores)")
      ->check(CLI::Range(std::size_t{1}, dropsim::kMaxThreads))
      ->capture_default_str();

  ProfileArgs show_args;
  auto* profiles = app.add_subcommand("profiles", "List built-in profiles, or print one resolved as YAML");
  profiles->add_option("profile", show_args.profile, "Profile name or YAML file to print");
  add_profile_options(*profiles, show_args);

  std::vector<std::string> check_args;
  bool check_strict = false;
  auto* check = app.add_subcommand(
      "check", "Validate profiles and configs (as run --config reads them); exit 1 with FILE:LINE:COL: message for "
               "every error");
  check->add_option("files", check_args, "Profile or config files (or built-in profile names)")->required();
  add_strict_option(*check, check_strict);

  dropsim::DemoOptions demo_options;
  auto* demo = app.add_subcommand("demo", "Show a 60-second ALB drop and its fix, on loopback, time-compressed");
  demo->add_option("--time-scale", demo_options.time_scale, "Real seconds per profile second")
      ->check(CLI::Range(0.001, 1.0))
      ->capture_default_str();

  try {
    // Started as toxiproxy-server (a symlink, a container's /toxiproxy): `run` is implied,
    // and Toxiproxy's Go-style flags are accepted everywhere.
    std::vector<std::string> args(argv + 1, argv + argc);
    if (argc > 0 && dropsim::is_toxiproxy_name(argv[0])) args.insert(args.begin(), "run");
    args = dropsim::translate_toxiproxy_flags(args);
    std::reverse(args.begin(), args.end());  // CLI11 takes them last first
    app.parse(args);
  } catch (const std::invalid_argument& e) {
    std::cerr << "dropsim: " << e.what() << "\n";
    return kExitConfig;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitConfig;
  }

  const auto format = dropsim::parse_log_format(log_format).value_or(dropsim::LogFormat::text);
  dropsim::EventLog log(format, spdlog::level::from_str(log_level));
  try {
    if (*run) {
      run_args.api_given = api_opt->count() > 0;
      run_args.seed_given = seed_opt->count() > 0;
      run_args.host_or_port_given = host_opt->count() > 0 || port_opt->count() > 0;
      return run_proxies(run_args, log);
    }
    if (*profiles) {
      if (show_args.profile.empty()) return list_profiles();
      const dropsim::Profile profile = load(show_args);
      print_warnings(profile.warnings);
      std::cout << dropsim::to_yaml(profile);
      return 0;
    }
    if (*check) return check_files(check_args, check_strict);
    if (*demo) return dropsim::run_demo(demo_options, std::cout, log);
  } catch (const dropsim::ProfileError& e) {
    return config_error(log, e);
  } catch (const std::invalid_argument& e) {
    return config_error(log, e);
  } catch (const std::system_error& e) {
    return config_error(log, e);
  }
  return 0;
}
