#include "runtime.h"

#include <algorithm>
#include <cctype>
#include <system_error>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "address.h"
#include "builtin_profiles.h"
#include "proxy.h"

namespace dropsim {
namespace {

/// Toxiproxy's (Go's) wording for a listen failure: "listen tcp 127.0.0.1:8080: bind:
/// address already in use". Clients and people grep for it.
std::string listen_error(const std::string& listen, const std::system_error& e) {
  std::string what = e.code().message();
  if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  return fmt::format("listen tcp {}: bind: {}", listen, what);
}

}  // namespace

/// One proxy by name: what it was asked to be, and the listener when it is enabled.
struct Runtime::Entry {
  ProxySpec spec;   ///< listen is the bound address once it has listened
  Profile profile;  ///< resolved from spec.profile, settings and time scale
  /// Its counters in parts (metrics_parts), made when it first listens; kept while disabled.
  std::vector<std::shared_ptr<ProxyMetrics>> metrics;
  std::vector<Toxic> toxics;      ///< in the order added
  std::unique_ptr<Proxy> proxy;   ///< null while disabled
  /// Scheduled changes (a fault's `after` and `lasts`, a partition's end), by key.
  std::map<std::string, std::unique_ptr<asio::steady_timer>> timers;

  Toxic* find_toxic(const std::string& name) {
    auto it = std::find_if(toxics.begin(), toxics.end(), [&](const Toxic& t) { return t.name == name; });
    return it == toxics.end() ? nullptr : &*it;
  }
  /// Toxiproxy lists upstream toxics first, each stream in the order added.
  std::vector<Toxic> listed_toxics() const {
    std::vector<Toxic> out = toxics;
    std::stable_partition(out.begin(), out.end(), [](const Toxic& t) { return t.stream == Direction::upstream; });
    return out;
  }
  void push_toxics() {
    if (proxy) proxy->set_toxics(toxics);
  }
  void cancel_timers() {
    for (auto& [key, timer] : timers) timer->cancel();
    timers.clear();
  }
};

Runtime::Runtime(asio::io_context& io, EventLog& log, RuntimeOptions options, const Clock& clock)
    : io_(io),
      log_(log),
      options_(std::move(options)),
      clock_(clock),
      resolver_(io.get_executor(), options_.lookup),
      budget_(options_.max_sessions > 0 ? std::make_shared<SessionBudget>(options_.max_sessions) : nullptr) {}

Runtime::~Runtime() { stop_all(); }

Runtime::Entry& Runtime::entry(const std::string& name) const {
  const auto it = proxies_.find(name);
  if (it == proxies_.end()) throw ApiError(404, "proxy not found");
  return *it->second;
}

Profile Runtime::load_profile_of(ProxySpec& spec) const {
  if (!spec.time_scale) spec.time_scale = options_.time_scale;
  try {
    // The API's field is "profile": a flag name would point an API user at the wrong place.
    const ProfileText text = find_profile_text(spec.profile, "profile");
    return load_profile(text.text, text.file, spec.settings, *spec.time_scale);
  } catch (const ProfileError& e) {
    throw ApiError(400, e.what());
  }
}

namespace {

ProxyInfo info_of(const ProxySpec& spec, const Proxy* proxy, std::vector<Toxic> toxics) {
  ProxyInfo info;
  info.name = spec.name;
  info.listen = spec.listen;
  info.upstream = spec.upstream;
  info.enabled = proxy != nullptr;
  info.profile = spec.profile;
  info.settings = spec.settings;
  info.time_scale = spec.time_scale.value_or(1.0);  // given by load_profile_of
  info.toxics = std::move(toxics);
  if (proxy) {
    info.active_sessions = proxy->active_sessions();
    info.total_sessions = proxy->total_sessions();
  }
  return info;
}

}  // namespace

std::vector<ProxyInfo> Runtime::proxies() const {
  std::vector<ProxyInfo> out;
  for (const auto& [name, e] : proxies_) out.push_back(info_of(e->spec, e->proxy.get(), e->listed_toxics()));
  return out;
}

ProxyInfo Runtime::proxy(const std::string& name) const {
  const Entry& e = entry(name);
  return info_of(e.spec, e.proxy.get(), e.listed_toxics());
}

ProxyInfo Runtime::create_proxy(const ProxySpec& spec) {
  if (spec.name.empty()) throw ApiError(400, "missing required field: name");
  if (spec.upstream.empty()) throw ApiError(400, "missing required field: upstream");
  if (proxies_.count(spec.name)) throw ApiError(409, "proxy already exists");
  auto e = std::make_unique<Entry>();
  e->spec = spec;
  if (e->spec.listen.empty()) e->spec.listen = "127.0.0.1:0";
  e->profile = load_profile_of(e->spec);
  for (const FaultSpec& f : spec.faults) {
    if (const std::string why = validate(f.toxic); !why.empty()) throw ApiError(400, "bad request body: " + why);
  }
  for (const ActionSpec& a : spec.actions) {
    if (a.request.action == SessionAction::reload && !e->profile.reload) {
      throw ApiError(400, fmt::format("proxy {}: a reload is scheduled, but its profile {} defines none (the system "
                                      "keeps open connections across a config reload)",
                                      spec.name, e->profile.name));
    }
  }
  if (spec.enabled) start_listening(*e);
  Entry& added = *proxies_.emplace(spec.name, std::move(e)).first->second;
  for (const FaultSpec& f : spec.faults) schedule(added, f);
  for (std::size_t i = 0; i < spec.actions.size(); ++i) {
    const ActionSpec& a = spec.actions[i];
    later(added, fmt::format("act:{}", i), a.after, [this, name = spec.name, request = a.request] {
      act_all(name, request);
    });
  }
  return proxy(spec.name);
}

void Runtime::later(Entry& e, const std::string& key, Duration after, std::function<void()> then) {
  auto timer = std::make_unique<asio::steady_timer>(io_);
  timer->expires_after(after);
  timer->async_wait([this, proxy = e.spec.name, key, then = std::move(then)](const std::error_code& ec) {
    if (ec) return;  // cancelled: the toxic, the proxy or everything was reset
    const auto it = proxies_.find(proxy);
    if (it == proxies_.end()) return;
    // Keep the timer alive until this handler returns, then let it go.
    auto self = std::move(it->second->timers[key]);
    it->second->timers.erase(key);
    try {
      then();
    } catch (const ApiError& err) {
      log_.event(spdlog::level::warn, 0, "fault_error",
                 fmt::format("{}: scheduled change {} not made: {}", proxy, key, err.what()), {{"proxy", proxy}});
    }
  });
  if (auto old = e.timers.find(key); old != e.timers.end()) old->second->cancel();
  e.timers[key] = std::move(timer);
}

void Runtime::schedule(Entry& e, const FaultSpec& f) {
  const std::string proxy = e.spec.name;
  const auto apply = [this, proxy, f] {
    add_toxic(proxy, f.toxic);
    if (f.lasts) {
      const std::string name = f.toxic.name.empty() ? f.toxic.default_name() : f.toxic.name;
      later(entry(proxy), "remove:" + name, *f.lasts, [this, proxy, name] { remove_toxic(proxy, name); });
    }
  };
  if (f.after <= Duration::zero()) {
    apply();
  } else {
    later(e, "add:" + f.toxic.name, f.after, apply);
  }
}

std::vector<ProxyInfo> Runtime::populate(const std::vector<ProxySpec>& specs) {
  // Validate everything first: a bad entry changes nothing (Toxiproxy's two phases).
  std::map<std::string, int> seen;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const ProxySpec& s = specs[i];
    if (s.name.empty()) throw ApiError(400, fmt::format("missing required field: name at proxy {}", i + 1));
    if (s.upstream.empty()) throw ApiError(400, fmt::format("missing required field: upstream at proxy {}", i + 1));
    if (seen[s.name]++) throw ApiError(500, fmt::format("duplicate proxy name \"{}\"", s.name));
    ProxySpec checked = s;
    load_profile_of(checked);
  }
  std::vector<ProxyInfo> out;
  for (const ProxySpec& s : specs) {
    const auto it = proxies_.find(s.name);
    if (it != proxies_.end()) {
      const ProxySpec& old = it->second->spec;
      if (old.listen == s.listen && old.upstream == s.upstream && (it->second->proxy != nullptr) == s.enabled &&
          old.loopback_peers_only == s.loopback_peers_only) {
        out.push_back(proxy(s.name));
        continue;
      }
      delete_proxy(s.name);
    }
    out.push_back(create_proxy(s));
  }
  return out;
}

