#include "api_json.h"

// Go's encoding/json, as far as Toxiproxy's bodies need it: Decoder.Decode reads one
// value and leaves the rest; a struct field matches its tag exactly or, failing that,
// case-insensitively; null leaves a field as it was; a value of the wrong type is an
// UnmarshalTypeError naming the JSON type, the field and the Go type.

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "profile_yaml.h"
#include "suggest.h"

namespace dropsim {
namespace {

constexpr int kBadRequest = 400;

[[noreturn]] void bad_body(const std::string& why) { throw ApiError(kBadRequest, "bad request body: " + why); }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

/// The JSON type as Go's messages name it.
std::string go_json_type(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "bool";
    case Json::value_t::array: return "array";
    case Json::value_t::object: return "object";
    case Json::value_t::number_float: return "number " + v.dump();
    default: return "number";
  }
}

[[noreturn]] void go_type_error(const Json& v, std::string_view field, std::string_view go_type) {
  bad_body(fmt::format("json: cannot unmarshal {} into Go struct field {} of type {}", go_json_type(v), field,
                       go_type));
}

/// The value of struct field `key` as Go would pick it; nullptr when absent or null.
const Json* go_field(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  const Json* found = nullptr;
  if (auto it = obj.find(std::string(key)); it != obj.end()) {
    found = &*it;
  } else {
    for (auto it2 = obj.begin(); it2 != obj.end(); ++it2) {
      if (iequals(it2.key(), key)) {
        found = &*it2;
        break;
      }
    }
  }
  return found != nullptr && !found->is_null() ? found : nullptr;
}

/// `body` as the object a Go struct is decoded from: null counts as {}.
const Json& go_object(const Json& body, std::string_view go_type) {
  static const Json kEmpty = Json::object();
  if (body.is_null()) return kEmpty;
  if (!body.is_object()) bad_body(fmt::format("json: cannot unmarshal {} into Go value of type {}", go_json_type(body), go_type));
  return body;
}

std::optional<std::string> go_string(const Json& obj, std::string_view key, std::string_view owner) {
  const Json* v = go_field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) go_type_error(*v, fmt::format("{}.{}", owner, key), "string");
  return v->get<std::string>();
}

std::optional<bool> go_bool(const Json& obj, std::string_view key, std::string_view owner) {
  const Json* v = go_field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) go_type_error(*v, fmt::format("{}.{}", owner, key), "bool");
  return v->get<bool>();
}

std::optional<double> go_float(const Json& obj, std::string_view key, std::string_view owner) {
  const Json* v = go_field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) go_type_error(*v, fmt::format("{}.{}", owner, key), "float32");
  return v->get<double>();
}

std::optional<std::int64_t> go_int64(const Json& obj, std::string_view key, std::string_view owner) {
  const Json* v = go_field(obj, key);
  if (v == nullptr) return std::nullopt;
  // Go parses an integer field from the literal: 1.0 and 1e3 are not integers to it.
  const bool fits = v->is_number_integer() &&
                    (!v->is_number_unsigned() ||
                     v->get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
  if (!fits) go_type_error(*v, fmt::format("{}.{}", owner, key), "int64");
  return v->get<std::int64_t>();
}

/// Setting values as profiles read them: text, or a number or bool written as text.
std::vector<SettingOverride> settings_from(const Json& obj, std::string_view field) {
  if (!obj.is_object()) {
    throw ApiError(kBadRequest, fmt::format("field \"{}\" must be an object of setting: value", field));
  }
  std::vector<SettingOverride> out;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const Json& v = it.value();
    std::string text;
    if (v.is_string()) {
      text = v.get<std::string>();
    } else if (v.is_boolean()) {
      text = v.get<bool>() ? "on" : "off";
    } else if (v.is_number()) {
      text = v.dump();
    } else {
      throw ApiError(kBadRequest, fmt::format("setting \"{}\" in \"{}\" must be a string, number or bool", it.key(),
                                              field));
    }
    out.push_back(SettingOverride{it.key(), std::move(text)});
  }
  return out;
}

