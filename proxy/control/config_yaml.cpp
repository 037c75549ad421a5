#include "config_yaml.h"

// Reads a `dropsim run --config` file (yaml-cpp) in one pass, top to bottom, then checks
// what spans proxies: unique names and listen addresses, and chains that loop back. A
// proxy's profile is loaded with its settings here, so a bad setting is reported at its
// line in the config rather than when the proxy starts. Every error names FILE:LINE:COL
// and says how to fix it.

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>
#include <tuple>

#include <asio/ip/address.hpp>
#include <fmt/format.h>

#include "api_json.h"
#include "builtin_profiles.h"
#include "duration.h"
#include "address.h"
#include "proxy.h"
#include "suggest.h"
#include "yaml_reader.h"

namespace dropsim {

namespace {

// The keys each mapping accepts, in the order docs/config.md documents them.
constexpr std::string_view kTopKeys[] = {"api", "seed", "time_scale", "proxies"};
constexpr std::string_view kProxyKeys[] = {"name",     "listen",     "upstream", "profile",
                                           "settings", "time_scale", "enabled",  "faults", "actions"};
constexpr std::string_view kFaultKeys[] = {"type", "name", "stream", "toxicity", "attributes", "after", "for"};
constexpr std::string_view kActionKeys[] = {"after", "action", "code", "reason"};

constexpr std::string_view kDurationFix = "write a duration with a unit, e.g. 5s, 500ms, 2m or 1m30s";

/// The whole of `text` as a `T` (a decimal integer, or a double); nullopt for anything else
/// (blanks, a fraction where an integer is wanted, overflow).
template <class T>
std::optional<T> parse_as(std::string_view text) {
  T value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// true/false, yes/no, on/off: YAML 1.1's booleans.
std::optional<bool> parse_bool(std::string_view text) {
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  return std::nullopt;
}

/// True for a proxy name: [A-Za-z0-9_.:-]+ (it appears in URLs of the API and in labels;
/// ':' because Testcontainers names proxies "host:port").
bool valid_proxy_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-' || c == ':';
  });
}

/// `--profile` reads a file when the name cannot be a built-in one (as find_profile_text does).
bool looks_like_path(std::string_view name) {
  return name.find('/') != std::string_view::npos || name.ends_with(".yaml") || name.ends_with(".yml");
}

/// A parsed listen address, for telling whether two proxies would bind the same port.
struct Bound {
  asio::ip::address address;
  std::uint16_t port = 0;

  /// True when a connection to `other` reaches this listener (0.0.0.0 takes every address).
  bool takes(const Bound& other) const {
    return port == other.port && (address == other.address || address.is_unspecified());
  }
};

/// Reads one config document; the file label (YamlReader's) also locates relative profile paths.
class ConfigReader : private YamlReader {
 public:
  /// `file` labels every error and locates relative profile paths; `strict` makes a
  /// setting outside the real system's range an error.
  ConfigReader(std::string file, bool strict) : YamlReader(std::move(file)), strict_(strict) {}

  /// The config in `root`.
  RunConfig read(const YAML::Node& root);

 private:
  /// One proxy as read, with what the checks across proxies point at.
  struct Entry {
    YAML::Node node;
    std::optional<Bound> listen;    ///< nullopt: port 0, which never collides
    std::optional<Bound> upstream;  ///< nullopt: a host name (but localhost), not followed through chains
  };

  void expect(const YAML::Node& n, YAML::NodeType::value type, std::string_view what) const;
  double read_time_scale(const YAML::Node& n) const;
  Duration read_duration(const YAML::Node& n, std::string_view what) const;
  HostPort read_address(const YAML::Node& n, std::string_view what) const;
  /// Where a connection to `where` goes, for the checks across proxies; nullopt for a
  /// host name other than localhost (known only once it is looked up).
  static std::optional<Bound> bound(const HostPort& where);
  std::optional<Bound> read_bind_address(const YAML::Node& n, std::string_view what) const;

