#include "config_yaml.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace dropsim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

/// The error loading `yaml` (as "c.yaml") raises; fails the test when it loads.
ProfileError config_error(std::string_view yaml, const std::string& file = "c.yaml") {
  try {
    load_config(yaml, file);
  } catch (const ProfileError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ProfileError for:\n" << yaml;
  return ProfileError("", 0, 0, "");
}

/// Checks that loading `yaml` fails at `place` ("c.yaml:LINE:COL: ") with `phrase` in the message.
void expect_error(std::string_view yaml, std::string_view place, std::string_view phrase) {
  const ProfileError e = config_error(yaml);
  const std::string_view what = e.what();
  EXPECT_TRUE(what.starts_with(place)) << "want '" << place << "' in: " << what;
  EXPECT_NE(what.find(phrase), std::string_view::npos) << "want '" << phrase << "' in: " << what;
}

/// One proxy `p` on lines 2-4 (name at 2:5, listen at 3:5, upstream at 4:5), then `rest`
/// from line 5, indented by the caller.
std::string one_proxy(std::string_view rest = "") {
  return "proxies:\n"
         "  - name: p\n"
         "    listen: 127.0.0.1:8080\n"
         "    upstream: 127.0.0.1:3000\n" +
         std::string(rest);
}

/// One proxy with one fault, `{body}` on line 6: the mapping at column 9, its body from column 10.
std::string one_fault(std::string_view body) {
  return one_proxy("    faults:\n      - {" + std::string(body) + "}\n");
}

/// The good chain: alb → nginx → app → the server on 3000.
constexpr std::string_view kChain = R"(api: 127.0.0.1:8474
seed: 42
time_scale: 0.05
proxies:
  - name: alb
    listen: 127.0.0.1:8080
    upstream: 127.0.0.1:8081
    profile: alb
    settings: {idle_timeout: 60s}
    faults:
      - type: latency
        attributes: {latency: 100, jitter: 10}
        after: 5s
        for: 2s
  - name: nginx
    listen: 127.0.0.1:8081
    upstream: 127.0.0.1:8082
    profile: nginx
    settings:
      proxy_read_timeout: 2
      reset_timedout_connection: on
    time_scale: 1
  - name: app
    listen: 127.0.0.1:8082
    upstream: localhost:3000
    enabled: false
    faults:
      - {type: reset_peer, name: rst, stream: upstream, toxicity: 0.25, attributes: {timeout: 500}}
      - {type: partition, after: 1m}
)";

TEST(Config, ChainOfThreeProxies) {
  const RunConfig c = load_config(kChain, "c.yaml");
  EXPECT_EQ(c.api, "127.0.0.1:8474");
  EXPECT_EQ(c.seed, 42u);
  ASSERT_EQ(c.proxies.size(), 3u);

  const ProxySpec& alb = c.proxies[0];
  EXPECT_EQ(alb.name, "alb");
  EXPECT_EQ(alb.listen, "127.0.0.1:8080");
  EXPECT_EQ(alb.upstream, "127.0.0.1:8081");
  EXPECT_EQ(alb.profile, "alb");
  ASSERT_EQ(alb.settings.size(), 1u);
  EXPECT_EQ(alb.settings[0].name, "idle_timeout");
  EXPECT_EQ(alb.settings[0].value, "60s");
  EXPECT_DOUBLE_EQ(alb.time_scale.value_or(0), 0.05);  // the file's default
  EXPECT_TRUE(alb.enabled);
  ASSERT_EQ(alb.faults.size(), 1u);
  const FaultSpec& latency = alb.faults[0];
  EXPECT_EQ(latency.toxic.type, ToxicType::latency);
  EXPECT_EQ(latency.toxic.name, "latency_downstream");
  EXPECT_EQ(latency.toxic.stream, Direction::downstream);
  EXPECT_DOUBLE_EQ(latency.toxic.toxicity, 1.0);
  EXPECT_EQ(latency.toxic.get("latency"), 100);
  EXPECT_EQ(latency.toxic.get("jitter"), 10);
  EXPECT_EQ(latency.after, seconds(5));
  EXPECT_EQ(latency.lasts, seconds(2));

  const ProxySpec& nginx = c.proxies[1];
  EXPECT_EQ(nginx.profile, "nginx");
  ASSERT_EQ(nginx.settings.size(), 2u);
  EXPECT_EQ(nginx.settings[0].name, "proxy_read_timeout");
  EXPECT_EQ(nginx.settings[0].value, "2");  // text: the profile reads it (nginx: seconds)
  EXPECT_EQ(nginx.settings[1].value, "on");
  EXPECT_DOUBLE_EQ(nginx.time_scale.value_or(0), 1.0);  // its own
  EXPECT_TRUE(nginx.faults.empty());

  const ProxySpec& app = c.proxies[2];
  EXPECT_EQ(app.upstream, "localhost:3000");  // a host name is fine upstream
  EXPECT_EQ(app.profile, "tcp");
  EXPECT_FALSE(app.enabled);
  ASSERT_EQ(app.faults.size(), 2u);
  const Toxic& rst = app.faults[0].toxic;
  EXPECT_EQ(rst.type, ToxicType::reset_peer);
  EXPECT_EQ(rst.name, "rst");
  EXPECT_EQ(rst.stream, Direction::upstream);
  EXPECT_DOUBLE_EQ(rst.toxicity, 0.25);
  EXPECT_EQ(rst.get("timeout"), 500);
  EXPECT_EQ(rst.get("bytes"), 0);
  EXPECT_EQ(app.faults[0].after, seconds(0));
  EXPECT_FALSE(app.faults[0].lasts);
  EXPECT_EQ(app.faults[1].toxic.name, "partition_downstream");
  EXPECT_EQ(app.faults[1].after, seconds(60));
}

