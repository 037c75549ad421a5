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

/// A configuration error at a place in a file; what() is "FILE:LINE:COL: message". One
/// pass may find several independent errors: then file()/line()/column()/message()/what()
/// are the first's, and errors() lists them all in file order.
class ProfileError : public std::runtime_error {
 public:
  ProfileError(std::string file, int line, int column, const std::string& message);
  /// Several errors (at least one), the first one's place and message in front.
  explicit ProfileError(std::vector<ProfileError> errors);
  /// Every error of the pass; just this one when there is one.
  std::vector<ProfileError> errors() const { return all_.empty() ? std::vector<ProfileError>{*this} : all_; }
  /// Every error's what(), one a line in file order, at most kMaxReported and then
  /// "... and N more error(s)"; no trailing newline.
  std::string report() const;
  /// How many errors report() prints before "and N more": enough for any real file,
  /// few enough that a file of garbage does not scroll the first error away.
  static constexpr std::size_t kMaxReported = 50;
  const std::string& file() const { return file_; }
  int line() const { return line_; }      ///< 1-based; 0 when not tied to a line
  int column() const { return column_; }  ///< 1-based; 0 when not tied to a column
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  int line_;
  int column_;
  std::string message_;
  std::vector<ProfileError> all_;  ///< empty for a single error
};

/// One `--set NAME=VALUE`, or one entry of a config's `settings:`.
struct SettingOverride {
  std::string name;   ///< the real system's setting name
  std::string value;  ///< text, parsed by the setting's type
  /// Where it was written, so that its errors point there: "--set" with no line for the
  /// command line, a config's FILE:LINE:COL (of the name, of the value) for its settings.
  std::string file = "--set";
  int name_line = 0;
  int name_column = 0;
  int value_line = 0;
  int value_column = 0;
};

/// Parses "NAME=VALUE"; throws ProfileError (file "--set") when there is no '='.
SettingOverride parse_setting_override(std::string_view text);

/// Loads a profile from YAML `text` read from `file` (used in messages), applies
/// `overrides` by setting name, then multiplies every duration by `time_scale`. Throws one
/// ProfileError carrying every independent error found. A setting outside the range the
/// real system documents is a warning in Profile::warnings, or with `strict` an error.
Profile load_profile(std::string_view text, const std::string& file,
                     const std::vector<SettingOverride>& overrides = {}, double time_scale = 1.0,
                     bool strict = false);

/// The resolved profile as YAML (what `dropsim profiles NAME` prints).
std::string to_yaml(const Profile& profile);

}  // namespace dropsim
