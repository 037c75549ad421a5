#pragma once
// Reads one profile document (YAML, through yaml_reader.h, shared with config_yaml.cpp) in
// three steps:
//   1. declarations: `settings:` (typed, with defaults), then `--set` overrides on them;
//   2. fields: every scalar of mode/connect/half_close/handshake/limits/timers is a literal,
//      a `$setting` or an `{if:, then:, else:}` expression, evaluated against the settings
//      in force;
//   3. scaling: --time-scale multiplies every resulting duration.
// Every error names FILE:LINE:COL and says how to fix it. Steps 1 and 2 are SettingsReader's
// (settings_reader.h); the Loader reads the sections. Internal to the profiles module: the
// API is load_profile (profile_yaml.h).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "profile_yaml.h"
#include "settings_reader.h"

namespace dropsim::detail {

/// Reads one profile document's sections; the declared settings are SettingsReader's (the
/// file label is YamlReader's).
class Loader : private SettingsReader {
 public:
  /// `file` labels every error.
  explicit Loader(std::string file) : SettingsReader(std::move(file)) {}

  /// The resolved profile of `root`, with `overrides` applied and durations scaled.
  Profile load(const YAML::Node& root, const std::vector<SettingOverride>& overrides, double scale, bool strict);

 private:
  double read_file_scale(const YAML::Node& n) const;
  ConnectPolicy read_connect(const YAML::Node& n, Mode mode) const;
  void check_http_only(const YAML::Node& map, std::string_view key, Mode mode, std::string_view what) const;
  HandshakePolicy read_handshake(const YAML::Node& root, Mode mode) const;
  MessageLimits read_limits(const YAML::Node& root, Mode mode) const;
  std::vector<TimerSpec> read_timers(const YAML::Node& n, Mode mode) const;
  TimerSpec read_timer(const YAML::Node& n, Mode mode) const;
  void check_kind_keys(const YAML::Node& n, TimerKind kind, std::string_view owner) const;
  Phases read_phases(const YAML::Node& n) const;
  FrameKinds read_reset_on(const YAML::Node& n, Mode mode) const;
  SideActions read_actions(const YAML::Node& n, const std::string& section, const SideActions& defaults,
                           const Literal<CloseAction>& action, Mode mode) const;
  HalfClosePolicy read_half_close(const YAML::Node& n) const;
  /// `blackhole_answer: rst | none`, or {client: ..., upstream: ...}.
  BlackholeAnswers read_blackhole_answer(const YAML::Node& n) const;
  /// A per-side field at `n`: one value for both sides, or a map of `keys` (the first
  /// side's, the second's); a side left out keeps its value in `first` / `second`.
  template <class T>
  void read_per_side(const YAML::Node& n, std::string_view field, const std::string_view (&keys)[2],
                     const Literal<T>& lit, T& first, T& second) const;
};

}  // namespace dropsim::detail