  ProxySpec read_proxy(const YAML::Node& n, double default_scale, Entry& entry,
                       std::vector<std::string>& warnings) const;
  std::vector<SettingOverride> read_settings(const YAML::Node& n) const;
  std::string resolve_profile(const std::string& profile) const;
  void check_profile(const YAML::Node& proxy, const ProxySpec& spec, std::vector<std::string>& warnings) const;
  std::vector<FaultSpec> read_faults(const YAML::Node& n, const std::string& proxy) const;
  /// `actions:`: session actions with the API's names and close-frame checks, each `after` a delay.
  std::vector<ActionSpec> read_actions(const YAML::Node& n) const;
  FaultSpec read_fault(const YAML::Node& n) const;
  void read_attributes(const YAML::Node& n, Toxic& toxic) const;
  void check_unique(const std::vector<ProxySpec>& specs, const std::vector<Entry>& entries) const;
  void check_api(const YAML::Node& api, const Bound& bound, const std::vector<ProxySpec>& specs,
                 const std::vector<Entry>& entries) const;
  void check_loops(const std::vector<ProxySpec>& specs, const std::vector<Entry>& entries) const;

  bool strict_;  ///< a setting outside the real system's range is an error, not a warning
};

void ConfigReader::expect(const YAML::Node& n, YAML::NodeType::value type, std::string_view what) const {
  if (n.Type() == type) return;
  const bool map = type == YAML::NodeType::Map;
  fail(n, fmt::format("{} must be {}, found {}", what,
                      map ? "a mapping (key: value lines, or {key: value})" : "a list ('- item' lines, or [a, b])",
                      shape(n)));
}

double ConfigReader::read_time_scale(const YAML::Node& n) const {
  const std::string text = scalar(n, "time_scale");
  const auto value = parse_as<double>(text);
  if (!value || !(*value > 0) || !std::isfinite(*value)) {
    fail(n, fmt::format("time_scale '{}' must be a positive number: write e.g. 0.05 to turn 60s into 3s, "
                        "or 1 for real time", text));
  }
  return *value;
}

Duration ConfigReader::read_duration(const YAML::Node& n, std::string_view what) const {
  const std::string text = scalar(n, what);
  const auto d = parse_duration(text);
  if (!d) fail(n, fmt::format("'{}' is not a duration (in '{}'): {}", text, what, kDurationFix));
  return *d;
}

HostPort ConfigReader::read_address(const YAML::Node& n, std::string_view what) const {
  const std::string text = scalar(n, what);
  try {
    return parse_host_port(text);
  } catch (const std::invalid_argument& e) {
    fail(n, fmt::format("{} (in '{}')", e.what(), what));
  }
}

std::optional<Bound> ConfigReader::bound(const HostPort& where) {
  if (where.wildcard()) return Bound{asio::ip::address_v4::any(), where.port};
  // localhost is the one name that is sure to be this machine: follow it through chains too.
  if (where.host == "localhost") return Bound{asio::ip::address_v4::loopback(), where.port};
  if (const auto address = where.literal()) return Bound{*address, where.port};
  return std::nullopt;  // another name: looked up when the proxy starts
}

std::optional<Bound> ConfigReader::read_bind_address(const YAML::Node& n, std::string_view what) const {
  const HostPort where = read_address(n, what);
  if (where.port == 0) return std::nullopt;  // the kernel picks a free port: never a clash
  return bound(where);
}

// --- proxies ----------------------------------------------------------------------------