ProxyInfo Runtime::update_proxy(const std::string& name, const ProxyUpdate& update) {
  Entry& e = entry(name);
  const bool relisten = update.listen && (*update.listen != e.spec.listen ||
                                          update.loopback_peers_only != e.spec.loopback_peers_only);
  const bool moved = relisten || (update.upstream && *update.upstream != e.spec.upstream);
  const bool enable = update.enabled.value_or(e.proxy != nullptr);
  if (moved || !enable) {
    if (e.proxy) {
      e.proxy->stop();
      e.proxy.reset();
    }
  }
  ProxySpec before = e.spec;
  if (update.listen) {
    e.spec.listen = *update.listen;
    e.spec.loopback_peers_only = update.loopback_peers_only;
  }
  if (update.upstream) e.spec.upstream = *update.upstream;
  if (enable && !e.proxy) {
    try {
      start_listening(e);
    } catch (...) {
      e.spec = before;  // keep the last good address
      throw;
    }
  }
  log_.event(spdlog::level::info, 0, "proxy_updated",
             fmt::format("{}: {}, listen {}, upstream {}", name, e.proxy ? "enabled" : "disabled", e.spec.listen,
                         e.spec.upstream),
             {{"proxy", name}});
  return proxy(name);
}

void Runtime::delete_proxy(const std::string& name) {
  Entry& e = entry(name);
  e.cancel_timers();
  if (e.proxy) e.proxy->stop();
  proxies_.erase(name);
  log_.event(spdlog::level::info, 0, "proxy_deleted", fmt::format("{}: deleted", name), {{"proxy", name}});
}

