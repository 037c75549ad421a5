#pragma once
// Profiles in YAML: profile text → Profile, Profile → YAML (yaml-cpp, in the .cpp only).
// Errors name FILE:LINE:COLUMN and the fix.

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "profile.h"

namespace dropsim {

/// A configuration error at a place in a file; what() is "FILE:LINE:COL: message".
class ProfileError : public std::runtime_error {
 public:
  ProfileError(std::string file, int line, int column, const std::string& message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }      ///< 1-based; 0 when not tied to a line
  int column() const { return column_; }  ///< 1-based; 0 when not tied to a column
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  int line_;
  int column_;
  std::string message_;
};

/// A `--set NAME` (or a config's setting name) that the profile does not declare, told apart
/// from a bad VALUE so that a config can point at the name rather than the value.
class UnknownSettingError : public ProfileError {
 public:
  using ProfileError::ProfileError;
};

/// One `--set NAME=VALUE`.
struct SettingOverride {
  std::string name;   ///< the real system's setting name
  std::string value;  ///< text, parsed by the setting's type
};

/// Parses "NAME=VALUE"; throws ProfileError (file "--set") when there is no '='.
SettingOverride parse_setting_override(std::string_view text);

/// Loads a profile from YAML `text` read from `file` (used in messages), applies
/// `overrides` by setting name, then multiplies every duration by `time_scale`.
/// Throws ProfileError; UnknownSettingError when an override names no setting.
Profile load_profile(std::string_view text, const std::string& file,
                     const std::vector<SettingOverride>& overrides = {}, double time_scale = 1.0);

/// The resolved profile as YAML (what `dropsim profiles NAME` prints).
std::string to_yaml(const Profile& profile);

}  // namespace dropsim
