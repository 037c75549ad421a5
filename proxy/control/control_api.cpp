#include "control_api.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>

#include <fmt/format.h>

#include "builtin_profiles.h"
#include "profile_yaml.h"

namespace dropsim {
namespace {

HttpResponse json_response(int status, const Json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump() + "\n";
  return r;
}

HttpResponse no_content() {
  HttpResponse r;
  r.status = 204;
  return r;
}

/// Throws 405 naming the allowed methods unless `method` is one of them.
void allow(const std::string& method, std::initializer_list<std::string_view> methods) {
  if (std::find(methods.begin(), methods.end(), method) != methods.end()) return;
  std::string names;
  for (std::string_view m : methods) names += (names.empty() ? "" : ", ") + std::string(m);
  throw ApiError(405, fmt::format("method {} not allowed here; allowed: {}", method, names));
}

/// The path split at '/', each segment percent-decoded; 400 for a bad escape.
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const std::size_t slash = path.find('/');
    auto decoded = percent_decode(path.substr(0, slash));
    if (!decoded) throw ApiError(400, fmt::format("malformed percent-escape in path segment '{}'", path.substr(0, slash)));
    out.push_back(std::move(*decoded));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

std::uint64_t session_id(const std::string& text) {
  std::uint64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id == 0) {
    throw ApiError(400, fmt::format("session id must be a positive integer, got '{}'", text));
  }
  return id;
}

/// {"action": "drain", "sessions": n, "released_blackholed": m}: the sessions the action
/// acted on, and apart from them the blackholed ones whose held sockets a drain let go.
HttpResponse acted(const ActionRequest& action, const ActionTally& tally) {
  Json j;
  j["action"] = to_string(action.action);
  j["sessions"] = tally.acted;
  j["released_blackholed"] = tally.released;
  return json_response(200, j);
}

/// A toxic's JSON, with "warnings" when the body had attributes nobody reads. Toxiproxy's
/// clients ignore a field they do not know (Go's encoding/json, the Node client's plain
/// objects), so the extra field is safe; it is absent when there is nothing to say. Each
/// warning is logged as a `warning` event too, for whoever watches the log, not the answer.
HttpResponse toxic_answer(Runtime& runtime, const std::string& proxy, const Toxic& toxic,
                          const std::vector<std::string>& warnings) {
  Json j = toxic_json(toxic);
  for (const std::string& w : warnings) {
    runtime.log().event(spdlog::level::warn, 0, "warning", fmt::format("{}: toxic {}: {}", proxy, toxic.name, w),
                        {{"proxy", proxy}, {"toxic", toxic.name}});
  }
  if (!warnings.empty()) j["warnings"] = warnings;
  return json_response(200, j);
}

/// A session action body: {"action", "code", "reason"}.
Json action_body(const std::string& body) {
  return parse_strict_body(body, {"action", "code", "reason"}, "a session action");
}

}  // namespace

ControlApi::ControlApi(Runtime& runtime, ApiAccess access) : runtime_(runtime), guard_(std::move(access)) {}

