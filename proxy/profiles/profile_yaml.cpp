#include "profile_yaml.h"

// The profile language's API: ProfileError, --set, load_profile. What it rests on, internal
// to proxy/profiles:
//   profile_values.h     the values a profile writes (sizes, counts, close actions, ...)
//   setting_types.h      the settings type system: a setting's type, value and range
//   settings_reader.h    SettingsReader: `settings:`, `--set`, $setting and if: expressions
//   profile_loader.h     Loader: the sections of a profile document
//   profile_emitter.cpp  to_yaml
// Every error names FILE:LINE:COL and says how to fix it.

#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "profile_loader.h"
#include "profile_values.h"
#include "yaml_reader.h"

namespace dropsim {

ProfileError::ProfileError(std::string file, int line, int column, const std::string& message)
    : std::runtime_error(line > 0 && column > 0 ? fmt::format("{}:{}:{}: {}", file, line, column, message)
                         : line > 0             ? fmt::format("{}:{}: {}", file, line, message)
                                                : fmt::format("{}: {}", file, message)),
      file_(std::move(file)),
      line_(line),
      column_(column),
      message_(message) {}

ProfileError::ProfileError(std::vector<ProfileError> errors)
    : ProfileError(errors.at(0).file(), errors.at(0).line(), errors.at(0).column(), errors.at(0).message()) {
  if (errors.size() > 1) all_ = std::move(errors);
}

std::string ProfileError::report() const {
  const std::vector<ProfileError> all = errors();
  std::string out;
  for (std::size_t i = 0; i < all.size() && i < kMaxReported; ++i) {
    if (i > 0) out += '\n';
    out += all[i].what();
  }
  if (all.size() > kMaxReported) out += fmt::format("\n... and {} more error(s)", all.size() - kMaxReported);
  return out;
}

SettingOverride parse_setting_override(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || detail::trim(text.substr(0, eq)).empty()) {
    throw ProfileError("--set", 0, 0,
                       fmt::format("'{}' is not NAME=VALUE: write e.g. --set proxy_read_timeout=2s", text));
  }
  return {std::string(detail::trim(text.substr(0, eq))), std::string(detail::trim(text.substr(eq + 1)))};
}

Profile load_profile(std::string_view text, const std::string& file,
                     const std::vector<SettingOverride>& overrides, double time_scale, bool strict) {
  if (!(time_scale > 0) || !std::isfinite(time_scale)) {
    throw ProfileError("--time-scale", 0, 0,
                       fmt::format("{} is not a positive number: write e.g. 0.05 to turn 60s into 3s",
                                   time_scale));
  }
  return detail::Loader(file).load(parse_yaml(text, file), overrides, time_scale, strict);
}

}  // namespace dropsim
