#pragma once
// The control API's JSON, apart from sockets and from Runtime: pure functions, tested alone.
//
// Two dialects:
// - Toxiproxy's endpoints answer Toxiproxy's shapes, field for field and in its order, and
//   read bodies as its Go decoder does: the first JSON value of the body, unknown fields
//   ignored, keys matched exactly or else case-insensitively, null leaving the default, a
//   wrong type a 400 "bad request body: json: cannot unmarshal ...".
// - dropsim's own endpoints read strictly: an unknown field is a 400 naming it and the
//   allowed ones, and every value must have its type.
// Every error is an ApiError (runtime.h) carrying the status to answer.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_response.h"
#include "profile.h"
#include "runtime.h"

namespace dropsim {

/// JSON objects keep their keys in insertion order, as Go's structs print them.
using Json = nlohmann::ordered_json;

/// The Toxiproxy version /version reports: clients compare it (PATCH needs ≥ 2.6.0).
inline constexpr std::string_view kToxiproxyVersion = "2.12.0";

/// {"error": message, "status": status}: both APIs' error body.
Json error_json(int status, std::string_view message);
/// A response of `status` with error_json as its body.
HttpResponse error_response(int status, std::string_view message);

// ----------------------------------------------------------------- Toxiproxy's shapes

/// {"attributes": {...}, "name", "type", "stream", "toxicity"}; dropsim's extension
/// attributes appear only when non-zero.
Json toxic_json(const Toxic& toxic);
/// [toxic_json, ...]: GET /proxies/{name}/toxics, and a proxy's "toxics".
Json toxics_json(const std::vector<Toxic>& toxics);
/// {"name", "listen", "upstream", "enabled", "toxics": [...]}.
Json proxy_json(const ProxyInfo& proxy);

// ----------------------------------------------------------------- dropsim's shapes

/// proxy_json plus "profile", "settings" {name: value}, "time_scale", "active_sessions",
/// "total_sessions".
Json proxy_detail_json(const ProxyInfo& proxy);
/// One live session: bytes, frames and idle time per direction, timers, toxics.
Json session_json(const SessionInfo& session);
/// A resolved profile: name, description, source, mode, settings (value, default, doc),
/// timers; with its YAML when `with_yaml`.
Json profile_json(const Profile& profile, bool with_yaml);

// ----------------------------------------------------------------- Toxiproxy's bodies

/// The first JSON value of `body` (what follows it is ignored, as by Go's Decoder).
/// 400 "bad request body: EOF" when empty, "bad request body: <why>" when malformed.
Json parse_go_body(std::string_view body);

/// POST /proxies, one element of POST /populate: name, listen, upstream, enabled (true
/// when absent), and dropsim's profile, settings, time_scale when given. `what` names
/// the element in missing-field messages ("" for POST /proxies, " at proxy 2" for
/// populate). 400 "missing required field: name" and the like.
ProxySpec go_proxy_spec(const Json& body, std::string_view what = "");
/// POST /populate: an array of proxies (null: none). Runtime::populate refuses duplicate
/// names (500, as Toxiproxy answers them).
std::vector<ProxySpec> go_populate(const Json& body);
/// PATCH /proxies/{name}: the fields given.
ProxyUpdate go_proxy_update(const Json& body);

/// POST /proxies/{name}/toxics, in Toxiproxy's order of checks: the stream (400
/// "stream was invalid, ..."), the default name, the type (400 'invalid toxic type
/// "latancy" (did you mean 'latency'?); valid types: ...', Toxiproxy's words first).
/// The attributes are not read yet: call go_toxic_attributes after the duplicate check.
Toxic go_toxic_head(const Json& body);
/// Reads body["attributes"] into `toxic`. Unknown attributes are ignored, as Toxiproxy's
/// decoder ignores them (its clients rely on it); returns one warning for each.
std::vector<std::string> go_toxic_attributes(const Json& body, Toxic& toxic);
/// One line per key of `attributes` that no attribute of `type` reads (Go's exact or
/// case-insensitive match): 'unknown attribute "rates" of a bandwidth toxic ignored (did
/// you mean 'rate'?); its attributes: rate'.
std::vector<std::string> unknown_attribute_warnings(const Json& attributes, ToxicType type);
/// PATCH /proxies/{name}/toxics/{toxic}: attributes and toxicity, read with `current`'s type.
ToxicUpdate go_toxic_update(const Json& body, const Toxic& current);

// ----------------------------------------------------------------- dropsim's bodies

/// A dropsim body: an object (an empty body is {}); 400 "bad request body: ..." when it
/// is not JSON or not an object, 400 'unknown field "x" in WHAT; allowed: a, b' when
/// it has a field not in `allowed`.
Json parse_strict_body(std::string_view body, std::initializer_list<std::string_view> allowed,
                       std::string_view what);

/// {"action", "code", "reason"} → ActionRequest; `default_action` when none is given;
/// a drain without code or reason gets `options`' (1001 "going away").
/// 400 for an unknown action, a code no close frame may carry or a reason over 123 bytes.
ActionRequest strict_action(const Json& body, SessionAction default_action, const RuntimeOptions& options);
/// {"profile", "settings", "time_scale"} for PUT /proxies/{name}/profile.
struct ProfileChange {
  std::optional<std::string> profile;  ///< nullopt: keep the proxy's
  std::vector<SettingOverride> settings;
  std::optional<double> time_scale;  ///< nullopt: the runtime's default (`run --time-scale`)
};
ProfileChange strict_profile_change(const Json& body);
/// {"duration_ms": N} for POST /proxies/{name}/partition; 0 (until healed) when absent.
Duration strict_partition(const Json& body);

}  // namespace dropsim