ProxySpec ConfigReader::read_proxy(const YAML::Node& n, double default_scale, Entry& entry,
                                   std::vector<std::string>& warnings) const {
  expect(n, YAML::NodeType::Map, "each entry of 'proxies'");
  entry.node = n;
  check_keys(n, kProxyKeys, "a proxy");
  ProxySpec spec;
  const YAML::Node name = require(n, "name", "a proxy", "add name: <a unique name>, e.g. name: alb");
  spec.name = scalar(name, "name");
  if (!valid_proxy_name(spec.name)) {
    fail(name, fmt::format("proxy name '{}' may hold only letters, digits, '_', '.', ':' and '-' (it is part of "
                           "the API's URLs and of metric labels): e.g. name: alb-1", spec.name));
  }
  const std::string owner = fmt::format("proxy '{}'", spec.name);

  // Each part is checked even when one before it failed (attempt records the failure), so
  // that one run lists every mistake of the proxy; the profile is checked only once the
  // parts it depends on were read.
  attempt([&] {
    const YAML::Node listen =
        require(n, "listen", owner, "add listen: HOST:PORT, where clients connect (e.g. 127.0.0.1:8080)");
    spec.listen = scalar(listen, "listen");
    entry.listen = read_bind_address(listen, "listen");
  });
  attempt([&] {
    const YAML::Node upstream = require(
        n, "upstream", owner, "add upstream: HOST:PORT, your server or the next proxy's listen (e.g. 127.0.0.1:3000)");
    spec.upstream = scalar(upstream, "upstream");
    entry.upstream = bound(read_address(upstream, "upstream"));
  });
  const bool profile_read = attempt([&] {
    if (const YAML::Node profile = child(n, "profile")) spec.profile = resolve_profile(scalar(profile, "profile"));
    if (const YAML::Node settings = child(n, "settings")) spec.settings = read_settings(settings);
    const YAML::Node scale = child(n, "time_scale");
    spec.time_scale = scale ? read_time_scale(scale) : default_scale;
  });
  attempt([&] {
    if (const YAML::Node enabled = child(n, "enabled")) {
      const auto b = parse_bool(scalar(enabled, "enabled"));
      if (!b) fail(enabled, fmt::format("enabled '{}' is not a boolean: write true or false", enabled.Scalar()));
      spec.enabled = *b;
    }
  });
  if (profile_read) attempt([&] { check_profile(n, spec, warnings); });
  attempt([&] {
    if (const YAML::Node faults = child(n, "faults")) spec.faults = read_faults(faults, spec.name);
  });
  attempt([&] {
    if (const YAML::Node actions = child(n, "actions")) spec.actions = read_actions(actions);
  });
  return spec;
}

std::vector<SettingOverride> ConfigReader::read_settings(const YAML::Node& n) const {
  expect(n, YAML::NodeType::Map, "'settings'");
  check_unique_keys(n, "'settings'");
  std::vector<SettingOverride> out;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) continue;  // reported by check_unique_keys
    const std::string& name = it->first.Scalar();
    if (it->second.IsNull()) {
      record(it->first, fmt::format("setting '{}' has no value: write one after the colon", name));
      continue;
    }
    if (!attempt([&] { scalar(it->second, name); })) continue;
    // The profile loader reports an unknown name at the name and a bad value at the value.
    SettingOverride o{name, it->second.Scalar(), file()};
    std::tie(o.name_line, o.name_column) = position(it->first);
    std::tie(o.value_line, o.value_column) = position(it->second);
    out.push_back(std::move(o));
  }
  return out;
}

std::string ConfigReader::resolve_profile(const std::string& profile) const {
  if (!looks_like_path(profile)) return profile;
  const std::filesystem::path path(profile);
  const std::filesystem::path dir = std::filesystem::path(file()).parent_path();
  return path.is_absolute() || dir.empty() ? profile : (dir / path).string();
}

void ConfigReader::check_profile(const YAML::Node& proxy, const ProxySpec& spec,
                                 std::vector<std::string>& warnings) const {
  const YAML::Node profile_node = proxy["profile"];
  ProfileText profile;
  try {
    profile = find_profile_text(spec.profile);
  } catch (const ProfileError& e) {
    // A missing built-in says so itself; a file that cannot be read needs its path.
    fail(profile_node.IsDefined() ? profile_node : proxy, e.file() == "--profile" ? e.message() : e.what());
  }
  // A profile that fails on its own is reported where it is wrong: in the profile file.
  load_profile(profile.text, profile.file);
  const YAML::Node settings = proxy["settings"];
  try {
    const Profile loaded = load_profile(profile.text, profile.file, spec.settings, spec.time_scale.value_or(1.0), strict_);
    warnings.insert(warnings.end(), loaded.warnings.begin(), loaded.warnings.end());
  } catch (const ProfileError& e) {
    for (const ProfileError& one : e.errors()) {
      // A setting's own error carries its place here (its name or value); one in the
      // profile's file comes from settings that each read well but fail together.
      if (one.file() == file()) {
        record(one);
      } else {
        record(settings.IsDefined() ? settings : proxy,
               fmt::format("profile '{}' fails with these settings together: {}", spec.profile, one.what()));
      }
    }
  }
}

// --- faults -----------------------------------------------------------------------------

