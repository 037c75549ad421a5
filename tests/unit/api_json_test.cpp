// The control API's JSON: Toxiproxy's shapes exactly as its clients read them, its Go
// decoder's leniency, and dropsim's strict bodies.

#include "api_json.h"

#include <gtest/gtest.h>

#include "builtin_profiles.h"

namespace dropsim {
namespace {

/// The ApiError `fn` throws, as "STATUS message"; "none" when it throws nothing.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const ApiError& e) {
    return std::to_string(e.status()) + " " + e.what();
  }
  return "none";
}

TEST(ApiJsonShapes, ToxicIsToxiproxysWrapperInItsOrder) {
  Toxic t = Toxic::make(ToxicType::latency, Direction::upstream);
  t.set("latency", 100);
  t.set("jitter", 10);
  EXPECT_EQ(toxic_json(t).dump(),
            R"({"attributes":{"latency":100,"jitter":10},"name":"latency_upstream","type":"latency",)"
            R"("stream":"upstream","toxicity":1})");
  t.toxicity = 0.3;
  EXPECT_EQ(toxic_json(t)["toxicity"].dump(), "0.3");  // float32 printed as Go prints it
}

TEST(ApiJsonShapes, ExtensionAttributesOnlyWhenSet) {
  Toxic t = Toxic::make(ToxicType::reset_peer);
  EXPECT_EQ(toxic_json(t)["attributes"].dump(), R"({"timeout":0})");
  t.set("bytes", 1000);
  EXPECT_EQ(toxic_json(t)["attributes"].dump(), R"({"timeout":0,"bytes":1000})");
}

TEST(ApiJsonShapes, ProxyIsToxiproxysShape) {
  ProxyInfo p;
  p.name = "redis";
  p.listen = "127.0.0.1:26379";
  p.upstream = "localhost:6379";
  p.profile = "nginx";  // dropsim's fields stay out of Toxiproxy's shape
  EXPECT_EQ(proxy_json(p).dump(),
            R"({"name":"redis","listen":"127.0.0.1:26379","upstream":"localhost:6379","enabled":true,"toxics":[]})");
  const Json detail = proxy_detail_json(p);
  EXPECT_EQ(detail["profile"], "nginx");
  EXPECT_EQ(detail["active_sessions"], 0);
  EXPECT_TRUE(detail["toxics"].is_array());
}

TEST(ApiJsonShapes, SessionHasBothDirections) {
  SessionInfo s;
  s.id = 7;
  s.proxy = "p";
  s.ways[index(Direction::upstream)].bytes = 12;
  s.ways[index(Direction::downstream)].idle_s = 1.5;
  s.timers.push_back({"idle_timeout", 58.5});
  s.timers.push_back({"lifetime", std::nullopt});
  const Json j = session_json(s);
  EXPECT_EQ(j["id"], 7);
  EXPECT_EQ(j["upstream"]["bytes"], 12);
  EXPECT_TRUE(j["upstream"]["idle_s"].is_null());
  EXPECT_EQ(j["downstream"]["idle_s"], 1.5);
  EXPECT_EQ(j["downstream"]["frames"].dump(), R"({"data":0,"ping":0,"pong":0,"close":0})");
  EXPECT_EQ(j["timers"][0]["fires_in_s"], 58.5);
  EXPECT_TRUE(j["timers"][1]["fires_in_s"].is_null());
  EXPECT_EQ(j["state"], "connecting");
  // At time scale 1 real and profile time are one: no twins.
  EXPECT_FALSE(j.contains("profile_age_s"));
  EXPECT_FALSE(j.contains("time_scale"));
  EXPECT_FALSE(j["timers"][0].contains("profile_fires_in_s"));
}