TEST(Config, TheExampleInTheDocsLoads) {
  const std::string path = std::string(DROPSIM_SOURCE_DIR) + "/docs/config.md";
  std::ifstream in(path);
  std::stringstream md;
  md << in.rdbuf();
  const std::string text = md.str();
  const auto start = text.find("```yaml\n");
  ASSERT_NE(start, std::string::npos) << "no yaml block in " << path;
  const auto end = text.find("```", start + 8);
  const RunConfig c = load_config(std::string_view(text).substr(start + 8, end - start - 8), path);
  ASSERT_EQ(c.proxies.size(), 3u);
  EXPECT_EQ(c.proxies[0].faults[0].toxic.name, "slow_down");
  EXPECT_EQ(c.proxies[2].faults[0].lasts, seconds(10));
}

TEST(Config, Minimal) {
  const RunConfig c = load_config(one_proxy(), "c.yaml");
  EXPECT_FALSE(c.api);
  EXPECT_FALSE(c.seed);
  ASSERT_EQ(c.proxies.size(), 1u);
  EXPECT_EQ(c.proxies[0].profile, "tcp");
  EXPECT_DOUBLE_EQ(c.proxies[0].time_scale.value_or(0), 1.0);
  EXPECT_TRUE(c.proxies[0].settings.empty());
  EXPECT_TRUE(c.proxies[0].faults.empty());
}

TEST(Config, ActionsOnASchedule) {
  const RunConfig c = load_config(one_proxy("    profile: caddy\n"
                                            "    actions:\n"
                                            "      - {after: 30s, action: reload}\n"
                                            "      - {after: 1m, action: ws_close, code: 4000, reason: test over}\n"
                                            "      - {after: 2m, action: drain}\n"),
                                  "c.yaml");
  ASSERT_EQ(c.proxies[0].actions.size(), 3u);
  const auto& a = c.proxies[0].actions;
  EXPECT_EQ(a[0].after, seconds(30));
  EXPECT_EQ(a[0].request.action, SessionAction::reload);
  EXPECT_EQ(a[1].after, seconds(60));
  EXPECT_EQ(a[1].request.action, SessionAction::ws_close);
  EXPECT_EQ(a[1].request.code, 4000);
  EXPECT_EQ(a[1].request.reason, "test over");
  EXPECT_EQ(a[2].request.action, SessionAction::drain);
  EXPECT_EQ(a[2].request.code, 1001);
  EXPECT_TRUE(load_config(one_proxy(), "c.yaml").proxies[0].actions.empty());
}

