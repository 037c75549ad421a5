#pragma once
// The settings type system of the profile format: a `settings:` entry declares a real
// system's setting (nginx's proxy_read_timeout, HAProxy's retries) with a type, a default
// and the range the real system documents; its values are read, compared and printed here.
// Pure: no YAML. Internal to the profiles module (the API is profile_yaml.h).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "close_action.h"
#include "duration.h"

namespace dropsim::detail {

/// The setting types of the profile format.
enum class SettingType { duration, boolean, action, size, count };

/// A setting's value; the alternative's index is its SettingType. A size of 0 is "none".
using SettingValue = std::variant<std::optional<Duration>, bool, CloseAction, std::uint64_t, std::uint32_t>;

/// "duration", "bool", "action", "size" or "count".
std::string_view to_string(SettingType t);

/// Parses a `type:` value.
std::optional<SettingType> parse_setting_type(std::string_view text);

/// "duration, bool, action, size or count", for the fixes that ask for a type.
std::string setting_type_names();

/// The canonical text of a value: format_duration, "none", "on"/"off", an action name,
/// format_size, a count's digits.
std::string canonical(const SettingValue& v);

/// One `settings:` entry.
struct SettingDecl {
  std::string name;                  ///< as the real system names it
  SettingType type = SettingType::duration;
  std::string unit;                  ///< duration only: what a bare number means ("s", "ms"); "" none
  std::vector<std::string> aliases;  ///< other accepted names
  std::string doc;                   ///< one line
  SettingValue default_value;        ///< the profile's default
  SettingValue value;                ///< the value in force (default, or --set)
  std::optional<SettingValue> min;   ///< the real system's lowest value (duration, size, count)
  std::optional<SettingValue> max;   ///< the real system's highest value
  std::string range_doc;             ///< where the range is documented; "" when `doc` says it
  /// min, max and value as written (4000s, not 1h6m40s), for the range warning
  std::string min_text;
  std::string max_text;
  std::string value_text;
  /// Where `value` was written (the default's line, or the --set / config entry), for the
  /// range warning.
  std::string value_file;
  std::pair<int, int> value_at{0, 0};
};

/// The value a setting of type `t` falls back to when its default cannot be read, so that
/// the rest of the profile can still be checked against it.
SettingValue zero_value(SettingType t);

/// True for the types whose values are ordered and may declare `min:`/`max:`.
constexpr bool has_range(SettingType t) {
  return t == SettingType::duration || t == SettingType::size || t == SettingType::count;
}

/// True when `v` lies outside [min, max]. A disabled duration (none) or size (none) is not
/// a value on the scale, so no range refuses it.
bool outside(const SettingValue& v, const std::optional<SettingValue>& min, const std::optional<SettingValue>& max);

/// "1s-4000s", "at least 1s", "at most 4000s", as the declaration writes them.
std::string range_text(const SettingDecl& s);

/// Reads `text` as a value of setting `s`; nullopt when it is not one.
std::optional<SettingValue> parse_setting_value(const SettingDecl& s, std::string_view text);

/// What a value of `s` looks like, phrased as the fix.
std::string value_fix(const SettingDecl& s);

/// "a duration", "a bool", "an action", "a size".
std::string_view value_what(SettingType t);

}  // namespace dropsim::detail
