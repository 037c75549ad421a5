#pragma once
// A listener and its sessions: what `dropsim run` starts once per proxy, and what tests
// and embedders start in-process.
//
//   Proxy (its io_context) ──accept──► shard of the least loaded worker ──► Session C1, C3, ...
//                                  └─► shard of another worker         ──► Session C2, ...
//
// A shard is the part of the proxy on one worker thread (WorkerPool): its sessions'
// registry by id (weak references), their SessionContext (profile, toxics, buffers,
// counters). Only that thread touches it; the proxy reads and changes it with run_on().
// Without workers there is one shard, on the proxy's own io_context, and no call hops.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "clock.h"
#include "episode.h"
#include "event_log.h"
#include "metrics.h"
#include "profile.h"
#include "resolver.h"
#include "session_budget.h"
#include "session_control.h"
#include "toxic.h"

namespace dropsim {

class Session;
struct SessionContext;

/// How to start one proxy.
struct ProxyOptions {
  std::string name = "proxy";        ///< for logs (and the API later)
  /// "HOST:PORT" with an IP address, or ":PORT" (every interface); port 0 picks a free
  /// one. A host name is looked up before (Resolver::listen_address), not here.
  std::string listen = "127.0.0.1:0";
  std::string upstream;              ///< "HOST:PORT" of the server; a name is looked up per connection
  Profile profile;                   ///< resolved profile
  std::vector<Toxic> toxics;         ///< faults every session gets
  std::uint64_t seed = 0;            ///< toxicity rolls and jitter
  /// Where sessions run (`run --threads`): each client goes to the least loaded of these
  /// io_contexts, which must keep running (a WorkerPool's) while the proxy lives. Empty:
  /// on the proxy's own io_context.
  std::vector<asio::io_context*> workers;
  /// Counters that outlive a disable/enable (Runtime keeps them): 1 + workers.size() parts,
  /// each moved on one thread only (metrics_parts()); empty: made by the proxy.
  std::vector<std::shared_ptr<ProxyMetrics>> metrics;
  /// How upstream names are looked up; empty: Asio's resolver (tests pass a slow one).
  Resolver::Lookup lookup;
  /// The process-wide session cap, shared by every proxy; null: none.
  std::shared_ptr<SessionBudget> budget;
  /// After a close frame, how long a session waits for the peer's reply (--drain-timeout).
  Duration close_wait = std::chrono::seconds(2);
  /// Bulk opaque bytes (tcp profiles, no fault) move by splice(2) rather than through a
  /// buffer (`run --no-splice` copies them).
  bool splice = true;
  /// Closes every client that is not loopback at accept: a proxy on every interface made
  /// through a loopback-only API (ApiGuard's ListenRule::loopback_peers_only).
  bool loopback_peers_only = false;
};

/// Counters in parts, one per thread that moves them, for 1 + `workers.size()` threads:
/// part 0 on the proxy's own (accepts; and sessions when there are no workers), part 1 + i
/// on worker i.
std::vector<std::shared_ptr<ProxyMetrics>> metrics_parts(std::size_t workers);
/// The sum of `parts` (metrics_parts), each read on its own thread: part 0 here (call on
/// the proxy's thread), the others through run_on.
ProxyMetrics sum_metrics(const std::vector<std::shared_ptr<ProxyMetrics>>& parts,
                         const std::vector<asio::io_context*>& workers);

/// Accepts clients on one address and proxies each to the upstream under a profile.
/// Every method is called on the proxy's io_context thread.
class Proxy {
 public:
  /// `log` and `clock` must outlive the proxy and its sessions.
  Proxy(asio::io_context& io, ProxyOptions options, EventLog& log,
        const Clock& clock = SteadyClock::instance());
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  /// Binds and listens, and starts accepting. Throws std::system_error (address in use,
  /// ...) or std::invalid_argument (a malformed address, or a listen host name).
  void start();
  /// Stops accepting and closes every session with FIN.
  void stop();
  /// Stops accepting; open sessions go on (a drain's first step). New clients are refused
  /// by the kernel, as by a server that closed its listener.
  void stop_accepting();
  /// Logs one line per live session (what SIGUSR1 asks for).
  void report();
  /// The address actually bound (the real port when listening on port 0).
  asio::ip::tcp::endpoint local_endpoint() const;
  /// Sessions connecting or open: not those that ended and still hold sockets.
  std::size_t active_sessions() const;
  /// Sessions ended by a blackhole whose sockets are still held.
  std::size_t blackholed_sessions() const;
  /// Every session that still holds a socket, whatever its state (what a drain waits for).
  std::size_t live_sessions() const;
  /// Live sessions on each shard (one per worker, or one), in order: how the clients spread.
  std::vector<std::size_t> sessions_per_shard() const;
  /// Sessions accepted since start.
  std::uint64_t total_sessions() const { return total_; }
  /// The profile new sessions get.
  const Profile& profile() const;
  /// The proxy's name.
  const std::string& name() const { return options_.name; }
  /// Gives new sessions `profile`; open ones keep the one they started with.
  void set_profile(const Profile& profile);
  /// Every session, open ones included, now has `toxics` (each rolled for by toxicity).
  void set_toxics(std::vector<Toxic> toxics);
  /// The proxy's counters, summed over its shards.
  ProxyMetrics metrics() const;
  /// Live sessions (live_sessions), sorted by id.
  std::vector<SessionInfo> sessions() const;
  /// One open session; nullopt when `id` is not one of this proxy's.
  std::optional<SessionInfo> session(std::uint64_t id) const;
  /// Applies `request` to session `id`; nullopt when it is not one of this proxy's.
  std::optional<ActResult> act(std::uint64_t id, const ActionRequest& request);
  /// Applies `request` to every live session; returns what it did to them.
  ActionTally act_all(const ActionRequest& request);

 private:
  struct Shard;

  asio::awaitable<void> accept_loop();
  /// Waits until the session cap has room (a session ended) or the proxy stops.
  asio::awaitable<void> wait_for_room();
  /// True when `client` may be served; else closes it, counts it and logs the episode.
  bool admit(asio::ip::tcp::socket& client);
  /// The shard the next client goes to: the one with the fewest live sessions.
  const std::shared_ptr<Shard>& least_loaded() const;
  /// Runs `f(shard)` on each shard's thread in turn, waiting for each.
  template <class F>
  void each_shard(F&& f) const;
  /// Live sessions by SessionState (indexed by its value), counted in one pass over each
  /// shard: a worker goes on while the proxy asks, so separate passes could disagree.
  std::array<std::size_t, 4> by_state() const;

  asio::io_context& io_;
  ProxyOptions options_;
  EventLog& log_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer room_;  ///< the accept loop's wait for room at the session cap
  std::optional<std::uint64_t> waiting_for_room_;  ///< the budget's waker while room_ waits
  std::vector<std::shared_ptr<Shard>> shards_;
  std::uint64_t total_ = 0;
  bool stopped_ = false;
  Episode refusing_;  ///< non-loopback clients closed (loopback_peers_only)
  /// False once the proxy is destroyed; the accept loop holds a copy.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace dropsim
