#pragma once
// The settings of one profile document and the fields that refer to them: `settings:` is
// read into a table of typed declarations, `--set` overrides replace values in it, and a
// field's scalar (a literal, a `$setting` or an `{if:, then:, else:}` expression) is
// evaluated against the values in force. The Loader (profile_loader.h) derives from it and
// reads the sections. Internal to the profiles module (the API is profile_yaml.h).

#include <algorithm>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "profile_yaml.h"
#include "setting_types.h"
#include "yaml_reader.h"

namespace dropsim::detail {

// ---------------------------------------------------------------------------------------
// Field literals: what each field of the profile accepts when written literally.

/// How to read one field's literal, and which settings may feed it.
template <class T>
struct Literal {
  std::string_view what;                           ///< "a duration", "a close action"
  std::optional<SettingType> setting;              ///< settings of this type may feed it
  std::optional<T> (*parse)(std::string_view);     ///< the literal's parser
  std::string_view fix;                            ///< how to write it
  bool quoted_is_text = false;  ///< free text: a quoted '$...' is the text itself, not a $setting
};

/// The keys of an if: expression.
inline constexpr std::string_view kIfKeys[] = {"if", "then", "else"};
/// The key of a max: expression.
inline constexpr std::string_view kMaxKeys[] = {"max"};

/// The field types a max: expression can compute: durations, where an unset one (none)
/// ranks below any set one (std::optional's order), so that a fallback stays a fallback.
template <class T>
inline constexpr bool kMaxable = std::is_same_v<T, Duration> || std::is_same_v<T, std::optional<Duration>>;

/// Reads `settings:` and `--set`, and evaluates the fields that refer to the settings (the
/// file label is YamlReader's).
class SettingsReader : protected YamlReader {
 public:
  /// `file` labels every error.
  explicit SettingsReader(std::string file) : YamlReader(std::move(file)) {}

 protected:
  void expect_map(const YAML::Node& n, std::string_view what) const;
  void expect_list(const YAML::Node& n, std::string_view what) const;
  /// Hides YamlReader::scalar: here a single value may also be a $setting or an if:
  /// expression, and an empty one has a message of its own.
  std::string scalar(const YAML::Node& n, std::string_view what) const;

  /// The profile's name, for --set messages and range warnings.
  void set_profile_name(std::string name) { profile_name_ = std::move(name); }
  /// Reads `settings:` into the table; a declaration that fails is reported and left out.
  void read_settings(const YAML::Node& n);
  /// Sets the value of the setting `o` names, or records why it cannot.
  void apply_override(const SettingOverride& o);
  /// The table as the resolved profile carries it.
  std::vector<Setting> settings_in_force() const;
  /// Warns (with `strict`, records an error) for each value outside its setting's range.
  void check_ranges(Profile& p, bool strict) const;

  /// The value of field `field` written at `n`: a literal, a $setting, an if: expression, or
  /// (durations) a max: expression.
  template <class T>
  T eval(const YAML::Node& n, std::string_view field, const Literal<T>& lit) const;
  /// eval() of `map[key]`; `fallback` when it is absent or (reported) wrong.
  template <class T>
  T field_or(const YAML::Node& map, std::string_view key, const Literal<T>& lit, T fallback,
             std::string_view label = {}) const;
  /// False only when the field at `n` is sure not to be `value` whatever --set says.
  template <class T>
  bool could_be(const YAML::Node& n, const Literal<T>& lit, const T& value, const T& fallback) const;

 private:
  SettingDecl read_setting(const YAML::Node& key, const YAML::Node& body) const;
  std::string read_unit(const YAML::Node& body, SettingType type) const;
  void read_range(const YAML::Node& body, SettingDecl& s) const;
  std::vector<std::string> read_aliases(const YAML::Node& body) const;
  void check_setting_names(const YAML::Node& key, const SettingDecl& s) const;
  std::optional<std::size_t> find_setting(std::string_view name) const;
  const SettingDecl& setting_ref(const YAML::Node& at, std::string_view ref) const;
  std::vector<std::string> setting_names() const;

  template <class T>
  T eval_ref(const YAML::Node& n, const std::string& ref, std::string_view field,
             const Literal<T>& lit) const;
  template <class T>
  T eval_if(const YAML::Node& n, std::string_view field, const Literal<T>& lit) const;
  template <class T>
  T eval_max(const YAML::Node& n, std::string_view field, const Literal<T>& lit) const;
  bool condition(const YAML::Node& n) const;
  template <class T>
  std::string mismatch(const SettingDecl& s, std::string_view field, const Literal<T>& lit) const;