std::vector<FaultSpec> ConfigReader::read_faults(const YAML::Node& n, const std::string& proxy) const {
  expect(n, YAML::NodeType::Sequence, "'faults'");
  std::vector<FaultSpec> faults;
  std::map<std::string, YAML::Node> names;
  for (const YAML::Node& item : n) {
    FaultSpec f;
    if (!attempt([&] { f = read_fault(item); })) continue;
    const auto [first, added] = names.emplace(f.toxic.name, item);
    if (!added) {
      const YAML::Node name = item["name"];
      record(name.IsDefined() ? name : item,
           fmt::format("a second fault of proxy '{}' is named '{}' (the first is at line {}): give one of them "
                       "its own name: (the default is <type>_<stream>)",
                       proxy, f.toxic.name, position(first->second).first));
    }
    faults.push_back(std::move(f));
  }
  return faults;
}

std::vector<ActionSpec> ConfigReader::read_actions(const YAML::Node& n) const {
  expect(n, YAML::NodeType::Sequence, "'actions'");
  std::vector<ActionSpec> out;
  for (const YAML::Node& item : n) {
    attempt([&] {
      expect(item, YAML::NodeType::Map, "each entry of 'actions'");
      check_keys(item, kActionKeys, "an action");
      ActionSpec a;
      const YAML::Node after = require(item, "after", "an action", "add after: a delay from the proxy's start, e.g. 30s");
      a.after = read_duration(after, "after");
      // The API's words and checks: the same JSON body POST /proxies/{name}/sessions takes.
      Json body = Json::object();
      body["action"] = scalar(require(item, "action", "an action",
                                      fmt::format("add action: one of {}", session_action_names())),
                              "action");
      if (const YAML::Node code = child(item, "code")) {
        const auto c = parse_as<std::int64_t>(scalar(code, "code"));
        if (!c) fail(code, fmt::format("code '{}' is not a whole number: write a close code, e.g. 4000", code.Scalar()));
        body["code"] = *c;
      }
      if (const YAML::Node reason = child(item, "reason")) body["reason"] = scalar(reason, "reason");
      try {
        a.request = strict_action(body, SessionAction::rst, RuntimeOptions{});
      } catch (const ApiError& e) {
        fail(item, e.what());
      }
      out.push_back(std::move(a));
    });
  }
  return out;
}

FaultSpec ConfigReader::read_fault(const YAML::Node& n) const {
  expect(n, YAML::NodeType::Map, "each entry of 'faults'");
  check_keys(n, kFaultKeys, "a fault");
  std::vector<std::string> types;
  for (const ToxicType t : all_toxic_types()) types.emplace_back(to_string(t));
  const YAML::Node type_node = require(n, "type", "a fault", fmt::format("add type: one of {}", toxic_type_names()));
  const std::string type_text = scalar(type_node, "type");
  const auto type = parse_toxic_type(type_text);
  if (!type) {
    fail(type_node, fmt::format("unknown toxic type '{}'{}; valid types: {}", type_text, did_you_mean(type_text, types),
                                toxic_type_names()));
  }
  // Past the type (which decides the attributes), each part is checked even when one
  // before it failed, and keeps its default.
  Direction stream = Direction::downstream;
  attempt([&] {
    if (const YAML::Node s = child(n, "stream")) {
      const auto d = parse_direction(scalar(s, "stream"));
      if (!d) {
        fail(s, fmt::format("stream '{}' is not a direction: write upstream (client→server) or downstream "
                            "(server→client, the default)", s.Scalar()));
      }
      stream = *d;
    }
  });
  FaultSpec f;
  f.toxic = Toxic::make(*type, stream);
  attempt([&] {
    if (const YAML::Node name = child(n, "name")) f.toxic.name = scalar(name, "name");
  });
  attempt([&] {
    if (const YAML::Node toxicity = child(n, "toxicity")) {
      const auto p = parse_as<double>(scalar(toxicity, "toxicity"));
      if (!p || !(*p >= 0.0 && *p <= 1.0)) {
        fail(toxicity, fmt::format("toxicity '{}' must be a number from 0 to 1 (the share of connections that get "
                                   "the fault): e.g. 0.5, or 1 for every connection", toxicity.Scalar()));
      }
      f.toxic.toxicity = *p;
    }
  });
  attempt([&] {
    const YAML::Node attributes = child(n, "attributes");
    if (attributes) read_attributes(attributes, f.toxic);
    if (const std::string why = validate(f.toxic); !why.empty()) {
      fail(attributes ? attributes : n, fmt::format("{} toxic '{}': {}", to_string(f.toxic.type), f.toxic.name, why));
    }
  });
  attempt([&] {
    if (const YAML::Node after = child(n, "after")) f.after = read_duration(after, "after");
  });
  attempt([&] {
    if (const YAML::Node lasts = child(n, "for")) {
      f.lasts = read_duration(lasts, "for");
      if (f.lasts->count() == 0) {
        fail(lasts, "for: 0s would remove the fault as soon as it applies: give a positive duration, or leave "
                    "for: out to keep the fault until it is removed");
      }
    }
  });
  return f;
}

