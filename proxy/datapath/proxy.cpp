#include "proxy.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/post.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "address.h"
#include "await.h"
#include "duration.h"
#include "session.h"
#include "worker_pool.h"

namespace dropsim {
namespace {

/// Connection ids are unique in the process, so chained proxies never share a "C7".
std::atomic<std::uint64_t> next_connection_id{1};

/// The count of `s` in Proxy::by_state()'s answer.
std::size_t of(const std::array<std::size_t, 4>& n, SessionState s) { return n[static_cast<std::size_t>(s)]; }

}  // namespace

/// The part of a proxy on one thread: its sessions and what they share. Only `io`'s
/// thread touches it, except `load`, which the accept loop reads to pick a shard.
struct Proxy::Shard {
  asio::io_context& io;
  std::shared_ptr<SessionContext> context;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions;
  std::atomic<std::size_t> load{0};  ///< clients handed to it and not yet released
  bool stopped = false;              ///< the proxy stopped: a client handed over late is closed

  Shard(asio::io_context& on, std::shared_ptr<SessionContext> c) : io(on), context(std::move(c)) {}

  /// The live sessions, strong references taken first (acting on one erases it), by id.
  std::vector<std::shared_ptr<Session>> live() const {
    std::vector<std::shared_ptr<Session>> out;
    for (const auto& [id, weak] : sessions) {
      if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->id() < b->id(); });
    return out;
  }

  std::shared_ptr<Session> find(std::uint64_t id) const {
    const auto it = sessions.find(id);
    return it == sessions.end() ? nullptr : it->second.lock();
  }

  /// Starts the session of a client the accept loop handed over (on this shard's thread).
  void open(std::uint64_t id, asio::ip::tcp::socket client) {
    if (stopped) {
      std::error_code ignored;
      client.close(ignored);
      --load;
      if (context->budget) context->budget->give_back();
      return;
    }
    auto session = std::make_shared<Session>(id, std::move(client), context);
    sessions.emplace(id, session);
    session->start();
  }
};

std::vector<std::shared_ptr<ProxyMetrics>> metrics_parts(std::size_t workers) {
  std::vector<std::shared_ptr<ProxyMetrics>> parts;
  for (std::size_t i = 0; i < 1 + workers; ++i) parts.push_back(std::make_shared<ProxyMetrics>());
  return parts;
}

ProxyMetrics sum_metrics(const std::vector<std::shared_ptr<ProxyMetrics>>& parts,
                         const std::vector<asio::io_context*>& workers) {
  ProxyMetrics total;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i == 0 || i > workers.size()) {
      total += *parts[i];
    } else {
      // Copied on the worker that moves it: a consistent part, and no torn read.
      total += run_on(*workers[i - 1], [&] { return *parts[i]; });
    }
  }
  return total;
}

Proxy::Proxy(asio::io_context& io, ProxyOptions options, EventLog& log, const Clock& clock)
    : io_(io), options_(std::move(options)), log_(log), acceptor_(io), room_(io) {
  const std::size_t threads = options_.workers.size();
  if (options_.metrics.empty()) options_.metrics = metrics_parts(threads);
  if (options_.metrics.size() != 1 + threads) {
    throw std::invalid_argument("ProxyOptions::metrics: 1 + workers.size() parts (metrics_parts), or none");
  }
  // Every shard shares one immutable profile; the rest is per thread (buffers, kernel
  // pipes, the resolver's completions, counters).
  const auto profile = std::make_shared<const Profile>(options_.profile);
  for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
    asio::io_context& on = threads == 0 ? io_ : *options_.workers[i];
    auto c = std::make_shared<SessionContext>();
    c->proxy_name = options_.name;
    c->profile = profile;
    c->upstream_label = options_.upstream;
    c->clock = &clock;
    c->log = &log_;
    c->seed = options_.seed;
    c->toxics = options_.toxics;
    c->metrics = options_.metrics[threads == 0 ? 0 : i + 1];
    c->budget = options_.budget;
    c->close_wait = options_.close_wait;
    c->splice.set_budget(options_.budget);
    // The proxy's pipes stay within kMaxPipes whatever the threads, each shard its share.
    c->splice.limit(std::max<std::size_t>(2, SplicePool::kMaxPipes / std::max<std::size_t>(threads, 1)));
    if (!options_.splice) c->splice.disable();
    c->resolver = std::make_shared<const Resolver>(on.get_executor(), options_.lookup);
    shards_.push_back(std::make_shared<Shard>(on, std::move(c)));
  }
}

Proxy::~Proxy() {
  *alive_ = false;
  if (options_.budget && waiting_for_room_) options_.budget->forget(*waiting_for_room_);
  // Sessions still unwinding keep their context; they must not call back into a dead
  // proxy, and a client handed over but not yet started is closed.
  each_shard([](Shard& s) {
    s.context->on_closed = nullptr;
    s.stopped = true;
  });
}