std::vector<Toxic> Runtime::toxics(const std::string& proxy) const { return entry(proxy).listed_toxics(); }

Toxic Runtime::toxic(const std::string& proxy, const std::string& name) const {
  Entry& e = entry(proxy);
  const Toxic* t = e.find_toxic(name);
  if (!t) throw ApiError(404, "toxic not found");
  return *t;
}

Toxic Runtime::add_toxic(const std::string& proxy, Toxic toxic) {
  Entry& e = entry(proxy);
  if (toxic.name.empty()) toxic.name = toxic.default_name();
  toxic.values.resize(attributes_of(toxic.type).size(), 0);
  if (e.find_toxic(toxic.name)) throw ApiError(409, "toxic already exists");
  if (const std::string why = validate(toxic); !why.empty()) throw ApiError(400, "bad request body: " + why);
  e.toxics.push_back(toxic);
  e.push_toxics();
  log_.event(spdlog::level::info, 0, "toxic_added",
             fmt::format("{}: toxic {} added, acting on {} open session(s)", proxy, toxic.describe(),
                         e.proxy ? e.proxy->active_sessions() : 0),
             {{"proxy", proxy}, {"toxic", toxic.name}, {"type", to_string(toxic.type)}});
  // A partition with a duration heals by itself.
  if (toxic.type == ToxicType::partition && toxic.get("duration") > 0) {
    const std::string name = toxic.name;
    later(e, "remove:" + name, std::chrono::milliseconds(toxic.get("duration")),
          [this, proxy, name] { remove_toxic(proxy, name); });
  }
  return toxic;
}

