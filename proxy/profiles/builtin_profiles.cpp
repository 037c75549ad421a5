#include "builtin_profiles.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "profile_yaml.h"
#include "suggest.h"

namespace dropsim {

namespace {

/// The built-in names, sorted and comma-separated, for messages.
std::string builtin_names() {
  std::vector<std::string_view> names;
  for (const EmbeddedProfile& p : embedded_profiles()) names.push_back(p.name);
  std::sort(names.begin(), names.end());
  return fmt::format("{}", fmt::join(names, ", "));
}

/// " (did you mean 'nginx'?)" for the built-in closest to `name` within typo reach, else "".
std::string suggestion(std::string_view name) {
  std::vector<std::string> names;
  for (const EmbeddedProfile& p : embedded_profiles()) names.emplace_back(p.name);
  return did_you_mean(name, names);
}

/// `--profile` reads a file when the argument cannot be a built-in name.
bool looks_like_path(std::string_view arg) {
  return arg.find('/') != std::string_view::npos || arg.ends_with(".yaml") || arg.ends_with(".yml");
}

/// The whole file at `path`; a ProfileError labelled with the path when it cannot be read.
ProfileText read_profile_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    const std::string why = std::filesystem::exists(path, ec) ? "not a regular file" : "no such file";
    throw ProfileError(path, 0, 0,
                       fmt::format("cannot read the profile: {}; give a readable YAML file or a "
                                   "built-in name ({})", why, builtin_names()));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ProfileError(path, 0, 0, "cannot open the profile: check its permissions");
  std::ostringstream text;
  text << in.rdbuf();
  return {text.str(), path};
}

}  // namespace

ProfileText find_profile_text(const std::string& name_or_path, std::string_view origin) {
  for (const EmbeddedProfile& p : embedded_profiles()) {
    if (p.name == name_or_path) return {std::string(p.text), std::string(p.path)};
  }
  if (looks_like_path(name_or_path)) return read_profile_file(name_or_path);
  throw ProfileError(std::string(origin), 0, 0,
                     fmt::format("no built-in profile '{}'{}; built-in profiles: {} (to load a "
                                 "file, give a path containing '/' or ending in .yaml)",
                                 name_or_path, suggestion(name_or_path), builtin_names()));
}

}  // namespace dropsim