TEST(ConfigError, Actions) {
  expect_error(one_proxy("    actions:\n      - {after: 1s, action: relaod}\n"), "c.yaml:6:9: ",
               "unknown action \"relaod\"; expected one of rst, fin, blackhole, ws_close, drain, reload");
  expect_error(one_proxy("    actions:\n      - {action: fin}\n"), "c.yaml:6:9: ", "add after:");
  expect_error(one_proxy("    actions:\n      - {after: 1s, action: ws_close, code: 1006}\n"), "c.yaml:6:9: ",
               "code 1006 cannot be sent in a close frame");
  expect_error(one_proxy("    actions:\n      - {after: 1s, action: fin, at: 2s}\n"), "c.yaml:6:",
               "unknown key 'at' in an action");
}

TEST(Config, SettingsByTheRealSystemsNames) {
  // The names --set takes: HAProxy's with a space, AWS's attribute name (an alias).
  const RunConfig c = load_config("proxies:\n"
                                  "  - {name: h, listen: 127.0.0.1:1, upstream: 127.0.0.1:9, profile: haproxy,\n"
                                  "     settings: {'timeout tunnel': 1500, retries: 2}}\n"
                                  "  - {name: a, listen: 127.0.0.1:2, upstream: 127.0.0.1:9, profile: alb,\n"
                                  "     settings: {idle_timeout.timeout_seconds: 300}}\n",
                                  "c.yaml");
  ASSERT_EQ(c.proxies[0].settings.size(), 2u);
  EXPECT_EQ(c.proxies[0].settings[0].name, "timeout tunnel");
  EXPECT_EQ(c.proxies[0].settings[0].value, "1500");
  EXPECT_EQ(c.proxies[1].settings[0].name, "idle_timeout.timeout_seconds");
}

TEST(Config, PortZeroNeverClashes) {
  const RunConfig c = load_config("proxies:\n"
                                  "  - {name: a, listen: 127.0.0.1:0, upstream: 127.0.0.1:3000}\n"
                                  "  - {name: b, listen: 127.0.0.1:0, upstream: 127.0.0.1:3000}\n",
                                  "c.yaml");
  EXPECT_EQ(c.proxies.size(), 2u);
}

TEST(Config, RelativeProfilePathIsReadFromTheConfigDirectory) {
  const std::string file = std::string(DROPSIM_SOURCE_DIR) + "/docs/dropsim.yaml";
  const RunConfig c = load_config(one_proxy("    profile: ../profiles/nginx.yaml\n"
                                            "    settings: {proxy_read_timeout: 2s}\n"),
                                  file);
  EXPECT_EQ(c.proxies[0].profile, std::string(DROPSIM_SOURCE_DIR) + "/docs/../profiles/nginx.yaml");
  // From elsewhere the same path is not found, and the error names the path it tried.
  const ProfileError e = config_error(one_proxy("    profile: ../profiles/nginx.yaml\n"), "elsewhere/c.yaml");
  EXPECT_EQ(std::string(e.what()).find("elsewhere/c.yaml:5:14: elsewhere/../profiles/nginx.yaml: "), 0u) << e.what();
}

TEST(Config, LoadConfigFileNamesAMissingFile) {
  try {
    load_config_file("/nonexistent/dropsim.yaml");
    ADD_FAILURE() << "loaded a missing file";
  } catch (const ProfileError& e) {
    EXPECT_EQ(e.file(), "/nonexistent/dropsim.yaml");
    EXPECT_NE(std::string(e.message()).find("no such file"), std::string::npos) << e.what();
  }
}

// toxiproxy-server -config: the JSON array POST /populate takes, next to dropsim's YAML.
TEST(Config, ToxiproxysJsonConfig) {
  const RunConfig c = load_toxiproxy_config(R"([
    {"name": "redis", "listen": "localhost:26379", "upstream": "redis:6379", "enabled": true},
    {"name": "pg:5432", "listen": "[::]:15432", "upstream": "postgres:5432", "enabled": false},
    {"name": "mysql", "listen": ":13306", "upstream": "mysql:3306"}
  ])",
                                            "proxies.json");
  ASSERT_EQ(c.proxies.size(), 3u);
  EXPECT_EQ(c.proxies[0].name, "redis");
  EXPECT_EQ(c.proxies[0].listen, "localhost:26379");
  EXPECT_EQ(c.proxies[0].upstream, "redis:6379");
  EXPECT_EQ(c.proxies[0].profile, "tcp");  // Toxiproxy's plain proxy
  EXPECT_FALSE(c.proxies[1].enabled);
  EXPECT_EQ(c.proxies[1].name, "pg:5432");
  EXPECT_TRUE(c.proxies[2].enabled);  // absent: enabled, as Toxiproxy populates
  EXPECT_FALSE(c.api);
}