Toxic Runtime::update_toxic(const std::string& proxy, const std::string& name, const ToxicUpdate& update) {
  Entry& e = entry(proxy);
  Toxic* t = e.find_toxic(name);
  if (!t) throw ApiError(404, "toxic not found");
  Toxic updated = *t;
  if (update.toxicity) updated.toxicity = *update.toxicity;
  for (const auto& [attr, value] : update.attributes) updated.set(attr, value);
  if (const std::string why = validate(updated); !why.empty()) throw ApiError(400, "bad request body: " + why);
  *t = updated;
  e.push_toxics();
  log_.event(spdlog::level::info, 0, "toxic_updated", fmt::format("{}: toxic {} updated", proxy, updated.describe()),
             {{"proxy", proxy}, {"toxic", name}});
  return updated;
}

void Runtime::remove_toxic(const std::string& proxy, const std::string& name) {
  Entry& e = entry(proxy);
  const auto it = std::find_if(e.toxics.begin(), e.toxics.end(), [&](const Toxic& t) { return t.name == name; });
  if (it == e.toxics.end()) throw ApiError(404, "toxic not found");
  e.toxics.erase(it);
  if (const auto timer = e.timers.find("remove:" + name); timer != e.timers.end()) {
    timer->second->cancel();
    e.timers.erase(timer);
  }
  e.push_toxics();
  log_.event(spdlog::level::info, 0, "toxic_removed", fmt::format("{}: toxic {} removed", proxy, name),
             {{"proxy", proxy}, {"toxic", name}});
}

void Runtime::reset() {
  for (auto& [name, e] : proxies_) {
    e->cancel_timers();
    e->toxics.clear();
    if (!e->proxy) start_listening(*e);
    e->push_toxics();
  }
  log_.event(spdlog::level::info, 0, "reset", "reset: every proxy enabled, every toxic removed");
}

ProxyInfo Runtime::set_profile(const std::string& proxy, const std::string& profile,
                               const std::vector<SettingOverride>& settings, std::optional<double> time_scale) {
  Entry& e = entry(proxy);
  ProxySpec next = e.spec;
  next.profile = profile;
  next.settings = settings;
  next.time_scale = time_scale;
  e.profile = load_profile_of(next);
  e.spec = next;
  if (e.proxy) e.proxy->set_profile(e.profile);
  log_.event(spdlog::level::info, 0, "profile",
             fmt::format("{}: new sessions get profile {} ({}){}", proxy, e.profile.name, e.profile.source,
                         e.profile.time_scale != 1.0 ? fmt::format(", time scale {}", e.profile.time_scale) : ""),
             {{"proxy", proxy}, {"profile", e.profile.name}});
  return this->proxy(proxy);
}

