#pragma once
// Every proxy of one process, by name, with its toxics: what `dropsim run` starts from
// the command line or a config file, and what the control API reads and changes. The
// API, the Runtime and the listeners share one io_context thread (the control thread),
// so nothing here takes a lock. Sessions run there too, or on worker threads (`run
// --threads`, RuntimeOptions::workers): a call about sessions then waits for each
// worker to answer (run_on), microseconds on a loaded machine, never on the network.
//
//   ControlApi (HTTP) ──► Runtime ──► Proxy "alb" ──► Session C1, C2 ...
//                                 └─► Proxy "nginx" ──► ...

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "clock.h"
#include "event_log.h"
#include "metrics.h"
#include "profile_yaml.h"
#include "proxy_spec.h"
#include "resolver.h"
#include "session_budget.h"
#include "session_control.h"
#include "toxic.h"

namespace dropsim {

class Proxy;

/// An error the API answers with `status` and {"error": what(), "status": status}. The
/// messages of Toxiproxy's own errors are Toxiproxy's ("proxy not found").
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

/// A proxy as the API shows it.
struct ProxyInfo {
  std::string name;
  std::string listen;  ///< the bound address when enabled ("127.0.0.1:40123"), else as given
  std::string upstream;
  bool enabled = true;
  std::string profile;                    ///< its name
  std::vector<SettingOverride> settings;  ///< as given
  double time_scale = 1.0;
  std::vector<Toxic> toxics;  ///< upstream ones first, each in the order added (Toxiproxy's order)
  std::size_t active_sessions = 0;
  std::uint64_t total_sessions = 0;
};

/// PATCH /proxies/{name}: the fields given.
struct ProxyUpdate {
  std::optional<std::string> listen;
  /// With `listen`: the new address serves loopback clients only (ProxySpec's field).
  bool loopback_peers_only = false;
  std::optional<std::string> upstream;
  std::optional<bool> enabled;
};

/// PATCH /proxies/{name}/toxics/{toxic}: the fields given.
struct ToxicUpdate {
  std::optional<double> toxicity;
  std::vector<std::pair<std::string, std::int64_t>> attributes;  ///< by name; unknown names are ignored
  std::vector<std::string> warnings;  ///< one per unknown attribute name (the API logs and answers them)
};

/// Process-wide options.
struct RuntimeOptions {
  std::uint64_t seed = 0;                  ///< toxicity rolls and jitter (`--seed`)
  std::uint16_t drain_code = 1001;         ///< the close code of `drain` and SIGTERM
  std::string drain_reason = "going away";
  /// How host names are looked up (listen addresses and every proxy's upstream); empty:
  /// Asio's resolver. Tests pass a slow or failing one.
  Resolver::Lookup lookup;
  /// /metrics also serves Toxiproxy's proxy families (toxiproxy-server -proxy-metrics).
  bool toxiproxy_metrics = false;
  /// /metrics also serves the process_* families (toxiproxy-server -runtime-metrics).
  bool process_metrics = false;
  /// Sessions open at once over every proxy (--max-sessions); at the cap the proxies stop
  /// accepting until one ends. 0: no cap.
  std::size_t max_sessions = 0;
  /// The soft RLIMIT_NOFILE the cap was derived from, for /metrics (0: not known).
  std::uint64_t descriptor_limit = 0;
  /// The time scale of a proxy whose creation or profile change gives none (`run
  /// --time-scale`): a training room started at 0.05 gets 0.05 from the API too.
  double time_scale = 1.0;
  /// A drain (SIGTERM) waits this long for every peer to answer its close frame and
  /// close; a session's close frame (drain, ws_close) waits as long for its peer's reply.
  Duration drain_timeout = std::chrono::seconds(2);
  /// Bulk raw TCP bytes with no fault on them are spliced (zero-copy) rather than copied
  /// (`run --no-splice` copies them).
  bool splice = true;
  /// Where sessions run (`run --threads`): a running WorkerPool's io_contexts, which must
  /// outlive the Runtime. Empty: on the Runtime's own io_context.
  std::vector<asio::io_context*> workers;
};

/// How a drain (Runtime::drain) ended.
struct DrainOutcome {
  std::size_t sessions = 0;  ///< open when it began (each sent its close)
  std::size_t released = 0;  ///< blackholed sessions whose held sockets it let go
  /// Closed at the drain timeout: still open then, or a peer that never answered the
  /// close frame (a session's own wait for the reply is as long as the drain's).
  std::size_t timed_out = 0;
  Duration took{0};          ///< from the start to the last session closing (or the timeout)
};

/// The registry of proxies. Lives on the control thread (its io_context's); every method is
/// called there.
class Runtime {
 public:
  /// `log` and `clock` must outlive the runtime.
  Runtime(asio::io_context& io, EventLog& log, RuntimeOptions options = {},
          const Clock& clock = SteadyClock::instance());
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Toxiproxy's API. Errors are ApiError with Toxiproxy's status and message.