void ConfigReader::read_attributes(const YAML::Node& n, Toxic& toxic) const {
  expect(n, YAML::NodeType::Map, "'attributes'");
  check_unique_keys(n, "'attributes'");
  const auto specs = attributes_of(toxic.type);
  std::vector<std::string> names;
  std::vector<std::string> described;
  for (const AttributeSpec& a : specs) {
    names.emplace_back(a.name);
    described.push_back(fmt::format("{} ({})", a.name, a.unit));
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string& name = it->first.Scalar();
    const auto spec = std::find_if(specs.begin(), specs.end(), [&](const AttributeSpec& a) { return a.name == name; });
    if (spec == specs.end()) {
      record(it->first, fmt::format("a {} toxic has no attribute '{}'{}; its attributes: {}", to_string(toxic.type),
                                    name, did_you_mean(name, names), fmt::join(described, ", ")));
      continue;
    }
    attempt([&] {
      const std::string text = scalar(it->second, name);
      const auto value = parse_as<std::int64_t>(text);
      if (!value || *value < 0) {
        fail(it->second, fmt::format("{} '{}' must be a whole number, 0 or more, of {} ({}): e.g. {}: 100", name,
                                     text, spec->unit, spec->doc, name));
      }
      toxic.set(name, *value);
    });
  }
}

// --- across proxies ---------------------------------------------------------------------

void ConfigReader::check_unique(const std::vector<ProxySpec>& specs, const std::vector<Entry>& entries) const {
  const std::size_t i = specs.size() - 1;  // the proxy just read, against those before it
  for (std::size_t j = 0; j < i; ++j) {
    if (specs[j].name == specs[i].name) {
      record(entries[i].node["name"], fmt::format("a second proxy is named '{}' (the first is at line {}): give each "
                                                "proxy its own name",
                                                specs[i].name, position(entries[j].node).first));
    }
    const auto& a = entries[j].listen;
    const auto& b = entries[i].listen;
    if (a && b && (a->takes(*b) || b->takes(*a))) {
      record(entries[i].node["listen"],
           fmt::format("proxy '{}' listens on {}, which proxy '{}' already takes with {} (line {}): give it "
                       "another port",
                       specs[i].name, specs[i].listen, specs[j].name, specs[j].listen,
                       position(entries[j].node["listen"]).first));
    }
  }
}

void ConfigReader::check_api(const YAML::Node& api, const Bound& bound, const std::vector<ProxySpec>& specs,
                             const std::vector<Entry>& entries) const {
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto& listen = entries[i].listen;
    if (listen && (listen->takes(bound) || bound.takes(*listen))) {
      record(api, fmt::format("api {} clashes with the listen address {} of proxy '{}' (line {}): give the API "
                            "another port", api.Scalar(), specs[i].listen, specs[i].name,
                            position(entries[i].node["listen"]).first));
    }
  }
}

void ConfigReader::check_loops(const std::vector<ProxySpec>& specs, const std::vector<Entry>& entries) const {
  // The proxy that a proxy's upstream reaches, if any.
  const auto next = [&](std::size_t i) -> std::optional<std::size_t> {
    for (std::size_t j = 0; j < entries.size(); ++j) {
      if (entries[i].upstream && entries[j].listen && entries[j].listen->takes(*entries[i].upstream)) return j;
    }
    return std::nullopt;
  };
  for (std::size_t i = 0; i < specs.size(); ++i) {
    std::vector<std::string> path{specs[i].name};
    auto at = next(i);
    for (std::size_t hops = 0; at && hops < specs.size(); ++hops) {
      path.push_back(specs[*at].name);
      if (*at == i) {
        record(entries[i].node["upstream"],
             fmt::format("proxy '{}' forwards back to itself ({}), so a connection would loop until the ports run "
                         "out: point the last hop's upstream at your server",
                         specs[i].name, fmt::join(path, " → ")));
        break;  // once a proxy is found looping, the rest of its path says nothing new
      }
      at = next(*at);
    }
  }
}