TEST(ApiJsonShapes, ScaledSessionHasProfileTwinsOfEveryDuration) {
  // Every field is in real seconds; profile_* gives the profile's seconds beside it.
  SessionInfo s;
  s.time_scale = 0.05;
  s.age_s = 10.5;
  s.state = SessionState::blackholed;
  s.ways[index(Direction::downstream)].idle_s = 3.0;
  s.timers.push_back({"idle_timeout", 1.5});
  s.timers.push_back({"lifetime", std::nullopt});
  const Json j = session_json(s);
  EXPECT_EQ(j["state"], "blackholed");
  EXPECT_EQ(j["time_scale"], 0.05);
  EXPECT_EQ(j["age_s"], 10.5);
  EXPECT_DOUBLE_EQ(j["profile_age_s"].get<double>(), 210.0);
  EXPECT_DOUBLE_EQ(j["downstream"]["profile_idle_s"].get<double>(), 60.0);
  EXPECT_TRUE(j["upstream"]["profile_idle_s"].is_null());
  EXPECT_EQ(j["timers"][0]["fires_in_s"], 1.5);
  EXPECT_DOUBLE_EQ(j["timers"][0]["profile_fires_in_s"].get<double>(), 30.0);
  EXPECT_TRUE(j["timers"][1]["profile_fires_in_s"].is_null());
}

TEST(ApiJsonShapes, ProfileListsSettingsAndYaml) {
  const auto& p = embedded_profiles().front();
  const Json j = profile_json(load_profile(p.text, std::string(p.path)), true);
  EXPECT_EQ(j["name"], std::string(p.name));
  EXPECT_TRUE(j["settings"].is_array());
  EXPECT_NE(j["yaml"].get<std::string>().find("name:"), std::string::npos);
  EXPECT_FALSE(profile_json(load_profile(p.text, std::string(p.path)), false).contains("yaml"));
}

TEST(GoDecoder, ReadsTheFirstValueAndIgnoresTheRest) {
  EXPECT_EQ(parse_go_body(R"( {"name":"a"} trailing)")["name"], "a");
  EXPECT_EQ(error_of([] { parse_go_body(""); }), "400 bad request body: EOF");
  EXPECT_EQ(error_of([] { parse_go_body("  \n"); }), "400 bad request body: EOF");
  EXPECT_EQ(error_of([] { parse_go_body("{bad"); }).rfind("400 bad request body: parse error", 0), 0u);
}

TEST(GoDecoder, ProxySpecDefaultsAndMissingFields) {
  const ProxySpec spec = go_proxy_spec(parse_go_body(R"({"name":"a","upstream":"localhost:1","unknown":[1]})"));
  EXPECT_EQ(spec.name, "a");
  EXPECT_EQ(spec.upstream, "localhost:1");
  EXPECT_EQ(spec.listen, "127.0.0.1:0");
  EXPECT_TRUE(spec.enabled);
  EXPECT_EQ(spec.profile, "tcp");
  EXPECT_EQ(error_of([] { go_proxy_spec(parse_go_body(R"({"upstream":"x:1"})")); }),
            "400 missing required field: name");
  EXPECT_EQ(error_of([] { go_proxy_spec(parse_go_body(R"({"name":"a"})")); }),
            "400 missing required field: upstream");
  EXPECT_EQ(error_of([] { go_proxy_spec(parse_go_body("null")); }), "400 missing required field: name");
}

TEST(GoDecoder, KeysMatchCaseInsensitivelyAndNullKeepsTheDefault) {
  const ProxySpec spec = go_proxy_spec(parse_go_body(R"({"Name":"a","UPSTREAM":"u:1","enabled":null})"));
  EXPECT_EQ(spec.name, "a");
  EXPECT_EQ(spec.upstream, "u:1");
  EXPECT_TRUE(spec.enabled);
  // An exact match wins over a case-insensitive one.
  EXPECT_EQ(go_proxy_spec(parse_go_body(R"({"NAME":"x","name":"y","upstream":"u:1"})")).name, "y");
}

