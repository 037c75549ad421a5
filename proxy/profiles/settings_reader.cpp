#include "settings_reader.h"

#include <algorithm>
#include <span>

#include "profile_values.h"
#include "suggest.h"

namespace dropsim::detail {

namespace {

/// The keys a setting's declaration accepts, in the order the format documents them.
constexpr std::string_view kSettingKeys[] = {"type", "default", "unit", "min", "max", "aliases", "doc", "range_doc"};
/// The units a duration setting's `unit:` may name.
constexpr std::string_view kUnits[] = {"ns", "us", "ms", "s", "m", "h"};

/// The names in `keys`, as strings, for messages and suggestions.
std::vector<std::string> names_of(std::span<const std::string_view> keys) {
  return {keys.begin(), keys.end()};
}

}  // namespace

void SettingsReader::expect_map(const YAML::Node& n, std::string_view what) const {
  if (!n.IsMap()) fail(n, fmt::format("{} must be a mapping (key: value lines), found {}", what, shape(n)));
}

void SettingsReader::expect_list(const YAML::Node& n, std::string_view what) const {
  if (!n.IsSequence()) fail(n, fmt::format("{} must be a list ([a, b] or '- item' lines), found {}", what, shape(n)));
}

std::string SettingsReader::scalar(const YAML::Node& n, std::string_view what) const {
  if (n.IsScalar()) return n.Scalar();
  if (n.IsNull()) fail(n, fmt::format("'{}' is empty: write a value after the colon", what));
  fail(n, fmt::format("'{}' must be a single value (a literal, a $setting or an if: expression), found {}",
                      what, shape(n)));
}

// --- settings ---------------------------------------------------------------------------

void SettingsReader::read_settings(const YAML::Node& n) {
  expect_map(n, "'settings'");
  check_unique_keys(n, "'settings'");
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) continue;  // reported by check_unique_keys
    const bool read = attempt([&] {
      SettingDecl s = read_setting(it->first, it->second);
      check_setting_names(it->first, s);
      settings_.push_back(std::move(s));
    });
    if (!read) broken_settings_.push_back(it->first.Scalar());
  }
}

SettingDecl SettingsReader::read_setting(const YAML::Node& key, const YAML::Node& body) const {
  SettingDecl s;
  s.name = key.Scalar();
  const std::string owner = fmt::format("setting '{}'", s.name);
  expect_map(body, owner);
  check_keys(body, kSettingKeys, owner);
  const YAML::Node type = require(body, "type", owner, "add type: " + setting_type_names());
  const auto parsed_type = parse_setting_type(scalar(type, "type"));
  if (!parsed_type) {
    fail(type, fmt::format("'{}' is not a setting type: write {}", type.Scalar(), setting_type_names()));
  }
  s.type = *parsed_type;
  attempt([&] { s.unit = read_unit(body, s.type); });
  attempt([&] { s.aliases = read_aliases(body); });
  attempt([&] {
    if (const YAML::Node doc = child(body, "doc")) s.doc = scalar(doc, "doc");
  });
  // A default that cannot be read is reported, and the setting kept with its type's zero
  // value: the fields that refer to it are still checked.
  s.default_value = s.value = zero_value(s.type);
  s.value_file = file();
  attempt([&] {
    const YAML::Node def = require(body, "default", owner, "add default: with the real system's default");
    s.value_at = position(def);
    const std::string text = scalar(def, "default");
    const auto value = parse_setting_value(s, text);
    if (!value) fail(def, fmt::format("'{}' is not {} for {}: {}", text, value_what(s.type), owner, value_fix(s)));
    s.default_value = s.value = *value;
    s.value_text = text;
  });
  read_range(body, s);
  return s;
}

void SettingsReader::read_range(const YAML::Node& body, SettingDecl& s) const {
  const std::string owner = fmt::format("setting '{}'", s.name);
  for (const std::string_view key : {"min", "max"}) {
    attempt([&] {
      const YAML::Node n = child(body, key);
      if (!n) return;
      if (!has_range(s.type)) {
        fail(key_node(body, key), fmt::format("'{}' applies only to duration, size and count settings, and {} is {}: "
                                              "remove it", key, owner, to_string(s.type)));
      }
      const std::string text = scalar(n, key);
      const auto value = parse_setting_value(s, text);
      if (!value || canonical(*value) == "none") {
        fail(n, fmt::format("'{}' is not {} for {}'s {}: {} (not none: a range bounds real values)", text,
                            value_what(s.type), owner, key, value_fix(s)));
      }
      (key == "min" ? s.min : s.max) = *value;
      (key == "min" ? s.min_text : s.max_text) = text;
    });
  }
  attempt([&] {
    if (const YAML::Node doc = child(body, "range_doc")) s.range_doc = scalar(doc, "range_doc");
  });
  if (s.min && s.max && *s.max < *s.min) {
    record(key_node(body, "max"), fmt::format("{}'s max {} is below its min {}: swap them", owner, s.max_text,
                                              s.min_text));
    s.min = s.max = std::nullopt;
  }
}

std::string SettingsReader::read_unit(const YAML::Node& body, SettingType type) const {
  const YAML::Node unit = child(body, "unit");
  if (!unit) return {};
  if (type != SettingType::duration) {
    fail(key_node(body, "unit"), "'unit' applies only to duration settings: remove it");
  }
  const std::string text = scalar(unit, "unit");
  const std::vector<std::string> units = names_of(kUnits);
  if (std::find(units.begin(), units.end(), text) == units.end()) {
    fail(unit, fmt::format("'{}' is not a unit: write one of {}", text, join(units)));
  }
  return text;
}

