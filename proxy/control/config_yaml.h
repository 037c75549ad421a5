#pragma once
// The `dropsim run --config dropsim.yaml` file (docs/config.md): several proxies in one
// process, each with its profile, settings and scheduled faults. Errors name
// FILE:LINE:COLUMN and the fix, as profile errors do.
//
//   dropsim.yaml ──load_config──► RunConfig ──► Runtime::create_proxy(ProxySpec) × N

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy_spec.h"

namespace dropsim {

/// What a config file asks `dropsim run` for.
struct RunConfig {
  std::optional<std::string> api;      ///< "127.0.0.1:8474"; the CLI's --api/--no-api override it
  std::optional<std::uint64_t> seed;   ///< toxicity rolls and jitter; the CLI's --seed overrides it
  std::vector<ProxySpec> proxies;      ///< in file order; each with time_scale already defaulted
  /// "FILE:LINE:COL: warning: ..." for settings outside the real system's range.
  std::vector<std::string> warnings;
};

/// Reads the config in `text`, read from `file` (used in messages, and the directory that
/// relative profile paths are read from). Checks everything it can without binding a
/// socket: keys, addresses, unique names and listen addresses, chains that loop, toxics
/// and their attributes, durations, and that each proxy's profile loads with its
/// settings. Throws one ProfileError carrying every independent error found; a setting
/// outside the real system's range is a warning, or with `strict` an error.
RunConfig load_config(std::string_view text, const std::string& file, bool strict = false);

/// Toxiproxy's config file (`toxiproxy-server -config FILE`): a JSON array of {name,
/// listen, upstream, enabled}, as POST /populate takes. Throws ProfileError (FILE:LINE:COL
/// for a JSON syntax error).
RunConfig load_toxiproxy_config(std::string_view text, const std::string& file);

/// Reads the file at `path` and loads it: Toxiproxy's JSON config when it is a JSON array,
/// else dropsim's YAML config; a ProfileError labelled with the path when the file cannot
/// be read.
RunConfig load_config_file(const std::string& path, bool strict = false);

/// True when `text` is a config (what `run --config` reads) rather than a profile: a list
/// (Toxiproxy's JSON config), or a mapping with api:, seed: or proxies: at the top, keys no
/// profile has. Text that does not parse is neither; a profile is the default guess.
bool looks_like_config(std::string_view text);

}  // namespace dropsim