double positive_time_scale(double scale) {
  if (!(scale > 0) || !std::isfinite(scale)) {
    throw ApiError(kBadRequest, fmt::format("time_scale must be a positive number, got {}", scale));
  }
  return scale;
}

/// Toxicity as Go prints a float32: 1, 0.5 (not 1.0).
Json toxicity_json(double t) {
  const float f = static_cast<float>(t);
  if (f == std::floor(f) && std::fabs(f) < 1e15F) return static_cast<std::int64_t>(f);
  // Shortest text that reads back as the same float32, as Go's strconv does.
  for (int digits = 1; digits <= 9; ++digits) {
    const std::string s = fmt::format("{:.{}g}", f, digits);
    if (std::strtof(s.c_str(), nullptr) == f) return std::stod(s);
  }
  return t;
}

std::string json_type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a bool";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::null: return "null";
    default: return "a number";
  }
}

[[noreturn]] void strict_type_error(std::string_view key, std::string_view expected, const Json& v) {
  throw ApiError(kBadRequest, fmt::format("field \"{}\" must be {}, got {}", key, expected, json_type_name(v)));
}

const Json* strict_field(const Json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  return it == obj.end() ? nullptr : &*it;
}

}  // namespace

Json error_json(int status, std::string_view message) {
  Json j;
  j["error"] = message;
  j["status"] = status;
  return j;
}

HttpResponse error_response(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = error_json(status, message).dump() + "\n";
  return r;
}

Json toxic_json(const Toxic& toxic) {
  Json attributes = Json::object();
  const auto specs = attributes_of(toxic.type);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const std::int64_t v = i < toxic.values.size() ? toxic.values[i] : 0;
    if (specs[i].extension && v == 0) continue;
    attributes[std::string(specs[i].name)] = v;
  }
  Json j;
  j["attributes"] = std::move(attributes);
  j["name"] = toxic.name;
  j["type"] = to_string(toxic.type);
  j["stream"] = to_string(toxic.stream);
  j["toxicity"] = toxicity_json(toxic.toxicity);
  return j;
}

Json toxics_json(const std::vector<Toxic>& toxics) {
  Json list = Json::array();
  for (const Toxic& t : toxics) list.push_back(toxic_json(t));
  return list;
}

Json proxy_json(const ProxyInfo& proxy) {
  Json j;
  j["name"] = proxy.name;
  j["listen"] = proxy.listen;
  j["upstream"] = proxy.upstream;
  j["enabled"] = proxy.enabled;
  j["toxics"] = toxics_json(proxy.toxics);
  return j;
}

Json proxy_detail_json(const ProxyInfo& proxy) {
  Json j = proxy_json(proxy);
  j.erase("toxics");  // last, after dropsim's fields
  j["profile"] = proxy.profile;
  Json settings = Json::object();
  for (const SettingOverride& s : proxy.settings) settings[s.name] = s.value;
  j["settings"] = std::move(settings);
  j["time_scale"] = proxy.time_scale;
  j["active_sessions"] = proxy.active_sessions;
  j["total_sessions"] = proxy.total_sessions;
  j["toxics"] = toxics_json(proxy.toxics);
  return j;
}

namespace {

/// Sets `key` (real seconds, or null) and, when the session's time is scaled, its
/// "profile_" twin in the profile's seconds: one rule for every duration of the API.
void put_seconds(Json& j, const std::string& key, std::optional<double> real, double time_scale) {
  j[key] = real ? Json(*real) : Json(nullptr);
  if (time_scale != 1.0) j["profile_" + key] = real ? Json(*real / time_scale) : Json(nullptr);
}

}  // namespace