TEST(Config, ToxiproxysJsonConfigErrorsNameTheFilePlace) {
  try {
    load_toxiproxy_config("[\n  {\"name\": \"a\",, }\n]", "proxies.json");
    ADD_FAILURE() << "loaded broken JSON";
  } catch (const ProfileError& e) {
    EXPECT_EQ(e.file(), "proxies.json");
    EXPECT_EQ(e.line(), 2) << e.what();
    EXPECT_GT(e.column(), 0) << e.what();
    EXPECT_NE(std::string(e.message()).find("JSON array of"), std::string::npos) << e.what();
  }
  try {
    load_toxiproxy_config(R"([{"listen": "127.0.0.1:1", "upstream": "127.0.0.1:2"}])", "proxies.json");
    ADD_FAILURE() << "loaded a proxy without a name";
  } catch (const ProfileError& e) {
    EXPECT_NE(std::string(e.message()).find("missing required field: name"), std::string::npos) << e.what();
  }
}

TEST(Config, LoadConfigFileTellsJsonFromYaml) {
  const std::string dir = ::testing::TempDir();
  const std::string json = dir + "/dropsim-tp.json";
  const std::string yaml = dir + "/dropsim-tp.yaml";
  std::ofstream(json) << "  [{\"name\": \"a\", \"listen\": \"127.0.0.1:0\", \"upstream\": \"127.0.0.1:9\"}]\n";
  std::ofstream(yaml) << "proxies:\n  - {name: b, listen: '127.0.0.1:0', upstream: '127.0.0.1:9'}\n";
  EXPECT_EQ(load_config_file(json).proxies.at(0).name, "a");
  EXPECT_EQ(load_config_file(yaml).proxies.at(0).name, "b");
  std::remove(json.c_str());
  std::remove(yaml.c_str());
}

// --- errors: the document -----------------------------------------------------------------

TEST(ConfigError, Empty) { EXPECT_STREQ(config_error("").what(), "c.yaml: the config is empty: add proxies: with at least one proxy (see docs/config.md)"); }

TEST(ConfigError, SyntaxError) { expect_error("proxies: [\n", "c.yaml:2:1: ", "YAML syntax error"); }

TEST(ConfigError, NotAMapping) { expect_error("- a\n", "c.yaml:1:1: ", "a config must be a mapping"); }

TEST(ConfigError, UnknownTopKey) {
  expect_error("proxys: []\n", "c.yaml:1:1: ", "unknown key 'proxys' in the config (did you mean 'proxies'?); valid keys: api, seed, time_scale, proxies");
}

TEST(ConfigError, NoProxies) {
  expect_error("seed: 1\n", "c.yaml:1:1: ", "the config is missing 'proxies': add proxies:");
  expect_error("proxies: []\n", "c.yaml:1:10: ", "'proxies' is empty: add at least one proxy");
  expect_error("proxies: {a: 1}\n", "c.yaml:1:10: ", "'proxies' must be a list");
}

TEST(ConfigError, Seed) { expect_error("seed: -1\n" + one_proxy(), "c.yaml:1:7: ", "seed '-1' must be a whole number, 0 or more"); }

TEST(ConfigError, TimeScale) {
  expect_error("time_scale: 0\n" + one_proxy(), "c.yaml:1:13: ", "time_scale '0' must be a positive number: write e.g. 0.05");
  expect_error(one_proxy("    time_scale: fast\n"), "c.yaml:5:17: ", "time_scale 'fast' must be a positive number");
}

