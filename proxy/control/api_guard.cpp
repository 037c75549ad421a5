#include "api_guard.h"

#include <algorithm>

#include <asio/ip/address.hpp>
#include <fmt/format.h>

namespace dropsim {
namespace {

std::string lowered(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

/// Every byte of `secret` is looked at whatever `given` holds: the time taken says how
/// long the secret is, not how much of it was guessed right.
bool constant_time_equal(std::string_view given, std::string_view secret) {
  unsigned diff = given.size() == secret.size() ? 0u : 1u;
  for (std::size_t i = 0; i < secret.size(); ++i) {
    const auto g = static_cast<unsigned char>(i < given.size() ? given[i] : 0);
    diff |= g ^ static_cast<unsigned char>(secret[i]);
  }
  return diff == 0;
}

/// The authority of an Origin ("http://localhost:8474" → "localhost:8474"); "null" and
/// anything without a scheme stay as they are (and are no loopback name).
std::string_view origin_authority(std::string_view origin) {
  const std::size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos) return origin;
  std::string_view rest = origin.substr(scheme + 3);
  return rest.substr(0, rest.find('/'));
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host.empty()) return true;
  std::string_view name = host;
  if (name.front() == '[') {
    const std::size_t close = name.find(']');
    if (close == std::string_view::npos) return false;
    name = name.substr(1, close - 1);
  } else if (const std::size_t colon = name.rfind(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  const std::string lower = lowered(name);
  if (lower == "localhost" || (lower.size() > 10 && lower.ends_with(".localhost"))) return true;
  std::error_code ec;
  const auto address = asio::ip::make_address(lower, ec);
  return !ec && address.is_loopback();
}

bool changes_state(std::string_view method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

bool bearer_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  const std::string_view value = trimmed(authorization);
  if (value.size() < kScheme.size() || lowered(value.substr(0, kScheme.size())) != kScheme) return false;
  return constant_time_equal(trimmed(value.substr(kScheme.size())), token);
}

std::optional<std::string> browser_refusal(std::string_view sec_fetch_site, std::string_view origin,
                                           bool allow_remote) {
  // Sent by every current browser and by nothing else: a page of another site is asking.
  const std::string site = lowered(trimmed(sec_fetch_site));
  if (site == "cross-site" || site == "same-site") {
    return fmt::format("Sec-Fetch-Site: {}: a web page may not use the control API", site);
  }
  if (!origin.empty() && !allow_remote && !is_loopback_host(origin_authority(origin))) {
    return fmt::format("Origin '{}' is not a loopback name; start dropsim with --api-allow-remote to accept it",
                       origin);
  }
  return std::nullopt;
}

ListenRule listen_rule(const HostPort& where, bool allow_remote_listen) {
  if (allow_remote_listen) return ListenRule::any_peer;
  if (where.wildcard()) return ListenRule::loopback_peers_only;
  const auto address = where.literal();
  // A name here was not looked up: refused rather than trusted (ControlApi looks up first).
  return address && address->is_loopback() ? ListenRule::any_peer : ListenRule::refused;
}

ApiGuard::ApiGuard(ApiAccess access) : access_(std::move(access)) {
  if (access_.allow_remote) access_.allow_remote_listen = true;
}

std::optional<Refusal> ApiGuard::check(const HttpRequest& request) const {
  const std::string_view host = request.header("Host");
  if (!access_.allow_remote && !is_loopback_host(host)) {
    return Refusal{403, fmt::format("Host '{}' is not a loopback name; start dropsim with --api-allow-remote to "
                                    "accept it",
                                    host)};
  }
  if (auto why = browser_refusal(request.header("Sec-Fetch-Site"), request.header("Origin"), access_.allow_remote)) {
    return Refusal{403, std::move(*why)};
  }
  if (!changes_state(request.method)) return std::nullopt;
  // Toxiproxy's stopBrowsersMiddleware, for changes only: a page may read /events.
  if (request.header("User-Agent").starts_with("Mozilla/")) return Refusal{403, "User agent not allowed"};
  if (access_.token.empty()) return std::nullopt;
  const std::string_view authorization = request.header("Authorization");
  if (authorization.empty()) {
    return Refusal{401, "a state change needs the header 'Authorization: Bearer TOKEN' with the token given to "
                        "dropsim (--api-token or DROPSIM_API_TOKEN)"};
  }
  if (!bearer_matches(authorization, access_.token)) {
    return Refusal{401, "the Authorization header is not 'Bearer' with the API's token"};
  }
  return std::nullopt;
}

ListenRule ApiGuard::listen(const std::string& address) const {
  return listen_rule(parse_host_port(address), access_.allow_remote_listen);
}

std::string ApiGuard::listen_refusal(const std::string& given, const std::string& address) {
  const std::string shown = given == address ? fmt::format("'{}'", given) : fmt::format("'{}' ({})", given, address);
  return fmt::format(
      "listen address {} is not loopback: through a loopback-only API a proxy listens on loopback, or on every "
      "interface for loopback clients only; start dropsim with --allow-remote-listen to listen there",
      shown);
}

}  // namespace dropsim