Json session_json(const SessionInfo& s) {
  Json j;
  j["id"] = s.id;
  j["proxy"] = s.proxy;
  j["client"] = s.client;
  j["state"] = to_string(s.state);
  put_seconds(j, "age_s", s.age_s, s.time_scale);
  if (s.time_scale != 1.0) j["time_scale"] = s.time_scale;
  j["connected"] = s.connected;
  j["websocket"] = s.websocket;
  for (Direction d : kDirections) {
    const SessionInfo::Way& way = s.ways[index(d)];
    Json w;
    w["bytes"] = way.bytes;
    Json frames;
    for (FrameKind k : kFrameKinds) frames[std::string(to_string(k))] = way.frames[static_cast<std::size_t>(k)];
    w["frames"] = std::move(frames);
    put_seconds(w, "idle_s", way.idle_s, s.time_scale);
    j[std::string(to_string(d))] = std::move(w);
  }
  Json timers = Json::array();
  for (const SessionInfo::Timer& t : s.timers) {
    Json tj;
    tj["name"] = t.name;
    put_seconds(tj, "fires_in_s", t.fires_in_s, s.time_scale);
    timers.push_back(std::move(tj));
  }
  j["timers"] = std::move(timers);
  j["toxics"] = s.toxics;
  return j;
}

Json profile_json(const Profile& profile, bool with_yaml) {
  Json j;
  j["name"] = profile.name;
  j["description"] = profile.description;
  j["source"] = profile.source;
  j["mode"] = to_string(profile.mode);
  Json settings = Json::array();
  for (const Setting& s : profile.settings) {
    Json sj;
    sj["name"] = s.name;
    sj["type"] = s.type;
    sj["value"] = s.value;
    sj["default"] = s.default_value;
    sj["doc"] = s.doc;
    settings.push_back(std::move(sj));
  }
  j["settings"] = std::move(settings);
  Json timers = Json::array();
  for (const TimerSpec& t : profile.timers) timers.push_back(t.name);
  j["timers"] = std::move(timers);
  if (with_yaml) j["yaml"] = to_yaml(profile);
  return j;
}

Json parse_go_body(std::string_view body) {
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) bad_body("EOF");
  // operator>> parses one value and stops, as Go's Decoder does; parse() would insist
  // on the end of input.
  std::istringstream in{std::string(body.substr(first))};
  Json j;
  try {
    in >> j;
  } catch (const Json::exception& e) {
    std::string why = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." → the part after "parse error"
    if (const auto at = why.find("parse error"); at != std::string::npos) why = why.substr(at);
    bad_body(why);
  }
  return j;
}

ProxySpec go_proxy_spec(const Json& body, std::string_view what) {
  const Json& obj = go_object(body, "toxiproxy.Proxy");
  ProxySpec spec;
  spec.name = go_string(obj, "name", "Proxy").value_or("");
  if (auto listen = go_string(obj, "listen", "Proxy"); listen && !listen->empty()) spec.listen = *listen;
  spec.upstream = go_string(obj, "upstream", "Proxy").value_or("");
  spec.enabled = go_bool(obj, "enabled", "Proxy").value_or(true);
  // dropsim's additions; a Toxiproxy client never sends them.
  if (auto profile = go_string(obj, "profile", "Proxy")) spec.profile = *profile;
  if (const Json* settings = go_field(obj, "settings")) spec.settings = settings_from(*settings, "settings");
  if (auto scale = go_float(obj, "time_scale", "Proxy")) spec.time_scale = positive_time_scale(*scale);
  if (spec.name.empty()) throw ApiError(kBadRequest, fmt::format("missing required field: name{}", what));
  if (spec.upstream.empty()) throw ApiError(kBadRequest, fmt::format("missing required field: upstream{}", what));
  return spec;
}

std::vector<ProxySpec> go_populate(const Json& body) {
  std::vector<ProxySpec> specs;
  if (body.is_null()) return specs;
  if (!body.is_array()) {
    bad_body(fmt::format("json: cannot unmarshal {} into Go value of type []struct {{ toxiproxy.Proxy; Enabled *bool "
                         "\"json:\\\"enabled\\\"\" }}",
                         go_json_type(body)));
  }
  for (std::size_t i = 0; i < body.size(); ++i) specs.push_back(go_proxy_spec(body[i], fmt::format(" at proxy {}", i + 1)));
  return specs;
}