TEST(GoDecoder, WrongTypesAreBadRequestBodies) {
  EXPECT_EQ(error_of([] { go_proxy_spec(parse_go_body(R"({"name":1,"upstream":"u:1"})")); }),
            "400 bad request body: json: cannot unmarshal number into Go struct field Proxy.name of type string");
  EXPECT_EQ(error_of([] { go_proxy_spec(parse_go_body(R"({"name":"a","upstream":"u:1","enabled":"yes"})")); }),
            "400 bad request body: json: cannot unmarshal string into Go struct field Proxy.enabled of type bool");
  EXPECT_EQ(error_of([] { go_proxy_spec(parse_go_body("[]")); }),
            "400 bad request body: json: cannot unmarshal array into Go value of type toxiproxy.Proxy");
}

TEST(GoDecoder, DropsimExtensionsOnProxyCreate) {
  const ProxySpec spec = go_proxy_spec(parse_go_body(
      R"({"name":"a","upstream":"u:1","profile":"nginx","settings":{"proxy_read_timeout":"2s","x":5,"b":true},"time_scale":0.5})"));
  EXPECT_EQ(spec.profile, "nginx");
  ASSERT_EQ(spec.settings.size(), 3u);
  EXPECT_EQ(spec.settings[1].value, "5");
  EXPECT_EQ(spec.settings[2].value, "on");
  EXPECT_EQ(spec.time_scale, 0.5);
  EXPECT_EQ(error_of([] { go_proxy_spec(parse_go_body(R"({"name":"a","upstream":"u:1","time_scale":0})")); })
                .substr(0, 4),
            "400 ");
}

TEST(GoDecoder, PopulateNamesTheProxy) {
  EXPECT_TRUE(go_populate(parse_go_body("null")).empty());
  EXPECT_EQ(go_populate(parse_go_body(R"([{"name":"a","upstream":"u:1","enabled":false}])"))[0].enabled, false);
  EXPECT_EQ(error_of([] { go_populate(parse_go_body(R"([{"name":"a","upstream":"u:1"},{"name":"b"}])")); }),
            "400 missing required field: upstream at proxy 2");
  EXPECT_EQ(error_of([] { go_populate(parse_go_body(R"({"name":"a"})")); }).substr(0, 60),
            "400 bad request body: json: cannot unmarshal object into Go ");
}

TEST(GoDecoder, ProxyUpdateHasOnlyTheFieldsGiven) {
  const ProxyUpdate u = go_proxy_update(parse_go_body(R"({"enabled":false,"name":"ignored"})"));
  EXPECT_EQ(u.enabled, false);
  EXPECT_FALSE(u.listen.has_value());
  EXPECT_FALSE(u.upstream.has_value());
}

TEST(GoDecoder, ToxicDefaultsAndOrderOfChecks) {
  const Toxic t = go_toxic_head(parse_go_body(R"({"type":"latency"})"));
  EXPECT_EQ(t.name, "latency_downstream");
  EXPECT_EQ(t.stream, Direction::downstream);
  EXPECT_EQ(t.toxicity, 1.0);
  EXPECT_EQ(go_toxic_head(parse_go_body(R"({"type":"slicer","stream":"UpStream"})")).name, "slicer_upstream");
  // The stream is checked before the type.
  EXPECT_EQ(error_of([] { go_toxic_head(parse_go_body(R"({"type":"nope","stream":"sideways"})")); }),
            "400 stream was invalid, can be either upstream or downstream");
  // Toxiproxy's words first, then the valid types and the likely one.
  EXPECT_EQ(error_of([] { go_toxic_head(parse_go_body(R"({"type":"nope"})")); }),
            "400 invalid toxic type \"nope\"; valid types: " + toxic_type_names());
  EXPECT_EQ(error_of([] { go_toxic_head(parse_go_body(R"({"type":"latancy"})")); }),
            "400 invalid toxic type \"latancy\" (did you mean 'latency'?); valid types: latency, bandwidth, "
            "slow_close, timeout, reset_peer, slicer, limit_data, partition");
  EXPECT_EQ(error_of([] { go_toxic_head(parse_go_body(R"({"stream":""})")); }),
            "400 stream was invalid, can be either upstream or downstream");
  EXPECT_EQ(error_of([] { go_toxic_head(parse_go_body(R"({"type":"latency","toxicity":"half"})")); }),
            "400 bad request body: json: cannot unmarshal string into Go struct field ToxicWrapper.toxicity of "
            "type float32");
}

