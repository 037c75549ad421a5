#include "profile_yaml.h"

#include <algorithm>
#include <tuple>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "builtin_profiles.h"

namespace dropsim {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

/// Loads `yaml` as "t.yaml".
Profile load(std::string_view yaml, const std::vector<SettingOverride>& overrides = {},
             double time_scale = 1.0) {
  return load_profile(yaml, "t.yaml", overrides, time_scale);
}

/// The error loading `yaml` raises; fails the test when it loads.
ProfileError load_error(std::string_view yaml, const std::vector<SettingOverride>& overrides = {},
                        double time_scale = 1.0) {
  try {
    load(yaml, overrides, time_scale);
  } catch (const ProfileError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ProfileError for:\n" << yaml;
  return ProfileError("", 0, 0, "");
}

/// Checks the error's "FILE:LINE:COL: " prefix and that its message contains `phrase`.
void expect_error(const ProfileError& e, std::string_view prefix, std::string_view phrase) {
  const std::string_view what = e.what();
  EXPECT_TRUE(what.starts_with(prefix)) << "want prefix '" << prefix << "' in: " << what;
  EXPECT_NE(what.find(phrase), std::string_view::npos) << "want '" << phrase << "' in: " << what;
}

/// A one-timer http profile whose expiry is `on_expiry` (YAML flow mapping); the timer
/// line starts at column 5 of line 4, so error columns are 51 + the offset in `on_expiry`.
std::string http_timer_with_expiry(std::string_view on_expiry) {
  return "name: t\nmode: http\ntimers:\n  - {name: a, kind: idle, timeout: 1s, on_expiry: " + std::string(on_expiry) +
         "}\n";
}

/// A built-in profile, resolved.
Profile builtin(std::string_view name, const std::vector<SettingOverride>& overrides = {},
                double time_scale = 1.0) {
  const ProfileText t = find_profile_text(std::string(name));
  return load_profile(t.text, t.file, overrides, time_scale);
}

/// The element of `items` whose `.name` is `name`; fails the test when absent.
template <class T>
const T& named(const std::vector<T>& items, std::string_view name, const Profile& p) {
  for (const T& item : items) {
    if (item.name == name) return item;
  }
  ADD_FAILURE() << "no " << name << " in " << p.name;
  static const T none;
  return none;
}

/// The timer named `name`.
const TimerSpec& timer(const Profile& p, std::string_view name) { return named(p.timers, name, p); }

/// The setting named `name`.
const Setting& setting(const Profile& p, std::string_view name) { return named(p.settings, name, p); }

constexpr Phases kAllPhases{true, true, true};
const SideActions kFinBoth{CloseAction::fin, CloseAction::fin};
const SideActions kFinClientRstServer{CloseAction::fin, CloseAction::rst};
const SideActions kRstBoth{CloseAction::rst, CloseAction::rst};
const SideActions kFinClientFinRstServer{CloseAction::fin, CloseAction::fin_rst};
const SideActions kNolinger{CloseAction::fin_rst, CloseAction::rst};
const SideActions kHalfCloseUpstream{CloseAction::keep, CloseAction::half_close};

/// A small valid profile with one setting of each type; tests append to it.
constexpr std::string_view kSettings = R"(name: t
mode: tcp
settings:
  idle: {type: duration, default: 30s, unit: s, aliases: [idle.seconds]}
  tunnel: {type: duration, default: none, unit: ms}
  flag: {type: bool, default: off}
  act: {type: action, default: rst}
)";

/// kSettings followed by `rest`.
std::string with_settings(std::string_view rest) { return std::string(kSettings) + std::string(rest); }

// --- mechanisms -------------------------------------------------------------------------

TEST(ProfileYamlTest, LoadsEveryMechanism) {
  const Profile p = load(R"(name: every
description: all mechanisms
mode: http
connect: {timeout: 3s, on_failure: rst}
half_close: close_both
timers:
  - name: quiet
    kind: idle
    timeout: 1m30s
    reset_by: downstream
    rearm_granularity: 250ms
    paused_while_blocked: downstream
    while: [open, downstream_finished]
    on_expiry: {client: rst, upstream: blackhole}
  - name: stuck
    kind: blocked_write
    direction: upstream
    timeout: 2s
    on_expiry: {client: blackhole}
  - name: age
    kind: lifetime
    timeout: 2h
)");
  EXPECT_EQ(p.name, "every");
  EXPECT_EQ(p.description, "all mechanisms");
  EXPECT_EQ(p.source, "t.yaml");
  EXPECT_EQ(p.mode, Mode::http);
  EXPECT_EQ(p.connect.timeout, seconds(3));
  EXPECT_EQ(p.connect.on_failure, CloseAction::rst);
  EXPECT_EQ(p.half_close, (HalfClosePolicy{HalfClose::close_both, HalfClose::close_both}));
  ASSERT_EQ(p.timers.size(), 3u);

  const TimerSpec& quiet = p.timers[0];
  EXPECT_EQ(quiet.name, "quiet");
  EXPECT_EQ(quiet.kind, TimerKind::idle);
  EXPECT_EQ(quiet.timeout, seconds(90));
  EXPECT_EQ(quiet.reset_by, DirectionSet::only(Direction::downstream));
  EXPECT_EQ(quiet.rearm_granularity, milliseconds(250));
  EXPECT_EQ(quiet.paused_while_blocked, Direction::downstream);
  EXPECT_EQ(quiet.phases, (Phases{true, false, true}));
  EXPECT_EQ(quiet.on_expiry, (SideActions{CloseAction::rst, CloseAction::blackhole}));

  const TimerSpec& stuck = p.timers[1];
  EXPECT_EQ(stuck.kind, TimerKind::blocked_write);
  EXPECT_EQ(stuck.direction, Direction::upstream);
  EXPECT_EQ(stuck.timeout, seconds(2));
  EXPECT_EQ(stuck.on_expiry, (SideActions{CloseAction::blackhole, CloseAction::fin}));

  const TimerSpec& age = p.timers[2];
  EXPECT_EQ(age.kind, TimerKind::lifetime);
  EXPECT_EQ(age.timeout, hours(2));
}

TEST(ProfileYamlTest, OmittedFieldsTakeTheirDefaults) {
  const Profile p = load(R"(name: t
mode: tcp
timers:
  - {name: a, kind: idle, timeout: 1s}
)");
  EXPECT_EQ(p.description, "");
  EXPECT_EQ(p.connect.timeout, seconds(5));
  EXPECT_EQ(p.connect.on_failure, CloseAction::fin);
  EXPECT_EQ(p.half_close, (HalfClosePolicy{HalfClose::forward, HalfClose::forward}));
  EXPECT_EQ(p.time_scale, 1.0);
  EXPECT_TRUE(p.settings.empty());
  const TimerSpec& a = p.timers.at(0);
  EXPECT_EQ(a.reset_by, DirectionSet::both());
  EXPECT_EQ(a.rearm_granularity, Duration(0));
  EXPECT_EQ(a.paused_while_blocked, std::nullopt);
  EXPECT_EQ(a.phases, kAllPhases);
  EXPECT_EQ(a.on_expiry, kFinBoth);
}

TEST(ProfileYamlTest, NoneAndOffDisableATimer) {
  const Profile p = load(with_settings(R"(timers:
  - {name: a, kind: idle, timeout: none}
  - {name: b, kind: idle, timeout: off}
  - {name: c, kind: idle, timeout: $tunnel}
)"));
  EXPECT_EQ(p.timers.at(0).timeout, std::nullopt);
  EXPECT_EQ(p.timers.at(1).timeout, std::nullopt);
  EXPECT_EQ(p.timers.at(2).timeout, std::nullopt);
}

TEST(ProfileYamlTest, RefsFeedFieldsOfTheirType) {
  const Profile p = load(with_settings(R"(connect: {timeout: $idle, on_failure: $act}
timers:
  - name: a
    kind: idle
    timeout: $idle
    rearm_granularity: $idle
    on_expiry: {client: $act, upstream: $act}
)"));
  EXPECT_EQ(p.connect.timeout, seconds(30));
  EXPECT_EQ(p.connect.on_failure, CloseAction::rst);
  const TimerSpec& a = p.timers.at(0);
  EXPECT_EQ(a.timeout, seconds(30));
  EXPECT_EQ(a.rearm_granularity, seconds(30));
  EXPECT_EQ(a.on_expiry, kRstBoth);
}

TEST(ProfileYamlTest, RefsFollowOverrides) {
  const Profile p = load(with_settings(R"(timers:
  - {name: a, kind: idle, timeout: $idle, on_expiry: {client: $act}}
)"), {{"idle", "7s"}, {"act", "blackhole"}});
  EXPECT_EQ(p.timers.at(0).timeout, seconds(7));
  EXPECT_EQ(p.timers.at(0).on_expiry.client, CloseAction::blackhole);
}

TEST(ProfileYamlTest, RefMayNameAnAlias) {
  const Profile p = load(with_settings(R"(timers:
  - {name: a, kind: idle, timeout: $idle.seconds}
)"));
  EXPECT_EQ(p.timers.at(0).timeout, seconds(30));
}

constexpr std::string_view kIfOnBool = R"(timers:
  - name: a
    kind: idle
    timeout: {if: $flag, then: 1s, else: 2s}
    reset_by: {if: $flag, then: upstream, else: both}
    on_expiry: {client: {if: $flag, then: rst, else: fin}}
)";

TEST(ProfileYamlTest, IfOnABoolSettingTestsItsValue) {
  const Profile off = load(with_settings(kIfOnBool));
  EXPECT_EQ(off.timers.at(0).timeout, seconds(2));
  EXPECT_EQ(off.timers.at(0).reset_by, DirectionSet::both());
  EXPECT_EQ(off.timers.at(0).on_expiry.client, CloseAction::fin);

  const Profile on = load(with_settings(kIfOnBool), {{"flag", "on"}});
  EXPECT_EQ(on.timers.at(0).timeout, seconds(1));
  EXPECT_EQ(on.timers.at(0).reset_by, DirectionSet::only(Direction::upstream));
  EXPECT_EQ(on.timers.at(0).on_expiry.client, CloseAction::rst);
}

TEST(ProfileYamlTest, IfOnADurationSettingTestsWhetherItIsSet) {
  constexpr std::string_view kTimers = R"(timers:
  - {name: a, kind: idle, timeout: {if: $tunnel, then: $tunnel, else: $idle}}
)";
  EXPECT_EQ(load(with_settings(kTimers)).timers.at(0).timeout, seconds(30));
  EXPECT_EQ(load(with_settings(kTimers), {{"tunnel", "1500"}}).timers.at(0).timeout, milliseconds(1500));
}

TEST(ProfileYamlTest, IfNestsAndFeedsModeAndHalfClose) {
  constexpr std::string_view kRest = R"(half_close: {if: $flag, then: forward, else: close_both}
timers:
  - name: a
    kind: idle
    timeout: {if: $flag, then: 1s, else: {if: $tunnel, then: 2s, else: 3s}}
)";
  std::string yaml = with_settings(kRest);
  yaml.replace(yaml.find("mode: tcp"), 9, "mode: {if: $flag, then: http, else: tcp}");
  const Profile neither = load(yaml);
  EXPECT_EQ(neither.mode, Mode::tcp);
  EXPECT_EQ(neither.half_close, (HalfClosePolicy{HalfClose::close_both, HalfClose::close_both}));
  EXPECT_EQ(neither.timers.at(0).timeout, seconds(3));
  EXPECT_EQ(load(yaml, {{"tunnel", "9s"}}).timers.at(0).timeout, seconds(2));
  const Profile flag = load(yaml, {{"flag", "yes"}});
  EXPECT_EQ(flag.mode, Mode::http);
  EXPECT_EQ(flag.half_close, (HalfClosePolicy{HalfClose::forward, HalfClose::forward}));
  EXPECT_EQ(flag.timers.at(0).timeout, seconds(1));
}

// Apache's tunnel waits the larger of Timeout and ProxyTimeout; an unset one is no candidate.
TEST(ProfileYamlTest, MaxTakesTheLargerDurationAndSkipsUnsetOnes) {
  constexpr std::string_view kTimers = R"(connect: {timeout: {max: [$idle, 45s]}}
timers:
  - {name: a, kind: idle, timeout: {max: [$idle, $tunnel]}}
  - {name: b, kind: idle, timeout: {max: [none, $tunnel]}}
  - {name: c, kind: idle, timeout: {if: $flag, then: {max: [$idle, 1s]}, else: none}}
)";
  const Profile unset = load(with_settings(kTimers));
  EXPECT_EQ(unset.connect.timeout, seconds(45));
  EXPECT_EQ(unset.timers.at(0).timeout, seconds(30));
  EXPECT_EQ(unset.timers.at(1).timeout, std::nullopt);
  EXPECT_EQ(unset.timers.at(2).timeout, std::nullopt);

  const Profile shorter = load(with_settings(kTimers), {{"tunnel", "1500"}, {"idle", "60"}});
  EXPECT_EQ(shorter.connect.timeout, seconds(60));
  EXPECT_EQ(shorter.timers.at(0).timeout, seconds(60));
  EXPECT_EQ(shorter.timers.at(1).timeout, milliseconds(1500));

  const Profile longer = load(with_settings(kTimers), {{"tunnel", "90000"}, {"flag", "on"}});
  EXPECT_EQ(longer.timers.at(0).timeout, seconds(90));
  EXPECT_EQ(longer.timers.at(2).timeout, seconds(30));
}

TEST(ProfileYamlTest, MaxTakesOnlyAListOfDurations) {
  expect_error(load_error(with_settings("timers:\n  - {name: a, kind: idle, timeout: {max: 5s}}\n")),
               "t.yaml:9:", "takes a list of durations");
  expect_error(load_error(with_settings("timers:\n  - {name: a, kind: idle, timeout: {max: []}}\n")),
               "t.yaml:9:", "takes a list of durations");
  expect_error(load_error(with_settings("timers:\n  - {name: a, kind: idle, timeout: {max: [1s, $flag]}}\n")),
               "t.yaml:9:", "bool setting");
  expect_error(load_error(with_settings("timers:\n  - {name: a, kind: idle, timeout: 1s, on_expiry: "
                                        "{client: {max: [fin, rst]}}}\n")),
               "t.yaml:9:", "max: takes durations");
  expect_error(load_error(with_settings("timers:\n  - {name: a, kind: idle, timeout: {max: [1s], min: [2s]}}\n")),
               "t.yaml:9:", "unknown key 'min'");
}

TEST(ProfileYamlTest, IfAcceptsALiteralBool) {
  const Profile p = load(R"(name: t
mode: tcp
timers:
  - {name: a, kind: idle, timeout: {if: on, then: 1s, else: 2s}}
  - {name: b, kind: idle, timeout: {if: false, then: 1s, else: 2s}}
)");
  EXPECT_EQ(p.timers.at(0).timeout, seconds(1));
  EXPECT_EQ(p.timers.at(1).timeout, seconds(2));
}

TEST(ProfileYamlTest, SettingsListValueInForceAndDefaultInDeclarationOrder) {
  const Profile p = load(with_settings("timers: []\n"), {{"idle", "90"}, {"flag", "true"}});
  ASSERT_EQ(p.settings.size(), 4u);
  EXPECT_EQ(p.settings[0].name, "idle");
  EXPECT_EQ(p.settings[0].type, "duration");
  EXPECT_EQ(p.settings[0].value, "1m30s");
  EXPECT_EQ(p.settings[0].default_value, "30s");
  EXPECT_EQ(p.settings[1].name, "tunnel");
  EXPECT_EQ(p.settings[1].value, "none");
  EXPECT_EQ(p.settings[2].name, "flag");
  EXPECT_EQ(p.settings[2].type, "bool");
  EXPECT_EQ(p.settings[2].value, "on");
  EXPECT_EQ(p.settings[2].default_value, "off");
  EXPECT_EQ(p.settings[3].name, "act");
  EXPECT_EQ(p.settings[3].type, "action");
  EXPECT_EQ(p.settings[3].value, "rst");
}

// --- errors -----------------------------------------------------------------------------

TEST(ProfileYamlErrorTest, YamlSyntaxErrorNamesItsPlace) {
  expect_error(load_error("name: t\nmode: [tcp\n"), "t.yaml:3:1: ", "YAML syntax error");
  expect_error(load_error("name: t\n  mode: tcp\n"), "t.yaml:2:7: ", "fix the syntax");
}

TEST(ProfileYamlErrorTest, DocumentMustBeAMapping) {
  expect_error(load_error(""), "t.yaml: ", "a profile must be a mapping");
  expect_error(load_error("- a\n- b\n"), "t.yaml:1:1: ", "found a list");
}

TEST(ProfileYamlErrorTest, UnknownKeySuggestsAndListsValidKeys) {
  const ProfileError e = load_error("name: t\nmode: tcp\ntimer: []\n");
  expect_error(e, "t.yaml:3:1: ", "unknown key 'timer' in the profile (did you mean 'timers'?)");
  expect_error(e, "t.yaml:3:1: ", "valid keys: name, description, source, mode, time_scale");
}

TEST(ProfileYamlErrorTest, UnknownTimerKeySuggests) {
  expect_error(load_error(R"(name: t
mode: tcp
timers:
  - name: a
    kind: idle
    timeout: 1s
    reset_bye: both
)"),
               "t.yaml:7:5: ", "did you mean 'reset_by'?");
}

TEST(ProfileYamlErrorTest, UnknownKeyFarFromAnyHasNoSuggestion) {
  const ProfileError e = load_error("name: t\nmode: tcp\nconnect: {deadline: 1s}\n");
  expect_error(e, "t.yaml:3:11: ", "unknown key 'deadline' in 'connect'; valid keys: timeout, on_failure");
  EXPECT_EQ(std::string_view(e.what()).find("did you mean"), std::string_view::npos) << e.what();
}

TEST(ProfileYamlErrorTest, DuplicateKeyIsRefused) {
  expect_error(load_error("name: t\nmode: tcp\nmode: http\n"), "t.yaml:3:1: ", "'mode' appears twice");
}

TEST(ProfileYamlErrorTest, BareNumberIsNotADuration) {
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {name: a, kind: idle, timeout: 60}\n"),
               "t.yaml:4:36: ",
               "'60' is not a duration (in 'timeout'): write it with a unit, e.g. 60s, 300ms, 2m, 1h");
}

