#pragma once
// The control API's routes: a request in, a response out, over a Runtime. Toxiproxy 2.12's
// endpoints with its shapes, codes and messages, and dropsim's own (profiles, sessions,
// partitions, metrics, the event stream). No socket here: ApiServer reads requests and
// writes what handle() returns; the event stream is the one answer that outlives its
// request, so ApiServer asks events_request() first and streams it itself.
//
//   ApiServer ──HttpRequest──► ControlApi::handle ──► ApiGuard (Host, browser, token)
//                                                 ──► route ──► Runtime ──► HttpResponse
//
// Guards (api_guard.h says why): a Host or Origin that is not loopback, a cross-site
// browser request, and a state change from a browser User-Agent are 403; a state change
// without the API's token (when it has one) is 401. A listen address of a proxy made here
// is guarded too: a specific non-loopback one is 403, and a wildcard one serves loopback
// clients only, unless the API allows remote listens.

#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "api_guard.h"
#include "api_json.h"
#include "event_stream.h"
#include "http_request.h"
#include "http_response.h"
#include "runtime.h"

namespace dropsim {

/// Every endpoint, over one Runtime. Call on the Runtime's thread.
class ControlApi {
 public:
  ControlApi(Runtime& runtime, ApiAccess access);

  /// Answers `request`; never throws (an unexpected error is a 500 with its message).
  /// Logs every state-changing call through the runtime's EventLog (event "api"). A
  /// coroutine because a listen host name is looked up (off the io thread) first.
  asio::awaitable<HttpResponse> handle(const HttpRequest& request);
  /// GET /events that passes the guards and has a valid filter (?proxy=NAME, ?conn=ID):
  /// the filter to stream with. nullopt for any other request, which handle() answers.
  std::optional<EventFilter> events_request(const HttpRequest& request) const;
  /// The counters ApiServer keeps and GET /metrics shows.
  ApiStats& stats() { return stats_; }

 private:
  asio::awaitable<HttpResponse> route(const HttpRequest& request, const std::vector<std::string>& path);
  asio::awaitable<HttpResponse> proxies_collection(const std::string& method, const std::string& body);
  asio::awaitable<HttpResponse> populate(const std::string& body);
  asio::awaitable<HttpResponse> one_proxy(const std::string& method, const std::string& name, const std::string& body);
  /// Where a proxy made through the API listens, and whom it serves.
  struct Listen {
    std::string address;               ///< as Toxiproxy's net.Listen would bind it
    bool loopback_peers_only = false;  ///< ListenRule::loopback_peers_only
  };
  /// `listen` with a host name looked up as Toxiproxy's net.Listen would; 400 when it is
  /// malformed or does not resolve, 403 when the guard refuses where it points.
  asio::awaitable<Listen> listen_address(const std::string& listen) const;
  HttpResponse toxics_collection(const std::string& method, const std::string& proxy, const std::string& body);
  HttpResponse one_toxic(const std::string& method, const std::string& proxy, const std::string& name,
                         const std::string& body);
  HttpResponse profile_of(const std::string& method, const std::string& proxy, const std::string& body);
  HttpResponse sessions_of(const std::string& method, const std::string& proxy, const HttpRequest& request);
  HttpResponse one_session(const std::string& method, const std::string& id,
                           const std::optional<std::string>& action, const std::string& body);
  HttpResponse partition(const std::string& method, const std::string& proxy, const std::string& body);
  HttpResponse profiles(const std::optional<std::string>& name);
  /// The guard's refusal, or nullopt when the request may proceed.
  std::optional<HttpResponse> refuse(const HttpRequest& request) const;
  EventFilter event_filter(const HttpRequest& request) const;

  Runtime& runtime_;
  ApiGuard guard_;
  ApiStats stats_;
  std::optional<Json> profile_list_;  ///< GET /dropsim/profiles: built-ins never change
};

}  // namespace dropsim