std::vector<std::string> SettingsReader::read_aliases(const YAML::Node& body) const {
  const YAML::Node aliases = child(body, "aliases");
  if (!aliases) return {};
  expect_list(aliases, "'aliases'");
  std::vector<std::string> out;
  for (const YAML::Node& a : aliases) out.push_back(scalar(a, "aliases"));
  return out;
}

void SettingsReader::check_setting_names(const YAML::Node& key, const SettingDecl& s) const {
  std::vector<std::string> names = s.aliases;
  names.push_back(s.name);
  for (const std::string& name : names) {
    if (find_setting(name)) {
      fail(key, fmt::format("setting name '{}' is already taken by an earlier setting or alias: "
                            "rename one of them", name));
    }
  }
}

std::optional<std::size_t> SettingsReader::find_setting(std::string_view name) const {
  const std::string wanted = normalise_name(name);
  for (std::size_t i = 0; i < settings_.size(); ++i) {
    const SettingDecl& s = settings_[i];
    if (normalise_name(s.name) == wanted) return i;
    for (const std::string& a : s.aliases) {
      if (normalise_name(a) == wanted) return i;
    }
  }
  return std::nullopt;
}

std::vector<std::string> SettingsReader::setting_names() const {
  std::vector<std::string> names;
  for (const SettingDecl& s : settings_) names.push_back(s.name);
  return names;
}

void SettingsReader::apply_override(const SettingOverride& o) {
  const auto index = find_setting(o.name);
  if (!index) {
    if (std::find(broken_settings_.begin(), broken_settings_.end(), o.name) != broken_settings_.end()) return;
    record(ProfileError(o.file, o.name_line, o.name_column,
                        fmt::format("profile '{}' has no setting '{}'{}; its settings: {}", profile_name_, o.name,
                                    did_you_mean(normalise_name(o.name), setting_names()), join(setting_names()))));
    return;
  }
  SettingDecl& s = settings_[*index];
  const auto value = parse_setting_value(s, trim(o.value));
  if (!value) {
    record(ProfileError(o.file, o.value_line, o.value_column,
                        fmt::format("'{}' is not {} for setting '{}': {}", o.value, value_what(s.type), s.name,
                                    value_fix(s))));
    return;
  }
  s.value = *value;
  s.value_text = trim(o.value);
  s.value_file = o.file;
  s.value_at = {o.value_line, o.value_column};
}

const SettingDecl& SettingsReader::setting_ref(const YAML::Node& at, std::string_view ref) const {
  const std::string_view name = ref.substr(1);  // without '$'
  for (const SettingDecl& s : settings_) {
    if (s.name == name || std::find(s.aliases.begin(), s.aliases.end(), name) != s.aliases.end()) return s;
  }
  if (std::find(broken_settings_.begin(), broken_settings_.end(), name) != broken_settings_.end()) {
    throw AlreadyReported{};
  }
  fail(at, fmt::format("'{}' refers to no declared setting{}; declare it under 'settings:' or use one of: {}",
                       ref, did_you_mean(name, setting_names(), "$"), join(setting_names())));
}

std::vector<Setting> SettingsReader::settings_in_force() const {
  std::vector<Setting> out;
  for (const SettingDecl& s : settings_) {
    out.push_back({s.name, std::string(to_string(s.type)), canonical(s.value), canonical(s.default_value), s.doc,
                   s.min ? canonical(*s.min) : "", s.max ? canonical(*s.max) : "", s.range_doc, ""});
  }
  return out;
}

bool SettingsReader::condition(const YAML::Node& n) const {
  const std::string text = scalar(n, "if");
  if (!text.starts_with('$')) {
    if (const auto b = parse_bool(text)) return *b;
    fail(n, fmt::format("if: takes a $setting (bool, or duration meaning 'is set') or on/off, not '{}'", text));
  }
  const SettingDecl& s = setting_ref(n, text);
  switch (s.type) {
    case SettingType::boolean: return std::get<bool>(s.value);
    case SettingType::duration: return std::get<std::optional<Duration>>(s.value).has_value();
    case SettingType::size: return std::get<std::uint64_t>(s.value) != 0;
    case SettingType::count: return std::get<std::uint32_t>(s.value) != 0;
    case SettingType::action: break;
  }
  fail(n, fmt::format("'{}' is an action setting; if: tests a bool setting (on/off), a duration "
                      "or size setting (set, or none), or a count (not 0)", text));
}

void SettingsReader::check_ranges(Profile& p, bool strict) const {
  for (const SettingDecl& s : settings_) {
    // A default outside the range is only a warning too: a resolved profile printed by
    // `dropsim profiles` has the --set value as its default, and must load again.
    if (!outside(s.value, s.min, s.max)) continue;
    const std::string message =
        fmt::format("{} {} is outside what {} allows ({}, {})", s.name, s.value_text, profile_name_,
                    range_text(s), s.range_doc.empty() ? s.doc : s.range_doc);
    const auto [line, column] = s.value_at;
    if (strict) {
      record(ProfileError(s.value_file, line, column, message + " (--strict; without it, a warning)"));
    } else {
      p.warnings.emplace_back(ProfileError(s.value_file, line, column, "warning: " + message).what());
    }
  }
}

}  // namespace dropsim::detail