TEST(GoDecoder, ToxicAttributesAreIntegersAndUnknownOnesIgnored) {
  const Json body = parse_go_body(R"({"type":"latency","attributes":{"latency":100,"Jitter":5,"rate":9}})");
  Toxic t = go_toxic_head(body);
  const std::vector<std::string> warnings = go_toxic_attributes(body, t);
  EXPECT_EQ(t.get("latency"), 100);
  EXPECT_EQ(t.get("jitter"), 5);
  // "Jitter" is read (Go's case-insensitive match); "rate" is ignored, and said so.
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "unknown attribute \"rate\" of a latency toxic ignored; its attributes: latency, jitter");
  const Json fractional = parse_go_body(R"({"type":"latency","attributes":{"latency":1.5}})");
  Toxic f = go_toxic_head(fractional);
  EXPECT_EQ(error_of([&] { go_toxic_attributes(fractional, f); }),
            "400 bad request body: json: cannot unmarshal number 1.5 into Go struct field "
            "ToxicWrapper.attributes.latency of type int64");
  EXPECT_EQ(error_of([] { go_toxic_head(parse_go_body(R"({"type":"latency","attributes":[1]})")); }),
            "400 bad request body: json: cannot unmarshal array into Go struct field ToxicWrapper.attributes of "
            "type toxics.Toxic");
}

TEST(GoDecoder, AMistypedAttributeIsAWarningWithASuggestion) {
  // {"rates":100} used to store rate 0 silently, which stalls every byte.
  const Json body = parse_go_body(R"({"type":"bandwidth","attributes":{"rates":100}})");
  Toxic t = go_toxic_head(body);
  const std::vector<std::string> warnings = go_toxic_attributes(body, t);
  EXPECT_EQ(t.get("rate"), 0);
  EXPECT_EQ(warnings, std::vector<std::string>{"unknown attribute \"rates\" of a bandwidth toxic ignored (did you "
                                               "mean 'rate'?); its attributes: rate"});
  Toxic clean = go_toxic_head(parse_go_body(R"({"type":"bandwidth"})"));
  EXPECT_TRUE(go_toxic_attributes(parse_go_body(R"({"attributes":{"rate":1,"RATE":2}})"), clean).empty());
}

TEST(GoDecoder, ToxicUpdateReadsWithTheCurrentType) {
  const Toxic current = Toxic::make(ToxicType::bandwidth);
  const ToxicUpdate u = go_toxic_update(parse_go_body(R"({"attributes":{"rate":5,"latency":3},"toxicity":0.5})"), current);
  ASSERT_EQ(u.attributes.size(), 1u);
  EXPECT_EQ(u.attributes[0].first, "rate");
  EXPECT_EQ(u.toxicity, 0.5);
  EXPECT_EQ(u.warnings, std::vector<std::string>{
                            "unknown attribute \"latency\" of a bandwidth toxic ignored; its attributes: rate"});
  EXPECT_FALSE(go_toxic_update(parse_go_body("{}"), current).toxicity.has_value());
}

TEST(StrictBodies, UnknownFieldsAreNamedWithTheAllowedOnes) {
  EXPECT_EQ(parse_strict_body("", {"a"}, "x"), Json::object());
  EXPECT_EQ(error_of([] { parse_strict_body(R"({"duration":5})", {"duration_ms"}, "a partition"); }),
            "400 unknown field \"duration\" in a partition; allowed: duration_ms");
  EXPECT_EQ(error_of([] { parse_strict_body("[1]", {"a"}, "x"); }),
            "400 bad request body: expected a JSON object, got an array");
  EXPECT_EQ(error_of([] { parse_strict_body(R"({"a":1} x)", {"a"}, "x"); }).substr(0, 33),
            "400 bad request body: parse error");
}

