#include "setting_types.h"

#include <fmt/format.h>

#include "enum_names.h"
#include "profile_values.h"

namespace dropsim::detail {

namespace {

/// Setting types as the profile's `type:` spells them.
constexpr EnumNames<SettingType, 5> kSettingTypes{{{SettingType::duration, "duration"},
                                                   {SettingType::boolean, "bool"},
                                                   {SettingType::action, "action"},
                                                   {SettingType::size, "size"},
                                                   {SettingType::count, "count"}}};

}  // namespace

std::string_view to_string(SettingType t) { return name_of(kSettingTypes, t); }

std::optional<SettingType> parse_setting_type(std::string_view text) { return value_named(kSettingTypes, text); }

std::string setting_type_names() {
  std::vector<std::string> names;
  for (const auto& [type, name] : kSettingTypes) names.emplace_back(name);
  return join_or(names);
}

std::string canonical(const SettingValue& v) {
  if (const auto* d = std::get_if<std::optional<Duration>>(&v)) return *d ? format_duration(**d) : "none";
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "on" : "off";
  if (const auto* size = std::get_if<std::uint64_t>(&v)) return format_size(*size);
  if (const auto* count = std::get_if<std::uint32_t>(&v)) return std::to_string(*count);
  return std::string(to_string(std::get<CloseAction>(v)));
}

SettingValue zero_value(SettingType t) {
  switch (t) {
    case SettingType::duration: return std::optional<Duration>{};
    case SettingType::boolean: return false;
    case SettingType::action: return CloseAction::fin;
    case SettingType::size: return SettingValue{std::in_place_type<std::uint64_t>, 0u};
    case SettingType::count: return SettingValue{std::in_place_type<std::uint32_t>, 0u};
  }
  return std::optional<Duration>{};
}

bool outside(const SettingValue& v, const std::optional<SettingValue>& min, const std::optional<SettingValue>& max) {
  if (const auto* d = std::get_if<std::optional<Duration>>(&v); d && !*d) return false;
  if (const auto* size = std::get_if<std::uint64_t>(&v); size && *size == 0) return false;
  // Same alternative (the declaration parsed them with the setting's type), so < orders
  // the values; an engaged optional<Duration> compares by its duration.
  return (min && v < *min) || (max && *max < v);
}

std::string range_text(const SettingDecl& s) {
  if (s.min && s.max) return fmt::format("{}-{}", s.min_text, s.max_text);
  return s.min ? "at least " + s.min_text : "at most " + s.max_text;
}

std::optional<SettingValue> parse_setting_value(const SettingDecl& s, std::string_view text) {
  switch (s.type) {
    case SettingType::duration: {
      using Opt = std::optional<Duration>;
      if (text == "none" || text == "off") return SettingValue{Opt{}};
      if (const auto d = parse_duration(text)) return SettingValue{Opt{*d}};
      if (!s.unit.empty() && is_bare_number(text)) {
        if (const auto d = parse_duration(std::string(text) + s.unit)) return SettingValue{Opt{*d}};
      }
      return std::nullopt;
    }
    case SettingType::boolean:
      if (const auto b = parse_bool(text)) return SettingValue{*b};
      return std::nullopt;
    case SettingType::action:
      if (const auto a = parse_close_action(text)) return SettingValue{*a};
      return std::nullopt;
    case SettingType::size:
      if (const auto size = parse_size(text)) return SettingValue{std::in_place_type<std::uint64_t>, *size};
      return std::nullopt;
    case SettingType::count:
      if (const auto count = parse_count(text)) return SettingValue{std::in_place_type<std::uint32_t>, *count};
      return std::nullopt;
  }
  return std::nullopt;
}

std::string value_fix(const SettingDecl& s) {
  switch (s.type) {
    case SettingType::duration:
      return s.unit.empty()
                 ? "write it with a unit, e.g. 60s, 300ms, 2m, 1h, or none (a bare number "
                   "needs `unit:` in the setting's declaration)"
                 : fmt::format("write it with a unit, e.g. 60s, 300ms, 2m, 1h, a bare number "
                               "(meaning {}, the setting's `unit:`), or none", s.unit);
    case SettingType::boolean: return "write on or off (or true/false, yes/no)";
    case SettingType::action: return any_action_fix();
    case SettingType::size: return std::string(kSizeFix);
    case SettingType::count: return std::string(kCountFix);
  }
  return {};
}

std::string_view value_what(SettingType t) {
  switch (t) {
    case SettingType::duration: return "a duration";
    case SettingType::boolean: return "a bool";
    case SettingType::action: return "an action";
    case SettingType::size: return "a size";
    case SettingType::count: return "a count";
  }
  return "a value";
}

}  // namespace dropsim::detail