ProxyUpdate go_proxy_update(const Json& body) {
  const Json& obj = go_object(body, "toxiproxy.Proxy");
  ProxyUpdate update;
  update.listen = go_string(obj, "listen", "Proxy");
  update.upstream = go_string(obj, "upstream", "Proxy");
  update.enabled = go_bool(obj, "enabled", "Proxy");
  return update;
}

Toxic go_toxic_head(const Json& body) {
  const Json& obj = go_object(body, "toxics.ToxicWrapper");
  const std::string name = go_string(obj, "name", "ToxicWrapper").value_or("");
  const std::string type_text = go_string(obj, "type", "ToxicWrapper").value_or("");
  const std::string stream_text = go_string(obj, "stream", "ToxicWrapper").value_or("downstream");
  const double toxicity = go_float(obj, "toxicity", "ToxicWrapper").value_or(1.0);
  if (const Json* attrs = go_field(obj, "attributes"); attrs != nullptr && !attrs->is_object()) {
    go_type_error(*attrs, "ToxicWrapper.attributes", "toxics.Toxic");
  }
  // Toxiproxy lower-cases the stream before it parses it.
  std::string lowered = stream_text;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), lower);
  const auto stream = parse_direction(lowered);
  if (!stream) throw ApiError(kBadRequest, "stream was invalid, can be either upstream or downstream");
  const auto type = parse_toxic_type(type_text);
  if (!type) {
    // Toxiproxy's words first (clients match them), then what would have been valid.
    std::vector<std::string> names;
    for (ToxicType t : all_toxic_types()) names.emplace_back(to_string(t));
    throw ApiError(kBadRequest, fmt::format("invalid toxic type \"{}\"{}; valid types: {}", type_text,
                                            did_you_mean(type_text, names), toxic_type_names()));
  }
  Toxic toxic = Toxic::make(*type, *stream);
  if (!name.empty()) toxic.name = name;
  toxic.toxicity = toxicity;
  return toxic;
}

std::vector<std::string> unknown_attribute_warnings(const Json& attributes, ToxicType type) {
  std::vector<std::string> warnings;
  if (!attributes.is_object()) return warnings;
  std::vector<std::string> known;
  for (const AttributeSpec& spec : attributes_of(type)) known.emplace_back(spec.name);
  std::string known_list;
  for (const std::string& k : known) known_list += (known_list.empty() ? "" : ", ") + k;
  for (auto it = attributes.begin(); it != attributes.end(); ++it) {
    // Go matches a field case-insensitively when no tag matches exactly: "Rate" is read.
    const bool read = std::any_of(known.begin(), known.end(), [&](const std::string& k) { return iequals(k, it.key()); });
    if (read) continue;
    warnings.push_back(fmt::format("unknown attribute \"{}\" of a {} toxic ignored{}; its attributes: {}", it.key(),
                                   to_string(type), did_you_mean(it.key(), known),
                                   known_list.empty() ? "none" : known_list));
  }
  return warnings;
}

std::vector<std::string> go_toxic_attributes(const Json& body, Toxic& toxic) {
  const Json* attrs = go_field(body, "attributes");
  if (attrs == nullptr) return {};
  for (const AttributeSpec& spec : attributes_of(toxic.type)) {
    if (auto v = go_int64(*attrs, spec.name, "ToxicWrapper.attributes")) toxic.set(spec.name, *v);
  }
  return unknown_attribute_warnings(*attrs, toxic.type);
}

ToxicUpdate go_toxic_update(const Json& body, const Toxic& current) {
  const Json& obj = go_object(body, "struct { Attributes interface {}; Toxicity float32 }");
  ToxicUpdate update;
  update.toxicity = go_float(obj, "toxicity", "ToxicWrapper");
  if (const Json* attrs = go_field(obj, "attributes")) {
    if (!attrs->is_object()) go_type_error(*attrs, "ToxicWrapper.attributes", "toxics.Toxic");
    for (const AttributeSpec& spec : attributes_of(current.type)) {
      if (auto v = go_int64(*attrs, spec.name, "ToxicWrapper.attributes")) update.attributes.emplace_back(spec.name, *v);
    }
    update.warnings = unknown_attribute_warnings(*attrs, current.type);
  }
  return update;
}