template <class F>
void Proxy::each_shard(F&& f) const {
  for (const auto& shard : shards_) {
    // The proxy's own shard is this thread's by contract, even when its io_context is not
    // running (tests, a proxy destroyed after the loop ended): no hop.
    if (&shard->io == &io_) {
      f(*shard);
    } else {
      run_on(shard->io, [&] { f(*shard); });
    }
  }
}

const Profile& Proxy::profile() const { return options_.profile; }

void Proxy::start() {
  // The upstream is looked up per connection (a DNS change reaches new ones), not here.
  const HostPort upstream = parse_host_port(options_.upstream);
  std::vector<asio::ip::tcp::endpoint> endpoints;
  if (const auto address = upstream.literal()) endpoints = {asio::ip::tcp::endpoint(*address, upstream.port)};
  open_listener(acceptor_, parse_host_port(options_.listen));

  each_shard([&](Shard& s) {
    s.context->upstream_address = upstream;
    s.context->upstream = endpoints;
    s.context->on_closed = [shard = &s](std::uint64_t id) {
      shard->sessions.erase(id);
      --shard->load;
    };
  });
  const auto ep = local_endpoint();
  log_.event(spdlog::level::info, 0, "listen",
             fmt::format("{}: listening on {}{}, upstream {}, profile {} ({}){}", options_.name, address_text(ep),
                         options_.loopback_peers_only ? " (loopback clients only)" : "", options_.upstream,
                         profile().name, profile().source,
                         profile().time_scale != 1.0 ? fmt::format(", time scale {}", profile().time_scale) : ""),
             {{"proxy", options_.name}, {"port", static_cast<std::int64_t>(ep.port())}});
  asio::co_spawn(io_, accept_loop(), asio::detached);
}

const std::shared_ptr<Proxy::Shard>& Proxy::least_loaded() const {
  return *std::min_element(shards_.begin(), shards_.end(),
                           [](const auto& a, const auto& b) { return a->load.load() < b->load.load(); });
}

asio::awaitable<void> Proxy::wait_for_room() {
  // As in accept_loop: the proxy may be gone when the wait ends.
  const std::shared_ptr<const bool> alive = alive_;
  const std::shared_ptr<SessionBudget> budget = options_.budget;
  room_.expires_at(asio::steady_timer::time_point::max());
  // The waker runs on the thread of the session that ended: it posts to this one.
  waiting_for_room_ = budget->wait([io = &io_, alive = alive_, this] {
    asio::post(*io, [alive, this] {
      if (*alive) room_.cancel();
    });
  });
  // Room may have come between the look and the waker: look again before sleeping.
  if (!budget->has_room()) co_await room_.async_wait(kAwait);
  if (!*alive) co_return;
  budget->forget(*waiting_for_room_);
  waiting_for_room_.reset();
}

asio::awaitable<void> Proxy::accept_loop() {
  // The Runtime may delete this proxy while an accept is pending: the loop then resumes
  // (aborted) after `this` is gone, so it checks its own copy of the flag first.
  const std::shared_ptr<const bool> alive = alive_;
  const std::shared_ptr<SessionBudget> budget = options_.budget;
  ProxyMetrics& counters = *options_.metrics[0];
  asio::steady_timer backoff(io_);
  // One episode of failing accepts (out of descriptors): a warning when it starts, one
  // line with the count when it ends, not a line every 100 ms.
  Episode failing;
  while (*alive && !stopped_ && acceptor_.is_open()) {
    if (budget && !budget->has_room()) {
      // At the cap: clients wait in the listen backlog until a session ends.
      co_await wait_for_room();
      if (!*alive) co_return;
      continue;
    }
    // The client's socket belongs to its shard's thread from the start.
    const std::shared_ptr<Shard> shard = least_loaded();
    auto [ec, accepted] = co_await acceptor_.async_accept(shard->io, kAwait);
    asio::ip::tcp::socket client(std::move(accepted));
    if (!*alive || stopped_ || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors or memory: back off rather than spin, and keep serving.
      ++counters.accept_errors;
      if (failing.add(std::chrono::steady_clock::now())) {
        log_.event(spdlog::level::warn, 0, "accept_error",
                   fmt::format("{}: accept failed ({}); retrying every 100ms, logged again when it recovers",
                               options_.name, ec.message()));
      }
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(kAwait);
      continue;
    }
    if (const auto ended = failing.end(std::chrono::steady_clock::now())) {
      log_.event(spdlog::level::info, 0, "accept_recovered",
                 fmt::format("{}: accepting again after {} failed accept(s) in {}", options_.name, ended->count,
                             format_seconds(ended->lasted)));
    }
    if (!admit(client)) continue;
    const std::uint64_t id = next_connection_id.fetch_add(1);
    ++total_;
    ++counters.sessions_total;
    if (budget) budget->take();
    ++shard->load;
    // Without workers the shard is this thread and the session starts now, before the next
    // accept; else it starts on its worker.
    asio::dispatch(shard->io, [shard, id, client = std::move(client)]() mutable { shard->open(id, std::move(client)); });
  }
}

