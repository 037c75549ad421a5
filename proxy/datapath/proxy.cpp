#include "proxy.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "address.h"
#include "await.h"
#include "duration.h"
#include "session.h"

namespace dropsim {
namespace {

/// Connection ids are unique in the process, so chained proxies never share a "C7".
std::atomic<std::uint64_t> next_connection_id{1};

}  // namespace

Proxy::Proxy(asio::io_context& io, ProxyOptions options, EventLog& log, const Clock& clock)
    : io_(io),
      options_(std::move(options)),
      log_(log),
      acceptor_(io),
      room_(io),
      context_(std::make_shared<SessionContext>()) {
  context_->proxy_name = options_.name;
  context_->profile = std::make_shared<const Profile>(options_.profile);
  context_->upstream_label = options_.upstream;
  context_->clock = &clock;
  context_->log = &log_;
  context_->seed = options_.seed;
  context_->toxics = options_.toxics;
  if (options_.metrics) context_->metrics = options_.metrics;
  context_->budget = options_.budget;
  context_->close_wait = options_.close_wait;
  context_->splice.set_budget(options_.budget);
  if (!options_.splice) context_->splice.disable();
  context_->resolver = std::make_shared<const Resolver>(io_.get_executor(), options_.lookup);
}

Proxy::~Proxy() {
  *alive_ = false;
  if (context_->budget) context_->budget->forget(room_);
  // Sessions still unwinding keep the context; they must not call back into a dead proxy.
  context_->on_closed = nullptr;
}

const Profile& Proxy::profile() const { return *context_->profile; }

void Proxy::start() {
  // The upstream is looked up per connection (a DNS change reaches new ones), not here.
  context_->upstream_address = parse_host_port(options_.upstream);
  if (const auto address = context_->upstream_address.literal()) {
    context_->upstream = {asio::ip::tcp::endpoint(*address, context_->upstream_address.port)};
  }
  open_listener(acceptor_, parse_host_port(options_.listen));

  context_->on_closed = [this](std::uint64_t id) { sessions_.erase(id); };
  const auto ep = local_endpoint();
  log_.event(spdlog::level::info, 0, "listen",
             fmt::format("{}: listening on {}{}, upstream {}, profile {} ({}){}", options_.name, address_text(ep),
                         options_.loopback_peers_only ? " (loopback clients only)" : "", options_.upstream,
                         profile().name, profile().source,
                         profile().time_scale != 1.0 ? fmt::format(", time scale {}", profile().time_scale) : ""),
             {{"proxy", options_.name}, {"port", static_cast<std::int64_t>(ep.port())}});
  asio::co_spawn(io_, accept_loop(), asio::detached);
}

asio::awaitable<void> Proxy::accept_loop() {
  // The Runtime may delete this proxy while an accept is pending: the loop then resumes
  // (aborted) after `this` is gone, so it checks its own copy of the flag first.
  const std::shared_ptr<const bool> alive = alive_;
  const std::shared_ptr<SessionBudget> budget = context_->budget;
  asio::steady_timer backoff(io_);
  // One episode of failing accepts (out of descriptors): a warning when it starts, one
  // line with the count when it ends, not a line every 100 ms.
  Episode failing;
  while (*alive && !stopped_ && acceptor_.is_open()) {
    if (budget && !budget->has_room()) {
      // At the cap: clients wait in the listen backlog until a session ends.
      room_.expires_at(asio::steady_timer::time_point::max());
      budget->wait_with(room_);
      co_await room_.async_wait(kAwait);
      if (!*alive) co_return;
      budget->forget(room_);
      continue;
    }
    auto [ec, client] = co_await acceptor_.async_accept(kAwait);
    if (!*alive || stopped_ || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors or memory: back off rather than spin, and keep serving.
      ++context_->metrics->accept_errors;
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
    auto session = std::make_shared<Session>(id, std::move(client), context_);
    sessions_.emplace(id, session);
    ++total_;
    ++context_->metrics->sessions_total;
    if (budget) budget->take();
    session->start();
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
  ++context_->metrics->refused_remote_peers;
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
  for (auto& s : open_sessions()) s->close_now("proxy stopping");
}

void Proxy::stop_accepting() {
  std::error_code ec;
  acceptor_.close(ec);
  room_.cancel();  // an accept loop waiting for room at the cap ends too
}

std::vector<std::shared_ptr<Session>> Proxy::open_sessions() const {
  std::vector<std::shared_ptr<Session>> open;
  for (const auto& [id, weak] : sessions_) {
    if (auto s = weak.lock()) open.push_back(std::move(s));
  }
  std::sort(open.begin(), open.end(), [](const auto& a, const auto& b) { return a->id() < b->id(); });
  return open;
}

const ProxyMetrics& Proxy::metrics() const { return *context_->metrics; }

void Proxy::set_profile(const Profile& profile) {
  context_->profile = std::make_shared<const Profile>(profile);
  options_.profile = profile;
}

void Proxy::set_toxics(std::vector<Toxic> toxics) {
  context_->toxics = std::move(toxics);
  for (auto& s : open_sessions()) s->apply_toxics(context_->toxics);
}

std::vector<SessionInfo> Proxy::sessions() const {
  std::vector<SessionInfo> out;
  for (const auto& s : open_sessions()) out.push_back(s->info());
  return out;
}

std::optional<SessionInfo> Proxy::session(std::uint64_t id) const {
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (auto s = it->second.lock()) return s->info();
  return std::nullopt;
}

std::optional<ActResult> Proxy::act(std::uint64_t id, const ActionRequest& request) {
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  auto s = it->second.lock();
  if (!s) return std::nullopt;
  return s->act(request);
}

ActionTally Proxy::act_all(const ActionRequest& request) {
  ActionTally tally;
  for (auto& s : open_sessions()) tally.add(s->act(request));
  return tally;
}

std::size_t Proxy::count(SessionState state) const {
  std::size_t n = 0;
  for (const auto& [id, weak] : sessions_) {
    if (const auto s = weak.lock(); s && s->state() == state) ++n;
  }
  return n;
}

void Proxy::report() {
  log_.event(spdlog::level::info, 0, "report",
             fmt::format("{}: {} active session(s), {} ended and still holding sockets (closing or blackholed), "
                         "{} since start",
                         options_.name, active_sessions(), live_sessions() - active_sessions(), total_));
  for (auto& [id, weak] : sessions_) {
    if (auto s = weak.lock()) s->report();
  }
}

asio::ip::tcp::endpoint Proxy::local_endpoint() const {
  std::error_code ec;
  return acceptor_.local_endpoint(ec);
}

}  // namespace dropsim
