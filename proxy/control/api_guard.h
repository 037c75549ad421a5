#pragma once
// Who may use the control API and what a proxy made through it may listen on, decided
// from the request alone: pure functions of headers, addresses and the API's access
// settings, with no socket and no clock. ControlApi asks before it routes; ApiServer
// keeps the guards that need time and sockets (the request deadline, the connection cap).
//
//   request ──► Host loopback? ──► browser? ──────────────────────► token? ──► route
//                 403              403 Sec-Fetch-Site, Origin,       401
//                                      User-Agent "Mozilla/"
//
// Why each: the API can cut every connection of every proxy, so by default only this
// machine's programs may use it. A web page is on this machine too, inside a browser: it
// reaches 127.0.0.1 through DNS rebinding (Host), by a cross-site fetch (Sec-Fetch-Site,
// Origin), or by a form post (Toxiproxy's User-Agent rule). A token stops the other users
// and containers of a shared machine. And a proxy made through the API must not open a
// way in from the network that the operator never chose: a specific non-loopback listen
// is refused, and a wildcard one serves loopback clients only (Proxy closes the others).

#include <optional>
#include <string>
#include <string_view>

#include "address.h"
#include "http_request.h"

namespace dropsim {

/// Who may reach the API, and what proxies made through it may listen on.
struct ApiAccess {
  /// Any Host and Origin (--api-allow-remote, or a non-loopback API address); implies
  /// allow_remote_listen, since anyone may then create anything anyway.
  bool allow_remote = false;
  /// Proxies made through the API may listen on any address and serve any client
  /// (--allow-remote-listen).
  bool allow_remote_listen = false;
  /// Required as "Authorization: Bearer TOKEN" on every state change; empty: none.
  std::string token;
};

/// A refused request: the status to answer and why, for its JSON body.
struct Refusal {
  int status = 403;
  std::string message;
};

/// What a proxy made through the API may do with its listen address.
enum class ListenRule {
  any_peer,             ///< listen there and serve everyone
  loopback_peers_only,  ///< listen there (every interface) but close non-loopback clients at accept
  refused,              ///< a specific non-loopback address: 403
};

/// True when `host` (a Host header or an Origin's authority: "127.0.0.1:8474", "[::1]",
/// "localhost") names this machine's loopback: localhost, *.localhost, 127.0.0.0/8, ::1.
/// An empty host counts as loopback (HTTP/1.0 tools send no Host).
bool is_loopback_host(std::string_view host);

/// True for a method that may change state: anything but GET, HEAD and OPTIONS.
bool changes_state(std::string_view method);

/// True when `authorization` is "Bearer TOKEN" (the scheme in any case) and TOKEN equals
/// `token`. Compared in time that depends on `token`'s length only, never on where the
/// two first differ, so the token cannot be guessed a byte at a time.
bool bearer_matches(std::string_view authorization, std::string_view token);

/// Why a browser's request is refused, from its Sec-Fetch-Site and Origin headers ("" when
/// absent); nullopt when it may proceed. `cross-site` and `same-site` are always refused;
/// an Origin whose host is not a loopback name ("null" included) unless `allow_remote`.
std::optional<std::string> browser_refusal(std::string_view sec_fetch_site, std::string_view origin,
                                           bool allow_remote);

/// The rule for a listen address (an IP literal or a wildcard, already looked up) of a
/// proxy made through the API: loopback is open; every interface serves loopback peers
/// only unless `allow_remote_listen`; a specific non-loopback address is refused unless it.
ListenRule listen_rule(const HostPort& where, bool allow_remote_listen);

/// The API's guards over one ApiAccess.
class ApiGuard {
 public:
  explicit ApiGuard(ApiAccess access);

  /// The first guard `request` fails (Host, browser, User-Agent, token), or nullopt.
  std::optional<Refusal> check(const HttpRequest& request) const;
  /// listen_rule for `address` ("HOST:PORT" with an IP literal, or a wildcard).
  ListenRule listen(const std::string& address) const;
  /// The 403 message for a refused listen: `given` as the client wrote it, `address` as
  /// it was looked up.
  static std::string listen_refusal(const std::string& given, const std::string& address);
  const ApiAccess& access() const { return access_; }

 private:
  ApiAccess access_;
};

}  // namespace dropsim