Json parse_strict_body(std::string_view body, std::initializer_list<std::string_view> allowed,
                       std::string_view what) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return Json::object();
  Json j;
  try {
    j = Json::parse(body);
  } catch (const Json::exception& e) {
    std::string why = e.what();
    if (const auto at = why.find("parse error"); at != std::string::npos) why = why.substr(at);
    bad_body(why);
  }
  if (!j.is_object()) bad_body(fmt::format("expected a JSON object, got {}", json_type_name(j)));
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
    std::string names;
    for (std::string_view a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
    throw ApiError(kBadRequest, fmt::format("unknown field \"{}\" in {}; allowed: {}", it.key(), what,
                                            names.empty() ? "none" : names));
  }
  return j;
}

ActionRequest strict_action(const Json& body, SessionAction default_action, const RuntimeOptions& options) {
  ActionRequest req;
  req.action = default_action;
  if (const Json* a = strict_field(body, "action")) {
    if (!a->is_string()) strict_type_error("action", "a string", *a);
    const auto parsed = parse_session_action(a->get<std::string>());
    if (!parsed) {
      throw ApiError(kBadRequest, fmt::format("unknown action \"{}\"; expected one of {}", a->get<std::string>(),
                                              session_action_names()));
    }
    req.action = *parsed;
  }
  if (const Json* c = strict_field(body, "code")) {
    if (!c->is_number_integer()) strict_type_error("code", "an integer", *c);
    const auto code = c->get<std::int64_t>();
    // 1004-1006 and 1015 are reserved: never sent in a close frame (RFC 6455 §7.4.1).
    if (code < 1000 || code > 4999 || code == 1004 || code == 1005 || code == 1006 || code == 1015) {
      throw ApiError(kBadRequest, fmt::format("code {} cannot be sent in a close frame: use 1000-4999, not "
                                              "1004, 1005, 1006 or 1015",
                                              code));
    }
    req.code = static_cast<std::uint16_t>(code);
  }
  if (const Json* r = strict_field(body, "reason")) {
    if (!r->is_string()) strict_type_error("reason", "a string", *r);
    req.reason = r->get<std::string>();
    if (req.reason.size() > 123) {
      throw ApiError(kBadRequest, fmt::format("reason is {} bytes; a close frame holds at most 123",
                                              req.reason.size()));
    }
  }
  if (req.action == SessionAction::drain) {
    if (strict_field(body, "code") == nullptr) req.code = options.drain_code;
    if (strict_field(body, "reason") == nullptr) req.reason = options.drain_reason;
  }
  return req;
}

ProfileChange strict_profile_change(const Json& body) {
  ProfileChange change;
  if (const Json* p = strict_field(body, "profile")) {
    if (!p->is_string()) strict_type_error("profile", "a string", *p);
    change.profile = p->get<std::string>();
  }
  if (const Json* s = strict_field(body, "settings")) change.settings = settings_from(*s, "settings");
  if (const Json* t = strict_field(body, "time_scale")) {
    if (!t->is_number()) strict_type_error("time_scale", "a number", *t);
    change.time_scale = positive_time_scale(t->get<double>());
  }
  return change;
}

Duration strict_partition(const Json& body) {
  const Json* d = strict_field(body, "duration_ms");
  if (d == nullptr) return Duration{0};
  if (!d->is_number_integer()) strict_type_error("duration_ms", "a non-negative integer", *d);
  // As a toxic's times: a larger one would overflow in nanoseconds.
  if (d->is_number_unsigned() && d->get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxToxicMs)) {
    throw ApiError(kBadRequest, fmt::format("field \"duration_ms\" must be at most {}, got {}", kMaxToxicMs, d->dump()));
  }
  if (d->get<std::int64_t>() < 0) {
    throw ApiError(kBadRequest, fmt::format("field \"duration_ms\" must not be negative, got {}", d->dump()));
  }
  return std::chrono::milliseconds(d->get<std::int64_t>());
}

}  // namespace dropsim