RunConfig ConfigReader::read(const YAML::Node& root) {
  if (!root.IsDefined() || root.IsNull()) {
    throw ProfileError(file(), 0, 0, "the config is empty: add proxies: with at least one proxy (see docs/config.md)");
  }
  expect(root, YAML::NodeType::Map, "a config");
  check_keys(root, kTopKeys, "the config");
  RunConfig config;
  // Every part is read even when one before it failed; finish() throws what was recorded.
  const YAML::Node api = child(root, "api");
  std::optional<Bound> api_bound;
  attempt([&] {
    if (!api) return;
    api_bound = read_bind_address(api, "api");
    config.api = api.Scalar();
  });
  attempt([&] {
    if (const YAML::Node seed = child(root, "seed")) {
      config.seed = parse_as<std::uint64_t>(scalar(seed, "seed"));
      if (!config.seed) fail(seed, fmt::format("seed '{}' must be a whole number, 0 or more: e.g. seed: 42", seed.Scalar()));
    }
  });
  double default_scale = 1.0;
  attempt([&] {
    if (const YAML::Node scale = child(root, "time_scale")) default_scale = read_time_scale(scale);
  });
  attempt([&] {
    const YAML::Node proxies =
        require(root, "proxies", "the config", "add proxies: with a list of proxies (name, listen, upstream)");
    expect(proxies, YAML::NodeType::Sequence, "'proxies'");
    if (proxies.size() == 0) fail(proxies, "'proxies' is empty: add at least one proxy (name, listen, upstream)");
    std::vector<Entry> entries;
    for (const YAML::Node& n : proxies) {
      Entry entry;
      ProxySpec spec;
      // A proxy without a readable name is left out of the checks across proxies.
      if (!attempt([&] { spec = read_proxy(n, default_scale, entry, config.warnings); })) continue;
      config.proxies.push_back(std::move(spec));
      entries.push_back(std::move(entry));
      check_unique(config.proxies, entries);
    }
    if (api_bound) check_api(api, *api_bound, config.proxies, entries);
    check_loops(config.proxies, entries);
  });
  finish();
  return config;
}

}  // namespace

RunConfig load_config(std::string_view text, const std::string& file, bool strict) {
  return ConfigReader(file, strict).read(parse_yaml(text, file));
}

bool looks_like_config(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '[') return true;  // Toxiproxy's JSON array
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (root.IsSequence()) return true;
    if (!root.IsMap()) return false;
    return root["proxies"].IsDefined() || root["api"].IsDefined() || root["seed"].IsDefined();
  } catch (const YAML::Exception&) {
    return false;  // the profile loader reports the syntax error at its place
  }
}

RunConfig load_toxiproxy_config(std::string_view text, const std::string& file) {
  try {
    RunConfig config;
    config.proxies = go_populate(parse_go_body(text));
    return config;
  } catch (const ApiError& e) {
    // parse_go_body's words are an API answer's: "bad request body: parse error at line 2,
    // column 5: ..." becomes FILE:2:5: ...
    std::string why = e.what();
    if (why.starts_with("bad request body: ")) why.erase(0, std::string_view("bad request body: ").size());
    int line = 0;
    int column = 0;
    if (std::sscanf(why.c_str(), "parse error at line %d, column %d", &line, &column) != 2) line = column = 0;
    throw ProfileError(file, line, column,
                       why + " (Toxiproxy's config is a JSON array of {\"name\", \"listen\", \"upstream\", "
                             "\"enabled\"})");
  }
}

RunConfig load_config_file(const std::string& path, bool strict) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    throw ProfileError(path, 0, 0, exists ? "cannot open the config: check its permissions"
                                          : "no such file: give the path of a config file (see docs/config.md)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  // dropsim's config is a YAML mapping; Toxiproxy's (toxiproxy-server -config) a JSON array.
  const auto first = content.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && content[first] == '[') return load_toxiproxy_config(content, path);
  return load_config(content, path, strict);
}

}  // namespace dropsim