TEST(ProfileYamlErrorTest, BareNumberDefaultMentionsUnit) {
  const ProfileError e = load_error("name: t\nmode: tcp\nsettings:\n  x: {type: duration, default: 60}\n");
  expect_error(e, "t.yaml:4:32: ", "'60' is not a duration for setting 'x': write it with a unit");
  expect_error(e, "t.yaml:4:32: ", "`unit:`");
}

TEST(ProfileYamlErrorTest, NoneWhereADurationIsRequired) {
  expect_error(load_error("name: t\nmode: tcp\nconnect: {timeout: none}\n"), "t.yaml:3:20: ",
               "'none' is not a duration (in 'connect.timeout')");
  expect_error(load_error(with_settings("connect: {timeout: $tunnel}\n")), "t.yaml:8:20: ",
               "setting 'tunnel' is none, but 'connect.timeout' cannot be disabled: set it to a duration");
}

TEST(ProfileYamlErrorTest, WrongShapes) {
  expect_error(load_error("name: t\nmode: tcp\nsettings: [a]\n"), "t.yaml:3:11: ",
               "'settings' must be a mapping (key: value lines), found a list");
  expect_error(load_error("name: t\nmode: tcp\ntimers: {a: 1}\n"), "t.yaml:3:9: ",
               "'timers' must be a list");
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {name: a, kind: idle, timeout: [1s]}\n"),
               "t.yaml:4:36: ", "'timeout' must be a single value");
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - a\n"), "t.yaml:4:5: ",
               "each entry of 'timers' must be a mapping");
  expect_error(load_error("name: t\nmode:\n"), "t.yaml:2:1: ", "'mode' has no value: write one after the colon");
}

TEST(ProfileYamlErrorTest, MissingRequiredFieldPointsAtItsMapping) {
  expect_error(load_error(R"(name: t
mode: tcp
timers:
  - name: x
    timeout: 1s
)"),
               "t.yaml:4:5: ", "timer 'x' is missing 'kind': add kind: idle, blocked_write or lifetime");
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {name: x, kind: idle}\n"), "t.yaml:4:5: ",
               "timer 'x' is missing 'timeout'");
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {kind: idle, timeout: 1s}\n"), "t.yaml:4:5: ",
               "a timer is missing 'name'");
  expect_error(load_error("mode: tcp\n"), "t.yaml:1:1: ", "the profile is missing 'name'");
  expect_error(load_error("name: t\n"), "t.yaml:1:1: ", "the profile is missing 'mode': add mode: tcp");
  expect_error(load_error("name: t\nmode: tcp\nsettings:\n  x: {type: bool}\n"), "t.yaml:4:6: ",
               "setting 'x' is missing 'default'");
  expect_error(load_error("name: t\nmode: tcp\nsettings:\n  x: {default: on}\n"), "t.yaml:4:6: ",
               "setting 'x' is missing 'type': add type: duration, bool, action, size or count");
}

TEST(ProfileYamlErrorTest, UnknownEnumValuesListTheAllowedOnes) {
  expect_error(load_error("name: t\nmode: udp\n"), "t.yaml:2:7: ", "'udp' is not a mode (in 'mode'): write tcp or http");
  expect_error(load_error("name: t\nmode: tcp\nhalf_close: both\n"), "t.yaml:3:13: ",
               "write forward or close_both");
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {name: a, kind: idel, timeout: 1s}\n"),
               "t.yaml:4:21: ", "'idel' is not a timer kind (in 'kind'): write idle, blocked_write or lifetime");
  expect_error(load_error(R"(name: t
mode: tcp
timers:
  - {name: a, kind: idle, timeout: 1s, on_expiry: {client: reset}}
)"),
               "t.yaml:4:60: ", "'reset' is not a close action (in 'on_expiry.client'): write fin, rst, fin_rst, blackhole, ws_close, http_status, half_close or keep");
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {name: a, kind: idle, timeout: 1s, reset_by: all}\n"),
               "t.yaml:4:50: ", "write upstream, downstream or both");
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {name: a, kind: idle, timeout: 1s, while: [closed]}\n"),
               "t.yaml:4:48: ", "write open, upstream_finished or downstream_finished");
  expect_error(load_error("name: t\nmode: tcp\nsettings:\n  x: {type: int, default: 1}\n"), "t.yaml:4:13: ",
               "'int' is not a setting type: write duration, bool, action, size or count");
}

TEST(ProfileYamlErrorTest, RefToAnUndeclaredSettingSuggests) {
  const ProfileError e = load_error(with_settings("timers:\n  - {name: a, kind: idle, timeout: $idel}\n"));
  expect_error(e, "t.yaml:9:36: ", "'$idel' refers to no declared setting (did you mean '$idle'?)");
  expect_error(e, "t.yaml:9:36: ", "use one of: idle, tunnel, flag, act");
}

TEST(ProfileYamlErrorTest, SettingTypeMustMatchTheField) {
  expect_error(load_error(with_settings("timers:\n  - {name: a, kind: idle, timeout: $flag}\n")),
               "t.yaml:9:36: ", "'$flag' is a bool setting, which can only be tested: write {if: $flag");
  expect_error(load_error(with_settings("timers:\n  - {name: a, kind: idle, timeout: $act}\n")),
               "t.yaml:9:36: ", "'$act' is an action setting, but 'timeout' needs a duration");
  expect_error(load_error(with_settings("connect: {on_failure: $idle}\n")), "t.yaml:8:23: ",
               "'$idle' is a duration setting, but 'connect.on_failure' needs a close action");
  expect_error(load_error(with_settings("half_close: $act\n")), "t.yaml:8:13: ",
               "'half_close' cannot take '$act' (action setting): write forward or close_both");
}

TEST(ProfileYamlErrorTest, IfTestsOnlyBoolOrDurationSettings) {
  expect_error(load_error(with_settings("half_close: {if: $act, then: forward, else: close_both}\n")),
               "t.yaml:8:18: ", "'$act' is an action setting; if: tests a bool setting");
  expect_error(load_error(with_settings("half_close: {if: maybe, then: forward, else: close_both}\n")),
               "t.yaml:8:18: ", "if: takes a $setting");
  expect_error(load_error(with_settings("half_close: {if: $flag, then: forward}\n")), "t.yaml:8:13: ",
               "the if: expression of 'half_close' is missing 'else'");
  // Both are said: the missing else (at the mapping, first in file order) and the stray key.
  const ProfileError otherwise =
      load_error(with_settings("half_close: {if: $flag, then: forward, otherwise: close_both}\n"));
  ASSERT_EQ(otherwise.errors().size(), 2u) << otherwise.report();
  expect_error(otherwise.errors()[0], "t.yaml:8:13: ", "the if: expression of 'half_close' is missing 'else'");
  expect_error(otherwise.errors()[1], "t.yaml:8:40: ", "unknown key 'otherwise' in the if: expression of 'half_close'");
}

TEST(ProfileYamlErrorTest, BothBranchesOfAnIfAreChecked) {
  // flag is off, so `then` is never taken; its typo is still an error.
  expect_error(load_error(with_settings("half_close: {if: $flag, then: forwrd, else: close_both}\n")),
               "t.yaml:8:31: ", "'forwrd' is not a half-close policy");
}

TEST(ProfileYamlErrorTest, DuplicateTimerNames) {
  expect_error(load_error(R"(name: t
mode: tcp
timers:
  - {name: a, kind: idle, timeout: 1s}
  - {name: a, kind: lifetime, timeout: 1h}
)"),
               "t.yaml:5:5: ", "a second timer is named 'a' (the first is at line 4)");
}

TEST(ProfileYamlErrorTest, FieldsThatDoNotApplyToTheKind) {
  expect_error(load_error(R"(name: t
mode: tcp
timers:
  - name: a
    kind: idle
    timeout: 1s
    direction: upstream
)"),
               "t.yaml:7:5: ", "'direction' applies only to blocked_write timers and timer 'a' is idle: remove it");
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {name: a, kind: lifetime, timeout: 1h, rearm_granularity: 1s}\n"),
               "t.yaml:4:44: ", "'rearm_granularity' applies only to idle timers");
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {name: a, kind: lifetime, timeout: 1h, paused_while_blocked: upstream}\n"),
               "t.yaml:4:44: ", "'paused_while_blocked' applies only to idle timers");
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {name: a, kind: idle, timeout: 1h, paused_while_blocked: sideways}\n"),
               "t.yaml:4:62: ", "'sideways' is not a direction (in 'paused_while_blocked')");
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {name: a, kind: blocked_write, timeout: 1s}\n"),
               "t.yaml:4:5: ", "timer 'a' is missing 'direction': add direction: upstream or downstream");
}

TEST(ProfileYamlErrorTest, TimersThatCouldNeverBehave) {
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {name: a, kind: idle, timeout: 1s, reset_by: none}\n"),
               "t.yaml:4:50: ", "write kind: lifetime");
  expect_error(load_error("name: t\nmode: tcp\ntimers:\n  - {name: a, kind: idle, timeout: 1s, while: []}\n"),
               "t.yaml:4:47: ", "an empty 'while' list means the timer never runs");
}

TEST(ProfileYamlErrorTest, SettingDeclarationErrors) {
  expect_error(load_error("name: t\nmode: tcp\nsettings:\n  x: {type: bool, default: on, unit: s}\n"),
               "t.yaml:4:32: ", "'unit' applies only to duration settings");
  expect_error(load_error("name: t\nmode: tcp\nsettings:\n  x: {type: duration, default: 1s, unit: sec}\n"),
               "t.yaml:4:42: ", "'sec' is not a unit: write one of ns, us, ms, s, m, h");
  expect_error(load_error("name: t\nmode: tcp\nsettings:\n  x: {type: bool, default: maybe}\n"),
               "t.yaml:4:28: ", "'maybe' is not a bool for setting 'x': write on or off");
  expect_error(load_error("name: t\nmode: tcp\nsettings:\n  x: {type: bool, default: on}\n  y: {type: bool, default: on, aliases: [x]}\n"),
               "t.yaml:5:3: ", "setting name 'x' is already taken");
  expect_error(load_error("name: t\nmode: tcp\nsettings:\n  x: 5s\n"), "t.yaml:4:6: ",
               "setting 'x' must be a mapping");
}