std::optional<HttpResponse> ControlApi::refuse(const HttpRequest& request) const {
  auto refusal = guard_.check(request);
  if (!refusal) return std::nullopt;
  HttpResponse r = error_response(refusal->status, refusal->message);
  if (refusal->status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

EventFilter ControlApi::event_filter(const HttpRequest& request) const {
  EventFilter filter;
  if (auto proxy = request.query_param("proxy")) filter.proxy = *proxy;
  if (auto conn = request.query_param("conn")) filter.conn = session_id(*conn);
  return filter;
}

std::optional<EventFilter> ControlApi::events_request(const HttpRequest& request) const {
  if (request.method != "GET" || request.path != "/events" || refuse(request)) return std::nullopt;
  try {
    return event_filter(request);
  } catch (const ApiError&) {
    return std::nullopt;  // handle() answers the 400
  }
}

asio::awaitable<HttpResponse> ControlApi::handle(const HttpRequest& request) {
  HttpResponse response;
  if (auto refusal = refuse(request)) {
    response = std::move(*refusal);
  } else {
    try {
      response = co_await route(request, split_path(request.path));
    } catch (const ApiError& e) {
      response = error_response(e.status(), e.what());
      if (e.status() == 405) {
        // The methods are in the message; Allow repeats them for HTTP clients.
        const std::string what = e.what();
        response.headers.emplace_back("Allow", what.substr(what.find("allowed: ") + 9));
      }
    } catch (const ProfileError& e) {
      response = error_response(400, e.what());
    } catch (const std::exception& e) {
      response = error_response(500, e.what());
    }
  }
  if (changes_state(request.method)) {
    runtime_.log().event(spdlog::level::info, 0, "api",
                         fmt::format("API {} {} -> {}", request.method, request.path, response.status),
                         {{"method", std::string_view(request.method)},
                          {"path", std::string_view(request.path)},
                          {"status", static_cast<std::int64_t>(response.status)}});
  }
  co_return response;
}

asio::awaitable<HttpResponse> ControlApi::route(const HttpRequest& request, const std::vector<std::string>& path) {
  const std::string& m = request.method;
  const std::string& body = request.body;
  const std::size_t n = path.size();
  const auto at = [&](std::size_t i, std::string_view word) { return n > i && path[i] == word; };

  if (n == 1 && at(0, "version")) {
    allow(m, {"GET"});
    HttpResponse r;
    r.content_type = "application/json;charset=utf-8";
    r.body = fmt::format("{{\"version\": \"{}\"}}\n", kToxiproxyVersion);
    co_return r;
  }
  if (n == 1 && at(0, "reset")) {
    allow(m, {"POST"});
    runtime_.reset();
    co_return no_content();
  }
  if (n == 1 && at(0, "populate")) {
    allow(m, {"POST"});
    co_return co_await populate(body);
  }
  if (n == 1 && at(0, "metrics")) {
    allow(m, {"GET"});
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = runtime_.metrics() + render_api_prometheus(stats_);
    co_return r;
  }
  if (n == 1 && at(0, "events")) {
    allow(m, {"GET"});
    event_filter(request);  // a bad filter is a 400 here; a good one is streamed by ApiServer
    throw ApiError(400, "the event stream is served by the API server, not as a plain response");
  }
  if (at(0, "proxies")) {
    if (n == 1) co_return co_await proxies_collection(m, body);
    const std::string& name = path[1];
    if (n == 2) co_return co_await one_proxy(m, name, body);
    if (n == 3 && at(2, "toxics")) co_return toxics_collection(m, name, body);
    if (n == 4 && at(2, "toxics")) co_return one_toxic(m, name, path[3], body);
    if (n == 3 && at(2, "profile")) co_return profile_of(m, name, body);
    if (n == 3 && at(2, "sessions")) co_return sessions_of(m, name, request);
    if (n == 3 && at(2, "partition")) co_return partition(m, name, body);
  }
  if (at(0, "dropsim")) {
    if (n == 2 && at(1, "version")) {
      allow(m, {"GET"});
      Json j;
      j["dropsim"] = DROPSIM_VERSION;
      j["toxiproxy"] = kToxiproxyVersion;
      co_return json_response(200, j);
    }
    if (n == 2 && at(1, "capacity")) {
      allow(m, {"GET"});
      const CapacityStats c = runtime_.capacity();
      Json j;
      j["max_sessions"] = c.max_sessions;  // 0: no cap
      j["open_sessions"] = c.open_sessions;
      j["accepting"] = c.accepting;
      j["accept_pauses"] = c.pauses;
      j["descriptor_limit"] = c.descriptor_limit;
      co_return json_response(200, j);
    }
    if (n == 2 && at(1, "profiles")) {
      allow(m, {"GET"});
      co_return profiles(std::nullopt);
    }
    if (n == 3 && at(1, "profiles")) {
      allow(m, {"GET"});
      co_return profiles(path[2]);
    }
    if (n == 2 && at(1, "sessions")) {
      const auto proxy = request.query_param("proxy");
      co_return sessions_of(m, proxy.value_or(""), request);
    }
    if (n == 3 && at(1, "sessions")) co_return one_session(m, path[2], std::nullopt, body);
    if (n == 4 && at(1, "sessions")) co_return one_session(m, path[2], path[3], body);
  }
  throw ApiError(404, fmt::format("no endpoint at {} (see the README's endpoint table)", request.path));
}

asio::awaitable<HttpResponse> ControlApi::proxies_collection(const std::string& method, const std::string& body) {
  allow(method, {"GET", "POST"});
  if (method == "GET") {
    Json all = Json::object();  // Toxiproxy answers an object keyed by name
    for (const ProxyInfo& p : runtime_.proxies()) all[p.name] = proxy_json(p);
    co_return json_response(200, all);
  }
  ProxySpec spec = go_proxy_spec(parse_go_body(body));
  const Listen where = co_await listen_address(spec.listen);
  spec.listen = where.address;
  spec.loopback_peers_only = where.loopback_peers_only;
  co_return json_response(201, proxy_json(runtime_.create_proxy(spec)));
}

asio::awaitable<HttpResponse> ControlApi::populate(const std::string& body) {
  // Toxiproxy's populate answers {"proxies": [...]}, or its error beside "proxies": null.
  std::optional<ApiError> failed;
  try {
    std::vector<ProxySpec> specs = go_populate(parse_go_body(body));
    for (ProxySpec& spec : specs) {
      const Listen where = co_await listen_address(spec.listen);
      spec.listen = where.address;
      spec.loopback_peers_only = where.loopback_peers_only;
    }
    const auto created = runtime_.populate(specs);
    Json j;
    j["proxies"] = nullptr;  // Go marshals an empty result as null
    for (const ProxyInfo& p : created) j["proxies"].push_back(proxy_json(p));
    co_return json_response(201, j);
  } catch (const ApiError& e) {
    failed = e;
  }
  Json j = error_json(failed->status(), failed->what());
  j["proxies"] = nullptr;
  co_return json_response(failed->status(), j);
}

asio::awaitable<HttpResponse> ControlApi::one_proxy(const std::string& method, const std::string& name,
                                                    const std::string& body) {
  allow(method, {"GET", "POST", "PATCH", "DELETE"});
  if (method == "GET") co_return json_response(200, proxy_json(runtime_.proxy(name)));
  if (method == "DELETE") {
    runtime_.delete_proxy(name);
    co_return no_content();
  }
  runtime_.proxy(name);  // 404 before the body is read, as Toxiproxy orders it
  ProxyUpdate update = go_proxy_update(parse_go_body(body));
  if (update.listen) {
    const Listen where = co_await listen_address(*update.listen);
    update.listen = where.address;
    update.loopback_peers_only = where.loopback_peers_only;
  }
  co_return json_response(200, proxy_json(runtime_.update_proxy(name, update)));
}

asio::awaitable<ControlApi::Listen> ControlApi::listen_address(const std::string& listen) const {
  if (listen.empty()) co_return Listen{};  // the runtime's default, on loopback
  std::string address;
  std::string why;
  try {
    // A name is guarded by where it points, so it is looked up first.
    address = co_await runtime_.resolver().listen_address(listen);
  } catch (const std::invalid_argument& e) {
    why = e.what();  // a malformed address, or a name that does not resolve
  }
  if (!why.empty()) throw ApiError(400, why);
  switch (guard_.listen(address)) {
    case ListenRule::refused:
      throw ApiError(403, ApiGuard::listen_refusal(listen, address));
    case ListenRule::loopback_peers_only:
      co_return Listen{address, true};
    case ListenRule::any_peer:
      break;
  }
  co_return Listen{address, false};
}

HttpResponse ControlApi::toxics_collection(const std::string& method, const std::string& proxy,
                                           const std::string& body) {
  allow(method, {"GET", "POST"});
  const std::vector<Toxic> existing = runtime_.toxics(proxy);
  if (method == "GET") return json_response(200, toxics_json(existing));
  const Json parsed = parse_go_body(body);
  Toxic toxic = go_toxic_head(parsed);
  for (const Toxic& t : existing) {
    if (t.name == toxic.name) throw ApiError(409, "toxic already exists");
  }
  const std::vector<std::string> warnings = go_toxic_attributes(parsed, toxic);
  // Toxiproxy answers a new toxic with 200, not 201.
  return toxic_answer(runtime_, proxy, runtime_.add_toxic(proxy, std::move(toxic)), warnings);
}

HttpResponse ControlApi::one_toxic(const std::string& method, const std::string& proxy, const std::string& name,
                                   const std::string& body) {
  allow(method, {"GET", "POST", "PATCH", "DELETE"});
  if (method == "DELETE") {
    runtime_.remove_toxic(proxy, name);
    return no_content();
  }
  const Toxic current = runtime_.toxic(proxy, name);
  if (method == "GET") return json_response(200, toxic_json(current));
  const ToxicUpdate update = go_toxic_update(parse_go_body(body), current);
  return toxic_answer(runtime_, proxy, runtime_.update_toxic(proxy, name, update), update.warnings);
}

HttpResponse ControlApi::profile_of(const std::string& method, const std::string& proxy, const std::string& body) {
  allow(method, {"GET", "PUT"});
  const ProxyInfo info = runtime_.proxy(proxy);
  if (method == "GET") return json_response(200, proxy_detail_json(info));
  const ProfileChange change =
      strict_profile_change(parse_strict_body(body, {"profile", "settings", "time_scale"}, "a profile change"));
  return json_response(200, proxy_detail_json(runtime_.set_profile(proxy, change.profile.value_or(info.profile),
                                                                   change.settings, change.time_scale)));
}

HttpResponse ControlApi::sessions_of(const std::string& method, const std::string& proxy,
                                     const HttpRequest& request) {
  allow(method, {"GET", "POST"});
  if (!proxy.empty()) runtime_.proxy(proxy);  // 404 for an unknown proxy
  if (method == "GET") {
    Json list = Json::array();
    for (const SessionInfo& s : runtime_.sessions(proxy)) list.push_back(session_json(s));
    return json_response(200, list);
  }
  const ActionRequest action = strict_action(action_body(request.body), SessionAction::rst, runtime_.options());
  return acted(action, runtime_.act_all(proxy, action));
}

HttpResponse ControlApi::one_session(const std::string& method, const std::string& id_text,
                                     const std::optional<std::string>& action_text, const std::string& body) {
  allow(method, action_text ? std::initializer_list<std::string_view>{"POST"}
                            : std::initializer_list<std::string_view>{"GET", "POST"});
  const std::uint64_t id = session_id(id_text);
  if (method == "GET") return json_response(200, session_json(runtime_.session(id)));
  ActionRequest action;
  if (action_text) {
    // POST /dropsim/sessions/7/drain: the action is in the path, its close frame in the body.
    Json parsed = parse_strict_body(body, {"code", "reason"}, "a session action");
    parsed["action"] = *action_text;
    action = strict_action(parsed, SessionAction::rst, runtime_.options());
  } else {
    action = strict_action(action_body(body), SessionAction::rst, runtime_.options());
  }
  return acted(action, runtime_.act(id, action));
}

HttpResponse ControlApi::partition(const std::string& method, const std::string& proxy, const std::string& body) {
  allow(method, {"POST", "DELETE"});
  if (method == "DELETE") {
    if (!runtime_.heal(proxy)) throw ApiError(404, "partition not found");
    return no_content();
  }
  const Duration duration = strict_partition(parse_strict_body(body, {"duration_ms"}, "a partition"));
  return json_response(200, toxic_json(runtime_.partition(proxy, duration)));
}

HttpResponse ControlApi::profiles(const std::optional<std::string>& name) {
  const auto& embedded = embedded_profiles();
  if (!name) {
    if (!profile_list_) {
      Json list = Json::array();
      for (const EmbeddedProfile& p : embedded) {
        list.push_back(profile_json(load_profile(p.text, std::string(p.path)), false));
      }
      profile_list_ = std::move(list);
    }
    return json_response(200, *profile_list_);
  }
  // Built-in names only: the API does not read files by path.
  for (const EmbeddedProfile& p : embedded) {
    if (p.name == *name) return json_response(200, profile_json(load_profile(p.text, std::string(p.path)), true));
  }
  std::string names;
  for (const EmbeddedProfile& p : embedded) names += (names.empty() ? "" : ", ") + std::string(p.name);
  throw ApiError(404, fmt::format("profile not found: '{}'; built-in profiles: {}", *name, names));
}

}  // namespace dropsim
