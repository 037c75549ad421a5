#pragma once
// What every dropsim YAML reader shares: parsing text with syntax errors placed at
// FILE:LINE:COL, and the few checks each mapping needs (a value present, a single value,
// no unknown or repeated keys), all reported as ProfileError with the fix.
//
//   text ──parse_yaml──► YAML::Node ──Loader (profile_loader.cpp)────► Profile
//                                   └─ConfigReader (config_yaml.cpp)─► RunConfig
//
// Only the profile readers (through settings_reader.h) and config_yaml.cpp include this
// header, and so yaml-cpp; profile_emitter.cpp includes yaml-cpp for its YAML::Emitter.

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "error_list.h"

namespace dropsim {

/// The YAML document in `text`; a syntax error throws ProfileError at its FILE:LINE:COL.
YAML::Node parse_yaml(std::string_view text, const std::string& file);

/// Where a node starts, 1-based; 0/0 when yaml-cpp has no position for it.
std::pair<int, int> position(const YAML::Node& n);

/// "a mapping", "a list", "a single value" or "nothing", for "found X" messages.
std::string_view shape(const YAML::Node& n);

/// Reads nodes of one file and throws ProfileError labelled with it. A class rather than
/// free functions so that every call does not repeat the label; readers derive from it
/// privately and add the checks of their own format. fail() throws; a reader catches with
/// attempt() where it can go on, and finish() throws everything recorded in one error.
class YamlReader {
 public:
  /// `file` labels every error.
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  /// The label of every error.
  const std::string& file() const { return file_; }

  /// Throws ProfileError at `at`'s position; 0/0 (no position) when yaml-cpp has none.
  [[noreturn]] void fail(const YAML::Node& at, const std::string& message) const;

  /// `n`'s text; fails "'what' must be a single value, found ..." for anything else.
  std::string scalar(const YAML::Node& n, std::string_view what) const;

  /// The key node of `key` in `map`, to point at a key rather than its value; `map` itself
  /// when there is no such key.
  YAML::Node key_node(const YAML::Node& map, std::string_view key) const;

  /// `map[key]`, possibly undefined; fails at the key when it is written with no value.
  YAML::Node child(const YAML::Node& map, std::string_view key) const;

  /// child(), failing "owner is missing 'key': fix" when it is absent (or AlreadyReported
  /// when an unknown key of `map` was reported as a typo of it).
  YAML::Node require(const YAML::Node& map, std::string_view key, std::string_view owner,
                     std::string_view fix) const;

  /// Records an error for every key that is not a plain name, repeats an earlier one, or
  /// is not in `allowed` (with a did-you-mean), and goes on: such a key is skipped. An
  /// empty `allowed` takes any name.
  void check_keys(const YAML::Node& map, std::span<const std::string_view> allowed,
                  std::string_view owner) const;

  /// check_keys with any name allowed: only keys that are not plain names, or repeat.
  void check_unique_keys(const YAML::Node& map, std::string_view owner) const {
    check_keys(map, {}, owner);
  }

  /// Records an error at `at` and goes on.
  void record(const YAML::Node& at, const std::string& message) const;

  /// Runs `f`, recording a ProfileError it throws; false when it threw.
  template <class F>
  bool attempt(F&& f) const {
    return errors_.attempt(std::forward<F>(f));
  }

  /// Records `e` (each of its errors).
  void record(const ProfileError& e) const { errors_.add(e); }

  /// Throws one ProfileError with every error recorded, in file order; nothing when none.
  void finish() const { errors_.throw_if_any(file_); }

 private:
  std::string file_;
  /// Recording an error does not change what was read: the const readers record too.
  mutable ErrorList errors_;
};

}  // namespace dropsim