  /// Every proxy, sorted by name.
  std::vector<ProxyInfo> proxies() const;
  /// 404 "proxy not found".
  ProxyInfo proxy(const std::string& name) const;
  /// 409 "proxy already exists"; a profile or setting error: 400; listen failure: 500
  /// "listen tcp 127.0.0.1:8080: bind: address already in use" (Toxiproxy's text).
  ProxyInfo create_proxy(const ProxySpec& spec);
  /// Creates or replaces each (a proxy with the same listen and upstream is kept);
  /// validates every spec before changing anything.
  std::vector<ProxyInfo> populate(const std::vector<ProxySpec>& specs);
  /// Moves, re-points, disables (closes its sessions) or enables a proxy.
  ProxyInfo update_proxy(const std::string& name, const ProxyUpdate& update);
  /// Stops it and closes its sessions. 404 when unknown.
  void delete_proxy(const std::string& name);
  /// Its toxics. 404 "proxy not found".
  std::vector<Toxic> toxics(const std::string& proxy) const;
  /// 404 "toxic not found".
  Toxic toxic(const std::string& proxy, const std::string& name) const;
  /// Adds a toxic; it applies to the sessions open now as well as to new ones.
  /// 409 "toxic already exists"; 400 for an invalid one.
  Toxic add_toxic(const std::string& proxy, Toxic toxic);
  /// 404 "toxic not found".
  Toxic update_toxic(const std::string& proxy, const std::string& name, const ToxicUpdate& update);
  /// Removes it from the proxy and from every session (held bytes flow again).
  void remove_toxic(const std::string& proxy, const std::string& name);
  /// Enables every proxy and removes every toxic.
  void reset();

  // dropsim's own.

  /// Gives the proxy another profile, settings or time scale (nullopt: the options'); sessions
  /// open now keep theirs, new ones get it. 400 for a profile error (FILE:LINE:COL in the message).
  ProxyInfo set_profile(const std::string& proxy, const std::string& profile,
                        const std::vector<SettingOverride>& settings, std::optional<double> time_scale);
  /// Live sessions of one proxy, or of all when `proxy` is empty; sorted by id.
  std::vector<SessionInfo> sessions(const std::string& proxy = "") const;
  /// One live session; 404 "session not found".
  SessionInfo session(std::uint64_t id) const;
  /// Applies `action` to session `id` (a drain without a reason gets RuntimeOptions'); says
  /// what it did. 404 when it is not live.
  ActionTally act(std::uint64_t id, const ActionRequest& action);
  /// Applies `action` to every session of `proxy` (every proxy when empty); logs and
  /// returns what it did: sessions acted on, blackholed ones released, ended ones left.
  ActionTally act_all(const std::string& proxy, const ActionRequest& action);
  /// Both directions of every session of `proxy` stall for `duration` (0: until heal):
  /// a `partition` toxic named "partition".
  Toxic partition(const std::string& proxy, Duration duration);
  /// Removes the partition; false when there was none.
  bool heal(const std::string& proxy);
  /// Prometheus text of every proxy.
  std::string metrics() const;
  /// The session cap and what holds it now (GET /dropsim/capacity).
  CapacityStats capacity() const;

  // Process life.

  /// Stops every proxy (FIN to every session).
  void stop_all();
  /// A restart's drain (SIGTERM): stops every listener, sends every session its close
  /// (drain_all), then waits until every session has closed or drain_timeout passed, closes
  /// what remains and calls `done` with the outcome. Not the API's drain, which leaves the
  /// listeners open.
  void drain(std::function<void(const DrainOutcome&)> done);
  /// Sessions connecting or open now over every proxy (not those ended and still holding sockets).
  std::size_t open_sessions() const;
  /// Sessions holding sockets now over every proxy, whatever their state.
  std::size_t live_sessions() const;
  /// The proxy named `name`, nullptr when none (tests and embedders).
  Proxy* find(const std::string& name) const;
  /// Called after every change made through this class, with a one-line description
  /// (the API logs and streams it).
  EventLog& log() { return log_; }
  const RuntimeOptions& options() const { return options_; }
  /// Looks names up without blocking: callers turn a listen host name into an address
  /// with it before create_proxy, populate or update_proxy (which take IP addresses).
  const Resolver& resolver() const { return resolver_; }

 private:
  struct Entry;
  /// The entry named `name`; 404 "proxy not found".
  Entry& entry(const std::string& name) const;
  /// Starts `e`'s listener; the spec then remembers the bound address, so a later enable
  /// listens on the same port (as Toxiproxy's does).
  void start_listening(Entry& e);
  /// Applies a declared fault now or after its delay, and removes it after `lasts`.
  void schedule(Entry& e, const FaultSpec& f);
  /// `spec` with its time scale given (the options' when it had none) and its profile
  /// loaded; 400 for a profile error.
  Profile load_profile_of(ProxySpec& spec) const;
  /// `action` with the drain's reason filled in from the options when it has none.
  ActionRequest with_defaults(ActionRequest action) const;
  /// Runs `then` after `after` unless cancelled; one timer per `key` ("remove:latency").
  void later(Entry& e, const std::string& key, Duration after, std::function<void()> then);

  asio::io_context& io_;
  EventLog& log_;
  RuntimeOptions options_;
  const Clock& clock_;
  Resolver resolver_;
  std::shared_ptr<SessionBudget> budget_;  ///< null without a cap
  std::map<std::string, std::unique_ptr<Entry>> proxies_;
};

}  // namespace dropsim