TEST(StrictBodies, Actions) {
  const RuntimeOptions options;
  EXPECT_EQ(strict_action(Json::object(), SessionAction::rst, options).action, SessionAction::rst);
  const ActionRequest ws = strict_action(Json::parse(R"({"action":"ws_close","code":4000,"reason":"bye"})"),
                                         SessionAction::rst, options);
  EXPECT_EQ(ws.action, SessionAction::ws_close);
  EXPECT_EQ(ws.code, 4000);
  EXPECT_EQ(ws.reason, "bye");
  const ActionRequest drain = strict_action(Json::parse(R"({"action":"drain"})"), SessionAction::rst, options);
  EXPECT_EQ(drain.code, 1001);
  EXPECT_EQ(drain.reason, "going away");
  EXPECT_EQ(error_of([&] { strict_action(Json::parse(R"({"action":"explode"})"), SessionAction::rst, options); }),
            "400 unknown action \"explode\"; expected one of rst, fin, blackhole, ws_close, drain, reload");
  EXPECT_EQ(error_of([&] { strict_action(Json::parse(R"({"code":1006})"), SessionAction::rst, options); }).substr(0, 13),
            "400 code 1006");
  EXPECT_EQ(error_of([&] { strict_action(Json::parse(R"({"code":"1000"})"), SessionAction::rst, options); }),
            "400 field \"code\" must be an integer, got a string");
  EXPECT_EQ(error_of([&] {
              strict_action(Json{{"reason", std::string(124, 'x')}}, SessionAction::rst, options);
            }).substr(0, 20),
            "400 reason is 124 by");
}

TEST(StrictBodies, ProfileChangeAndPartition) {
  const ProfileChange c = strict_profile_change(Json::parse(R"({"profile":"alb","settings":{"idle_timeout":"3s"}})"));
  EXPECT_EQ(c.profile, "alb");
  // None given: the runtime's default (run --time-scale) applies, not 1.
  EXPECT_FALSE(c.time_scale.has_value());
  EXPECT_EQ(strict_profile_change(Json::parse(R"({"time_scale":0.5})")).time_scale, 0.5);
  ASSERT_EQ(c.settings.size(), 1u);
  EXPECT_EQ(c.settings[0].name, "idle_timeout");
  EXPECT_FALSE(strict_profile_change(Json::object()).profile.has_value());
  EXPECT_EQ(error_of([] { strict_profile_change(Json::parse(R"({"time_scale":-1})")); }).substr(0, 14),
            "400 time_scale");
  EXPECT_EQ(error_of([] { strict_profile_change(Json::parse(R"({"settings":{"a":[1]}})")); }).substr(0, 16),
            "400 setting \"a\" ");
  EXPECT_EQ(strict_partition(Json::parse(R"({"duration_ms":250})")), std::chrono::milliseconds(250));
  EXPECT_EQ(strict_partition(Json::object()), Duration{0});
  EXPECT_EQ(error_of([] { strict_partition(Json::parse(R"({"duration_ms":-1})")); }),
            "400 field \"duration_ms\" must not be negative, got -1");
  EXPECT_EQ(error_of([] { strict_partition(Json::parse(R"({"duration_ms":1.5})")); }),
            "400 field \"duration_ms\" must be a non-negative integer, got a number");
  // api_json_fuzz: {"duration_ms": 9223372036854775807} overflowed turning into nanoseconds.
  EXPECT_EQ(error_of([] { strict_partition(Json::parse(R"({"duration_ms":9223372036854775807})")); }),
            "400 field \"duration_ms\" must be at most 10000000000, got 9223372036854775807");
  EXPECT_EQ(error_of([] { strict_partition(Json::parse(R"({"duration_ms":18446744073709551615})")); }),
            "400 field \"duration_ms\" must be at most 10000000000, got 18446744073709551615");
  EXPECT_EQ(strict_partition(Json::parse(R"({"duration_ms":10000000000})")), std::chrono::milliseconds(kMaxToxicMs));
}

TEST(ApiJsonShapes, ErrorBody) { EXPECT_EQ(error_json(404, "proxy not found").dump(), R"({"error":"proxy not found","status":404})"); }

}  // namespace
}  // namespace dropsim