TEST(ConfigError, ApiAddress) {
  expect_error("api: 8474\n" + one_proxy(), "c.yaml:1:6: ", "'8474' is not HOST:PORT: no HOST (write 127.0.0.1:8474, or :8474 for every interface) (in 'api')");
  expect_error("api: 127.0.0.1:8080\n" + one_proxy(), "c.yaml:1:6: ",
               "api 127.0.0.1:8080 clashes with the listen address 127.0.0.1:8080 of proxy 'p' (line 4): give the API another port");
}

// --- errors: a proxy ------------------------------------------------------------------------

TEST(ConfigError, UnknownProxyKey) {
  expect_error(one_proxy("    upstraem: 127.0.0.1:1\n"), "c.yaml:5:5: ",
               "unknown key 'upstraem' in a proxy (did you mean 'upstream'?); valid keys: name, listen, upstream");
}

TEST(ConfigError, RepeatedKey) {
  expect_error(one_proxy("    listen: 127.0.0.1:9090\n"), "c.yaml:5:5: ", "'listen' appears twice in a proxy: keep one");
}

TEST(ConfigError, MissingRequiredKeys) {
  expect_error("proxies:\n  - listen: 127.0.0.1:8080\n    upstream: 127.0.0.1:3000\n", "c.yaml:2:5: ",
               "a proxy is missing 'name': add name: <a unique name>");
  expect_error("proxies:\n  - name: p\n    upstream: 127.0.0.1:3000\n", "c.yaml:2:5: ",
               "proxy 'p' is missing 'listen': add listen: HOST:PORT");
  expect_error("proxies:\n  - name: p\n    listen: 127.0.0.1:8080\n", "c.yaml:2:5: ",
               "proxy 'p' is missing 'upstream': add upstream: HOST:PORT");
  expect_error("proxies:\n  - name: p\n    listen:\n    upstream: 127.0.0.1:3000\n", "c.yaml:3:5: ",
               "'listen' has no value: write one after the colon");
}

TEST(ConfigError, ProxyName) {
  expect_error("proxies:\n  - {name: a b, listen: 127.0.0.1:1, upstream: 127.0.0.1:2}\n", "c.yaml:2:12: ",
               "proxy name 'a b' may hold only letters, digits, '_', '.', ':' and '-'");
}

TEST(ConfigError, DuplicateProxyName) {
  expect_error("proxies:\n"
               "  - {name: a, listen: 127.0.0.1:1, upstream: 127.0.0.1:9}\n"
               "  - {name: a, listen: 127.0.0.1:2, upstream: 127.0.0.1:9}\n",
               "c.yaml:3:12: ", "a second proxy is named 'a' (the first is at line 2): give each proxy its own name");
}

TEST(ConfigError, DuplicateListen) {
  expect_error("proxies:\n"
               "  - {name: a, listen: 127.0.0.1:8080, upstream: 127.0.0.1:9}\n"
               "  - {name: b, listen: '127.0.0.1:8080', upstream: 127.0.0.1:9}\n",
               "c.yaml:3:23: ",
               "proxy 'b' listens on 127.0.0.1:8080, which proxy 'a' already takes with 127.0.0.1:8080 (line 2): give it another port");
  // Every interface includes the loopback one.
  expect_error("proxies:\n"
               "  - {name: a, listen: 127.0.0.1:8080, upstream: 127.0.0.1:9}\n"
               "  - {name: b, listen: 0.0.0.0:8080, upstream: 127.0.0.1:9}\n",
               "c.yaml:3:23: ", "proxy 'b' listens on 0.0.0.0:8080, which proxy 'a' already takes");
}

TEST(ConfigError, BadAddresses) {
  expect_error("proxies:\n  - name: p\n    listen: 127.0.0.1\n    upstream: 127.0.0.1:3000\n", "c.yaml:3:13: ",
               "'127.0.0.1' is not HOST:PORT: no ':PORT' (write e.g. 127.0.0.1:8080, or :8080 for every interface) "
               "(in 'listen')");
  expect_error("proxies:\n  - {name: p, listen: 127.0.0.1:8080, upstream: 'h:99999'}\n", "c.yaml:2:49: ",
               "'h:99999' is not HOST:PORT: the port '99999' is not a number from 0 to 65535 (in 'upstream')");
  expect_error("proxies:\n  - {name: p, listen: '::1:8080', upstream: h:1}\n", "c.yaml:2:23: ",
               "'::1:8080' is not HOST:PORT: too many colons; an IPv6 address goes in brackets: [::1]:8080");
}

