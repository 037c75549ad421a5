#include "profile_loader.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

#include "profile_values.h"

namespace dropsim::detail {

namespace {

/// A close frame's payload is at most 125 bytes (RFC 6455 5.5), 2 of them the code.
constexpr std::size_t kMaxWsReason = 123;

constexpr std::string_view kDurationFix =
    "write it with a unit, e.g. 60s, 300ms, 2m, 1h (a bare number is read only by a setting "
    "that declares `unit:`)";

const Literal<std::optional<Duration>> kTimeout{
    "a duration", SettingType::duration, parse_optional_duration,
    "write it with a unit, e.g. 60s, 300ms, 2m, 1h, or none to disable it (a bare number is "
    "read only by a setting that declares `unit:`)"};
const Literal<Duration> kDurationLiteral{"a duration", SettingType::duration, parse_duration,
                                         kDurationFix};
const Literal<CloseAction> kAction{"a close action", SettingType::action, parse_close_action,
                                   any_action_fix()};
// Literal::fix is a view: the texts built at start-up live here, defined before their users.
const std::string kConnectActionFix =
    action_fix(connect_action) + " (no WebSocket exists yet; http_status needs mode: http)";
const std::string kExceedActionFix =
    action_fix(exceed_action) + " (limits act after the upgrade, where no HTTP status fits)";
const std::string kResetOnFix = reset_on_fix();

const Literal<CloseAction> kConnectAction{"a close action for a connect failure", SettingType::action,
                                          parse_allowed_action<connect_action>, kConnectActionFix};
const Literal<CloseAction> kExceedAction{"a close action for a size limit", SettingType::action,
                                         parse_allowed_action<exceed_action>, kExceedActionFix};
const Literal<Mode> kMode{"a mode", std::nullopt, parse_mode, "write tcp or http"};
const Literal<HalfClose> kHalfClose{"a half-close policy", std::nullopt, parse_half_close,
                                    "write forward or close_both"};
const Literal<TimerKind> kKind{"a timer kind", std::nullopt, parse_timer_kind,
                              "write idle, blocked_write or lifetime"};
const Literal<DirectionSet> kDirectionSet{"a set of directions", std::nullopt, parse_direction_set,
                                          "write upstream, downstream or both"};
const Literal<Direction> kDirection{"a direction", std::nullopt, parse_direction,
                                    "write upstream (client→server) or downstream (server→client)"};
const Literal<Phase> kPhase{"a phase", std::nullopt, parse_phase,
                            "write open, upstream_finished or downstream_finished"};
const Literal<ResetOnEntry> kResetOn{"a frame kind or keepalive", std::nullopt, parse_reset_on, kResetOnFix};
const Literal<BlackholeAnswer> kBlackholeAnswer{
    "a blackhole answer", std::nullopt, parse_blackhole_answer,
    "write rst (the forgotten flow's next packet meets RST, as at AWS NLB) or none (it goes unanswered, as at "
    "Azure Load Balancer without TCP reset)"};
const Literal<HandshakePolicy::Kind> kHandshake{
    "a handshake policy", std::nullopt, parse_handshake_kind,
    "write forward, strip_upgrade (nginx without the Upgrade/Connection headers) or reject"};
const Literal<std::uint16_t> kWsCode{
    "a close code", std::nullopt, parse_ws_code,
    "write 1000-1003, 1007-1014 (e.g. 1001 going away, 1009 too big, 1011 internal error) or "
    "3000-4999; 1005, 1006 and 1015 are what an endpoint reports, never sent (a client reports "
    "1006 when the connection ends without a close frame: write fin or rst for that)"};
const Literal<std::string> kWsReason{"a close reason", std::nullopt, parse_text,
                                     "write the reason text (quote it if it starts with $)",
                                     /*quoted_is_text=*/true};
const Literal<bool> kFlag{"on or off", std::nullopt, parse_bool,
                          "write on or off, or {if: $a_bool_setting, then: on, else: off}"};
const Literal<int> kHttpStatus{"an HTTP status", std::nullopt, parse_http_status,
                               "write a final status, 200-599, e.g. 403 or 504"};
const Literal<std::uint64_t> kSize{"a size", SettingType::size, parse_size, kSizeFix};
const Literal<std::uint32_t> kCount{"a count", SettingType::count, parse_count, kCountFix};

// The keys each mapping accepts, in the order the format documents them.
constexpr std::string_view kTopKeys[] = {"name",     "description", "source",     "mode",
                                         "time_scale", "settings",  "connect",    "half_close",
                                         "blackhole_hold", "blackhole_answer", "handshake", "limits",   "timers", "reload"};
constexpr std::string_view kConnectKeys[] = {"timeout", "on_failure", "http_status", "timeout_status",
                                             "keepalive", "retries", "retry_interval"};
/// The keys of `connect:` that only its http_status action uses.
constexpr std::string_view kConnectStatusKeys[] = {"http_status", "timeout_status", "keepalive"};
constexpr std::string_view kTimerKeys[] = {"name",      "kind",     "timeout",
                                           "reset_by",  "reset_on", "rearm_granularity",
                                           "paused_while_blocked",  "direction",
                                           "while",     "on_expiry"};
constexpr std::string_view kActionKeys[] = {"client", "upstream", "ws_code", "ws_reason", "http_status"};
constexpr std::string_view kHalfCloseKeys[] = {"client_fin", "server_fin"};
constexpr std::string_view kBlackholeAnswerKeys[] = {"client", "upstream"};
constexpr std::string_view kHandshakeKeys[] = {"policy", "status", "strip_extensions", "keepalive"};
constexpr std::string_view kLimitKeys[] = {"max_frame", "max_message", "on_exceed"};

/// A timer key that applies to one kind only.
struct KindOnlyKey {
  std::string_view key;
  TimerKind kind;
};
constexpr KindOnlyKey kKindOnlyKeys[] = {{"reset_by", TimerKind::idle},
                                         {"reset_on", TimerKind::idle},
                                         {"rearm_granularity", TimerKind::idle},
                                         {"paused_while_blocked", TimerKind::idle},
                                         {"direction", TimerKind::blocked_write}};

/// A detail of SideActions and the action that uses it.
struct ActionDetail {
  std::string_view key;
  CloseAction used_by;
};
constexpr ActionDetail kActionDetails[] = {{"ws_code", CloseAction::ws_close},
                                           {"ws_reason", CloseAction::ws_close},
                                           {"http_status", CloseAction::http_status}};

/// `d` times `factor`; nullopt when that no longer fits in nanoseconds (about 292 years).
std::optional<Duration> checked_scale(Duration d, double factor) {
  if (static_cast<long double>(d.count()) * factor > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) {
    return std::nullopt;
  }
  return scale(d, factor);
}

/// Multiplies every duration of `p` by `factor` (--time-scale); a ProfileError when one
/// would no longer fit in nanoseconds. The settings keep the profile's own time (what the
/// real system is configured with); each duration setting notes its scaled value.
void scale_durations(Profile& p, double factor) {
  const auto scaled = [factor](Duration d, std::string_view what) {
    if (const auto out = checked_scale(d, factor)) return *out;
    throw ProfileError("--time-scale", 0, 0,
                       fmt::format("time scale {} makes {} ({}) too long to count: use a smaller time scale",
                                   factor, what, format_duration(d)));
  };
  for (Setting& s : p.settings) {
    if (factor == 1.0 || s.type != "duration") continue;
    if (const auto d = parse_duration(s.value)) s.scaled_value = format_duration(scaled(*d, "setting " + s.name));
  }
  p.connect.timeout = scaled(p.connect.timeout, "connect.timeout");
  p.connect.keepalive = scaled(p.connect.keepalive, "connect.keepalive");
  p.handshake.keepalive = scaled(p.handshake.keepalive, "handshake.keepalive");
  p.connect.retry_interval = scaled(p.connect.retry_interval, "connect.retry_interval");
  p.blackhole_hold = scaled(p.blackhole_hold, "blackhole_hold");
  for (TimerSpec& t : p.timers) {
    if (t.timeout) t.timeout = scaled(*t.timeout, "timer " + t.name);
    t.rearm_granularity = scaled(t.rearm_granularity, "timer " + t.name);
  }
}

}  // namespace

// --- sections ---------------------------------------------------------------------------

double Loader::read_file_scale(const YAML::Node& n) const {
  const std::string text = scalar(n, "time_scale");
  const auto value = parse_number(text);
  if (!value || !(*value > 0) || !std::isfinite(*value)) {
    fail(n, fmt::format("time_scale '{}' must be a positive number (the scale already applied to "
                        "the durations in this file), e.g. 1 or 0.05", text));
  }
  return *value;
}

ConnectPolicy Loader::read_connect(const YAML::Node& n, Mode mode) const {
  ConnectPolicy c;
  if (!n.IsDefined()) return c;
  expect_map(n, "'connect'");
  check_keys(n, kConnectKeys, "'connect'");
  c.timeout = field_or(n, "timeout", kDurationLiteral, c.timeout, "connect.timeout");
  c.on_failure = field_or(n, "on_failure", kConnectAction, c.on_failure, "connect.on_failure");
  if (mode == Mode::tcp && c.on_failure == CloseAction::http_status) {
    const YAML::Node at = n["on_failure"];
    record(at.IsDefined() ? at : n, "connect.on_failure is http_status, which needs mode: http (in mode tcp "
                                  "there is no request to answer, so it would be a plain FIN): write fin, "
                                  "or mode: http");
  }
  for (const std::string_view key : kConnectStatusKeys) {
    if (!n[std::string(key)]) continue;
    if (!could_be(n["on_failure"], kConnectAction, CloseAction::http_status, ConnectPolicy{}.on_failure)) {
      record(key_node(n, key), fmt::format("'{}' is a detail of on_failure: http_status, and on_failure can never "
                                         "be http_status here: remove it, or write on_failure: http_status",
                                         key));
    }
  }
  c.http_status = field_or(n, "http_status", kHttpStatus, c.http_status, "connect.http_status");
  // A profile that names one status means it for both kinds of failure.
  c.timeout_status = field_or(n, "timeout_status", kHttpStatus, c.http_status, "connect.timeout_status");
  c.keepalive = field_or(n, "keepalive", kDurationLiteral, c.keepalive, "connect.keepalive");
  c.retries = field_or(n, "retries", kCount, c.retries, "connect.retries");
  c.retry_interval = field_or(n, "retry_interval", kDurationLiteral, c.retry_interval, "connect.retry_interval");
  // Keep only what acts, so that the resolved profile (and to_yaml) carries no stray status.
  if (c.on_failure != CloseAction::http_status) {
    const ConnectPolicy defaults;
    c.http_status = defaults.http_status;
    c.timeout_status = defaults.timeout_status;
    c.keepalive = defaults.keepalive;
  }
  return c;
}

void Loader::check_http_only(const YAML::Node& map, std::string_view key, Mode mode,
                             std::string_view what) const {
  if (mode == Mode::http || !map[std::string(key)]) return;
  record(key_node(map, key), fmt::format("'{}' ({}) applies only to mode: http, and this profile is mode: "
                                       "tcp, where dropsim sees bytes, not HTTP or WebSocket frames: "
                                       "remove it, or write mode: http", key, what));
}

HandshakePolicy Loader::read_handshake(const YAML::Node& root, Mode mode) const {
  HandshakePolicy h;
  const YAML::Node n = child(root, "handshake");
  if (!n.IsDefined()) return h;
  check_http_only(root, "handshake", mode, "what happens to a WebSocket upgrade request");
  if (!n.IsMap() || n["if"]) {  // the policy alone
    h.kind = eval(n, "handshake", kHandshake);
    return h;
  }
  check_keys(n, kHandshakeKeys, "'handshake'");
  const YAML::Node policy =
      require(n, "policy", "'handshake'", "add policy: forward, strip_upgrade or reject");
  h.kind = field_or(n, "policy", kHandshake, h.kind, "handshake.policy");
  if (n["status"]) {
    if (!could_be(policy, kHandshake, HandshakePolicy::Kind::reject, h.kind)) {
      record(key_node(n, "status"), "'status' is the answer of policy: reject, and policy can never be "
                                    "reject here: remove status, or write policy: reject");
    }
    h.status = field_or(n, "status", kHttpStatus, h.status, "handshake.status");
  }
  if (n["strip_extensions"]) {
    if (!could_be(policy, kHandshake, HandshakePolicy::Kind::forward, h.kind)) {
      record(key_node(n, "strip_extensions"),
             "'strip_extensions' changes an upgrade that policy: forward sends upstream, and policy can never "
             "be forward here: remove strip_extensions, or write policy: forward");
    }
    h.strip_extensions = field_or(n, "strip_extensions", kFlag, false, "handshake.strip_extensions");
  }
  if (n["keepalive"]) {
    if (!could_be(policy, kHandshake, HandshakePolicy::Kind::strip_upgrade, h.kind)) {
      record(key_node(n, "keepalive"),
             "'keepalive' is how long the client connection stays open after the answer to a stripped upgrade, "
             "and policy can never be strip_upgrade here: remove keepalive, or write policy: strip_upgrade");
    }
    h.keepalive = field_or(n, "keepalive", kDurationLiteral, h.keepalive, "handshake.keepalive");
  }
  // Keep only what acts, so that the resolved profile (and to_yaml) carries no stray status.
  if (h.kind != HandshakePolicy::Kind::reject) h.status = HandshakePolicy{}.status;
  if (h.kind != HandshakePolicy::Kind::forward) h.strip_extensions = false;
  if (h.kind != HandshakePolicy::Kind::strip_upgrade) h.keepalive = Duration::zero();
  return h;
}

MessageLimits Loader::read_limits(const YAML::Node& root, Mode mode) const {
  MessageLimits l;
  const YAML::Node n = child(root, "limits");
  if (!n.IsDefined()) return l;
  check_http_only(root, "limits", mode, "WebSocket frame and message sizes");
  expect_map(n, "'limits'");
  check_keys(n, kLimitKeys, "'limits'");
  l.max_frame = field_or(n, "max_frame", kSize, l.max_frame, "limits.max_frame");
  l.max_message = field_or(n, "max_message", kSize, l.max_message, "limits.max_message");
  attempt([&] {
    if (const YAML::Node e = child(n, "on_exceed")) {
      l.on_exceed = read_actions(e, "limits.on_exceed", l.on_exceed, kExceedAction, mode);
    }
  });
  return l;
}

std::vector<TimerSpec> Loader::read_timers(const YAML::Node& n, Mode mode) const {
  if (!n.IsDefined()) return {};
  expect_list(n, "'timers'");
  std::vector<TimerSpec> timers;
  std::vector<YAML::Node> seen;
  for (const YAML::Node& entry : n) {
    TimerSpec t;
    // A timer that is not a mapping is skipped; the others are still checked.
    if (!attempt([&] { t = read_timer(entry, mode); })) continue;
    for (std::size_t i = 0; i < timers.size(); ++i) {
      if (t.name.empty() || timers[i].name != t.name) continue;
      record(entry, fmt::format("a second timer is named '{}' (the first is at line {}): give each "
                              "timer its own name", t.name, position(seen[i]).first));
    }
    timers.push_back(std::move(t));
    seen.push_back(entry);
  }
  return timers;
}

TimerSpec Loader::read_timer(const YAML::Node& n, Mode mode) const {
  expect_map(n, "each entry of 'timers'");
  check_keys(n, kTimerKeys, "a timer");
  TimerSpec t;
  // Each part that fails is reported and left at its default, so that one run lists every
  // mistake of the timer; a timer without a name is still checked, as "a timer".
  attempt([&] { t.name = scalar(require(n, "name", "a timer", "add name: <the real system's name for it>"), "name"); });
  const std::string owner = t.name.empty() ? "a timer" : fmt::format("timer '{}'", t.name);
  const bool kind_known = attempt(
      [&] { t.kind = eval(require(n, "kind", owner, "add kind: idle, blocked_write or lifetime"), "kind", kKind); });
  if (kind_known) check_kind_keys(n, t.kind, owner);  // against a kind that is a guess, every key would be
  attempt([&] {
    t.timeout = eval(require(n, "timeout", owner, "add timeout: with a duration (e.g. 60s), none, or a $setting"),
                     "timeout", kTimeout);
  });
  t.reset_by = field_or(n, "reset_by", kDirectionSet, DirectionSet::both());
  if (t.reset_by == DirectionSet{}) {
    record(n["reset_by"], "an idle timer that no traffic resets is a lifetime: write kind: lifetime, "
                          "or reset_by: upstream, downstream or both");
    t.reset_by = DirectionSet::both();
  }
  attempt([&] {
    if (const YAML::Node frames = child(n, "reset_on")) t.reset_on = read_reset_on(frames, mode);
  });
  t.rearm_granularity = field_or(n, "rearm_granularity", kDurationLiteral, Duration{0});
  attempt([&] {
    if (const YAML::Node paused = child(n, "paused_while_blocked")) {
      t.paused_while_blocked = eval(paused, "paused_while_blocked", kDirection);
    }
  });
  if (kind_known && t.kind == TimerKind::blocked_write) {
    attempt([&] {
      t.direction = eval(require(n, "direction", owner,
                                 "add direction: upstream or downstream (the direction whose writes are blocked)"),
                         "direction", kDirection);
    });
  }
  attempt([&] {
    if (const YAML::Node phases = child(n, "while")) t.phases = read_phases(phases);
  });
  attempt([&] {
    if (const YAML::Node actions = child(n, "on_expiry")) {
      t.on_expiry = read_actions(actions, "on_expiry", SideActions{}, kAction, mode);
    }
  });
  return t;
}

void Loader::check_kind_keys(const YAML::Node& n, TimerKind kind, std::string_view owner) const {
  for (const KindOnlyKey& only : kKindOnlyKeys) {
    if (only.kind == kind || !n[std::string(only.key)]) continue;
    record(key_node(n, only.key), fmt::format("'{}' applies only to {} timers and {} is {}: remove it",
                                            only.key, to_string(only.kind), owner, to_string(kind)));
  }
}

Phases Loader::read_phases(const YAML::Node& n) const {
  expect_list(n, "'while'");
  if (n.size() == 0) fail(n, "an empty 'while' list means the timer never runs: list its phases or remove the timer");
  Phases p{false, false, false};
  for (const YAML::Node& item : n) {
    attempt([&] {
      switch (eval(item, "while", kPhase)) {
        case Phase::open: p.open = true; break;
        case Phase::upstream_finished: p.upstream_finished = true; break;
        case Phase::downstream_finished: p.downstream_finished = true; break;
      }
    });
  }
  return p;
}

FrameKinds Loader::read_reset_on(const YAML::Node& n, Mode mode) const {
  expect_list(n, "'reset_on'");
  if (n.size() == 0) {
    fail(n, "an empty 'reset_on' list means no traffic resets the timer: write kind: lifetime "
            "if no traffic should count, or list what does (data, ping, pong, close, keepalive)");
  }
  FrameKinds k{false, false, false, false, false};
  for (const YAML::Node& item : n) {
    attempt([&] {
      const ResetOnEntry e = eval(item, "reset_on", kResetOn);
      if (!e.frame) {
        k.keepalive = true;
        return;
      }
      if (mode == Mode::tcp && *e.frame != FrameKind::data) {
        record(item, fmt::format("'{}' is a WebSocket frame, and this profile is mode: tcp, where dropsim sees "
                                 "bytes, not frames: write reset_on: [data, keepalive] (data: every byte), or "
                                 "mode: http", to_string(*e.frame)));
        return;
      }
      switch (*e.frame) {
        case FrameKind::data: k.data = true; break;
        case FrameKind::ping: k.ping = true; break;
        case FrameKind::pong: k.pong = true; break;
        case FrameKind::close: k.close = true; break;
      }
    });
  }
  if (mode == Mode::tcp) {
    // Every byte resets a tcp timer: `data` only says so, and cannot be left out.
    if (!k.data) {
      record(n, "in mode tcp every byte resets the timer, so 'reset_on' must list data: write "
                "reset_on: [data, keepalive]");
    }
    k.data = k.ping = k.pong = k.close = true;
  }
  return k;
}

SideActions Loader::read_actions(const YAML::Node& n, const std::string& section, const SideActions& defaults,
                                 const Literal<CloseAction>& action, Mode mode) const {
  const std::string quoted = fmt::format("'{}'", section);
  expect_map(n, quoted);
  check_keys(n, kActionKeys, quoted);
  SideActions a = defaults;
  a.client = field_or(n, "client", action, defaults.client, section + ".client");
  a.upstream = field_or(n, "upstream", action, defaults.upstream, section + ".upstream");
  for (const auto& [key, side] : {std::pair{"client", a.client}, std::pair{"upstream", a.upstream}}) {
    if (mode == Mode::tcp && is_http_action(side)) {
      const YAML::Node at = n[key];
      record(at.IsDefined() ? at : n, fmt::format("{}.{} is {}, which needs mode: http (in mode tcp there is no HTTP or "
                               "WebSocket to speak, so it would be a plain FIN): write fin, or mode: http",
                               section, key, to_string(side)));
    }
  }
  // half_close ends one direction and keeps the connection: the other side must be kept.
  if (is_partial_action(a.client) != is_partial_action(a.upstream) ||
      (is_partial_action(a.client) && a.client == a.upstream)) {
    const std::string what = is_partial_action(a.client) && is_partial_action(a.upstream)
                                 ? fmt::format("has {} on both sides", to_string(a.client))
                                 : fmt::format("mixes a closing action with {}",
                                               is_partial_action(a.client) ? to_string(a.client) : to_string(a.upstream));
    record(n, fmt::format("{} {}: half_close ends one direction and keeps the connection open, so pair it with "
                        "keep on the other side (client: keep, upstream: half_close), or close both",
                        quoted, what));
  }
  for (const ActionDetail& d : kActionDetails) {
    if (!n[std::string(d.key)]) continue;
    if (!action.parse(to_string(d.used_by))) {
      record(key_node(n, d.key), fmt::format("'{}' is a detail of the {} action, which {} cannot take: remove it",
                                             d.key, to_string(d.used_by), quoted));
      continue;  // the next check would say the same of this key
    }
    if (!could_be(n["client"], action, d.used_by, defaults.client) &&
        !could_be(n["upstream"], action, d.used_by, defaults.upstream)) {
      record(key_node(n, d.key), fmt::format("'{}' is a detail of the {} action, and neither client nor upstream "
                                           "can be {} here: remove it, or write e.g. client: {}",
                                           d.key, to_string(d.used_by), to_string(d.used_by),
                                           to_string(d.used_by)));
    }
  }
  a.ws_code = field_or(n, "ws_code", kWsCode, defaults.ws_code, section + ".ws_code");
  a.ws_reason = field_or(n, "ws_reason", kWsReason, defaults.ws_reason, section + ".ws_reason");
  if (a.ws_reason.size() > kMaxWsReason) {
    record(n["ws_reason"], fmt::format("{}.ws_reason is {} bytes, and a close frame carries at most {} (RFC 6455 "
                                     "5.5: 125 bytes of payload, 2 of them the code): shorten it",
                                     section, a.ws_reason.size(), kMaxWsReason));
  }
  a.http_status = field_or(n, "http_status", kHttpStatus, defaults.http_status, section + ".http_status");
  // Keep only the details an action in force uses, so that the resolved profile (and to_yaml)
  // carries no stray code or status when a setting turned the action off.
  if (!uses(a, CloseAction::ws_close)) {
    a.ws_code = defaults.ws_code;
    a.ws_reason = defaults.ws_reason;
  }
  if (!uses(a, CloseAction::http_status)) a.http_status = defaults.http_status;
  return a;
}

template <class T>
void Loader::read_per_side(const YAML::Node& n, std::string_view field, const std::string_view (&keys)[2],
                           const Literal<T>& lit, T& first, T& second) const {
  if (!n.IsDefined()) return;
  if (!n.IsMap() || n["if"]) {  // one value for both sides
    first = second = eval(n, field, lit);
    return;
  }
  check_keys(n, keys, fmt::format("'{}'", field));
  first = field_or(n, keys[0], lit, first, fmt::format("{}.{}", field, keys[0]));
  second = field_or(n, keys[1], lit, second, fmt::format("{}.{}", field, keys[1]));
}

HalfClosePolicy Loader::read_half_close(const YAML::Node& n) const {
  HalfClosePolicy h;  // one rule for both peers' FIN, or one each
  read_per_side(n, "half_close", kHalfCloseKeys, kHalfClose, h.client_fin, h.server_fin);
  return h;
}

BlackholeAnswers Loader::read_blackhole_answer(const YAML::Node& n) const {
  BlackholeAnswers a;
  read_per_side(n, "blackhole_answer", kBlackholeAnswerKeys, kBlackholeAnswer, a.client, a.upstream);
  return a;
}

Profile Loader::load(const YAML::Node& root, const std::vector<SettingOverride>& overrides, double factor,
                     bool strict) {
  if (!root.IsMap()) {
    fail(root, fmt::format("a profile must be a mapping with name, mode, settings and timers, found {} "
                           "(see profiles/nginx.yaml)", shape(root)));
  }
  // Every section is read even when one before it failed: each failure is recorded and
  // the section keeps its default, and finish() throws them all at the end.
  check_keys(root, kTopKeys, "the profile");
  Profile p;
  attempt([&] { p.name = scalar(require(root, "name", "the profile", "add name: <the emulated system>"), "name"); });
  set_profile_name(p.name);
  attempt([&] {
    if (const YAML::Node d = child(root, "description")) p.description = scalar(d, "description");
  });
  p.source = file();
  double file_scale = 1.0;
  attempt([&] {
    if (const YAML::Node n = child(root, "time_scale")) file_scale = read_file_scale(n);
  });
  attempt([&] {
    if (const YAML::Node settings = child(root, "settings")) read_settings(settings);
  });
  for (const SettingOverride& o : overrides) apply_override(o);
  // An unreadable mode is checked as http, the mode that refuses nothing of its own: tcp
  // would add an "applies only to mode: http" error for every http key.
  p.mode = Mode::http;
  attempt([&] { p.mode = eval(require(root, "mode", "the profile", "add mode: tcp or mode: http"), "mode", kMode); });
  attempt([&] { p.connect = read_connect(child(root, "connect"), p.mode); });
  attempt([&] { p.half_close = read_half_close(child(root, "half_close")); });
  p.blackhole_hold = field_or(root, "blackhole_hold", kDurationLiteral, p.blackhole_hold);
  attempt([&] { p.blackhole_answer = read_blackhole_answer(child(root, "blackhole_answer")); });
  attempt([&] { p.handshake = read_handshake(root, p.mode); });
  attempt([&] { p.limits = read_limits(root, p.mode); });
  attempt([&] { p.timers = read_timers(child(root, "timers"), p.mode); });
  attempt([&] {
    if (const YAML::Node r = child(root, "reload")) p.reload = read_actions(r, "reload", SideActions{}, kAction, p.mode);
  });
  p.settings = settings_in_force();
  check_ranges(p, strict);
  finish();
  scale_durations(p, factor);
  p.time_scale = file_scale * factor;
  return p;
}

}  // namespace dropsim::detail