TEST(ProfileYamlErrorTest, TimeScaleMustBePositive) {
  expect_error(load_error(kSettings, {}, 0.0), "--time-scale: ", "not a positive number");
  expect_error(load_error(kSettings, {}, -1.0), "--time-scale: ", "e.g. 0.05");
  expect_error(load_error("name: t\nmode: tcp\ntime_scale: 0\n"), "t.yaml:3:13: ",
               "time_scale '0' must be a positive number");
}

// profile_yaml_fuzz: profiles/tcp.yaml with `#scale 1e12` (an API client may send any
// finite time_scale) scaled connect.timeout past 2^63 ns, and to_yaml negated INT64_MIN.
TEST(ProfileYamlErrorTest, TimeScaleThatOverflowsADurationIsRefused) {
  expect_error(load_error("name: t\nmode: tcp\nconnect: {timeout: 10s}\n", {}, 1e12), "--time-scale: ",
               "time scale 1000000000000 makes connect.timeout (10s) too long to count: use a smaller time scale");
  expect_error(load_error("name: t\nmode: tcp\n", {}, 1e300), "--time-scale: ", "connect.timeout");
  EXPECT_EQ(load_profile("name: t\nmode: tcp\nconnect: {timeout: 10s}\n", "t.yaml", {}, 1e6).connect.timeout,
            std::chrono::seconds(10'000'000));
}

TEST(ProfileYamlErrorTest, ErrorCarriesItsParts) {
  const ProfileError e = load_error("name: t\nmode: udp\n");
  EXPECT_EQ(e.file(), "t.yaml");
  EXPECT_EQ(e.line(), 2);
  EXPECT_EQ(e.column(), 7);
  EXPECT_TRUE(e.message().starts_with("'udp' is not a mode")) << e.message();
}

void expect_round_trip(const Profile& p);

// --- WebSocket awareness: reset_on, close details, handshake, limits ---------------------

/// kSettings in mode http, followed by `rest`.
std::string with_http_settings(std::string_view rest) {
  std::string yaml = with_settings(rest);
  yaml.replace(yaml.find("mode: tcp"), 9, "mode: http");
  return yaml;
}

constexpr FrameKinds kAllFrames{true, true, true, true};

TEST(ProfileWebSocketTest, ResetOnListsTheFrameKindsThatCount) {
  const Profile p = load(R"(name: t
mode: http
timers:
  - {name: a, kind: idle, timeout: 1s, reset_on: [data]}
  - {name: b, kind: idle, timeout: 1s, reset_on: [ping, pong, ping]}
  - {name: c, kind: idle, timeout: 1s, reset_on: [close, data, pong, ping]}
  - {name: d, kind: idle, timeout: 1s}
)");
  EXPECT_EQ(timer(p, "a").reset_on, (FrameKinds{true, false, false, false}));
  EXPECT_EQ(timer(p, "b").reset_on, (FrameKinds{false, true, true, false}));
  EXPECT_EQ(timer(p, "c").reset_on, kAllFrames);
  EXPECT_EQ(timer(p, "d").reset_on, kAllFrames) << "default: every frame counts";
}

TEST(ProfileWebSocketTest, ResetOnEntriesTakeIfExpressions) {
  constexpr std::string_view kTimers = R"(timers:
  - {name: a, kind: idle, timeout: 1s, reset_on: [data, {if: $flag, then: ping, else: close}]}
)";
  EXPECT_EQ(timer(load(with_http_settings(kTimers)), "a").reset_on, (FrameKinds{true, false, false, true}));
  EXPECT_EQ(timer(load(with_http_settings(kTimers), {{"flag", "on"}}), "a").reset_on,
            (FrameKinds{true, true, false, false}));
}

TEST(ProfileWebSocketErrorTest, ResetOnErrors) {
  expect_error(load_error(R"(name: t
mode: http
timers:
  - {name: a, kind: idle, timeout: 1s, reset_on: []}
)"),
               "t.yaml:4:50: ", "an empty 'reset_on' list means no traffic resets the timer: write kind: lifetime");
  expect_error(load_error(R"(name: t
mode: http
timers:
  - {name: a, kind: idle, timeout: 1s, reset_on: [data, pings]}
)"),
               "t.yaml:4:57: ", "'pings' is not a frame kind or keepalive (in 'reset_on'): write data, ping, pong, close or keepalive");
  expect_error(load_error(R"(name: t
mode: http
timers:
  - {name: a, kind: idle, timeout: 1s, reset_on: data}
)"), "t.yaml:4:50: ", "'reset_on' must be a list");
  expect_error(load_error(R"(name: t
mode: http
timers:
  - {name: a, kind: lifetime, timeout: 1h, reset_on: [data]}
)"),
               "t.yaml:4:44: ", "'reset_on' applies only to idle timers and timer 'a' is lifetime: remove it");
  // Mode tcp has no frames: data (every byte) and keepalive only, and data cannot go.
  expect_error(load_error(R"(name: t
mode: tcp
timers:
  - {name: a, kind: idle, timeout: 1s, reset_on: [ping, data, keepalive]}
)"),
               "t.yaml:4:51: ", "'ping' is a WebSocket frame, and this profile is mode: tcp, where dropsim sees bytes, "
                                "not frames: write reset_on: [data, keepalive]");
  expect_error(load_error(R"(name: t
mode: tcp
timers:
  - {name: a, kind: idle, timeout: 1s, reset_on: [keepalive]}
)"),
               "t.yaml:4:50: ", "in mode tcp every byte resets the timer, so 'reset_on' must list data");
}

TEST(ProfileKeepaliveTest, ResetOnKeepaliveCountsProbesInEitherMode) {
  const Profile tcp = load(R"(name: t
mode: tcp
timers:
  - {name: a, kind: idle, timeout: 1s, reset_on: [data, keepalive]}
  - {name: b, kind: idle, timeout: 1s, reset_on: [data]}
  - {name: c, kind: idle, timeout: 1s}
)");
  // In mode tcp every byte counts whatever the list says: only keepalive differs.
  EXPECT_EQ(timer(tcp, "a").reset_on, (FrameKinds{true, true, true, true, true}));
  EXPECT_EQ(timer(tcp, "b").reset_on, kAllFrames);
  EXPECT_EQ(timer(tcp, "c").reset_on, kAllFrames) << "default: keepalives do not count";
  EXPECT_FALSE(kAllFrames.keepalive);
  constexpr std::string_view kTimers = R"(timers:
  - {name: a, kind: idle, timeout: 1s, reset_on: [data, {if: $flag, then: ping, else: keepalive}]}
)";
  EXPECT_EQ(timer(load(with_http_settings(kTimers)), "a").reset_on, (FrameKinds{true, false, false, false, true}));
  EXPECT_EQ(timer(load(with_http_settings(kTimers), {{"flag", "on"}}), "a").reset_on,
            (FrameKinds{true, true, false, false, false}));
}

TEST(ProfileKeepaliveTest, ResetOnKeepaliveRoundTrips) {
  const Profile tcp = load("name: t\nmode: tcp\ntimers:\n  - {name: a, kind: idle, timeout: 1s, reset_on: [data, keepalive]}\n");
  EXPECT_NE(to_yaml(tcp).find("reset_on: [data, keepalive]"), std::string::npos) << to_yaml(tcp);
  expect_round_trip(tcp);
  const Profile http = load("name: t\nmode: http\ntimers:\n  - {name: a, kind: idle, timeout: 1s, reset_on: [ping, keepalive]}\n");
  EXPECT_NE(to_yaml(http).find("reset_on: [ping, keepalive]"), std::string::npos) << to_yaml(http);
  expect_round_trip(http);
}

TEST(ProfileWebSocketTest, OnExpiryCarriesTheCloseDetails) {
  const Profile p = load(R"(name: t
mode: http
timers:
  - name: a
    kind: idle
    timeout: 1s
    on_expiry: {client: ws_close, upstream: fin, ws_code: 1001, ws_reason: Going away}
  - name: b
    kind: idle
    timeout: 1s
    on_expiry: {client: http_status, upstream: rst, http_status: 502}
  - name: c
    kind: lifetime
    timeout: 1h
    on_expiry: {client: ws_close, upstream: ws_close}
)");
  EXPECT_EQ(timer(p, "a").on_expiry, (SideActions{CloseAction::ws_close, CloseAction::fin, 1001, "Going away", 504}));
  EXPECT_EQ(timer(p, "b").on_expiry, (SideActions{CloseAction::http_status, CloseAction::rst, 1000, "", 502}));
  // Omitted details take SideActions' defaults: 1000, no reason.
  EXPECT_EQ(timer(p, "c").on_expiry, (SideActions{CloseAction::ws_close, CloseAction::ws_close, 1000, "", 504}));
}

TEST(ProfileWebSocketTest, CloseDetailsTakeExpressionsAndFollowTheActionInForce) {
  constexpr std::string_view kTimers = R"(timers:
  - name: a
    kind: idle
    timeout: 1s
    on_expiry:
      client: {if: $flag, then: ws_close, else: fin}
      ws_code: {if: $flag, then: 4000, else: 1011}
      ws_reason: bye
)";
  // flag off: no action is ws_close, so the code and reason are not kept.
  EXPECT_EQ(timer(load(with_http_settings(kTimers)), "a").on_expiry, kFinBoth);
  EXPECT_EQ(timer(load(with_http_settings(kTimers), {{"flag", "on"}}), "a").on_expiry,
            (SideActions{CloseAction::ws_close, CloseAction::fin, 4000, "bye", 504}));
  // An action setting may be --set to ws_close, so its details are accepted.
  const std::string by_setting = with_http_settings(
      "timers:\n  - {name: a, kind: idle, timeout: 1s, on_expiry: {client: $act, ws_code: 1001}}\n");
  EXPECT_EQ(timer(load(by_setting), "a").on_expiry, (SideActions{CloseAction::rst, CloseAction::fin}));
  EXPECT_EQ(timer(load(by_setting, {{"act", "ws_close"}}), "a").on_expiry.ws_code, 1001);
}

TEST(ProfileWebSocketTest, AQuotedReasonIsTextEvenWithADollar) {
  const Profile p = load(http_timer_with_expiry(R"({client: ws_close, ws_reason: '$5 plan expired'})"));
  EXPECT_EQ(timer(p, "a").on_expiry.ws_reason, "$5 plan expired");
}