std::vector<SessionInfo> Runtime::sessions(const std::string& proxy) const {
  if (!proxy.empty()) entry(proxy);  // 404 for an unknown proxy
  std::vector<SessionInfo> out;
  for (const auto& [name, e] : proxies_) {
    if (!proxy.empty() && name != proxy) continue;
    if (!e->proxy) continue;
    auto some = e->proxy->sessions();
    out.insert(out.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  std::sort(out.begin(), out.end(), [](const SessionInfo& a, const SessionInfo& b) { return a.id < b.id; });
  return out;
}

SessionInfo Runtime::session(std::uint64_t id) const {
  for (const auto& [name, e] : proxies_) {
    if (!e->proxy) continue;
    if (auto info = e->proxy->session(id)) return *info;
  }
  throw ApiError(404, "session not found");
}

ActionRequest Runtime::with_defaults(ActionRequest action) const {
  // A drain says what the process's drain says unless the caller chose its own words.
  if (action.action == SessionAction::drain && action.reason.empty()) action.reason = options_.drain_reason;
  return action;
}

namespace {

/// A reload does what the proxy's profile says its system does on a config reload; a
/// profile without `reload:` has nothing to do, which is a mistake worth a 400.
bool reloads(const Proxy& proxy) { return proxy.profile().reload.has_value(); }

[[noreturn]] void no_reload(const std::string& which) {
  throw ApiError(400, fmt::format("{}: the system it emulates keeps open connections across "
                                  "a config reload (a profile's reload: section says what it sends instead)",
                                  which));
}

}  // namespace

ActionTally Runtime::act(std::uint64_t id, const ActionRequest& request) {
  const ActionRequest action = with_defaults(request);
  for (const auto& [name, e] : proxies_) {
    if (!e->proxy) continue;
    if (action.action == SessionAction::reload && !reloads(*e->proxy) && e->proxy->session(id)) {
      no_reload(fmt::format("the profile {} of proxy {} defines no reload", e->proxy->profile().name, name));
    }
    if (const auto result = e->proxy->act(id, action)) {
      ActionTally tally;
      tally.add(*result);
      return tally;
    }
  }
  throw ApiError(404, "session not found");
}

ActionTally Runtime::act_all(const std::string& proxy, const ActionRequest& request) {
  const ActionRequest action = with_defaults(request);
  if (!proxy.empty()) entry(proxy);
  if (action.action == SessionAction::reload) {
    // On every proxy, a reload reaches those whose system drops connections on one.
    bool any = false;
    for (const auto& [name, e] : proxies_) {
      if ((proxy.empty() || name == proxy) && e->proxy) any = any || reloads(*e->proxy);
    }
    if (!any) {
      no_reload(proxy.empty() ? std::string("no proxy's profile defines a reload")
                              : fmt::format("the profile of proxy {} defines no reload", proxy));
    }
  }
  ActionTally tally;
  for (const auto& [name, e] : proxies_) {
    if ((!proxy.empty() && name != proxy) || !e->proxy) continue;
    if (action.action == SessionAction::reload && !reloads(*e->proxy)) continue;
    const ActionTally some = e->proxy->act_all(action);
    tally.acted += some.acted;
    tally.released += some.released;
    tally.ended += some.ended;
  }
  // Only the sessions it acted on count as such: an ended one got no close from it.
  std::string line = fmt::format("{}: {} applied to {} session(s)", proxy.empty() ? "every proxy" : proxy,
                                 to_string(action.action), tally.acted);
  if (tally.released > 0) {
    line += fmt::format("; released the held sockets of {} blackholed session(s)", tally.released);
  }
  if (tally.ended > 0) line += fmt::format("; {} already ending, left as they were", tally.ended);
  log_.event(spdlog::level::info, 0, "act_all", line,
             {{"action", to_string(action.action)},
              {"sessions", static_cast<std::int64_t>(tally.acted)},
              {"released_blackholed", static_cast<std::int64_t>(tally.released)}});
  return tally;
}

Toxic Runtime::partition(const std::string& proxy, Duration duration) {
  Entry& e = entry(proxy);
  Toxic t = Toxic::make(ToxicType::partition);
  t.name = "partition";
  t.set("duration", std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
  if (e.find_toxic(t.name)) remove_toxic(proxy, t.name);
  return add_toxic(proxy, t);
}

bool Runtime::heal(const std::string& proxy) {
  Entry& e = entry(proxy);
  if (!e.find_toxic("partition")) return false;
  remove_toxic(proxy, "partition");
  return true;
}

std::string Runtime::metrics() const {
  std::vector<ProxyMetrics> counters;
  counters.reserve(proxies_.size());  // the samples point into it
  std::vector<MetricsSample> samples;
  for (const auto& [name, e] : proxies_) {
    counters.push_back(sum_metrics(e->metrics, options_.workers));
    samples.push_back({name, e->proxy ? e->proxy->active_sessions() : 0, &counters.back(), e->spec.listen,
                       e->spec.upstream, e->proxy ? e->proxy->blackholed_sessions() : 0});
  }
  std::string text = render_prometheus(samples);
  text += render_log_prometheus(log_.dropped_lines());
  if (options_.toxiproxy_metrics) text += render_toxiproxy_prometheus(samples);
  if (budget_) text += render_capacity_prometheus(capacity());
  if (options_.process_metrics) text += render_process_prometheus(read_process_stats());
  return text;
}

CapacityStats Runtime::capacity() const {
  CapacityStats c;
  c.descriptor_limit = options_.descriptor_limit;
  if (!budget_) return c;
  c.max_sessions = budget_->cap();
  c.open_sessions = budget_->open();
  c.accepting = budget_->has_room();
  c.pauses = budget_->pauses();
  return c;
}

void Runtime::stop_all() {
  for (auto& [name, e] : proxies_) {
    e->cancel_timers();
    if (e->proxy) e->proxy->stop();
  }
}

std::size_t Runtime::open_sessions() const {
  std::size_t n = 0;
  for (const auto& [name, e] : proxies_) n += e->proxy ? e->proxy->active_sessions() : 0;
  return n;
}

std::size_t Runtime::live_sessions() const {
  std::size_t n = 0;
  for (const auto& [name, e] : proxies_) n += e->proxy ? e->proxy->live_sessions() : 0;
  return n;
}

void Runtime::drain(std::function<void(const DrainOutcome&)> done) {
  const auto started = std::chrono::steady_clock::now();
  // A restarting server first closes its listeners: new clients are refused, not accepted
  // into a process that is leaving.
  for (auto& [name, e] : proxies_) {
    e->cancel_timers();
    if (e->proxy) e->proxy->stop_accepting();
  }
  DrainOutcome outcome;
  outcome.sessions = open_sessions();
  const auto unanswered = [this] {
    std::uint64_t n = 0;
    for (const auto& [name, e] : proxies_) n += sum_metrics(e->metrics, options_.workers).unanswered_closes;
    return n;
  };
  const std::uint64_t unanswered_before = unanswered();
  ActionRequest drain;
  drain.action = SessionAction::drain;
  drain.code = options_.drain_code;
  drain.reason = options_.drain_reason;
  outcome.released = act_all("", drain).released;
  // Sessions end on their own as peers answer (a WebSocket's close reply and EOF) or at
  // once (FIN); this only watches the count, so a 10 ms tick is plenty.
  asio::co_spawn(
      io_,
      [this, started, outcome, unanswered, unanswered_before, done = std::move(done)]() mutable
      -> asio::awaitable<void> {
        asio::steady_timer tick(io_);
        const auto deadline = started + options_.drain_timeout;
        // Until every socket is let go: a session that got its close is no longer open,
        // yet still waits for its peer's reply.
        while (live_sessions() > 0 && std::chrono::steady_clock::now() < deadline) {
          tick.expires_after(std::chrono::milliseconds(10));
          co_await tick.async_wait(asio::use_awaitable);
        }
        outcome.timed_out = std::min<std::size_t>(outcome.sessions,
                                                  live_sessions() + (unanswered() - unanswered_before));
        outcome.took = std::chrono::steady_clock::now() - started;
        stop_all();
        done(outcome);
      },
      asio::detached);
}

Proxy* Runtime::find(const std::string& name) const {
  const auto it = proxies_.find(name);
  return it == proxies_.end() ? nullptr : it->second->proxy.get();
}

void Runtime::start_listening(Entry& e) {
  ProxyOptions o;
  o.name = e.spec.name;
  o.listen = e.spec.listen;
  o.upstream = e.spec.upstream;
  o.profile = e.profile;
  o.toxics = e.toxics;
  o.seed = options_.seed;
  if (e.metrics.empty()) e.metrics = metrics_parts(options_.workers.size());
  o.metrics = e.metrics;
  o.workers = options_.workers;
  o.lookup = options_.lookup;
  o.budget = budget_;
  o.close_wait = options_.drain_timeout;
  o.splice = options_.splice;
  o.loopback_peers_only = e.spec.loopback_peers_only;
  auto proxy = std::make_unique<Proxy>(io_, std::move(o), log_, clock_);
  try {
    proxy->start();
  } catch (const std::system_error& err) {
    throw ApiError(500, listen_error(e.spec.listen, err));
  } catch (const std::invalid_argument& err) {
    throw ApiError(400, err.what());
  }
  e.spec.listen = address_text(proxy->local_endpoint());
  e.proxy = std::move(proxy);
}

}  // namespace dropsim
