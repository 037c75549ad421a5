#include "yaml_reader.h"

#include <algorithm>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "profile_yaml.h"
#include "suggest.h"

namespace dropsim {

YAML::Node parse_yaml(std::string_view text, const std::string& file) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    throw ProfileError(file, e.mark.line + 1, e.mark.column + 1,
                       fmt::format("YAML syntax error: {}; fix the syntax here (indentation, a "
                                   "missing ':' or an unclosed bracket or quote)", e.msg));
  }
}

std::pair<int, int> position(const YAML::Node& n) {
  if (!n.IsDefined()) return {0, 0};
  const YAML::Mark m = n.Mark();
  if (m.is_null()) return {0, 0};
  return {m.line + 1, m.column + 1};
}

std::string_view shape(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  return "a single value";
}

void YamlReader::fail(const YAML::Node& at, const std::string& message) const {
  const auto [line, column] = position(at);
  throw ProfileError(file_, line, column, message);
}

void YamlReader::record(const YAML::Node& at, const std::string& message) const {
  const auto [line, column] = position(at);
  errors_.add(ProfileError(file_, line, column, message));
}

std::string YamlReader::scalar(const YAML::Node& n, std::string_view what) const {
  if (n.IsScalar()) return n.Scalar();
  fail(n, fmt::format("'{}' must be a single value, found {}", what, shape(n)));
}

YAML::Node YamlReader::key_node(const YAML::Node& map, std::string_view key) const {
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->first;
  }
  return map;
}

YAML::Node YamlReader::child(const YAML::Node& map, std::string_view key) const {
  const YAML::Node n = map[std::string(key)];
  // yaml-cpp marks an empty value at the next token, often on the next line: point at the key.
  if (n.IsDefined() && n.IsNull()) fail(key_node(map, key), fmt::format("'{}' has no value: write one after the colon", key));
  return n;
}

YAML::Node YamlReader::require(const YAML::Node& map, std::string_view key, std::string_view owner,
                               std::string_view fix) const {
  const YAML::Node n = child(map, key);
  if (n.IsDefined()) return n;
  const auto [line, column] = position(map);
  if (errors_.typo_reported(line, column, std::string(key))) throw AlreadyReported{};
  fail(map, fmt::format("{} is missing '{}': {}", owner, key, fix));
  return n;
}

void YamlReader::check_keys(const YAML::Node& map, std::span<const std::string_view> allowed,
                            std::string_view owner) const {
  const std::vector<std::string> valid(allowed.begin(), allowed.end());
  const auto [map_line, map_column] = position(map);
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      record(it->first, fmt::format("a key in {} must be a plain name", owner));
      continue;
    }
    const std::string& key = it->first.Scalar();
    if (!seen.insert(key).second) {
      record(it->first, fmt::format("'{}' appears twice in {}: keep one", key, owner));
      continue;
    }
    if (valid.empty() || std::find(valid.begin(), valid.end(), key) != valid.end()) continue;
    const auto meant = closest(key, valid);
    // The key it was meant to be is then missing too; that is the same mistake, said once.
    if (meant && !map[*meant]) errors_.note_typo(map_line, map_column, *meant);
    record(it->first, fmt::format("unknown key '{}' in {}{}; valid keys: {}", key, owner, did_you_mean(key, valid),
                                  fmt::join(valid, ", ")));
  }
}

}  // namespace dropsim
