// libFuzzer target for the profile loader (proxy/profiles/profile_yaml.h load_profile): a
// `--profile FILE` or a profile named by a config is text the user did not necessarily write.
//
// Input: the profile's YAML. Comment lines of the form `#set NAME=VALUE` become `--set`
// overrides and `#scale X` the time scale (any number, as the API passes one), so that
// seeds stay valid profile files.
// A ProfileError is the expected failure; any other exception escapes and libFuzzer reports
// it. A profile that loads must print (to_yaml) as YAML that loads again and prints the same.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "chunks.h"
#include "profile_yaml.h"

namespace {

using namespace dropsim;

using dropsim::fuzz::check;

/// `yaml` without the comments emit_setting adds after a setting's `default: VALUE` line
/// ("  # runs as X after time_scale; profile default: Y"; a string elsewhere may hold the
/// same words). Canonical values never hold "  # ".
std::string without_default_comments(const std::string& yaml) {
  static constexpr std::string_view kComment = "  # ";
  std::string out;
  for (std::size_t at = 0; at < yaml.size();) {
    std::size_t end = yaml.find('\n', at);
    end = end == std::string::npos ? yaml.size() : end + 1;
    std::string_view line(yaml.data() + at, end - at);
    const std::size_t indent = line.find_first_not_of(' ');
    if (indent != std::string_view::npos && line.substr(indent).starts_with("default: ")) {
      if (const std::size_t comment = line.find(kComment); comment != std::string_view::npos) {
        out.append(line.substr(0, comment));
        if (line.ends_with('\n')) out += '\n';
        at = end;
        continue;
      }
    }
    out.append(line);
    at = end;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<SettingOverride> overrides;
  double time_scale = 1.0;
  Profile profile;
  try {
    for (std::size_t at = 0; at < text.size();) {
      std::size_t end = text.find('\n', at);
      if (end == std::string_view::npos) end = text.size();
      const std::string_view line = text.substr(at, end - at);
      if (line.starts_with("#set ")) overrides.push_back(parse_setting_override(line.substr(5)));
      if (line.starts_with("#scale ")) time_scale = std::strtod(std::string(line.substr(7)).c_str(), nullptr);
      at = end + 1;
    }
    profile = load_profile(text, "fuzz.yaml", overrides, time_scale);
  } catch (const ProfileError&) {
    return 0;
  }
  // What dropsim printed must load again (a ProfileError here escapes) and print the same,
  // but for the comments after each setting's default: the printed default is the value in
  // force, and the settings printed are already in the time the reloaded profile runs at.
  // The same label, as `source` is printed.
  const std::string yaml = to_yaml(profile);
  check(to_yaml(load_profile(yaml, "fuzz.yaml")) == without_default_comments(yaml));
  return 0;
}