TEST(ProfileWebSocketErrorTest, CloseDetailErrors) {
  expect_error(load_error(http_timer_with_expiry(R"({client: ws_close, ws_code: 999})")), "t.yaml:4:79: ",
               "'999' is not a close code (in 'on_expiry.ws_code'): write 1000-1003, 1007-1014");
  expect_error(load_error(http_timer_with_expiry(R"({client: ws_close, ws_code: 1006})")), "t.yaml:4:79: ",
               "a client reports 1006 when the connection ends without a close frame: write fin or rst for that");
  expect_error(load_error(http_timer_with_expiry(R"({client: ws_close, ws_code: 2000})")), "t.yaml:4:79: ", "'2000' is not a close code");
  expect_error(load_error(http_timer_with_expiry(R"({client: ws_close, ws_code: 5000})")), "t.yaml:4:79: ", "or 3000-4999");
  expect_error(load_error(http_timer_with_expiry(R"({client: ws_close, ws_code: going})")), "t.yaml:4:79: ", "'going' is not a close code");
  expect_error(load_error(http_timer_with_expiry(R"({client: ws_close, ws_reason: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx})")), "t.yaml:4:81: ",
               "on_expiry.ws_reason is 124 bytes, and a close frame carries at most 123");
  expect_error(load_error(http_timer_with_expiry(R"({client: http_status, http_status: 101})")), "t.yaml:4:86: ",
               "'101' is not an HTTP status (in 'on_expiry.http_status'): write a final status, 200-599");
  expect_error(load_error(http_timer_with_expiry(R"({client: http_status, http_status: 600})")), "t.yaml:4:86: ", "200-599");
  expect_error(load_error(http_timer_with_expiry(R"({client: fin, upstream: rst, ws_code: 1001})")), "t.yaml:4:80: ",
               "'ws_code' is a detail of the ws_close action, and neither client nor upstream can be ws_close "
               "here: remove it, or write e.g. client: ws_close");
  expect_error(load_error(http_timer_with_expiry(R"({client: ws_close, http_status: 502})")), "t.yaml:4:70: ",
               "'http_status' is a detail of the http_status action");
  expect_error(load_error(R"(name: t
mode: tcp
timers:
  - {name: a, kind: idle, timeout: 1s, on_expiry: {client: fin, upstream: ws_close}}
)"), "t.yaml:4:75: ",
               "on_expiry.upstream is ws_close, which needs mode: http");
  expect_error(load_error(with_http_settings(R"(timers:
  - {name: a, kind: idle, timeout: 1s, on_expiry: {client: ws_close, ws_code: $idle}}
)")), "t.yaml:9:79: ",
               "'on_expiry.ws_code' cannot take '$idle' (duration setting): write 1000-1003");
  expect_error(load_error(with_http_settings(R"(timers:
  - {name: a, kind: idle, timeout: 1s, on_expiry: {client: ws_close, ws_reason: $idle}}
)")), "t.yaml:9:81: ",
               "'on_expiry.ws_reason' cannot take '$idle' (duration setting): write the reason text (quote it "
               "if it starts with $)");
}

TEST(ProfileWebSocketErrorTest, ConnectFailureTakesNoCloseFrame) {
  expect_error(load_error(R"(name: t
mode: tcp
connect: {on_failure: ws_close}
)"), "t.yaml:3:23: ",
               "'ws_close' is not a close action for a connect failure (in 'connect.on_failure'): write fin, rst, "
               "fin_rst, blackhole or http_status (no WebSocket exists yet; http_status needs mode: http)");
  expect_error(load_error(R"(name: t
mode: tcp
connect: {on_failure: http_status}
)"), "t.yaml:3:23: ", "connect.on_failure is http_status, which needs mode: http");
}

TEST(ProfileConnectTest, HttpStatusRetriesAndKeepAlive) {
  const Profile p = load(R"(name: t
mode: http
settings:
  retries: {type: count, default: 3}
  gap: {type: duration, default: 1s, unit: ms}
connect: {timeout: 2s, on_failure: http_status, http_status: 502, timeout_status: 504, keepalive: 75s,
          retries: $retries, retry_interval: $gap}
)", {{"retries", "1"}, {"gap", "50"}}, 0.5);
  EXPECT_EQ(p.connect.on_failure, CloseAction::http_status);
  EXPECT_EQ(p.connect.http_status, 502);
  EXPECT_EQ(p.connect.timeout_status, 504);
  EXPECT_EQ(p.connect.keepalive, milliseconds(37500));  // scaled like every duration
  EXPECT_EQ(p.connect.retries, 1u);
  EXPECT_EQ(p.connect.retry_interval, milliseconds(25));
  // One status serves both failures; without http_status the details fall back to defaults.
  const Profile one = load("name: t\nmode: http\nconnect: {on_failure: http_status, http_status: 503}\n");
  EXPECT_EQ(one.connect.timeout_status, 503);
  const Profile plain = load("name: t\nmode: tcp\nconnect: {on_failure: fin, retries: 2, retry_interval: 1s}\n");
  EXPECT_EQ(plain.connect.retries, 2u);
  EXPECT_EQ(plain.connect.retry_interval, seconds(1));
  EXPECT_EQ(plain.connect.http_status, ConnectPolicy{}.http_status);
  // to_yaml writes every key back.
  EXPECT_EQ(load(to_yaml(p)).connect, p.connect);
}

TEST(ProfileConnectErrorTest, BadStatusRetriesAndDetails) {
  expect_error(load_error("name: t\nmode: http\nconnect: {on_failure: http_status, http_status: 99}\n"),
               "t.yaml:3:49: ", "'99' is not an HTTP status (in 'connect.http_status'): write a final status");
  expect_error(load_error("name: t\nmode: http\nconnect: {on_failure: http_status, timeout_status: abc}\n"),
               "t.yaml:3:52: ", "'abc' is not an HTTP status (in 'connect.timeout_status')");
  expect_error(load_error("name: t\nmode: http\nconnect: {on_failure: fin, http_status: 502}\n"),
               "t.yaml:3:28: ", "'http_status' is a detail of on_failure: http_status, and on_failure can never "
                                "be http_status here: remove it, or write on_failure: http_status");
  expect_error(load_error("name: t\nmode: tcp\nconnect: {retries: -1}\n"), "t.yaml:3:20: ",
               "'-1' is not a count (in 'connect.retries'): write a whole number from 0 to 1000, e.g. 3");
  expect_error(load_error("name: t\nmode: tcp\nconnect: {retries: 3s}\n"), "t.yaml:3:20: ",
               "'3s' is not a count (in 'connect.retries')");
  expect_error(load_error("name: t\nmode: tcp\nconnect: {retry_interval: 1}\n"), "t.yaml:3:27: ",
               "'1' is not a duration (in 'connect.retry_interval')");
  expect_error(load_error("name: t\nmode: tcp\nconnect: {retries: 3, retry: 1s}\n"), "t.yaml:3:23: ",
               "unknown key 'retry' in 'connect'");
  expect_error(load_error("name: t\nmode: tcp\nsettings:\n  r: {type: count, default: many}\n"), "t.yaml:4:29: ",
               "'many' is not a count for setting 'r': write a whole number from 0 to 1000");
  expect_error(load_error("name: t\nmode: tcp\nsettings:\n  r: {type: count, default: 3}\nconnect: {timeout: $r}\n"),
               "t.yaml:5:20: ", "'$r' is a count setting, but 'connect.timeout' needs a duration");
  expect_error(load_error("name: t\nmode: tcp\nsettings:\n  r: {type: count, default: 3}\n", {{"r", "1001"}}),
               "--set: ", "'1001' is not a count for setting 'r': write a whole number from 0 to 1000");
}

TEST(ProfileWebSocketTest, HandshakeIsAPolicyOrAPolicyWithAStatus) {
  const std::string http = "name: t\nmode: http\n";
  EXPECT_EQ(load(http).handshake, (HandshakePolicy{HandshakePolicy::Kind::forward, 403})) << "default";
  EXPECT_EQ(load(http + "handshake: forward\n").handshake.kind, HandshakePolicy::Kind::forward);
  EXPECT_EQ(load(http + "handshake: strip_upgrade\n").handshake.kind, HandshakePolicy::Kind::strip_upgrade);
  EXPECT_EQ(load(http + "handshake: reject\n").handshake, (HandshakePolicy{HandshakePolicy::Kind::reject, 403}));
  EXPECT_EQ(load(http + "handshake: {policy: reject, status: 426}\n").handshake,
            (HandshakePolicy{HandshakePolicy::Kind::reject, 426}));
  EXPECT_EQ(load(http + "handshake: {policy: strip_upgrade}\n").handshake.kind, HandshakePolicy::Kind::strip_upgrade);
  EXPECT_TRUE(load(http + "handshake: {policy: forward, strip_extensions: on}\n").handshake.strip_extensions);
  EXPECT_FALSE(load(http + "handshake: {policy: forward, strip_extensions: off}\n").handshake.strip_extensions);
  const std::string flagged =
      with_http_settings("handshake: {policy: forward, strip_extensions: {if: $flag, then: on, else: off}}\n");
  EXPECT_FALSE(load(flagged).handshake.strip_extensions);
  EXPECT_TRUE(load(flagged, {{"flag", "on"}}).handshake.strip_extensions);
  // Only forward sends the upgrade on: under another policy it does not act, and is not kept.
  const std::string either =
      with_http_settings("handshake: {policy: {if: $flag, then: forward, else: reject}, strip_extensions: on}\n");
  EXPECT_FALSE(load(either).handshake.strip_extensions);
  EXPECT_TRUE(load(either, {{"flag", "on"}}).handshake.strip_extensions);
  const Profile kept = load(http + "handshake: {policy: strip_upgrade, keepalive: 75s}\n");
  EXPECT_EQ(kept.handshake.keepalive, std::chrono::seconds(75));
  // Only strip_upgrade keeps a client alive: under another policy it is not kept.
  EXPECT_EQ(load(with_http_settings("handshake: {policy: {if: $flag, then: forward, else: strip_upgrade}, "
                                    "keepalive: 2s}\n"), {{"flag", "on"}})
                .handshake.keepalive,
            Duration::zero());
  EXPECT_EQ(builtin("nginx", {{"websocket_headers", "off"}, {"keepalive_timeout", "1s"}}).handshake.keepalive,
            std::chrono::seconds(1));
  EXPECT_EQ(builtin("nginx", {{"websocket_headers", "off"}}, 0.5).handshake.keepalive, std::chrono::milliseconds(37500))
      << "scaled by --time-scale";
}

TEST(ProfileWebSocketTest, HandshakePolicyTakesIfExpressions) {
  const std::string alone = with_http_settings("handshake: {if: $flag, then: forward, else: reject}\n");
  EXPECT_EQ(load(alone).handshake, (HandshakePolicy{HandshakePolicy::Kind::reject, 403}));
  EXPECT_EQ(load(alone, {{"flag", "on"}}).handshake.kind, HandshakePolicy::Kind::forward);
  const std::string mapped = with_http_settings(R"(handshake:
  policy: {if: $flag, then: strip_upgrade, else: reject}
  status: {if: $tunnel, then: 503, else: 451}
)");
  EXPECT_EQ(load(mapped).handshake, (HandshakePolicy{HandshakePolicy::Kind::reject, 451}));
  EXPECT_EQ(load(mapped, {{"tunnel", "1s"}}).handshake, (HandshakePolicy{HandshakePolicy::Kind::reject, 503}));
  // Not reject: the status does not act, so it is not kept.
  EXPECT_EQ(load(mapped, {{"flag", "on"}}).handshake, (HandshakePolicy{HandshakePolicy::Kind::strip_upgrade, 403}));
}

TEST(ProfileWebSocketErrorTest, HandshakeErrors) {
  expect_error(load_error(R"(name: t
mode: http
handshake: accept
)"), "t.yaml:3:12: ",
               "'accept' is not a handshake policy (in 'handshake'): write forward, strip_upgrade (nginx without "
               "the Upgrade/Connection headers) or reject");
  expect_error(load_error(R"(name: t
mode: http
handshake: {policy: forward, status: 403}
)"), "t.yaml:3:30: ",
               "'status' is the answer of policy: reject, and policy can never be reject here");
  expect_error(load_error(R"(name: t
mode: http
handshake: {policy: strip_upgrade, strip_extensions: on}
)"), "t.yaml:3:36: ",
               "'strip_extensions' changes an upgrade that policy: forward sends upstream, and policy can never be "
               "forward here: remove strip_extensions, or write policy: forward");
  expect_error(load_error(R"(name: t
mode: http
handshake: {policy: reject, keepalive: 75s}
)"), "t.yaml:3:29: ",
               "'keepalive' is how long the client connection stays open after the answer to a stripped upgrade, "
               "and policy can never be strip_upgrade here");
  expect_error(load_error(R"(name: t
mode: http
handshake: {policy: strip_upgrade, keepalive: forever}
)"), "t.yaml:3:47: ", "'forever' is not a duration (in 'handshake.keepalive')");
  expect_error(load_error(R"(name: t
mode: http
handshake: {policy: forward, strip_extensions: maybe}
)"), "t.yaml:3:48: ", "'maybe' is not on or off (in 'handshake.strip_extensions'): write on or off");
  expect_error(load_error(R"(name: t
mode: http
handshake: {policy: reject, status: 99}
)"), "t.yaml:3:37: ", "'99' is not an HTTP status (in 'handshake.status')");
  expect_error(load_error(R"(name: t
mode: http
handshake: {status: 403}
)"), "t.yaml:3:12: ",
               "'handshake' is missing 'policy': add policy: forward, strip_upgrade or reject");
  expect_error(load_error(R"(name: t
mode: http
handshake: {policy: reject, code: 403}
)"), "t.yaml:3:29: ", "unknown key 'code' in 'handshake'; valid keys: policy, status, strip_extensions, keepalive");
  expect_error(load_error(R"(name: t
mode: tcp
handshake: forward
)"), "t.yaml:3:1: ",
               "'handshake' (what happens to a WebSocket upgrade request) applies only to mode: http, and this "
               "profile is mode: tcp");
  expect_error(load_error(with_http_settings(R"(handshake: $flag
)")), "t.yaml:8:12: ", "'$flag' is a bool setting, which can only be tested");
  expect_error(load_error(R"(name: t
mode: http
handshak: forward
)"), "t.yaml:3:1: ", "(did you mean 'handshake'?)");
}

TEST(ProfileWebSocketTest, LimitsAreByteSizes) {
  const Profile p = load("name: t\nmode: http\nlimits: {max_frame: 32KiB, max_message: 1MB}\n");
  EXPECT_EQ(p.limits.max_frame, 32768u);
  EXPECT_EQ(p.limits.max_message, 1'000'000u);
  EXPECT_EQ(p.limits.on_exceed, MessageLimits{}.on_exceed) << "default: close 1009 to both sides";
  EXPECT_EQ(load("name: t\nmode: http\n").limits, MessageLimits{}) << "default: no limit";
}

TEST(ProfileWebSocketTest, SizeUnits) {
  const std::pair<const char*, std::uint64_t> cases[] = {
      {"512B", 512},           {"1KB", 1000},          {"1KiB", 1024},
      {"2MB", 2'000'000},      {"2MiB", 2 << 20},      {"1GB", 1'000'000'000},
      {"3GiB", 3ULL << 30},    {"none", 0},            {"off", 0},
      {"0", 0},                {"0KiB", 0},            {"17179869183GiB", ~0ULL - (1ULL << 30) + 1},
  };
  for (const auto& [text, bytes] : cases) {
    const Profile p = load("name: t\nmode: http\nlimits: {max_frame: " + std::string(text) + "}\n");
    EXPECT_EQ(p.limits.max_frame, bytes) << text;
  }
}

TEST(ProfileWebSocketTest, OnExceedKeepsItsDefaultsForOmittedKeys) {
  const Profile partial = load("name: t\nmode: http\nlimits: {max_frame: 1KiB, on_exceed: {upstream: fin}}\n");
  EXPECT_EQ(partial.limits.on_exceed,
            (SideActions{CloseAction::ws_close, CloseAction::fin, 1009, "Message too big", 504}));
  const Profile custom = load(R"(name: t
mode: http
limits:
  max_message: 64KiB
  on_exceed: {client: ws_close, upstream: rst, ws_code: 4008, ws_reason: too big}
)");
  EXPECT_EQ(custom.limits.on_exceed, (SideActions{CloseAction::ws_close, CloseAction::rst, 4008, "too big", 504}));
  // No ws_close left: code and reason fall back to the section's defaults.
  EXPECT_EQ(load("name: t\nmode: http\nlimits: {on_exceed: {client: rst, upstream: fin}}\n").limits.on_exceed,
            (SideActions{CloseAction::rst, CloseAction::fin, 1009, "Message too big", 504}));
}

constexpr std::string_view kSizeSetting = R"(name: t
mode: http
settings:
  frame: {type: size, default: 32KiB, doc: largest frame}
limits:
  max_frame: $frame
  max_message: {if: $frame, then: 1MiB, else: none}
)";

TEST(ProfileWebSocketTest, SizeSettingsFeedLimitsAndIfTestsWhetherTheyAreSet) {
  const Profile p = load(kSizeSetting);
  EXPECT_EQ(p.limits.max_frame, 32768u);
  EXPECT_EQ(p.limits.max_message, 1u << 20);
  ASSERT_EQ(p.settings.size(), 1u);
  EXPECT_EQ(p.settings[0].type, "size");
  EXPECT_EQ(p.settings[0].value, "32KiB");
  const Profile more = load(kSizeSetting, {{"frame", "65536B"}});
  EXPECT_EQ(more.limits.max_frame, 65536u);
  EXPECT_EQ(more.settings[0].value, "64KiB") << "canonical spelling";
  EXPECT_EQ(more.settings[0].default_value, "32KiB");
  const Profile none = load(kSizeSetting, {{"frame", "none"}});
  EXPECT_EQ(none.limits.max_frame, 0u);
  EXPECT_EQ(none.limits.max_message, 0u);
}

TEST(ProfileWebSocketErrorTest, LimitErrors) {
  expect_error(load_error(R"(name: t
mode: http
limits: {max_frame: 32}
)"), "t.yaml:3:21: ",
               "'32' is not a size (in 'limits.max_frame'): write an integer with a unit, e.g. 32KiB, 128KB");
  expect_error(load_error(R"(name: t
mode: http
limits: {max_frame: 32kb}
)"), "t.yaml:3:21: ", "'32kb' is not a size");
  expect_error(load_error(R"(name: t
mode: http
limits: {max_frame: 1.5MiB}
)"), "t.yaml:3:21: ", "'1.5MiB' is not a size");
  expect_error(load_error(R"(name: t
mode: http
limits: {max_frame: 17179869184GiB}
)"), "t.yaml:3:21: ", "is not a size");
  expect_error(load_error(R"(name: t
mode: http
limits: {on_exceed: {client: http_status}}
)"), "t.yaml:3:30: ",
               "'http_status' is not a close action for a size limit (in 'limits.on_exceed.client'): write fin, rst, "
               "fin_rst, blackhole or ws_close (limits act after the upgrade, where no HTTP status fits)");
  expect_error(load_error(R"(name: t
mode: http
limits: {on_exceed: {client: ws_close, http_status: 413}}
)"), "t.yaml:3:40: ",
               "'http_status' is a detail of the http_status action, which 'limits.on_exceed' cannot take: remove it");
  expect_error(load_error(R"(name: t
mode: tcp
limits: {max_frame: 1KiB}
)"), "t.yaml:3:1: ",
               "'limits' (WebSocket frame and message sizes) applies only to mode: http");
  expect_error(load_error(with_http_settings(R"(limits: {max_frame: $idle}
)")), "t.yaml:8:21: ",
               "'$idle' is a duration setting, but 'limits.max_frame' needs a size: refer to a size setting");
  expect_error(load_error(R"(name: t
mode: http
limits: {max_frames: 1KiB}
)"), "t.yaml:3:10: ", "(did you mean 'max_frame'?)");
  expect_error(load_error(R"(name: t
mode: http
limits: [1KiB]
)"), "t.yaml:3:9: ", "'limits' must be a mapping");
}

TEST(ProfileWebSocketErrorTest, SizeSettingErrors) {
  expect_error(load_error(R"(name: t
mode: tcp
settings:
  x: {type: size, default: 32}
)"), "t.yaml:4:28: ", "'32' is not a size for setting 'x': write an integer with a unit");
  expect_error(load_error(R"(name: t
mode: tcp
settings:
  x: {type: size, default: 1KiB, unit: s}
)"), "t.yaml:4:34: ", "'unit' applies only to duration settings");
  expect_error(load_error(kSizeSetting, {{"frame", "64"}}), "--set: ",
               "'64' is not a size for setting 'frame': write an integer with a unit");
}


// --- --set ------------------------------------------------------------------------------

TEST(ProfileSetTest, ParsesNameEqualsValue) {
  const SettingOverride o = parse_setting_override(" proxy_read_timeout = 2s ");
  EXPECT_EQ(o.name, "proxy_read_timeout");
  EXPECT_EQ(o.value, "2s");
  EXPECT_EQ(parse_setting_override("a=b=c").value, "b=c");
  EXPECT_EQ(parse_setting_override("a=").value, "");
}

TEST(ProfileSetTest, RefusesTextWithoutNameOrEquals) {
  for (const char* bad : {"proxy_read_timeout", "=2s", " =2s", ""}) {
    try {
      parse_setting_override(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ProfileError& e) {
      expect_error(e, "--set: ", "write e.g. --set proxy_read_timeout=2s");
      EXPECT_EQ(e.file(), "--set");
      EXPECT_EQ(e.line(), 0);
    }
  }
}

TEST(ProfileSetTest, ByNameAliasAndSpelling) {
  EXPECT_EQ(timer(builtin("nginx", {{"proxy_read_timeout", "2s"}}), "proxy_read_timeout").timeout, seconds(2));
  EXPECT_EQ(timer(builtin("nlb", {{"tcp.idle_timeout.seconds", "60"}}), "idle_timeout").timeout, seconds(60));
  EXPECT_EQ(timer(builtin("alb", {{"idle_timeout.timeout_seconds", "300"}}), "idle_timeout").timeout,
            seconds(300));
  for (const char* name : {"timeout_tunnel", "timeout-tunnel", "timeout tunnel"}) {
    EXPECT_EQ(timer(builtin("haproxy", {{name, "3s"}}), "timeout_client").timeout, seconds(3)) << name;
  }
  EXPECT_EQ(timer(builtin("haproxy", {{"option nolinger", "on"}}), "timeout_server").on_expiry, kNolinger);
}

TEST(ProfileSetTest, BareNumberUsesTheSettingsUnit) {
  EXPECT_EQ(timer(builtin("nginx", {{"proxy_read_timeout", "75"}}), "proxy_read_timeout").timeout, seconds(75));
  EXPECT_EQ(timer(builtin("haproxy", {{"timeout_tunnel", "2000"}}), "timeout_server").timeout, seconds(2));
  EXPECT_EQ(timer(builtin("haproxy", {{"timeout_client", "1.5"}}), "timeout_client").timeout,
            milliseconds(1) + std::chrono::microseconds(500));
}

TEST(ProfileSetTest, LastOverrideWins) {
  const Profile p = builtin("nginx", {{"proxy_read_timeout", "2s"}, {"proxy-read-timeout", "3s"}});
  EXPECT_EQ(timer(p, "proxy_read_timeout").timeout, seconds(3));
}

TEST(ProfileSetTest, UnknownSettingListsAndSuggests) {
  const ProfileError e = load_error(find_profile_text("nginx").text, {{"proxy_read_timout", "2s"}});
  expect_error(e, "--set: ", "profile 'nginx' has no setting 'proxy_read_timout' (did you mean 'proxy_read_timeout'?)");
  expect_error(e, "--set: ", "its settings: proxy_read_timeout, proxy_send_timeout, send_timeout");
  EXPECT_EQ(e.file(), "--set");
  EXPECT_EQ(e.line(), 0);
  EXPECT_EQ(e.column(), 0);
}

TEST(ProfileSetTest, BadValueSaysWhatTheTypeExpects) {
  const std::string nginx = find_profile_text("nginx").text;
  expect_error(load_error(nginx, {{"proxy_read_timeout", "soon"}}), "--set: ",
               "'soon' is not a duration for setting 'proxy_read_timeout': write it with a unit");
  expect_error(load_error(nginx, {{"proxy_read_timeout", "soon"}}), "--set: ", "meaning s");
  expect_error(load_error(nginx, {{"reset_timedout_connection", "maybe"}}), "--set: ",
               "'maybe' is not a bool for setting 'reset_timedout_connection': write on or off");
  expect_error(load_error(with_settings(""), {{"act", "none"}}), "--set: ",
               "'none' is not an action for setting 'act': write fin, rst, fin_rst, blackhole, ws_close, http_status, half_close or keep");
}

TEST(ProfileSetTest, BareNumberWithoutUnitIsRefused) {
  const std::string yaml = "name: t\nmode: tcp\nsettings:\n  x: {type: duration, default: 1s}\n";
  expect_error(load_error(yaml, {{"x", "60"}}), "--set: ", "a bare number needs `unit:`");
}

// --- time scale -------------------------------------------------------------------------

TEST(ProfileTimeScaleTest, MultipliesEveryDuration) {
  const Profile p = builtin("nginx", {}, 0.5);
  EXPECT_EQ(p.time_scale, 0.5);
  EXPECT_EQ(p.connect.timeout, seconds(30));
  EXPECT_EQ(timer(p, "proxy_read_timeout").timeout, seconds(30));
  EXPECT_EQ(timer(p, "proxy_read_timeout").rearm_granularity, milliseconds(150));
  EXPECT_EQ(timer(p, "proxy_send_timeout").timeout, seconds(30));
  EXPECT_EQ(timer(p, "send_timeout").timeout, seconds(30));
  // Settings keep the real system's value: time_scale is shown beside them.
  EXPECT_EQ(setting(p, "proxy_read_timeout").value, "1m");
}

TEST(ProfileTimeScaleTest, AppliesAfterOverridesAndKeepsDisabledTimers) {
  const Profile p = builtin("haproxy", {{"timeout_tunnel", "1m"}}, 0.05);
  EXPECT_EQ(timer(p, "timeout_client").timeout, seconds(3));
  EXPECT_EQ(timer(p, "timeout_client_fin").timeout, std::nullopt);
  EXPECT_EQ(p.connect.timeout, milliseconds(250));
}

// --- to_yaml ----------------------------------------------------------------------------

/// Expects `a` and `b` to be the same timers, field by field.
void expect_same_timers(const std::vector<TimerSpec>& a, const std::vector<TimerSpec>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].name);
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].kind, b[i].kind);
    EXPECT_EQ(a[i].timeout, b[i].timeout);
    EXPECT_EQ(a[i].reset_by, b[i].reset_by);
    EXPECT_EQ(a[i].direction, b[i].direction);
    EXPECT_EQ(a[i].rearm_granularity, b[i].rearm_granularity);
    EXPECT_EQ(a[i].paused_while_blocked, b[i].paused_while_blocked);
    EXPECT_EQ(a[i].reset_on, b[i].reset_on);
    EXPECT_EQ(a[i].phases, b[i].phases);
    EXPECT_EQ(a[i].on_expiry, b[i].on_expiry);
  }
}

/// Expects `load(to_yaml(p))` to be `p` in every field the policy runs on.
void expect_round_trip(const Profile& p) {
  const std::string yaml = to_yaml(p);
  SCOPED_TRACE(yaml);
  const Profile q = load_profile(yaml, "dump.yaml");
  EXPECT_EQ(q.name, p.name);
  EXPECT_EQ(q.description, p.description);
  EXPECT_EQ(q.mode, p.mode);
  EXPECT_EQ(q.connect.timeout, p.connect.timeout);
  EXPECT_EQ(q.connect.on_failure, p.connect.on_failure);
  EXPECT_EQ(q.half_close, p.half_close);
  EXPECT_EQ(q.blackhole_hold, p.blackhole_hold);
  EXPECT_EQ(q.blackhole_answer, p.blackhole_answer);
  EXPECT_EQ(q.handshake, p.handshake);
  EXPECT_EQ(q.limits, p.limits);
  EXPECT_EQ(q.reload, p.reload);
  EXPECT_EQ(q.time_scale, p.time_scale);
  expect_same_timers(q.timers, p.timers);
  ASSERT_EQ(q.settings.size(), p.settings.size());
  for (std::size_t i = 0; i < p.settings.size(); ++i) {
    EXPECT_EQ(q.settings[i].name, p.settings[i].name);
    EXPECT_EQ(q.settings[i].value, p.settings[i].value);
    EXPECT_EQ(q.settings[i].min, p.settings[i].min);
    EXPECT_EQ(q.settings[i].max, p.settings[i].max);
    EXPECT_EQ(q.settings[i].range_doc, p.settings[i].range_doc);
  }
}

TEST(ProfileToYamlTest, EveryBuiltinRoundTrips) {
  ASSERT_FALSE(embedded_profiles().empty());
  for (const EmbeddedProfile& e : embedded_profiles()) {
    SCOPED_TRACE(e.name);
    expect_round_trip(load_profile(e.text, std::string(e.path)));
  }
}

TEST(ProfileToYamlTest, RoundTripsOverridesAndTimeScale) {
  expect_round_trip(builtin("nginx", {{"proxy_read_timeout", "2s"}, {"reset_timedout_connection", "on"}}, 0.05));
  expect_round_trip(builtin("haproxy", {{"timeout_tunnel", "1s"}, {"independent_streams", "on"}}, 0.1));
}

TEST(ProfileToYamlTest, RoundTripsAProfileWithoutSettingsOrTimers) {
  expect_round_trip(load("name: bare\nmode: tcp\ntimers: []\n"));
}

TEST(ProfileToYamlTest, ShowsResolvedValuesAndChangedDefaults) {
  const std::string yaml = to_yaml(builtin("nginx", {{"proxy_read_timeout", "2s"}}, 0.5));
  EXPECT_NE(yaml.find("source: profiles/nginx.yaml"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("time_scale: 0.5"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("default: 2s  # runs as 1s after time_scale; profile default: 1m"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("timeout: 1s"), std::string::npos) << yaml;  // 2s scaled by 0.5
  EXPECT_NE(yaml.find("rearm_granularity: 150ms"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find(": $"), std::string::npos) << "a $setting left unresolved\n" << yaml;
  EXPECT_EQ(yaml.find("if:"), std::string::npos) << yaml;
}

TEST(ProfileToYamlTest, WritesNoneForADisabledTimer) {
  const std::string yaml = to_yaml(builtin("haproxy"));
  EXPECT_NE(yaml.find("timeout: none"), std::string::npos) << yaml;
}

TEST(ProfileToYamlTest, RoundTripsEveryWebSocketField) {
  expect_round_trip(load(R"(name: ws
mode: http
handshake: {policy: reject, status: 426}
limits:
  max_frame: 1000B
  max_message: 3MiB
  on_exceed: {client: ws_close, upstream: rst, ws_code: 4008, ws_reason: 'too "big"'}
timers:
  - name: a
    kind: idle
    timeout: 1s
    reset_on: [ping, close]
    on_expiry: {client: ws_close, upstream: http_status, ws_code: 1001, ws_reason: '$5 plan', http_status: 503}
  - name: b
    kind: lifetime
    timeout: 2h
    on_expiry: {client: http_status, http_status: 502}
)"));
  expect_round_trip(load("name: s\nmode: http\nhandshake: strip_upgrade\nlimits: {on_exceed: {client: fin}}\n"));
  const Profile stripping = load("name: s\nmode: http\nhandshake: {policy: forward, strip_extensions: on}\n");
  ASSERT_TRUE(stripping.handshake.strip_extensions);
  expect_round_trip(stripping);
  EXPECT_NE(to_yaml(stripping).find("handshake: {policy: forward, strip_extensions: true}"), std::string::npos)
      << to_yaml(stripping);
}

TEST(ProfileToYamlTest, RoundTripsBuiltinsWithTheirWebSocketSwitchesFlipped) {
  expect_round_trip(builtin("envoy", {{"upgrade_configs_websocket", "on"}}));
  expect_round_trip(builtin("nginx", {{"websocket_headers", "off"}}));
  expect_round_trip(builtin("azure-lb", {{"enable_tcp_reset", "on"}}, 0.01));
  expect_round_trip(builtin("api-gateway", {{"websocket_frame_size", "64KiB"}, {"message_payload_size", "none"}}, 0.01));
  expect_round_trip(builtin("api-gateway", {{"permessage_deflate", "off"}}));
}

TEST(ProfileToYamlTest, ShowsWebSocketFieldsOnlyWhereTheyAct) {
  const std::string api = to_yaml(builtin("api-gateway"));
  EXPECT_NE(api.find("reset_on: [data]"), std::string::npos) << api;
  EXPECT_NE(api.find("on_expiry: {client: ws_close, upstream: fin, ws_code: 1001, ws_reason: \"Going away\"}"),
            std::string::npos) << api;
  EXPECT_NE(api.find("handshake: forward"), std::string::npos) << api;
  EXPECT_NE(api.find("max_frame: 32KiB"), std::string::npos) << api;
  EXPECT_NE(api.find("max_message: 128KiB"), std::string::npos) << api;
  EXPECT_NE(api.find("ws_code: 1009"), std::string::npos) << api;

  const std::string nginx = to_yaml(builtin("nginx"));
  EXPECT_NE(nginx.find("reset_on: [data, ping, pong, close]"), std::string::npos) << nginx;
  EXPECT_EQ(nginx.find("ws_code: 1000"), std::string::npos) << "no action is ws_close\n" << nginx;
  EXPECT_EQ(nginx.find("http_status: 504"), std::string::npos) << nginx;
  EXPECT_NE(nginx.find("max_frame: none"), std::string::npos) << nginx;

  EXPECT_NE(to_yaml(builtin("envoy")).find("handshake: {policy: reject, status: 403}"), std::string::npos);
  EXPECT_NE(to_yaml(builtin("nginx", {{"websocket_headers", "off"}})).find(
                "handshake: {policy: strip_upgrade, keepalive: 1m15s}"),
            std::string::npos);

  const std::string nlb = to_yaml(builtin("nlb"));  // mode tcp: none of them apply
  for (const char* key : {"handshake", "limits", "ws_code", "ping"}) {
    EXPECT_EQ(nlb.find(key), std::string::npos) << key << "\n" << nlb;
  }
  // ...but keepalives count, and every byte: reset_on says so in its tcp form.
  EXPECT_NE(nlb.find("reset_on: [data, keepalive]"), std::string::npos) << nlb;
  EXPECT_EQ(to_yaml(builtin("nginx-stream")).find("reset_on"), std::string::npos) << "nothing to say in tcp mode";
}

// --- the built-in profiles --------------------------------------------------------------

TEST(ProfileBuiltinTest, EveryBuiltinIsNamedForItsFileDocumentedAndCitesSources) {
  for (const EmbeddedProfile& e : embedded_profiles()) {
    SCOPED_TRACE(e.name);
    const Profile p = load_profile(e.text, std::string(e.path));
    EXPECT_EQ(p.name, e.name);
    EXPECT_FALSE(p.description.empty());
    EXPECT_TRUE(e.text.starts_with("#"));
    EXPECT_NE(e.text.find("Sources:"), std::string_view::npos);
    EXPECT_NE(e.text.find("\nconnect:"), std::string_view::npos) << "declare the connect policy";
    for (const Setting& s : p.settings) EXPECT_FALSE(s.doc.empty()) << s.name;
  }
}

TEST(ProfileBuiltinTest, Nginx) {
  const Profile p = builtin("nginx");
  EXPECT_EQ(p.mode, Mode::http);
  EXPECT_EQ(p.half_close, (HalfClosePolicy{HalfClose::close_both, HalfClose::close_both}));
  EXPECT_EQ(p.connect.timeout, seconds(60));
  EXPECT_EQ(p.connect.on_failure, CloseAction::http_status);
  EXPECT_EQ(p.connect.http_status, 502);
  EXPECT_EQ(p.connect.timeout_status, 504);
  EXPECT_EQ(p.connect.keepalive, seconds(75));
  EXPECT_EQ(p.connect.retries, 0u);
  const TimerSpec& read = timer(p, "proxy_read_timeout");
  EXPECT_EQ(read.kind, TimerKind::idle);
  EXPECT_EQ(read.timeout, seconds(60));
  EXPECT_EQ(read.reset_by, DirectionSet::both());
  EXPECT_EQ(read.rearm_granularity, milliseconds(300));
  EXPECT_EQ(read.paused_while_blocked, Direction::downstream) << "not while a write to the client is blocked";
  EXPECT_EQ(read.phases, kAllPhases);
  EXPECT_EQ(read.on_expiry, kFinBoth);
  const TimerSpec& send_up = timer(p, "proxy_send_timeout");
  EXPECT_EQ(send_up.kind, TimerKind::blocked_write);
  EXPECT_EQ(send_up.direction, Direction::upstream);
  EXPECT_EQ(send_up.timeout, seconds(60));
  EXPECT_EQ(send_up.on_expiry, kFinBoth);
  const TimerSpec& send_down = timer(p, "send_timeout");
  EXPECT_EQ(send_down.kind, TimerKind::blocked_write);
  EXPECT_EQ(send_down.direction, Direction::downstream);
  EXPECT_EQ(send_down.on_expiry, kFinBoth);
  EXPECT_EQ(setting(p, "reset_timedout_connection").value, "off");
}

TEST(ProfileBuiltinTest, NginxResetTimedoutConnectionRstsTheClientOnSendTimeoutOnly) {
  const Profile p = builtin("nginx", {{"reset_timedout_connection", "on"}});
  EXPECT_EQ(timer(p, "send_timeout").on_expiry, (SideActions{CloseAction::rst, CloseAction::fin}));
  EXPECT_EQ(timer(p, "proxy_read_timeout").on_expiry, kFinBoth);
  EXPECT_EQ(timer(p, "proxy_send_timeout").on_expiry, kFinBoth);
}

TEST(ProfileBuiltinTest, NginxStream) {
  const Profile p = builtin("nginx-stream");
  EXPECT_EQ(p.mode, Mode::tcp);
  EXPECT_EQ(p.half_close, (HalfClosePolicy{HalfClose::close_both, HalfClose::close_both}));
  const TimerSpec& t = timer(p, "proxy_timeout");
  EXPECT_EQ(t.timeout, minutes(10));
  EXPECT_EQ(t.reset_by, DirectionSet::both());
  EXPECT_EQ(t.rearm_granularity, milliseconds(300));
  EXPECT_EQ(t.paused_while_blocked, std::nullopt) << "stream re-adds proxy_timeout on every event";
  EXPECT_EQ(t.on_expiry, kFinBoth);
  EXPECT_EQ(p.connect.timeout, seconds(60));
  EXPECT_EQ(builtin("nginx-stream", {{"proxy_half_close", "on"}}).half_close, (HalfClosePolicy{HalfClose::forward, HalfClose::forward}));
}

TEST(ProfileBuiltinTest, CaddyHasNoStreamTimerByDefaultAndClosesWith1001OnReload) {
  const Profile p = builtin("caddy");
  EXPECT_EQ(p.mode, Mode::http);
  EXPECT_EQ(p.half_close, (HalfClosePolicy{HalfClose::close_both, HalfClose::close_both}));
  // Measured on 2.6.2: nothing times out a WebSocket unless the transport's timeouts are set.
  EXPECT_EQ(timer(p, "read_timeout").timeout, std::nullopt);
  EXPECT_EQ(timer(p, "write_timeout").timeout, std::nullopt);
  const Profile read = builtin("caddy", {{"read_timeout", "1s"}});
  const TimerSpec& t = timer(read, "read_timeout");
  EXPECT_EQ(t.timeout, seconds(1));
  EXPECT_EQ(t.reset_by, DirectionSet::only(Direction::downstream)) << "only the backend's reads carry the deadline";
  EXPECT_EQ(t.paused_while_blocked, Direction::downstream);
  EXPECT_EQ(t.on_expiry, kFinBoth);
  EXPECT_EQ(timer(builtin("caddy", {{"write_timeout", "2s"}}), "write_timeout").kind, TimerKind::blocked_write);
  EXPECT_EQ(p.connect.timeout, seconds(3));
  EXPECT_EQ(p.connect.http_status, 502);
  EXPECT_EQ(p.connect.timeout_status, 502);
  EXPECT_EQ(p.connect.keepalive, minutes(5));
  ASSERT_TRUE(p.reload.has_value());
  EXPECT_EQ(*p.reload, (SideActions{CloseAction::ws_close, CloseAction::ws_close, 1001, "", 504}));
  // Systems that hand open connections to old workers on a reload define none.
  for (const char* name : {"nginx", "haproxy", "alb"}) EXPECT_EQ(builtin(name).reload, std::nullopt) << name;
}

TEST(ProfileYamlTest, ReloadIsReadAsSideActionsAndCheckedAsThem) {
  const Profile p = load("name: t\nmode: http\ntimers: []\nreload: {client: ws_close, upstream: fin, ws_code: 1012}\n");
  ASSERT_TRUE(p.reload.has_value());
  EXPECT_EQ(p.reload->client, CloseAction::ws_close);
  EXPECT_EQ(p.reload->upstream, CloseAction::fin);
  EXPECT_EQ(p.reload->ws_code, 1012);
  EXPECT_EQ(load("name: t\nmode: http\ntimers: []\n").reload, std::nullopt);
  expect_error(load_error("name: t\nmode: http\ntimers: []\nreload: {client: ws_clos}\n"), "t.yaml:4:",
               "ws_clos");
  expect_error(load_error("name: t\nmode: tcp\ntimers: []\nreload: {client: ws_close}\n"), "t.yaml:4:",
               "needs mode: http");
}

// Measured against apache2 2.4.71: the tunnel waits max(Timeout, ProxyTimeout), FIN both.
TEST(ProfileBuiltinTest, ApacheTunnelWaitsTheLargerOfTimeoutAndProxyTimeout) {
  const Profile p = builtin("apache");
  // One poll over both sockets, re-armed in full on every wake-up: bytes either way reset
  // it, and so does a FIN (the second timer runs from the FIN).
  for (const auto& [name, phases] : {std::pair{"timeout", Phases{true, false, false}},
                                     std::pair{"timeout_after_fin", Phases{false, true, true}}}) {
    SCOPED_TRACE(name);
    const TimerSpec& t = timer(p, name);
    EXPECT_EQ(t.kind, TimerKind::idle);
    EXPECT_EQ(t.timeout, seconds(60));
    EXPECT_EQ(t.reset_by, DirectionSet::both());
    EXPECT_EQ(t.rearm_granularity, Duration::zero());
    EXPECT_EQ(t.phases, phases);
    EXPECT_EQ(t.on_expiry, kFinBoth);
  }
  EXPECT_EQ(p.mode, Mode::http);
  EXPECT_EQ(p.half_close, (HalfClosePolicy{HalfClose::forward, HalfClose::forward}));
  EXPECT_EQ(p.connect.http_status, 503);
  EXPECT_EQ(p.connect.keepalive, Duration::zero()) << "the 503 says Connection: close";
  EXPECT_EQ(p.handshake.kind, HandshakePolicy::Kind::forward);

  EXPECT_EQ(timer(builtin("apache", {{"timeout", "1"}, {"proxy_timeout", "2"}}), "timeout").timeout, seconds(2));
  EXPECT_EQ(timer(builtin("apache", {{"timeout", "2"}, {"proxy_timeout", "1"}}), "timeout").timeout, seconds(2));
  const Profile wstunnel = builtin("apache", {{"proxy_websocket_fallback_to_proxy_http", "off"}});
  EXPECT_EQ(timer(wstunnel, "timeout").timeout, std::nullopt) << "mod_proxy_wstunnel's tunnel: no idle timeout";
  EXPECT_EQ(timer(wstunnel, "timeout_after_fin").timeout, std::nullopt);
  EXPECT_EQ(builtin("apache", {{"upgrade_websocket", "off"}}).handshake.kind, HandshakePolicy::Kind::strip_upgrade);
}

TEST(ProfileBuiltinTest, HaproxyDefaultsAreDebians) {
  for (const char* name : {"haproxy", "haproxy-tcp"}) {
    SCOPED_TRACE(name);
    const Profile p = builtin(name);
    const bool tcp = std::string_view(name) == "haproxy-tcp";
    EXPECT_EQ(p.connect.timeout, seconds(5));
    EXPECT_EQ(setting(p, "timeout_tunnel").value, "none");
    for (const char* side : {"timeout_client", "timeout_server"}) {
      const TimerSpec& t = timer(p, side);
      EXPECT_EQ(t.kind, TimerKind::idle);
      EXPECT_EQ(t.timeout, seconds(50)) << side;
      EXPECT_EQ(t.reset_by, DirectionSet::both()) << side;
      EXPECT_EQ(t.phases, kAllPhases) << side;
    }
    // Measured: http tunnel → FIN to client, bare RST to server; tcp → FIN then RST to server.
    EXPECT_EQ(timer(p, "timeout_server").on_expiry, tcp ? kFinClientFinRstServer : kFinClientRstServer);
    // Measured: a client-side timeout alone ends the client's direction only.
    EXPECT_EQ(timer(p, "timeout_client").on_expiry, kHalfCloseUpstream);
    EXPECT_EQ(p.timers.front().name, "timeout_server") << "listed first: it wins a tie and closes everything";
    EXPECT_EQ(timer(p, "timeout_client_fin").timeout, std::nullopt);
    EXPECT_EQ(timer(p, "timeout_server_fin").timeout, std::nullopt);
  }
  EXPECT_EQ(builtin("haproxy").mode, Mode::http);
  EXPECT_EQ(builtin("haproxy-tcp").mode, Mode::tcp);
}

TEST(ProfileYamlTest, HalfCloseActionPairsWithKeep) {
  const Profile p = load(R"(name: t
mode: tcp
timers:
  - {name: a, kind: idle, timeout: 1s, on_expiry: {client: keep, upstream: half_close}}
)");
  EXPECT_EQ(timer(p, "a").on_expiry, kHalfCloseUpstream);
  expect_error(load_error(R"(name: t
mode: tcp
timers:
  - {name: a, kind: idle, timeout: 1s, on_expiry: {client: fin, upstream: half_close}}
)"), "t.yaml:4:51: ", "mixes a closing action with half_close: half_close ends one direction");
  expect_error(load_error(R"(name: t
mode: tcp
timers:
  - {name: a, kind: idle, timeout: 1s, on_expiry: {client: keep, upstream: keep}}
)"), "t.yaml:4:51: ", "has keep on both sides");
  expect_error(load_error(R"(name: t
mode: tcp
connect: {on_failure: keep}
)"), "t.yaml:3:23: ", "'keep' is not");
}

TEST(ProfileBuiltinTest, HaproxyHalfCloseIsAsymmetricInHttpModeOnly) {
  // Measured: on a tunnel HAProxy forwards a client FIN but closes both on a server FIN.
  EXPECT_EQ(builtin("haproxy").half_close, (HalfClosePolicy{HalfClose::forward, HalfClose::close_both}));
  EXPECT_EQ(builtin("haproxy-tcp").half_close, (HalfClosePolicy{HalfClose::forward, HalfClose::forward}));
}

TEST(ProfileBuiltinTest, HaproxyTunnelTimeoutSupersedesBothSides) {
  const Profile p = builtin("haproxy", {{"timeout_tunnel", "1s"}});
  EXPECT_EQ(timer(p, "timeout_client").timeout, seconds(1));
  EXPECT_EQ(timer(p, "timeout_server").timeout, seconds(1));
  EXPECT_EQ(timer(p, "timeout_server").on_expiry, kFinClientRstServer);
  const Profile q = builtin("haproxy", {{"timeout_client", "7s"}});
  EXPECT_EQ(timer(q, "timeout_client").timeout, seconds(7));
  EXPECT_EQ(timer(q, "timeout_server").timeout, seconds(50));
}

TEST(ProfileBuiltinTest, HaproxyIndependentStreamsResetsEachSideByItsOwnData) {
  const Profile p = builtin("haproxy-tcp", {{"independent_streams", "on"}});
  EXPECT_EQ(timer(p, "timeout_client").reset_by, DirectionSet::only(Direction::upstream));
  EXPECT_EQ(timer(p, "timeout_server").reset_by, DirectionSet::only(Direction::downstream));
}

TEST(ProfileBuiltinTest, HaproxyNolingerResetsBoth) {
  // Measured in tcp mode: the client gets FIN then RST, the server a bare RST.
  for (const char* name : {"haproxy", "haproxy-tcp"}) {
    const Profile p = builtin(name, {{"nolinger", "on"}});
    for (const TimerSpec& t : p.timers) {
      if (t.name == "timeout_client") continue;  // a half-close, not a close
      EXPECT_EQ(t.on_expiry, kNolinger) << name << " " << t.name;
    }
  }
}

TEST(ProfileBuiltinTest, HaproxyFinTimersRunOnlyHalfClosed) {
  const Profile p = builtin("haproxy", {{"timeout_client_fin", "2s"}, {"timeout_server_fin", "3s"}});
  const TimerSpec& client_fin = timer(p, "timeout_client_fin");
  EXPECT_EQ(client_fin.timeout, seconds(2));
  EXPECT_EQ(client_fin.phases, (Phases{false, false, true}));
  const TimerSpec& server_fin = timer(p, "timeout_server_fin");
  EXPECT_EQ(server_fin.timeout, seconds(3));
  EXPECT_EQ(server_fin.phases, (Phases{false, true, false}));
}

TEST(ProfileBuiltinTest, Alb) {
  const Profile p = builtin("alb");
  EXPECT_EQ(p.mode, Mode::http);
  const TimerSpec& t = timer(p, "idle_timeout");
  EXPECT_EQ(t.timeout, seconds(60));
  EXPECT_EQ(t.reset_by, DirectionSet::both());
  EXPECT_EQ(t.on_expiry, kFinBoth);
  EXPECT_EQ(p.connect.timeout, seconds(10));
}

TEST(ProfileBuiltinTest, AlbClientActivityOnlyIsLabelledAndResetsOnUpstreamOnly) {
  const Profile p = builtin("alb-client-activity-only");
  EXPECT_EQ(timer(p, "idle_timeout").reset_by, DirectionSet::only(Direction::upstream));
  EXPECT_EQ(timer(p, "idle_timeout").timeout, seconds(60));
  EXPECT_NE(p.description.find("War-story variant"), std::string::npos) << p.description;
  EXPECT_NE(p.description.find("AWS docs say otherwise"), std::string::npos) << p.description;
}

TEST(ProfileBuiltinTest, AwsL4FlowsAreForgottenAfter350sOfSilence) {
  // NLB: the next packet of a forgotten flow meets RST, from either side. NAT gateway: the
  // inside host's meets RST (documented), the outside host's nothing (the reading picked).
  constexpr auto rst = BlackholeAnswer::rst;
  for (const auto& [name, answers] : {std::pair{"nlb", BlackholeAnswers{rst, rst}},
                                      std::pair{"nat-gateway", BlackholeAnswers{rst, BlackholeAnswer::none}}}) {
    SCOPED_TRACE(name);
    const Profile p = builtin(name);
    EXPECT_EQ(p.mode, Mode::tcp);
    const TimerSpec& t = timer(p, "idle_timeout");
    EXPECT_EQ(t.timeout, seconds(350));
    EXPECT_EQ(t.reset_by, DirectionSet::both());
    EXPECT_EQ(t.on_expiry, (SideActions{CloseAction::blackhole, CloseAction::blackhole}));
    EXPECT_TRUE(t.reset_on.keepalive) << "AWS: TCP keepalive packets reset the idle timeout";
    EXPECT_EQ(p.blackhole_answer, answers);
  }
  EXPECT_FALSE(builtin("nat-gateway", {{"idle_timeout", "3s"}}).warnings.empty()) << "350 s is fixed at AWS";
}

TEST(ProfileBuiltinTest, OnlyTheL4BalancersCountKeepalives) {
  // A proxy that terminates TCP never sees a probe; a balancer that forwards packets does.
  for (const EmbeddedProfile& e : embedded_profiles()) {
    SCOPED_TRACE(e.name);
    const Profile p = load_profile(e.text, std::string(e.path));
    const bool l4 = e.name == "nlb" || e.name == "azure-lb" || e.name == "nat-gateway";
    for (const TimerSpec& t : p.timers) EXPECT_EQ(t.reset_on.keepalive, l4 && t.kind == TimerKind::idle) << t.name;
    EXPECT_NE(e.text.find(l4 ? "keepalive]" : "SO_KEEPALIVE is no fix"), std::string_view::npos)
        << "the profile says why keepalives do or do not count";
  }
}


TEST(ProfileBuiltinTest, NginxForwardsTheUpgradeOnlyWithTheWebSocketHeaders) {
  const Profile p = builtin("nginx");
  EXPECT_EQ(p.handshake.kind, HandshakePolicy::Kind::forward);
  EXPECT_EQ(setting(p, "websocket_headers").value, "on");
  EXPECT_EQ(timer(p, "proxy_read_timeout").reset_on, kAllFrames);
  EXPECT_EQ(p.limits, MessageLimits{}) << "nginx has no frame limit";
  EXPECT_EQ(builtin("nginx", {{"websocket_headers", "off"}}).handshake.kind, HandshakePolicy::Kind::strip_upgrade);
}

TEST(ProfileBuiltinTest, AlbCountsEveryFrameKind) {
  EXPECT_EQ(timer(builtin("alb"), "idle_timeout").reset_on, kAllFrames);
  // The war story needs the client's automatic pongs (answers to the server's pings) not to count.
  EXPECT_EQ(timer(builtin("alb-client-activity-only"), "idle_timeout").reset_on,
            (FrameKinds{true, true, false, true}));
}

TEST(ProfileBuiltinTest, ApiGateway) {
  const Profile p = builtin("api-gateway");
  EXPECT_EQ(p.mode, Mode::http);
  const SideActions going_away{CloseAction::ws_close, CloseAction::fin, 1001, "Going away", 504};
  const TimerSpec& idle = timer(p, "idle_connection_timeout");
  EXPECT_EQ(idle.kind, TimerKind::idle);
  EXPECT_EQ(idle.timeout, minutes(10));
  EXPECT_EQ(idle.reset_by, DirectionSet::both());
  EXPECT_EQ(idle.reset_on, (FrameKinds{true, false, false, false})) << "messages count, pings do not";
  EXPECT_EQ(idle.on_expiry, going_away);
  const TimerSpec& age = timer(p, "connection_duration");
  EXPECT_EQ(age.kind, TimerKind::lifetime);
  EXPECT_EQ(age.timeout, hours(2));
  EXPECT_EQ(age.on_expiry, going_away);
  EXPECT_EQ(p.limits.max_frame, 32u * 1024);
  EXPECT_EQ(p.limits.max_message, 128u * 1024);
  EXPECT_EQ(p.limits.on_exceed, (SideActions{CloseAction::ws_close, CloseAction::fin, 1009, "Message too big", 504}));
  EXPECT_EQ(p.handshake.kind, HandshakePolicy::Kind::forward);
  EXPECT_EQ(builtin("api-gateway", {{"websocket_frame_size", "64KiB"}}).limits.max_frame, 64u * 1024);
}

TEST(ProfileBuiltinTest, CloudflareClosesWithoutACloseFrame) {
  const Profile p = builtin("cloudflare");
  EXPECT_EQ(p.mode, Mode::http);
  ASSERT_EQ(p.timers.size(), 1u);
  const TimerSpec& t = timer(p, "idle_timeout");
  EXPECT_EQ(t.kind, TimerKind::idle);
  EXPECT_EQ(t.timeout, seconds(100));
  EXPECT_EQ(t.reset_by, DirectionSet::both());
  EXPECT_EQ(t.reset_on, kAllFrames);
  EXPECT_EQ(t.on_expiry, kFinBoth) << "the client reports 1006: no close frame";
  EXPECT_EQ(timer(builtin("cloudflare", {{"proxy_read_timeout", "600"}}), "idle_timeout").timeout, seconds(600));
}

TEST(ProfileBuiltinTest, GcpBackendTimeoutIsALifetime) {
  const Profile p = builtin("gcp");
  EXPECT_EQ(p.mode, Mode::http);
  ASSERT_EQ(p.timers.size(), 1u) << "no idle timer: traffic does not help";
  const TimerSpec& t = p.timers[0];
  EXPECT_EQ(t.name, "timeout_sec");
  EXPECT_EQ(t.kind, TimerKind::lifetime);
  EXPECT_EQ(t.timeout, seconds(30));
  EXPECT_EQ(t.on_expiry, kFinBoth);
  EXPECT_EQ(timer(builtin("gcp", {{"timeoutSec", "3600"}}), "timeout_sec").timeout, hours(1));
}

TEST(ProfileBuiltinTest, Heroku) {
  const Profile p = builtin("heroku");
  EXPECT_EQ(p.mode, Mode::http);
  const TimerSpec& t = timer(p, "idle_timeout");
  EXPECT_EQ(t.kind, TimerKind::idle);
  EXPECT_EQ(t.timeout, seconds(55));
  EXPECT_EQ(t.reset_by, DirectionSet::both());
  EXPECT_EQ(t.reset_on, kAllFrames);
  EXPECT_EQ(t.rearm_granularity, Duration(0)) << "a rolling window";
  EXPECT_EQ(t.on_expiry, kFinBoth);
}

TEST(ProfileBuiltinTest, EnvoyRefusesWebSocketsUnlessUpgradeConfigsSayWebsocket) {
  const Profile p = builtin("envoy");
  EXPECT_EQ(p.handshake, (HandshakePolicy{HandshakePolicy::Kind::reject, 403}));
  EXPECT_NE(p.description.find("403"), std::string::npos) << p.description;
  EXPECT_EQ(setting(p, "upgrade_configs_websocket").value, "off");
  EXPECT_EQ(builtin("envoy", {{"upgrade_configs_websocket", "on"}}).handshake.kind, HandshakePolicy::Kind::forward);
  const TimerSpec& t = timer(p, "stream_idle_timeout");
  EXPECT_EQ(t.kind, TimerKind::idle);
  EXPECT_EQ(t.timeout, minutes(5));
  EXPECT_EQ(t.reset_by, DirectionSet::both());
  EXPECT_EQ(t.reset_on, kAllFrames);
  EXPECT_EQ(t.on_expiry, kFinBoth);
  EXPECT_EQ(p.connect.timeout, seconds(5));
}

TEST(ProfileBuiltinTest, IngressNginxIsNginxWithItsTemplate) {
  const Profile p = builtin("ingress-nginx");
  EXPECT_EQ(p.mode, Mode::http);
  EXPECT_EQ(p.handshake.kind, HandshakePolicy::Kind::forward);
  EXPECT_EQ(p.half_close, (HalfClosePolicy{HalfClose::close_both, HalfClose::close_both}));
  EXPECT_EQ(p.connect.timeout, seconds(5));
  const TimerSpec& read = timer(p, "proxy_read_timeout");
  EXPECT_EQ(read.timeout, seconds(60));
  EXPECT_EQ(read.rearm_granularity, milliseconds(300));
  EXPECT_EQ(read.on_expiry, kFinBoth);
  EXPECT_EQ(timer(p, "proxy_send_timeout").timeout, seconds(60));
  // reset_timedout_connection is on in ingress-nginx's template.
  EXPECT_EQ(timer(p, "send_timeout").on_expiry, (SideActions{CloseAction::rst, CloseAction::fin}));
  // The annotation name reaches the setting.
  const Profile annotated = builtin("ingress-nginx", {{"nginx.ingress.kubernetes.io/proxy-read-timeout", "3600"}});
  EXPECT_EQ(timer(annotated, "proxy_read_timeout").timeout, hours(1));
}

TEST(ProfileBuiltinTest, AzureLbDropsSilentlyOrResetsWithTcpReset) {
  const Profile p = builtin("azure-lb");
  EXPECT_EQ(p.mode, Mode::tcp);
  const TimerSpec& t = timer(p, "idle_timeout_in_minutes");
  EXPECT_EQ(t.kind, TimerKind::idle);
  EXPECT_EQ(t.timeout, minutes(4));
  EXPECT_EQ(t.reset_by, DirectionSet::both());
  EXPECT_EQ(t.on_expiry, (SideActions{CloseAction::blackhole, CloseAction::blackhole}));
  EXPECT_TRUE(t.reset_on.keepalive);
  EXPECT_EQ(p.blackhole_answer, (BlackholeAnswers{BlackholeAnswer::none, BlackholeAnswer::none}))
      << "without TCP reset, later packets are dropped silently";
  EXPECT_EQ(builtin("azure-lb", {{"enable_tcp_reset", "on"}}).blackhole_answer, BlackholeAnswers{})
      << "with TCP reset, resets are sent for any subsequent packets";
  EXPECT_EQ(timer(builtin("azure-lb", {{"enable_tcp_reset", "on"}}), "idle_timeout_in_minutes").on_expiry, kRstBoth);
  EXPECT_EQ(timer(builtin("azure-lb", {{"IdleTimeoutInMinutes", "30"}}), "idle_timeout_in_minutes").timeout,
            minutes(30)) << "a bare number is minutes, as Azure writes it";
}

// --- blackhole_hold -----------------------------------------------------------------------

TEST(ProfileBlackholeHoldTest, BlackholeAnswerIsRstOrNonePerSide) {
  constexpr auto rst = BlackholeAnswer::rst;
  constexpr auto none = BlackholeAnswer::none;
  EXPECT_EQ(load("name: a\nmode: tcp\ntimers: []\n").blackhole_answer, (BlackholeAnswers{rst, rst})) << "the default";
  const Profile silent = load("name: a\nmode: tcp\nblackhole_answer: none\ntimers: []\n");
  EXPECT_EQ(silent.blackhole_answer, (BlackholeAnswers{none, none}));
  EXPECT_NE(to_yaml(silent).find("blackhole_answer: none"), std::string::npos) << to_yaml(silent);
  EXPECT_EQ(load(to_yaml(silent)).blackhole_answer, silent.blackhole_answer);
  const Profile nat = load("name: a\nmode: tcp\nblackhole_answer: {client: rst, upstream: none}\ntimers: []\n");
  EXPECT_EQ(nat.blackhole_answer, (BlackholeAnswers{rst, none}));
  EXPECT_NE(to_yaml(nat).find("blackhole_answer: {client: rst, upstream: none}"), std::string::npos) << to_yaml(nat);
  EXPECT_EQ(load(to_yaml(nat)).blackhole_answer, nat.blackhole_answer);
  expect_error(load_error("name: a\nmode: tcp\nblackhole_answer: {client: rst, server: none}\ntimers: []\n"),
               "t.yaml:3:", "server");
  expect_error(load_error("name: a\nmode: tcp\nblackhole_answer: silent\ntimers: []\n"), "t.yaml:3:19: ",
               "'silent' is not a blackhole answer (in 'blackhole_answer'): write rst (the forgotten flow's next "
               "packet meets RST, as at AWS NLB) or none");
}

TEST(ProfileBlackholeHoldTest, DefaultsToFifteenMinutesScaledByTimeScale) {
  EXPECT_EQ(load("name: a\nmode: tcp\ntimers: []\n").blackhole_hold, std::chrono::minutes(15));
  // Profile time: --time-scale 0.01 holds a forgotten flow 9 s of real time.
  EXPECT_EQ(builtin("nlb", {}, 0.01).blackhole_hold, std::chrono::seconds(9));
}

TEST(ProfileBlackholeHoldTest, TakesALiteralOrASetting) {
  EXPECT_EQ(load("name: a\nmode: tcp\nblackhole_hold: 2m\ntimers: []\n").blackhole_hold, std::chrono::minutes(2));
  const Profile p = load(
      "name: a\nmode: tcp\nsettings:\n  hold: {type: duration, default: 30s}\nblackhole_hold: $hold\ntimers: []\n");
  EXPECT_EQ(p.blackhole_hold, std::chrono::seconds(30));
  EXPECT_EQ(to_yaml(p).find("blackhole_hold: 30s") != std::string::npos, true) << to_yaml(p);
}

TEST(ProfileBlackholeHoldTest, RefusesANonDurationWithItsPlace) {
  try {
    load("name: a\nmode: tcp\nblackhole_hold: forever\ntimers: []\n");
    FAIL() << "accepted 'forever'";
  } catch (const ProfileError& e) {
    EXPECT_EQ(e.line(), 3);
    EXPECT_NE(std::string(e.what()).find("'forever' is not a duration"), std::string::npos) << e.what();
  }
}

// --- every error in one pass -------------------------------------------------------------

/// The five mistakes of issue 12, one of each kind: a misspelt key, a misspelt value, a
/// misspelt $setting, a value of the wrong set, a misspelt action.
constexpr std::string_view kFiveMistakes = R"(name: five
mode: http
settings:
  idle_timeout:
    type: duration
    default: 60s
timers:
  - name: idle
    kind: idel
    timout: 60s
    reset_by: client
    on_expiry: {client: fni, upstream: fin}
  - name: other
    kind: idle
    timeout: $idle_timeot
)";

TEST(ProfileYamlErrorsTest, FiveMistakesAreReportedTogetherInFileOrder) {
  const ProfileError e = load_error(kFiveMistakes);
  const std::vector<ProfileError> all = e.errors();
  // The misspelt `timout` leaves `timeout` missing: the same mistake, said once.
  ASSERT_EQ(all.size(), 5u) << e.report();
  expect_error(all[0], "t.yaml:9:11: ", "'idel' is not a timer kind");
  expect_error(all[1], "t.yaml:10:5: ", "unknown key 'timout' in a timer (did you mean 'timeout'?)");
  expect_error(all[2], "t.yaml:11:15: ", "'client' is not a set of directions");
  expect_error(all[3], "t.yaml:12:25: ", "'fni' is not a close action");
  expect_error(all[4], "t.yaml:15:14: ", "(did you mean '$idle_timeout'?)");
  // Existing callers see the first one.
  EXPECT_STREQ(e.what(), all[0].what());
  EXPECT_EQ(e.line(), 9);
  EXPECT_EQ(e.column(), 11);
  EXPECT_EQ(e.report(), fmt::format("{}\n{}\n{}\n{}\n{}", all[0].what(), all[1].what(), all[2].what(),
                                    all[3].what(), all[4].what()));
}

TEST(ProfileYamlErrorsTest, OneErrorIsAListOfOne) {
  const ProfileError e = load_error("name: t\nmode: tcpp\n");
  ASSERT_EQ(e.errors().size(), 1u);
  EXPECT_EQ(e.report(), e.what());
}

TEST(ProfileYamlErrorsTest, ABrokenSettingIsNotReportedAgainWhereItIsUsed) {
  const ProfileError e = load_error(R"(name: t
mode: tcp
settings:
  t1: {type: durashun, default: 1s}
  t2: {type: duration, default: 60}
timers:
  - {name: a, kind: idle, timeout: $t1}
  - {name: b, kind: idle, timeout: $t2}
  - {name: c, kind: idle, timeout: 5}
)");
  const std::vector<ProfileError> all = e.errors();
  ASSERT_EQ(all.size(), 3u) << e.report();
  expect_error(all[0], "t.yaml:4:14: ", "'durashun' is not a setting type");
  expect_error(all[1], "t.yaml:5:33: ", "'60' is not a duration for setting 't2'");
  expect_error(all[2], "t.yaml:9:36: ", "'5' is not a duration");
}

TEST(ProfileYamlErrorsTest, EveryBadOverrideIsReportedAtItsPlace) {
  SettingOverride from_config{"proxy_read_timeot", "2s", "c.yaml", 7, 9, 7, 28};
  const ProfileError e =
      load_error(kFiveMistakes, {{"idle_timeout", "soon"}, from_config});
  const std::vector<ProfileError> all = e.errors();
  ASSERT_EQ(all.size(), 7u) << e.report();
  // No line: the command line's come first.
  expect_error(all[0], "--set: ", "'soon' is not a duration for setting 'idle_timeout'");
  expect_error(all[1], "c.yaml:7:9: ", "profile 'five' has no setting 'proxy_read_timeot'");
}

TEST(ProfileYamlErrorsTest, AFileOfMistakesIsCappedInTheReport) {
  std::string yaml = "name: t\nmode: tcp\n";
  for (int i = 0; i < 60; ++i) yaml += fmt::format("junk{}: 1\n", i);
  const ProfileError e = load_error(yaml);
  EXPECT_EQ(e.errors().size(), 60u);
  const std::string report = e.report();
  EXPECT_EQ(std::count(report.begin(), report.end(), '\n'), 50) << report;
  EXPECT_TRUE(report.ends_with("\n... and 10 more error(s)")) << report;
}

// --- ranges -------------------------------------------------------------------------------

/// A profile with one ranged setting feeding one timer; the default is on line 6.
std::string ranged(std::string_view range, std::string_view def = "60s") {
  return fmt::format(R"(name: lb
mode: tcp
settings:
  idle_timeout:
    type: duration
    default: {}
    unit: s
{}    doc: Idle timeout; 1-4000 seconds.
timers:
  - {{name: idle, kind: idle, timeout: $idle_timeout}}
)", def, range);
}

constexpr std::string_view kRange = "    min: 1s\n    max: 4000s\n    range_doc: LB docs, idle timeout attribute\n";

TEST(ProfileYamlRangeTest, InsideTheRangeNothingIsSaid) {
  const Profile p = load(ranged(kRange), {{"idle_timeout", "4000"}});
  EXPECT_TRUE(p.warnings.empty());
  EXPECT_EQ(p.timers[0].timeout, seconds(4000));
  EXPECT_EQ(p.settings[0].min, "1s");
  EXPECT_EQ(p.settings[0].max, "66m40s");
  EXPECT_EQ(p.settings[0].range_doc, "LB docs, idle timeout attribute");
}

TEST(ProfileYamlRangeTest, OutsideItIsAWarningNamingTheRangeAndItsSource) {
  const Profile p = load(ranged(kRange), {{"idle_timeout", "5000s"}});
  EXPECT_EQ(p.timers[0].timeout, seconds(5000)) << "a warning: it runs anyway";
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_EQ(p.warnings[0], "--set: warning: idle_timeout 5000s is outside what lb allows (1s-4000s, LB docs, "
                           "idle timeout attribute)");
  // Below, and a default outside it (at the default's line); `doc` stands in for range_doc.
  EXPECT_NE(load(ranged(kRange), {{"idle_timeout", "500ms"}}).warnings.at(0).find("500ms is outside"),
            std::string::npos);
  const Profile d = load(ranged("    max: 10s\n"));
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_EQ(d.warnings[0], "t.yaml:6:14: warning: idle_timeout 60s is outside what lb allows (at most 10s, Idle "
                           "timeout; 1-4000 seconds.)");
}

TEST(ProfileYamlRangeTest, StrictMakesItAnError) {
  try {
    load_profile(ranged(kRange), "t.yaml", {{"idle_timeout", "5000s"}}, 1.0, /*strict=*/true);
    ADD_FAILURE() << "expected a ProfileError";
  } catch (const ProfileError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--set: idle_timeout 5000s is outside what lb allows (1s-4000s", 0), 0u)
        << e.what();
  }
  EXPECT_NO_THROW(load_profile(ranged(kRange), "t.yaml", {{"idle_timeout", "30s"}}, 1.0, true));
}

TEST(ProfileYamlRangeTest, NoneIsNotOnTheScale) {
  EXPECT_TRUE(load(ranged(kRange), {{"idle_timeout", "none"}}).warnings.empty());
}

TEST(ProfileYamlRangeTest, BadRangesAreErrors) {
  expect_error(load_error(ranged("    min: soon\n")), "t.yaml:8:10: ", "'soon' is not a duration for setting "
                                                                        "'idle_timeout''s min");
  expect_error(load_error(ranged("    min: none\n")), "t.yaml:8:10: ", "a range bounds real values");
  expect_error(load_error(ranged("    min: 10s\n    max: 1s\n")), "t.yaml:9:5: ", "max 1s is below its min 10s");
  expect_error(load_error("name: t\nmode: tcp\nsettings:\n  b: {type: bool, default: on, max: off}\n"),
               "t.yaml:4:32: ", "'max' applies only to duration, size and count settings");
}

TEST(ProfileYamlRangeTest, SizesAndCountsTakeRangesToo) {
  const std::string yaml = R"(name: t
mode: http
settings:
  frame: {type: size, default: 32KiB, min: 1KiB, max: 64KiB}
  tries: {type: count, default: 3, max: 5}
limits: {max_frame: $frame}
connect: {retries: $tries}
)";
  EXPECT_TRUE(load(yaml).warnings.empty());
  const Profile p = load(yaml, {{"frame", "1MiB"}, {"tries", "6"}});
  ASSERT_EQ(p.warnings.size(), 2u);
  EXPECT_NE(p.warnings[0].find("frame 1MiB is outside what t allows (1KiB-64KiB"), std::string::npos);
  EXPECT_NE(p.warnings[1].find("tries 6 is outside what t allows (at most 5"), std::string::npos);
}

TEST(ProfileYamlRangeTest, BuiltinsCarryTheRangesTheirSystemsDocument) {
  for (const auto& [name, min, max] : {std::tuple{"alb", "1s", "66m40s"}, std::tuple{"nlb", "1m", "100m"},
                                       std::tuple{"azure-lb", "4m", "100m"}}) {
    SCOPED_TRACE(name);
    const Profile p = builtin(name);
    EXPECT_EQ(p.settings[0].min, min);
    EXPECT_EQ(p.settings[0].max, max);
    EXPECT_FALSE(p.settings[0].range_doc.empty());
    EXPECT_TRUE(p.warnings.empty());
  }
  const Profile alb = builtin("alb", {{"idle_timeout", "5000s"}});
  ASSERT_EQ(alb.warnings.size(), 1u);
  EXPECT_NE(alb.warnings[0].find("idle_timeout 5000s is outside what alb allows (1s-4000s, AWS"), std::string::npos);
}

TEST(ProfileToYamlTest, RangesRoundTripAndAnOutOfRangeDumpStillLoads) {
  expect_round_trip(builtin("alb", {{"idle_timeout", "5000s"}}));
  const std::string yaml = to_yaml(builtin("alb"));
  EXPECT_NE(yaml.find("min: 1s"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("range_doc: AWS"), std::string::npos) << yaml;
}

TEST(ProfileToYamlTest, SettingsStayInProfileTimeWithTheScaledValueBeside) {
  const std::string yaml = to_yaml(builtin("haproxy", {{"timeout_tunnel", "1s"}}, 0.1));
  EXPECT_NE(yaml.find("default: 1s  # runs as 100ms after time_scale; profile default: none"), std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("Settings are in the profile's own time"), std::string::npos) << yaml;
  // At time_scale 1 there is nothing to say.
  EXPECT_EQ(to_yaml(builtin("haproxy")).find("runs as"), std::string::npos);
}

}  // namespace
}  // namespace dropsim