bool Proxy::admit(asio::ip::tcp::socket& client) {
  if (!options_.loopback_peers_only) return true;
  std::error_code ec;
  const auto peer = client.remote_endpoint(ec);
  if (ec) {
    client.close(ec);  // gone before it was looked at: nobody to refuse
    return false;
  }
  const TimePoint now = std::chrono::steady_clock::now();
  if (is_loopback_peer(peer.address())) {
    if (const auto ended = refusing_.end(now)) {
      log_.event(spdlog::level::info, 0, "remote_refused",
                 fmt::format("{}: refused {} non-loopback client(s) in {}", options_.name, ended->count,
                             format_seconds(ended->lasted)),
                 {{"proxy", options_.name}, {"count", static_cast<std::int64_t>(ended->count)}});
    }
    return true;
  }
  client.close(ec);
  ++options_.metrics[0]->refused_remote_peers;
  if (refusing_.add(now)) {
    // Once per episode: a scan of the network must not flood the log.
    log_.event(spdlog::level::warn, 0, "remote_refused",
               fmt::format("{}: closed a client from {}: this proxy listens on every interface but serves loopback "
                           "clients only, since it was made through a loopback-only API (start dropsim with "
                           "--allow-remote-listen to serve others); more are counted in "
                           "dropsim_refused_remote_peers_total and summed up when a loopback client comes",
                           options_.name, address_text(peer)),
               {{"proxy", options_.name}});
  }
  return false;
}

void Proxy::stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_accepting();
  each_shard([](Shard& s) {
    s.stopped = true;
    for (auto& session : s.live()) session->close_now("proxy stopping");
  });
}

void Proxy::stop_accepting() {
  std::error_code ec;
  acceptor_.close(ec);
  room_.cancel();  // an accept loop waiting for room at the cap ends too
}

ProxyMetrics Proxy::metrics() const { return sum_metrics(options_.metrics, options_.workers); }

void Proxy::set_profile(const Profile& profile) {
  const auto shared = std::make_shared<const Profile>(profile);
  each_shard([&](Shard& s) { s.context->profile = shared; });
  options_.profile = profile;
}

void Proxy::set_toxics(std::vector<Toxic> toxics) {
  each_shard([&](Shard& s) {
    s.context->toxics = toxics;
    for (auto& session : s.live()) session->apply_toxics(toxics);
  });
}

std::vector<SessionInfo> Proxy::sessions() const {
  std::vector<SessionInfo> out;
  each_shard([&](Shard& s) {
    for (const auto& session : s.live()) out.push_back(session->info());
  });
  std::sort(out.begin(), out.end(), [](const SessionInfo& a, const SessionInfo& b) { return a.id < b.id; });
  return out;
}

std::optional<SessionInfo> Proxy::session(std::uint64_t id) const {
  std::optional<SessionInfo> found;
  each_shard([&](Shard& s) {
    if (auto session = s.find(id)) found = session->info();
  });
  return found;
}

std::optional<ActResult> Proxy::act(std::uint64_t id, const ActionRequest& request) {
  std::optional<ActResult> result;
  each_shard([&](Shard& s) {
    if (auto session = s.find(id)) result = session->act(request);
  });
  return result;
}

ActionTally Proxy::act_all(const ActionRequest& request) {
  ActionTally tally;
  each_shard([&](Shard& s) {
    for (auto& session : s.live()) tally.add(session->act(request));
  });
  return tally;
}

std::array<std::size_t, 4> Proxy::by_state() const {
  std::array<std::size_t, 4> n{};
  each_shard([&](Shard& s) {
    for (const auto& [id, weak] : s.sessions) {
      if (const auto session = weak.lock()) ++n[static_cast<std::size_t>(session->state())];
    }
  });
  return n;
}

std::size_t Proxy::active_sessions() const {
  const auto n = by_state();
  return of(n, SessionState::connecting) + of(n, SessionState::open);
}

std::size_t Proxy::blackholed_sessions() const { return of(by_state(), SessionState::blackholed); }

std::size_t Proxy::live_sessions() const {
  std::size_t n = 0;
  for (const std::size_t k : sessions_per_shard()) n += k;
  return n;
}

std::vector<std::size_t> Proxy::sessions_per_shard() const {
  std::vector<std::size_t> out;
  each_shard([&](Shard& s) { out.push_back(s.sessions.size()); });
  return out;
}

void Proxy::report() {
  const auto n = by_state();
  log_.event(spdlog::level::info, 0, "report",
             fmt::format("{}: {} active session(s), {} ended and still holding sockets (closing or blackholed), "
                         "{} since start",
                         options_.name, of(n, SessionState::connecting) + of(n, SessionState::open),
                         of(n, SessionState::closing) + of(n, SessionState::blackholed), total_));
  each_shard([](Shard& s) {
    for (auto& session : s.live()) session->report();
  });
}

asio::ip::tcp::endpoint Proxy::local_endpoint() const {
  std::error_code ec;
  return acceptor_.local_endpoint(ec);
}

}  // namespace dropsim