// Every form a Toxiproxy user writes: names are looked up when the proxy starts.
TEST(Config, EveryAddressForm) {
  const RunConfig c = load_config("proxies:\n"
                                  "  - {name: a, listen: 'localhost:0', upstream: 'localhost:26379'}\n"
                                  "  - {name: 'b:6379', listen: '[::1]:0', upstream: 'redis.internal:6379'}\n"
                                  "  - {name: c, listen: ':8666', upstream: '[::1]:3000'}\n"
                                  "  - {name: d, listen: '127.0.0.1:0', upstream: '127.0.0.1:3000'}\n",
                                  "c.yaml");
  ASSERT_EQ(c.proxies.size(), 4u);
  EXPECT_EQ(c.proxies[0].listen, "localhost:0");
  EXPECT_EQ(c.proxies[1].name, "b:6379");
  EXPECT_EQ(c.proxies[1].upstream, "redis.internal:6379");
  EXPECT_EQ(c.proxies[2].listen, ":8666");
}

TEST(ConfigError, ListenNamesClashLikeTheirAddresses) {
  expect_error("proxies:\n"
               "  - {name: a, listen: '127.0.0.1:8080', upstream: '127.0.0.1:9'}\n"
               "  - {name: b, listen: 'localhost:8080', upstream: '127.0.0.1:9'}\n",
               "c.yaml:3:23: ", "proxy 'b' listens on localhost:8080, which proxy 'a' already takes");
  // ":PORT" is every interface, as 0.0.0.0 is.
  expect_error("proxies:\n"
               "  - {name: a, listen: ':8080', upstream: '127.0.0.1:9'}\n"
               "  - {name: b, listen: '127.0.0.1:8080', upstream: '127.0.0.1:9'}\n",
               "c.yaml:3:23: ", "proxy 'b' listens on 127.0.0.1:8080, which proxy 'a' already takes");
}

TEST(ConfigError, Loop) {
  expect_error("proxies:\n"
               "  - {name: a, listen: 127.0.0.1:8080, upstream: 127.0.0.1:8081}\n"
               "  - {name: b, listen: 0.0.0.0:8081, upstream: 127.0.0.1:8080}\n",
               "c.yaml:2:49: ", "proxy 'a' forwards back to itself (a → b → a)");
  expect_error("proxies:\n  - {name: a, listen: 127.0.0.1:8080, upstream: 127.0.0.1:8080}\n", "c.yaml:2:49: ",
               "proxy 'a' forwards back to itself (a → a), so a connection would loop");
  expect_error("proxies:\n  - {name: a, listen: 127.0.0.1:8080, upstream: 'localhost:8080'}\n", "c.yaml:2:49: ",
               "proxy 'a' forwards back to itself (a → a)");
}

TEST(ConfigError, Enabled) {
  expect_error(one_proxy("    enabled: maybe\n"), "c.yaml:5:14: ", "enabled 'maybe' is not a boolean: write true or false");
}

// --- errors: the profile and its settings ---------------------------------------------------

TEST(ConfigError, UnknownProfile) {
  expect_error(one_proxy("    profile: ngnix\n"), "c.yaml:5:14: ",
               "no built-in profile 'ngnix' (did you mean 'nginx'?); built-in profiles: ");
}

TEST(ConfigError, UnknownSetting) {
  expect_error(one_proxy("    profile: nginx\n    settings:\n      proxy_read_timeuot: 2s\n"), "c.yaml:7:7: ",
               "profile 'nginx' has no setting 'proxy_read_timeuot' (did you mean 'proxy_read_timeout'?)");
  expect_error(one_proxy("    settings: {idle_timeout: 60s}\n"), "c.yaml:5:16: ",
               "profile 'tcp' has no setting 'idle_timeout'");  // the default profile has none
}