  std::string profile_name_;            ///< for --set messages
  std::vector<SettingDecl> settings_;   ///< in declaration order
  /// Settings whose declaration failed (already reported): a $reference to one is not
  /// reported again as "refers to no declared setting".
  std::vector<std::string> broken_settings_;
};

// --- expressions ------------------------------------------------------------------------

template <class T>
T SettingsReader::eval(const YAML::Node& n, std::string_view field, const Literal<T>& lit) const {
  if (n.IsMap()) return n["max"] ? eval_max(n, field, lit) : eval_if(n, field, lit);
  const std::string text = scalar(n, field);
  const bool quoted = n.Tag() == "!";  // yaml-cpp tags a quoted scalar "!", a plain one "?"
  if (text.starts_with('$') && !(lit.quoted_is_text && quoted)) return eval_ref(n, text, field, lit);
  if (const auto v = lit.parse(text)) return *v;
  fail(n, fmt::format("'{}' is not {} (in '{}'): {}", text, lit.what, field, lit.fix));
}

template <class T>
T SettingsReader::eval_ref(const YAML::Node& n, const std::string& ref, std::string_view field,
                           const Literal<T>& lit) const {
  const SettingDecl& s = setting_ref(n, ref);
  if (lit.setting != s.type) fail(n, mismatch(s, field, lit));
  const std::string value = canonical(s.value);
  if (const auto v = lit.parse(value)) return *v;
  if (value == "none" && s.type == SettingType::duration) {  // a field that cannot be disabled
    fail(n, fmt::format("setting '{}' is {}, but '{}' cannot be disabled: set it to a duration "
                        "(e.g. --set {}=5s)", s.name, value, field, s.name));
  }
  // An action this field refuses (e.g. ws_close for connect.on_failure).
  fail(n, fmt::format("setting '{}' is {}, which '{}' does not take: {} (e.g. --set {}=...)", s.name,
                      value, field, lit.fix, s.name));
}

template <class T>
std::string SettingsReader::mismatch(const SettingDecl& s, std::string_view field, const Literal<T>& lit) const {
  if (s.type == SettingType::boolean) {
    return fmt::format("'${}' is a bool setting, which can only be tested: write "
                       "{{if: ${}, then: ..., else: ...}} for '{}'", s.name, s.name, field);
  }
  if (!lit.setting) {
    return fmt::format("'{}' cannot take '${}' ({} setting): {}, or an if: expression", field,
                       s.name, to_string(s.type), lit.fix);
  }
  return fmt::format("'${}' is {} setting, but '{}' needs {}: refer to {} setting or write a literal",
                     s.name, value_what(s.type), field, lit.what, value_what(*lit.setting));
}

template <class T>
T SettingsReader::eval_if(const YAML::Node& n, std::string_view field, const Literal<T>& lit) const {
  const std::string owner = fmt::format("the if: expression of '{}'", field);
  check_keys(n, kIfKeys, owner);
  const bool test = condition(require(n, "if", owner, "add if: $a_bool_or_duration_setting"));
  // Both branches are evaluated so that a typo is reported whichever way the test goes.
  T then_value = eval(require(n, "then", owner, "add then: <value when true>"), field, lit);
  T else_value = eval(require(n, "else", owner, "add else: <value when false>"), field, lit);
  return test ? then_value : else_value;
}

// Apache's tunnel waits max(Timeout, ProxyTimeout): a timer that needs the larger of two
// settings, one of which may be unset, cannot be written with if: alone.
template <class T>
T SettingsReader::eval_max(const YAML::Node& n, std::string_view field, const Literal<T>& lit) const {
  const std::string owner = fmt::format("the max: expression of '{}'", field);
  check_keys(n, kMaxKeys, owner);
  const YAML::Node items = n["max"];
  if constexpr (!kMaxable<T>) {
    fail(n, fmt::format("max: takes durations, and '{}' is {}: write a literal, a $setting or an if: expression",
                        field, lit.what));
  } else {
    if (!items.IsSequence() || items.size() == 0) {
      fail(items, fmt::format("{} takes a list of durations, e.g. max: [$timeout, $proxy_timeout]", owner));
    }
    T best = eval(items[0], field, lit);
    for (std::size_t i = 1; i < items.size(); ++i) best = std::max(best, eval(items[i], field, lit));
    return best;
  }
}

template <class T>
bool SettingsReader::could_be(const YAML::Node& n, const Literal<T>& lit, const T& value, const T& fallback) const {
  if (!n.IsDefined()) return fallback == value;
  if (n.IsMap() && n["max"]) {  // a max: expression (already evaluated): any of its items
    for (const YAML::Node& item : n["max"]) {
      if (could_be(item, lit, value, fallback)) return true;
    }
    return false;
  }
  if (n.IsMap()) {  // an if: expression (already evaluated, so well formed): either branch
    return could_be(n["then"], lit, value, fallback) || could_be(n["else"], lit, value, fallback);
  }
  if (n.IsScalar() && n.Scalar().starts_with('$')) return true;  // --set may give it any value
  const auto v = n.IsScalar() ? lit.parse(n.Scalar()) : std::nullopt;
  return v && *v == value;
}

template <class T>
T SettingsReader::field_or(const YAML::Node& map, std::string_view key, const Literal<T>& lit, T fallback,
                           std::string_view label) const {
  // A bad value is reported and the field keeps its default, so that the rest is checked.
  T value = fallback;
  attempt([&] {
    const YAML::Node n = child(map, key);
    if (n.IsDefined()) value = eval(n, label.empty() ? key : label, lit);
  });
  return value;
}

}  // namespace dropsim::detail
