// libFuzzer target for the config loaders (proxy/control/config_yaml.h): dropsim's YAML config
// (load_config) and Toxiproxy's JSON one (load_toxiproxy_config), told apart as
// load_config_file does: a JSON array is Toxiproxy's.
//
// Input: the file's text. A ProfileError is the expected failure; any other exception
// escapes and libFuzzer reports it, as it does a sanitizer's finding.
//
// A proxy's profile may be a file, read relative to the config's directory. The config
// "lives" in a temporary directory holding two profile files (mine.yaml and
// sub/nginx.yaml, copies of built-ins), and an input naming an absolute path or one with
// ".." is skipped before it is loaded, so the fuzzer reads nothing outside that directory.
// Telling which scalars a config holds takes a YAML parse of its own (yaml-cpp, as the
// loader uses it).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "builtin_profiles.h"
#include "config_yaml.h"
#include "profile_yaml.h"

namespace {

using namespace dropsim;

/// The directory the config is said to live in: $TMPDIR/dropsim-config-fuzz, written
/// afresh by each run (libFuzzer ends with _Exit, so a directory of its own per run would
/// be left behind every time; this one is, once).
const std::filesystem::path& config_dir() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path d = std::filesystem::temp_directory_path() / "dropsim-config-fuzz";
    std::filesystem::create_directories(d / "sub");
    std::ofstream(d / "mine.yaml", std::ios::trunc) << find_profile_text("tcp").text;
    std::ofstream(d / "sub" / "nginx.yaml", std::ios::trunc) << find_profile_text("nginx").text;
    return d;
  }();
  return dir;
}

/// False when a scalar (any: the loader decides which is a profile) would name a file
/// outside config_dir(), or when the document is too large to walk (aliases repeat nodes).
bool stays_inside(const YAML::Node& n, int& budget) {
  if (--budget < 0) return false;
  switch (n.Type()) {
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      return !s.starts_with('/') && s.find("..") == std::string::npos;
    }
    case YAML::NodeType::Sequence:
      for (const YAML::Node& item : n) {
        if (!stays_inside(item, budget)) return false;
      }
      return true;
    case YAML::NodeType::Map:
      for (const auto& kv : n) {
        if (!stays_inside(kv.first, budget) || !stays_inside(kv.second, budget)) return false;
      }
      return true;
    default: return true;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string file = (config_dir() / "dropsim.yaml").string();
  try {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && text[first] == '[') {
      (void)load_toxiproxy_config(text, file);  // JSON: reads no file
      return 0;
    }
    try {
      int budget = 20000;
      if (!stays_inside(YAML::Load(std::string(text)), budget)) return 0;
    } catch (const YAML::Exception&) {
      // load_config reports it as a ProfileError before it reads any file.
    }
    (void)load_config(text, file);
  } catch (const ProfileError&) {
  }
  return 0;
}