TEST(ConfigError, BadSettingValue) {
  expect_error(one_proxy("    profile: nginx\n    settings:\n      proxy_read_timeout: 2s\n      send_timeout: soon\n"),
               "c.yaml:8:21: ", "'soon' is not a duration for setting 'send_timeout': write it with a unit");
  expect_error(one_proxy("    profile: nginx\n    settings: {proxy_read_timeout: [1]}\n"), "c.yaml:6:36: ",
               "'proxy_read_timeout' must be a single value, found a list");
}

// --- errors: faults ---------------------------------------------------------------------------

TEST(ConfigError, FaultsNotAList) {
  expect_error(one_proxy("    faults: {type: latency}\n"), "c.yaml:5:13: ", "'faults' must be a list");
}

/// A fault that fails: its flow mapping (one_fault), where, and what the message says.
struct FaultCase {
  std::string_view body;
  std::string_view place;
  std::string_view phrase;
};

/// Every check of one fault entry, each with its position and its fix.
constexpr FaultCase kFaultErrors[] = {
    // keys
    {"type: latency, atributes: {}", "c.yaml:6:25: ",
     "unknown key 'atributes' in a fault (did you mean 'attributes'?); valid keys: type, name, stream"},
    {"name: x", "c.yaml:6:9: ", "a fault is missing 'type': add type: one of latency, bandwidth"},
    // type
    {"type: latancy", "c.yaml:6:16: ",
     "unknown toxic type 'latancy' (did you mean 'latency'?); valid types: latency, bandwidth, slow_close, timeout, "
     "reset_peer, slicer, limit_data, partition"},
    // attributes: the type's own, whole, not negative, consistent
    {"type: latency, attributes: {latncy: 1}", "c.yaml:6:38: ",
     "a latency toxic has no attribute 'latncy' (did you mean 'latency'?); its attributes: latency (ms), jitter (ms)"},
    {"type: bandwidth, attributes: {latency: 1}", "c.yaml:6:40: ",
     "a bandwidth toxic has no attribute 'latency'; its attributes: rate (KB/s)"},
    {"type: latency, attributes: {latency: 1.5}", "c.yaml:6:47: ",
     "latency '1.5' must be a whole number, 0 or more, of ms (time added to every chunk): e.g. latency: 100"},
    {"type: latency, attributes: {jitter: -5}", "c.yaml:6:46: ", "jitter '-5' must be a whole number, 0 or more"},
    {"type: latency, attributes: {latency: 100ms}", "c.yaml:6:47: ", "latency '100ms' must be a whole number"},
    {"type: latency, attributes: [1]", "c.yaml:6:37: ", "'attributes' must be a mapping"},
    {"type: slicer, attributes: {average_size: 10, size_variation: 20}", "c.yaml:6:36: ",
     "slicer toxic 'slicer_downstream': size_variation must not exceed average_size"},
    // stream, toxicity
    {"type: latency, stream: both", "c.yaml:6:33: ",
     "stream 'both' is not a direction: write upstream (client→server) or downstream"},
    {"type: latency, toxicity: 1.5", "c.yaml:6:35: ", "toxicity '1.5' must be a number from 0 to 1"},
    {"type: latency, toxicity: -0.1", "c.yaml:6:35: ", "toxicity '-0.1' must be a number from 0 to 1"},
    // schedule
    {"type: latency, after: 5", "c.yaml:6:32: ", "'5' is not a duration (in 'after'): write a duration with a unit, e.g. 5s"},
    {"type: latency, for: 2 s", "c.yaml:6:30: ", "'2 s' is not a duration (in 'for')"},
    {"type: partition, for: 0s", "c.yaml:6:32: ", "for: 0s would remove the fault as soon as it applies"},
};

TEST(ConfigError, Faults) {
  for (const FaultCase& c : kFaultErrors) {
    SCOPED_TRACE(c.body);
    expect_error(one_fault(c.body), c.place, c.phrase);
  }
}

TEST(ConfigError, DuplicateFaultName) {
  expect_error(one_proxy("    faults:\n"
                         "      - type: latency\n"
                         "      - type: latency\n"
                         "        stream: downstream\n"),
               "c.yaml:7:9: ",
               "a second fault of proxy 'p' is named 'latency_downstream' (the first is at line 6): give one of "
               "them its own name:");
  expect_error(one_proxy("    faults:\n"
                         "      - {type: latency, name: slow}\n"
                         "      - {type: bandwidth, name: slow}\n"),
               "c.yaml:7:33: ", "a second fault of proxy 'p' is named 'slow'");
}

TEST(ConfigError, SameFaultTypeInBothStreamsIsFine) {
  const RunConfig c = load_config(one_proxy("    faults:\n"
                                            "      - {type: latency, stream: upstream}\n"
                                            "      - {type: latency}\n"),
                                  "c.yaml");
  ASSERT_EQ(c.proxies[0].faults.size(), 2u);
  EXPECT_EQ(c.proxies[0].faults[0].toxic.name, "latency_upstream");
  EXPECT_EQ(c.proxies[0].faults[1].toxic.name, "latency_downstream");
  EXPECT_EQ(c.proxies[0].faults[1].after, milliseconds(0));
}

// --- every error in one pass, ranges, telling a config from a profile -----------------------

TEST(ConfigError, EveryIndependentErrorInOnePassInFileOrder) {
  const ProfileError e = config_error(R"(api: 127.0.0.1:8080
seed: -1
proxies:
  - name: a
    listen: 127.0.0.1:8080
    upstream: 127.0.0.1:3000
    profile: alb
    settings: {idle_timeot: 5s, idle_timeout: soon}
    faults:
      - {type: latncy}
      - {type: latency, toxicity: 2}
  - name: a
    listen: 127.0.0.1:8081
    upstream: 127.0.0.1:3000
)");
  const std::vector<ProfileError> all = e.errors();
  ASSERT_EQ(all.size(), 7u) << e.report();
  const std::vector<std::string> places = {"c.yaml:1:6: ",  "c.yaml:2:7: ",   "c.yaml:8:16: ", "c.yaml:8:47: ",
                                           "c.yaml:10:16: ", "c.yaml:11:35: ", "c.yaml:12:11: "};
  const std::vector<std::string> phrases = {"api 127.0.0.1:8080 clashes",
                                            "seed '-1'",
                                            "no setting 'idle_timeot' (did you mean 'idle_timeout'?)",
                                            "'soon' is not a duration for setting 'idle_timeout'",
                                            "unknown toxic type 'latncy'",
                                            "toxicity '2'",
                                            "a second proxy is named 'a'"};
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string what = all[i].what();
    EXPECT_TRUE(what.starts_with(places[i])) << places[i] << " in " << what;
    EXPECT_NE(what.find(phrases[i]), std::string::npos) << phrases[i] << " in " << what;
  }
}

TEST(Config, ASettingOutsideTheRealRangeWarnsAtItsLine) {
  const std::string yaml = one_proxy("    profile: alb\n    settings: {idle_timeout: 5000s}\n");
  const RunConfig config = load_config(yaml, "c.yaml");
  ASSERT_EQ(config.warnings.size(), 1u);
  EXPECT_TRUE(config.warnings[0].starts_with("c.yaml:6:30: warning: idle_timeout 5000s is outside what alb allows "
                                             "(1s-4000s"))
      << config.warnings[0];
  try {
    load_config(yaml, "c.yaml", /*strict=*/true);
    ADD_FAILURE() << "strict: expected a ProfileError";
  } catch (const ProfileError& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("c.yaml:6:30: idle_timeout 5000s is outside")) << e.what();
  }
}

TEST(Config, LooksLikeConfigByContent) {
  EXPECT_TRUE(looks_like_config(kChain));
  EXPECT_TRUE(looks_like_config("api: 127.0.0.1:8474\n"));
  EXPECT_TRUE(looks_like_config("seed: 1\n"));
  EXPECT_TRUE(looks_like_config("  [{\"name\": \"x\"}]"));  // Toxiproxy's JSON config
  EXPECT_TRUE(looks_like_config("- name: x\n"));
  EXPECT_FALSE(looks_like_config("name: nginx\nmode: http\ntimers: []\n"));
  EXPECT_FALSE(looks_like_config("name: [\n"));  // the profile loader reports the syntax error
  EXPECT_FALSE(looks_like_config(""));
}

}  // namespace
}  // namespace dropsim
