#include "profile_yaml.h"

// Reads a profile with yaml-cpp (through yaml_reader.h, shared with config_yaml.cpp) in three
// steps:
//   1. declarations: `settings:` (typed, with defaults), then `--set` overrides on them;
//   2. fields: every scalar of mode/connect/half_close/handshake/limits/timers is a literal,
//      a `$setting` or an `{if:, then:, else:}` expression, evaluated against the settings
//      in force;
//   3. scaling: --time-scale multiplies every resulting duration.
// Every error names FILE:LINE:COL and says how to fix it.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <variant>

#include <fmt/format.h>

#include "duration.h"
#include "enum_names.h"
#include "suggest.h"
#include "yaml_reader.h"

namespace dropsim {

namespace {

// ---------------------------------------------------------------------------------------
// Text helpers

/// "a, b, c", or "(none)" for an empty list.
std::string join(const std::vector<std::string>& items) {
  return items.empty() ? "(none)" : fmt::format("{}", fmt::join(items, ", "));
}

/// "a, b or c": the alternatives a fix offers.
std::string join_or(const std::vector<std::string>& items) {
  if (items.size() <= 1) return join(items);
  const std::vector<std::string> head(items.begin(), items.end() - 1);
  return fmt::format("{} or {}", fmt::join(head, ", "), items.back());
}

/// `text` without surrounding blanks.
std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

/// `--set` names match with '-' and ' ' read as '_': timeout-tunnel, "timeout tunnel".
std::string normalise_name(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '-', '_');
  std::replace(out.begin(), out.end(), ' ', '_');
  return out;
}

/// True for "60" or "1.5": what nginx.conf and haproxy.cfg write without a unit.
bool is_bare_number(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  return std::count(text.begin(), text.end(), '.') <= 1 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

/// on/off, true/false, yes/no, as nginx and YAML 1.1 spell booleans.
std::optional<bool> parse_bool(std::string_view text) {
  if (text == "on" || text == "true" || text == "yes") return true;
  if (text == "off" || text == "false" || text == "no") return false;
  return std::nullopt;
}

/// A decimal number for time_scale; nullopt unless the whole text is one.
std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// A whole non-negative decimal integer; nullopt for anything else (signs, blanks, overflow).
std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// ---------------------------------------------------------------------------------------
// Byte sizes (limits): an integer with a unit, as AWS and nginx write them.

/// One byte-size unit.
struct SizeUnit {
  std::string_view name;
  std::uint64_t bytes;
};

/// Largest first: format_size writes the first one that divides a size exactly.
constexpr SizeUnit kSizeUnits[] = {{"GiB", 1ULL << 30}, {"GB", 1'000'000'000}, {"MiB", 1ULL << 20},
                                   {"MB", 1'000'000},   {"KiB", 1ULL << 10},   {"KB", 1'000},
                                   {"B", 1}};

constexpr std::string_view kSizeFix =
    "write an integer with a unit, e.g. 32KiB, 128KB, 1MiB or 512B (KB, MB, GB are powers of "
    "1000; KiB, MiB, GiB powers of 1024), or none (0) for no limit";

constexpr std::string_view kCountFix = "write a whole number from 0 to 1000, e.g. 3";

/// "32KiB" → 32768, "128KB" → 128000; "none", "off" and a bare "0" → 0 (no limit). Any other
/// bare number is refused: 32 could mean bytes or KiB.
std::optional<std::uint64_t> parse_size(std::string_view text) {
  if (text == "none" || text == "off" || text == "0") return 0;
  const auto unit_at = text.find_first_not_of("0123456789");
  if (unit_at == 0 || unit_at == std::string_view::npos) return std::nullopt;
  const auto number = parse_unsigned(text.substr(0, unit_at));
  if (!number) return std::nullopt;
  for (const SizeUnit& u : kSizeUnits) {
    if (u.name != text.substr(unit_at)) continue;
    if (*number > std::numeric_limits<std::uint64_t>::max() / u.bytes) return std::nullopt;
    return *number * u.bytes;
  }
  return std::nullopt;
}

/// The shortest exact spelling parse_size reads back: 32768 → "32KiB", 0 → "none".
std::string format_size(std::uint64_t bytes) {
  if (bytes == 0) return "none";
  for (const SizeUnit& u : kSizeUnits) {
    if (bytes % u.bytes == 0) return fmt::format("{}{}", bytes / u.bytes, u.name);
  }
  return fmt::format("{}B", bytes);  // unreachable: "B" divides every size
}

// ---------------------------------------------------------------------------------------
// Close actions: every message that lists them is built from this one list.

/// The actions that act only on an HTTP/WebSocket connection (mode http).
constexpr bool is_http_action(CloseAction a) { return a == CloseAction::ws_close || a == CloseAction::http_status; }
/// The actions that end one direction and leave the connection open (timers only).
constexpr bool is_partial_action(CloseAction a) { return a == CloseAction::half_close || a == CloseAction::keep; }

/// "write fin, rst, fin_rst, blackhole, ws_close or http_status", leaving out what `allowed`
/// refuses.
std::string action_fix(bool (*allowed)(CloseAction)) {
  std::vector<std::string> names;
  for (CloseAction a : all_close_actions()) {
    if (allowed(a)) names.emplace_back(to_string(a));
  }
  return "write " + join_or(names);
}

/// Every action.
constexpr bool any_action(CloseAction) { return true; }
/// What a connect failure can do: no WebSocket exists yet; http_status answers the
/// client's request (mode http), as nginx's 502 does.
constexpr bool connect_action(CloseAction a) {
  return a != CloseAction::ws_close && !is_partial_action(a);
}
/// What a size limit can do: it acts after the upgrade, where no HTTP response fits.
constexpr bool exceed_action(CloseAction a) { return a != CloseAction::http_status && !is_partial_action(a); }

/// "write fin, rst, ..., ws_close or http_status", built once (Literal keeps a view of it).
const std::string& any_action_fix() {
  static const std::string text = action_fix(any_action);
  return text;
}

/// Parses an action `Allowed` accepts.
template <bool (*Allowed)(CloseAction)>
std::optional<CloseAction> parse_allowed_action(std::string_view text) {
  const auto a = parse_close_action(text);
  return a && Allowed(*a) ? a : std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Settings

/// The setting types of the profile format.
enum class SettingType { duration, boolean, action, size, count };

/// A setting's value; the alternative's index is its SettingType. A size of 0 is "none".
using SettingValue = std::variant<std::optional<Duration>, bool, CloseAction, std::uint64_t, std::uint32_t>;

/// Setting types as the profile's `type:` spells them.
constexpr EnumNames<SettingType, 5> kSettingTypes{{{SettingType::duration, "duration"},
                                                   {SettingType::boolean, "bool"},
                                                   {SettingType::action, "action"},
                                                   {SettingType::size, "size"},
                                                   {SettingType::count, "count"}}};

/// The largest count a profile takes (HAProxy's `retries` has no documented maximum).
constexpr std::uint64_t kMaxCount = 1000;

/// A whole number of times, 0-1000 (`retries`).
std::optional<std::uint32_t> parse_count(std::string_view text) {
  const auto n = parse_unsigned(text);
  if (!n || *n > kMaxCount) return std::nullopt;
  return static_cast<std::uint32_t>(*n);
}

/// "duration", "bool", "action", "size" or "count".
std::string_view to_string(SettingType t) { return name_of(kSettingTypes, t); }

/// Parses a `type:` value.
std::optional<SettingType> parse_setting_type(std::string_view text) { return value_named(kSettingTypes, text); }

/// "duration, bool, action, size or count", for the fixes that ask for a type.
std::string setting_type_names() {
  std::vector<std::string> names;
  for (const auto& [type, name] : kSettingTypes) names.emplace_back(name);
  return join_or(names);
}

/// The canonical text of a value: format_duration, "none", "on"/"off", an action name,
/// format_size, a count's digits.
std::string canonical(const SettingValue& v) {
  if (const auto* d = std::get_if<std::optional<Duration>>(&v)) return *d ? format_duration(**d) : "none";
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "on" : "off";
  if (const auto* size = std::get_if<std::uint64_t>(&v)) return format_size(*size);
  if (const auto* count = std::get_if<std::uint32_t>(&v)) return std::to_string(*count);
  return std::string(to_string(std::get<CloseAction>(v)));
}

/// One `settings:` entry.
struct SettingDecl {
  std::string name;                  ///< as the real system names it
  SettingType type = SettingType::duration;
  std::string unit;                  ///< duration only: what a bare number means ("s", "ms"); "" none
  std::vector<std::string> aliases;  ///< other accepted names
  std::string doc;                   ///< one line
  SettingValue default_value;        ///< the profile's default
  SettingValue value;                ///< the value in force (default, or --set)
  std::optional<SettingValue> min;   ///< the real system's lowest value (duration, size, count)
  std::optional<SettingValue> max;   ///< the real system's highest value
  std::string range_doc;             ///< where the range is documented; "" when `doc` says it
  /// min, max and value as written (4000s, not 1h6m40s), for the range warning
  std::string min_text;
  std::string max_text;
  std::string value_text;
  /// Where `value` was written (the default's line, or the --set / config entry), for the
  /// range warning.
  std::string value_file;
  std::pair<int, int> value_at{0, 0};
};

/// The value a setting of type `t` falls back to when its default cannot be read, so that
/// the rest of the profile can still be checked against it.
SettingValue zero_value(SettingType t) {
  switch (t) {
    case SettingType::duration: return std::optional<Duration>{};
    case SettingType::boolean: return false;
    case SettingType::action: return CloseAction::fin;
    case SettingType::size: return SettingValue{std::in_place_type<std::uint64_t>, 0u};
    case SettingType::count: return SettingValue{std::in_place_type<std::uint32_t>, 0u};
  }
  return std::optional<Duration>{};
}

/// True for the types whose values are ordered and may declare `min:`/`max:`.
constexpr bool has_range(SettingType t) {
  return t == SettingType::duration || t == SettingType::size || t == SettingType::count;
}

/// True when `v` lies outside [min, max]. A disabled duration (none) or size (none) is not
/// a value on the scale, so no range refuses it.
bool outside(const SettingValue& v, const std::optional<SettingValue>& min, const std::optional<SettingValue>& max) {
  if (const auto* d = std::get_if<std::optional<Duration>>(&v); d && !*d) return false;
  if (const auto* size = std::get_if<std::uint64_t>(&v); size && *size == 0) return false;
  // Same alternative (the declaration parsed them with the setting's type), so < orders
  // the values; an engaged optional<Duration> compares by its duration.
  return (min && v < *min) || (max && *max < v);
}


/// "1s-4000s", "at least 1s", "at most 4000s", as the declaration writes them.
std::string range_text(const SettingDecl& s) {
  if (s.min && s.max) return fmt::format("{}-{}", s.min_text, s.max_text);
  return s.min ? "at least " + s.min_text : "at most " + s.max_text;
}

/// Reads `text` as a value of setting `s`; nullopt when it is not one.
std::optional<SettingValue> parse_setting_value(const SettingDecl& s, std::string_view text) {
  switch (s.type) {
    case SettingType::duration: {
      using Opt = std::optional<Duration>;
      if (text == "none" || text == "off") return SettingValue{Opt{}};
      if (const auto d = parse_duration(text)) return SettingValue{Opt{*d}};
      if (!s.unit.empty() && is_bare_number(text)) {
        if (const auto d = parse_duration(std::string(text) + s.unit)) return SettingValue{Opt{*d}};
      }
      return std::nullopt;
    }
    case SettingType::boolean:
      if (const auto b = parse_bool(text)) return SettingValue{*b};
      return std::nullopt;
    case SettingType::action:
      if (const auto a = parse_close_action(text)) return SettingValue{*a};
      return std::nullopt;
    case SettingType::size:
      if (const auto size = parse_size(text)) return SettingValue{std::in_place_type<std::uint64_t>, *size};
      return std::nullopt;
    case SettingType::count:
      if (const auto count = parse_count(text)) return SettingValue{std::in_place_type<std::uint32_t>, *count};
      return std::nullopt;
  }
  return std::nullopt;
}

/// What a value of `s` looks like, phrased as the fix.
std::string value_fix(const SettingDecl& s) {
  switch (s.type) {
    case SettingType::duration:
      return s.unit.empty()
                 ? "write it with a unit, e.g. 60s, 300ms, 2m, 1h, or none (a bare number "
                   "needs `unit:` in the setting's declaration)"
                 : fmt::format("write it with a unit, e.g. 60s, 300ms, 2m, 1h, a bare number "
                               "(meaning {}, the setting's `unit:`), or none", s.unit);
    case SettingType::boolean: return "write on or off (or true/false, yes/no)";
    case SettingType::action: return any_action_fix();
    case SettingType::size: return std::string(kSizeFix);
    case SettingType::count: return std::string(kCountFix);
  }
  return {};
}

/// "a duration", "a bool", "an action", "a size".
std::string_view value_what(SettingType t) {
  switch (t) {
    case SettingType::duration: return "a duration";
    case SettingType::boolean: return "a bool";
    case SettingType::action: return "an action";
    case SettingType::size: return "a size";
    case SettingType::count: return "a count";
  }
  return "a value";
}

// ---------------------------------------------------------------------------------------
// Field literals: what each field of the profile accepts when written literally.

/// How to read one field's literal, and which settings may feed it.
template <class T>
struct Literal {
  std::string_view what;                           ///< "a duration", "a close action"
  std::optional<SettingType> setting;              ///< settings of this type may feed it
  std::optional<T> (*parse)(std::string_view);     ///< the literal's parser
  std::string_view fix;                            ///< how to write it
  bool quoted_is_text = false;  ///< free text: a quoted '$...' is the text itself, not a $setting
};

/// The phases of a timer's `while:` list.
enum class Phase { open, upstream_finished, downstream_finished };

/// A duration, or none/off for "disabled".
std::optional<std::optional<Duration>> parse_optional_duration(std::string_view text) {
  if (text == "none" || text == "off") return std::make_optional(std::optional<Duration>{});
  if (const auto d = parse_duration(text)) return std::make_optional(std::optional<Duration>{*d});
  return std::nullopt;
}

/// The phases as `while:` spells them.
constexpr EnumNames<Phase, 3> kPhases{{{Phase::open, "open"},
                                       {Phase::upstream_finished, "upstream_finished"},
                                       {Phase::downstream_finished, "downstream_finished"}}};

/// Parses one `while:` entry.
std::optional<Phase> parse_phase(std::string_view text) { return value_named(kPhases, text); }

/// Parses one `reset_on:` entry, as profile.cpp spells the kinds.
std::optional<FrameKind> parse_frame_kind(std::string_view text) {
  for (FrameKind k : kFrameKinds) {
    if (to_string(k) == text) return k;
  }
  return std::nullopt;
}

/// "write data, ping, pong or close".
std::string frame_kind_fix() {
  std::vector<std::string> names;
  for (FrameKind k : kFrameKinds) names.emplace_back(to_string(k));
  return "write " + join_or(names) + " (data: text, binary and continuation frames)";
}

/// The handshake policies as `handshake:` spells them.
constexpr EnumNames<HandshakePolicy::Kind, 3> kHandshakeKinds{
    {{HandshakePolicy::Kind::forward, "forward"},
     {HandshakePolicy::Kind::strip_upgrade, "strip_upgrade"},
     {HandshakePolicy::Kind::reject, "reject"}}};

/// "forward", "strip_upgrade" or "reject".
std::string_view to_string(HandshakePolicy::Kind k) { return name_of(kHandshakeKinds, k); }

/// Parses a handshake policy.
std::optional<HandshakePolicy::Kind> parse_handshake_kind(std::string_view text) {
  return value_named(kHandshakeKinds, text);
}

/// A WebSocket close code a proxy may send: registered codes and the application range.
/// 1004 is reserved; 1005, 1006 and 1015 are only reported by an endpoint, never sent; peers
/// treat 1016-2999 as a protocol error (RFC 6455 7.4; IANA WebSocket close code registry).
std::optional<std::uint16_t> parse_ws_code(std::string_view text) {
  const auto code = parse_unsigned(text);
  if (!code) return std::nullopt;
  const bool registered = (*code >= 1000 && *code <= 1003) || (*code >= 1007 && *code <= 1014);
  if (!registered && !(*code >= 3000 && *code <= 4999)) return std::nullopt;
  return static_cast<std::uint16_t>(*code);
}

/// A final HTTP status, 200-599 (a 1xx is not a final response).
std::optional<int> parse_http_status(std::string_view text) {
  const auto status = parse_unsigned(text);
  if (!status || *status < 200 || *status > 599) return std::nullopt;
  return static_cast<int>(*status);
}

/// Free text: taken as written.
std::optional<std::string> parse_text(std::string_view text) { return std::string(text); }

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
const std::string kFrameKindFix = frame_kind_fix();

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
const Literal<FrameKind> kFrameKind{"a frame kind", std::nullopt, parse_frame_kind, kFrameKindFix};
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
const Literal<int> kHttpStatus{"an HTTP status", std::nullopt, parse_http_status,
                               "write a final status, 200-599, e.g. 403 or 504"};
const Literal<std::uint64_t> kSize{"a size", SettingType::size, parse_size, kSizeFix};
const Literal<std::uint32_t> kCount{"a count", SettingType::count, parse_count, kCountFix};

// The keys each mapping accepts, in the order the format documents them.
constexpr std::string_view kTopKeys[] = {"name",     "description", "source",     "mode",
                                         "time_scale", "settings",  "connect",    "half_close",
                                         "blackhole_hold", "handshake", "limits",   "timers"};
constexpr std::string_view kSettingKeys[] = {"type", "default", "unit", "min", "max", "aliases", "doc", "range_doc"};
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
constexpr std::string_view kHandshakeKeys[] = {"policy", "status"};
constexpr std::string_view kLimitKeys[] = {"max_frame", "max_message", "on_exceed"};
constexpr std::string_view kIfKeys[] = {"if", "then", "else"};
constexpr std::string_view kUnits[] = {"ns", "us", "ms", "s", "m", "h"};

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

/// True when either side of `a` is `action`.
bool uses(const SideActions& a, CloseAction action) { return a.client == action || a.upstream == action; }

/// The names in `keys`, as strings, for messages and suggestions.
std::vector<std::string> names_of(std::span<const std::string_view> keys) {
  return {keys.begin(), keys.end()};
}

// ---------------------------------------------------------------------------------------
// The loader

/// Reads one profile document; holds the declared settings (the file label is YamlReader's).
class Loader : private YamlReader {
 public:
  /// `file` labels every error.
  explicit Loader(std::string file) : YamlReader(std::move(file)) {}

  /// The resolved profile of `root`, with `overrides` applied and durations scaled.
  Profile load(const YAML::Node& root, const std::vector<SettingOverride>& overrides, double scale, bool strict);

 private:
  void expect_map(const YAML::Node& n, std::string_view what) const;
  void expect_list(const YAML::Node& n, std::string_view what) const;
  /// Hides YamlReader::scalar: here a single value may also be a $setting or an if:
  /// expression, and an empty one has a message of its own.
  std::string scalar(const YAML::Node& n, std::string_view what) const;

  void read_settings(const YAML::Node& n);
  SettingDecl read_setting(const YAML::Node& key, const YAML::Node& body) const;
  std::string read_unit(const YAML::Node& body, SettingType type) const;
  void read_range(const YAML::Node& body, SettingDecl& s) const;
  void check_ranges(Profile& p, bool strict) const;
  std::vector<std::string> read_aliases(const YAML::Node& body) const;
  void check_setting_names(const YAML::Node& key, const SettingDecl& s) const;
  void apply_override(const SettingOverride& o);
  std::optional<std::size_t> find_setting(std::string_view name) const;
  const SettingDecl& setting_ref(const YAML::Node& at, std::string_view ref) const;
  std::vector<std::string> setting_names() const;
  std::vector<Setting> settings_in_force() const;

  template <class T>
  T eval(const YAML::Node& n, std::string_view field, const Literal<T>& lit) const;
  template <class T>
  T eval_ref(const YAML::Node& n, const std::string& ref, std::string_view field,
             const Literal<T>& lit) const;
  template <class T>
  T eval_if(const YAML::Node& n, std::string_view field, const Literal<T>& lit) const;
  template <class T>
  T field_or(const YAML::Node& map, std::string_view key, const Literal<T>& lit, T fallback,
             std::string_view label = {}) const;
  bool condition(const YAML::Node& n) const;
  template <class T>
  std::string mismatch(const SettingDecl& s, std::string_view field, const Literal<T>& lit) const;
  template <class T>
  bool could_be(const YAML::Node& n, const Literal<T>& lit, const T& value, const T& fallback) const;

  double read_file_scale(const YAML::Node& n) const;
  ConnectPolicy read_connect(const YAML::Node& n, Mode mode) const;
  void check_http_only(const YAML::Node& map, std::string_view key, Mode mode, std::string_view what) const;
  HandshakePolicy read_handshake(const YAML::Node& root, Mode mode) const;
  MessageLimits read_limits(const YAML::Node& root, Mode mode) const;
  std::vector<TimerSpec> read_timers(const YAML::Node& n, Mode mode) const;
  TimerSpec read_timer(const YAML::Node& n, Mode mode) const;
  void check_kind_keys(const YAML::Node& n, TimerKind kind, std::string_view owner) const;
  Phases read_phases(const YAML::Node& n) const;
  FrameKinds read_reset_on(const YAML::Node& n) const;
  SideActions read_actions(const YAML::Node& n, const std::string& section, const SideActions& defaults,
                           const Literal<CloseAction>& action, Mode mode) const;
  HalfClosePolicy read_half_close(const YAML::Node& n) const;

  std::string profile_name_;            ///< for --set messages
  std::vector<SettingDecl> settings_;   ///< in declaration order
  /// Settings whose declaration failed (already reported): a $reference to one is not
  /// reported again as "refers to no declared setting".
  std::vector<std::string> broken_settings_;
};

void Loader::expect_map(const YAML::Node& n, std::string_view what) const {
  if (!n.IsMap()) fail(n, fmt::format("{} must be a mapping (key: value lines), found {}", what, shape(n)));
}

void Loader::expect_list(const YAML::Node& n, std::string_view what) const {
  if (!n.IsSequence()) fail(n, fmt::format("{} must be a list ([a, b] or '- item' lines), found {}", what, shape(n)));
}

std::string Loader::scalar(const YAML::Node& n, std::string_view what) const {
  if (n.IsScalar()) return n.Scalar();
  if (n.IsNull()) fail(n, fmt::format("'{}' is empty: write a value after the colon", what));
  fail(n, fmt::format("'{}' must be a single value (a literal, a $setting or an if: expression), found {}",
                      what, shape(n)));
}

// --- settings ---------------------------------------------------------------------------

void Loader::read_settings(const YAML::Node& n) {
  expect_map(n, "'settings'");
  check_unique_keys(n, "'settings'");
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) continue;  // reported by check_unique_keys
    const bool read = attempt([&] {
      SettingDecl s = read_setting(it->first, it->second);
      check_setting_names(it->first, s);
      settings_.push_back(std::move(s));
    });
    if (!read) broken_settings_.push_back(it->first.Scalar());
  }
}

SettingDecl Loader::read_setting(const YAML::Node& key, const YAML::Node& body) const {
  SettingDecl s;
  s.name = key.Scalar();
  const std::string owner = fmt::format("setting '{}'", s.name);
  expect_map(body, owner);
  check_keys(body, kSettingKeys, owner);
  const YAML::Node type = require(body, "type", owner, "add type: " + setting_type_names());
  const auto parsed_type = parse_setting_type(scalar(type, "type"));
  if (!parsed_type) {
    fail(type, fmt::format("'{}' is not a setting type: write {}", type.Scalar(), setting_type_names()));
  }
  s.type = *parsed_type;
  attempt([&] { s.unit = read_unit(body, s.type); });
  attempt([&] { s.aliases = read_aliases(body); });
  attempt([&] {
    if (const YAML::Node doc = child(body, "doc")) s.doc = scalar(doc, "doc");
  });
  // A default that cannot be read is reported, and the setting kept with its type's zero
  // value: the fields that refer to it are still checked.
  s.default_value = s.value = zero_value(s.type);
  s.value_file = file();
  attempt([&] {
    const YAML::Node def = require(body, "default", owner, "add default: with the real system's default");
    s.value_at = position(def);
    const std::string text = scalar(def, "default");
    const auto value = parse_setting_value(s, text);
    if (!value) fail(def, fmt::format("'{}' is not {} for {}: {}", text, value_what(s.type), owner, value_fix(s)));
    s.default_value = s.value = *value;
    s.value_text = text;
  });
  read_range(body, s);
  return s;
}

void Loader::read_range(const YAML::Node& body, SettingDecl& s) const {
  const std::string owner = fmt::format("setting '{}'", s.name);
  for (const std::string_view key : {"min", "max"}) {
    attempt([&] {
      const YAML::Node n = child(body, key);
      if (!n) return;
      if (!has_range(s.type)) {
        fail(key_node(body, key), fmt::format("'{}' applies only to duration, size and count settings, and {} is {}: "
                                              "remove it", key, owner, to_string(s.type)));
      }
      const std::string text = scalar(n, key);
      const auto value = parse_setting_value(s, text);
      if (!value || canonical(*value) == "none") {
        fail(n, fmt::format("'{}' is not {} for {}'s {}: {} (not none: a range bounds real values)", text,
                            value_what(s.type), owner, key, value_fix(s)));
      }
      (key == "min" ? s.min : s.max) = *value;
      (key == "min" ? s.min_text : s.max_text) = text;
    });
  }
  attempt([&] {
    if (const YAML::Node doc = child(body, "range_doc")) s.range_doc = scalar(doc, "range_doc");
  });
  if (s.min && s.max && *s.max < *s.min) {
    record(key_node(body, "max"), fmt::format("{}'s max {} is below its min {}: swap them", owner, s.max_text,
                                              s.min_text));
    s.min = s.max = std::nullopt;
  }
}

std::string Loader::read_unit(const YAML::Node& body, SettingType type) const {
  const YAML::Node unit = child(body, "unit");
  if (!unit) return {};
  if (type != SettingType::duration) {
    fail(key_node(body, "unit"), "'unit' applies only to duration settings: remove it");
  }
  const std::string text = scalar(unit, "unit");
  const std::vector<std::string> units = names_of(kUnits);
  if (std::find(units.begin(), units.end(), text) == units.end()) {
    fail(unit, fmt::format("'{}' is not a unit: write one of {}", text, join(units)));
  }
  return text;
}

std::vector<std::string> Loader::read_aliases(const YAML::Node& body) const {
  const YAML::Node aliases = child(body, "aliases");
  if (!aliases) return {};
  expect_list(aliases, "'aliases'");
  std::vector<std::string> out;
  for (const YAML::Node& a : aliases) out.push_back(scalar(a, "aliases"));
  return out;
}

void Loader::check_setting_names(const YAML::Node& key, const SettingDecl& s) const {
  std::vector<std::string> names = s.aliases;
  names.push_back(s.name);
  for (const std::string& name : names) {
    if (find_setting(name)) {
      fail(key, fmt::format("setting name '{}' is already taken by an earlier setting or alias: "
                            "rename one of them", name));
    }
  }
}

std::optional<std::size_t> Loader::find_setting(std::string_view name) const {
  const std::string wanted = normalise_name(name);
  for (std::size_t i = 0; i < settings_.size(); ++i) {
    const SettingDecl& s = settings_[i];
    if (normalise_name(s.name) == wanted) return i;
    for (const std::string& a : s.aliases) {
      if (normalise_name(a) == wanted) return i;
    }
  }
  return std::nullopt;
}

std::vector<std::string> Loader::setting_names() const {
  std::vector<std::string> names;
  for (const SettingDecl& s : settings_) names.push_back(s.name);
  return names;
}

void Loader::apply_override(const SettingOverride& o) {
  const auto index = find_setting(o.name);
  if (!index) {
    if (std::find(broken_settings_.begin(), broken_settings_.end(), o.name) != broken_settings_.end()) return;
    record(ProfileError(o.file, o.name_line, o.name_column,
                        fmt::format("profile '{}' has no setting '{}'{}; its settings: {}", profile_name_, o.name,
                                    did_you_mean(normalise_name(o.name), setting_names()), join(setting_names()))));
    return;
  }
  SettingDecl& s = settings_[*index];
  const auto value = parse_setting_value(s, trim(o.value));
  if (!value) {
    record(ProfileError(o.file, o.value_line, o.value_column,
                        fmt::format("'{}' is not {} for setting '{}': {}", o.value, value_what(s.type), s.name,
                                    value_fix(s))));
    return;
  }
  s.value = *value;
  s.value_text = trim(o.value);
  s.value_file = o.file;
  s.value_at = {o.value_line, o.value_column};
}

const SettingDecl& Loader::setting_ref(const YAML::Node& at, std::string_view ref) const {
  const std::string_view name = ref.substr(1);  // without '$'
  for (const SettingDecl& s : settings_) {
    if (s.name == name || std::find(s.aliases.begin(), s.aliases.end(), name) != s.aliases.end()) return s;
  }
  if (std::find(broken_settings_.begin(), broken_settings_.end(), name) != broken_settings_.end()) {
    throw AlreadyReported{};
  }
  fail(at, fmt::format("'{}' refers to no declared setting{}; declare it under 'settings:' or use one of: {}",
                       ref, did_you_mean(name, setting_names(), "$"), join(setting_names())));
}

std::vector<Setting> Loader::settings_in_force() const {
  std::vector<Setting> out;
  for (const SettingDecl& s : settings_) {
    out.push_back({s.name, std::string(to_string(s.type)), canonical(s.value), canonical(s.default_value), s.doc,
                   s.min ? canonical(*s.min) : "", s.max ? canonical(*s.max) : "", s.range_doc, ""});
  }
  return out;
}

// --- expressions ------------------------------------------------------------------------

template <class T>
T Loader::eval(const YAML::Node& n, std::string_view field, const Literal<T>& lit) const {
  if (n.IsMap()) return eval_if(n, field, lit);
  const std::string text = scalar(n, field);
  const bool quoted = n.Tag() == "!";  // yaml-cpp tags a quoted scalar "!", a plain one "?"
  if (text.starts_with('$') && !(lit.quoted_is_text && quoted)) return eval_ref(n, text, field, lit);
  if (const auto v = lit.parse(text)) return *v;
  fail(n, fmt::format("'{}' is not {} (in '{}'): {}", text, lit.what, field, lit.fix));
}

template <class T>
T Loader::eval_ref(const YAML::Node& n, const std::string& ref, std::string_view field,
                   const Literal<T>& lit) const {
  const SettingDecl& s = setting_ref(n, ref);
  if (lit.setting != s.type) fail(n, mismatch(s, field, lit));
  const std::string value = canonical(s.value);
  if (const auto v = lit.parse(value)) return *v;
  if (value == "none" && s.type == SettingType::duration) {  // a field that cannot be disabled
    fail(n, fmt::format("setting '{}' is {}, but '{}' cannot be disabled: set it to a duration "
                        "(e.g. --set {}=5s)", s.name, value, field, s.name));
  }
  // An action this field refuses (e.g. ws_close for connect.on_failure).
  fail(n, fmt::format("setting '{}' is {}, which '{}' does not take: {} (e.g. --set {}=...)", s.name,
                      value, field, lit.fix, s.name));
}

template <class T>
std::string Loader::mismatch(const SettingDecl& s, std::string_view field, const Literal<T>& lit) const {
  if (s.type == SettingType::boolean) {
    return fmt::format("'${}' is a bool setting, which can only be tested: write "
                       "{{if: ${}, then: ..., else: ...}} for '{}'", s.name, s.name, field);
  }
  if (!lit.setting) {
    return fmt::format("'{}' cannot take '${}' ({} setting): {}, or an if: expression", field,
                       s.name, to_string(s.type), lit.fix);
  }
  return fmt::format("'${}' is {} setting, but '{}' needs {}: refer to {} setting or write a literal",
                     s.name, value_what(s.type), field, lit.what, value_what(*lit.setting));
}

template <class T>
T Loader::eval_if(const YAML::Node& n, std::string_view field, const Literal<T>& lit) const {
  const std::string owner = fmt::format("the if: expression of '{}'", field);
  check_keys(n, kIfKeys, owner);
  const bool test = condition(require(n, "if", owner, "add if: $a_bool_or_duration_setting"));
  // Both branches are evaluated so that a typo is reported whichever way the test goes.
  T then_value = eval(require(n, "then", owner, "add then: <value when true>"), field, lit);
  T else_value = eval(require(n, "else", owner, "add else: <value when false>"), field, lit);
  return test ? then_value : else_value;
}

bool Loader::condition(const YAML::Node& n) const {
  const std::string text = scalar(n, "if");
  if (!text.starts_with('$')) {
    if (const auto b = parse_bool(text)) return *b;
    fail(n, fmt::format("if: takes a $setting (bool, or duration meaning 'is set') or on/off, not '{}'", text));
  }
  const SettingDecl& s = setting_ref(n, text);
  switch (s.type) {
    case SettingType::boolean: return std::get<bool>(s.value);
    case SettingType::duration: return std::get<std::optional<Duration>>(s.value).has_value();
    case SettingType::size: return std::get<std::uint64_t>(s.value) != 0;
    case SettingType::count: return std::get<std::uint32_t>(s.value) != 0;
    case SettingType::action: break;
  }
  fail(n, fmt::format("'{}' is an action setting; if: tests a bool setting (on/off), a duration "
                      "or size setting (set, or none), or a count (not 0)", text));
}

template <class T>
bool Loader::could_be(const YAML::Node& n, const Literal<T>& lit, const T& value, const T& fallback) const {
  if (!n.IsDefined()) return fallback == value;
  if (n.IsMap()) {  // an if: expression (already evaluated, so well formed): either branch
    return could_be(n["then"], lit, value, fallback) || could_be(n["else"], lit, value, fallback);
  }
  if (n.IsScalar() && n.Scalar().starts_with('$')) return true;  // --set may give it any value
  const auto v = n.IsScalar() ? lit.parse(n.Scalar()) : std::nullopt;
  return v && *v == value;
}

template <class T>
T Loader::field_or(const YAML::Node& map, std::string_view key, const Literal<T>& lit, T fallback,
                   std::string_view label) const {
  // A bad value is reported and the field keeps its default, so that the rest is checked.
  T value = fallback;
  attempt([&] {
    const YAML::Node n = child(map, key);
    if (n.IsDefined()) value = eval(n, label.empty() ? key : label, lit);
  });
  return value;
}

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
  // Keep only what acts, so that the resolved profile (and to_yaml) carries no stray status.
  if (h.kind != HandshakePolicy::Kind::reject) h.status = HandshakePolicy{}.status;
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
  check_http_only(n, "reset_on", mode, "which WebSocket frames reset the timer; in mode tcp every byte does");
  attempt([&] {
    if (const YAML::Node frames = child(n, "reset_on")) t.reset_on = read_reset_on(frames);
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

FrameKinds Loader::read_reset_on(const YAML::Node& n) const {
  expect_list(n, "'reset_on'");
  if (n.size() == 0) {
    fail(n, "an empty 'reset_on' list means no WebSocket frame resets the timer: write kind: lifetime "
            "if no traffic should count, or list the frames that do (data, ping, pong, close)");
  }
  FrameKinds k{false, false, false, false};
  for (const YAML::Node& item : n) {
    attempt([&] {
      switch (eval(item, "reset_on", kFrameKind)) {
        case FrameKind::data: k.data = true; break;
        case FrameKind::ping: k.ping = true; break;
        case FrameKind::pong: k.pong = true; break;
        case FrameKind::close: k.close = true; break;
      }
    });
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

HalfClosePolicy Loader::read_half_close(const YAML::Node& n) const {
  HalfClosePolicy h;
  if (!n.IsDefined()) return h;
  if (!n.IsMap() || n["if"]) {  // one rule for both peers' FIN
    h.client_fin = h.server_fin = eval(n, "half_close", kHalfClose);
    return h;
  }
  check_keys(n, kHalfCloseKeys, "'half_close'");
  h.client_fin = field_or(n, "client_fin", kHalfClose, h.client_fin, "half_close.client_fin");
  h.server_fin = field_or(n, "server_fin", kHalfClose, h.server_fin, "half_close.server_fin");
  return h;
}

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
  p.connect.retry_interval = scaled(p.connect.retry_interval, "connect.retry_interval");
  p.blackhole_hold = scaled(p.blackhole_hold, "blackhole_hold");
  for (TimerSpec& t : p.timers) {
    if (t.timeout) t.timeout = scaled(*t.timeout, "timer " + t.name);
    t.rearm_granularity = scaled(t.rearm_granularity, "timer " + t.name);
  }
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
  profile_name_ = p.name;
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
  attempt([&] { p.handshake = read_handshake(root, p.mode); });
  attempt([&] { p.limits = read_limits(root, p.mode); });
  attempt([&] { p.timers = read_timers(child(root, "timers"), p.mode); });
  p.settings = settings_in_force();
  check_ranges(p, strict);
  finish();
  scale_durations(p, factor);
  p.time_scale = file_scale * factor;
  return p;
}

void Loader::check_ranges(Profile& p, bool strict) const {
  for (const SettingDecl& s : settings_) {
    // A default outside the range is only a warning too: a resolved profile printed by
    // `dropsim profiles` has the --set value as its default, and must load again.
    if (!outside(s.value, s.min, s.max)) continue;
    const std::string message =
        fmt::format("{} {} is outside what {} allows ({}, {})", s.name, s.value_text, profile_name_,
                    range_text(s), s.range_doc.empty() ? s.doc : s.range_doc);
    const auto [line, column] = s.value_at;
    if (strict) {
      record(ProfileError(s.value_file, line, column, message + " (--strict; without it, a warning)"));
    } else {
      p.warnings.emplace_back(ProfileError(s.value_file, line, column, "warning: " + message).what());
    }
  }
}

// ---------------------------------------------------------------------------------------
// to_yaml

/// Emits one setting as a declaration whose default is the value in force.
void emit_setting(YAML::Emitter& out, const Setting& s) {
  out << YAML::Key << s.name << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "type" << YAML::Value << s.type;
  out << YAML::Key << "default" << YAML::Value << s.value;
  std::vector<std::string> notes;
  if (!s.scaled_value.empty()) notes.push_back("runs as " + s.scaled_value + " after time_scale");
  if (s.value != s.default_value) notes.push_back("profile default: " + s.default_value);
  if (!notes.empty()) out << YAML::Comment(fmt::format("{}", fmt::join(notes, "; ")));
  if (!s.min.empty()) out << YAML::Key << "min" << YAML::Value << s.min;
  if (!s.max.empty()) out << YAML::Key << "max" << YAML::Value << s.max;
  if (!s.doc.empty()) out << YAML::Key << "doc" << YAML::Value << s.doc;
  if (!s.range_doc.empty()) out << YAML::Key << "range_doc" << YAML::Value << s.range_doc;
  out << YAML::EndMap;
}

/// Emits `while:` as a flow list.
void emit_phases(YAML::Emitter& out, const Phases& p) {
  out << YAML::Key << "while" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  if (p.open) out << "open";
  if (p.upstream_finished) out << "upstream_finished";
  if (p.downstream_finished) out << "downstream_finished";
  out << YAML::EndSeq;
}

/// "60s", or "none" when disabled.
std::string duration_text(const std::optional<Duration>& d) { return d ? format_duration(*d) : "none"; }

/// Emits `key: {client: .., upstream: .., ws_code: .., ...}` with the details only where an
/// action uses them.
void emit_actions(YAML::Emitter& out, std::string_view key, const SideActions& a) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "client" << YAML::Value << std::string(to_string(a.client));
  out << YAML::Key << "upstream" << YAML::Value << std::string(to_string(a.upstream));
  if (uses(a, CloseAction::ws_close)) {
    out << YAML::Key << "ws_code" << YAML::Value << a.ws_code;
    // Quoted, so that a reason starting with '$' reads back as text, not as a $setting.
    out << YAML::Key << "ws_reason" << YAML::Value << YAML::DoubleQuoted << a.ws_reason;
  }
  if (uses(a, CloseAction::http_status)) out << YAML::Key << "http_status" << YAML::Value << a.http_status;
  out << YAML::EndMap;
}

/// Emits `reset_on:` as a flow list.
void emit_reset_on(YAML::Emitter& out, const FrameKinds& k) {
  out << YAML::Key << "reset_on" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (FrameKind kind : kFrameKinds) {
    if (k.contains(kind)) out << std::string(to_string(kind));
  }
  out << YAML::EndSeq;
}

/// Emits one timer with only the keys that apply to its kind (and, for reset_on, the mode).
void emit_timer(YAML::Emitter& out, const TimerSpec& t, Mode mode) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << t.name;
  out << YAML::Key << "kind" << YAML::Value << std::string(to_string(t.kind));
  out << YAML::Key << "timeout" << YAML::Value << duration_text(t.timeout);
  if (t.kind == TimerKind::idle) {
    out << YAML::Key << "reset_by" << YAML::Value << std::string(to_string(t.reset_by));
    if (mode == Mode::http) emit_reset_on(out, t.reset_on);
    out << YAML::Key << "rearm_granularity" << YAML::Value << format_duration(t.rearm_granularity);
    if (t.paused_while_blocked) {
      out << YAML::Key << "paused_while_blocked" << YAML::Value << std::string(to_string(*t.paused_while_blocked));
    }
  }
  if (t.kind == TimerKind::blocked_write) {
    out << YAML::Key << "direction" << YAML::Value << std::string(to_string(t.direction));
  }
  emit_phases(out, t.phases);
  emit_actions(out, "on_expiry", t.on_expiry);
  out << YAML::EndMap;
}

/// Emits `handshake:`: the policy alone, or {policy: reject, status: N}.
void emit_handshake(YAML::Emitter& out, const HandshakePolicy& h) {
  out << YAML::Key << "handshake" << YAML::Value;
  if (h.kind != HandshakePolicy::Kind::reject) {
    out << std::string(to_string(h.kind));
    return;
  }
  out << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "policy" << YAML::Value << std::string(to_string(h.kind));
  out << YAML::Key << "status" << YAML::Value << h.status;
  out << YAML::EndMap;
}

/// Emits `limits:` with every key.
void emit_limits(YAML::Emitter& out, const MessageLimits& l) {
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_frame" << YAML::Value << format_size(l.max_frame);
  out << YAML::Key << "max_message" << YAML::Value << format_size(l.max_message);
  emit_actions(out, "on_exceed", l.on_exceed);
  out << YAML::EndMap;
}

}  // namespace

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
  if (eq == std::string_view::npos || trim(text.substr(0, eq)).empty()) {
    throw ProfileError("--set", 0, 0,
                       fmt::format("'{}' is not NAME=VALUE: write e.g. --set proxy_read_timeout=2s", text));
  }
  return {std::string(trim(text.substr(0, eq))), std::string(trim(text.substr(eq + 1)))};
}

Profile load_profile(std::string_view text, const std::string& file,
                     const std::vector<SettingOverride>& overrides, double time_scale, bool strict) {
  if (!(time_scale > 0) || !std::isfinite(time_scale)) {
    throw ProfileError("--time-scale", 0, 0,
                       fmt::format("{} is not a positive number: write e.g. 0.05 to turn 60s into 3s",
                                   time_scale));
  }
  return Loader(file).load(parse_yaml(text, file), overrides, time_scale, strict);
}

std::string to_yaml(const Profile& p) {
  YAML::Emitter out;
  // Settings stay in the profile's own time, the values the real system is configured with
  // (so that `--set` and the range read the same), and a comment gives what runs; every
  // other duration is already scaled, and time_scale says by how much.
  out << YAML::Comment("Resolved profile: settings substituted. Settings are in the profile's own time (a "
                       "comment gives the value after time_scale); every other duration is already "
                       "multiplied by time_scale.");
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << p.name;
  out << YAML::Key << "description" << YAML::Value << p.description;
  out << YAML::Key << "source" << YAML::Value << p.source;
  out << YAML::Key << "mode" << YAML::Value << std::string(to_string(p.mode));
  // fmt prints the shortest text that reads back as the same double (0.05, not 0.05000000000000000277).
  out << YAML::Key << "time_scale" << YAML::Value << fmt::format("{}", p.time_scale);
  out << YAML::Key << "settings" << YAML::Value << YAML::BeginMap;
  for (const Setting& s : p.settings) emit_setting(out, s);
  out << YAML::EndMap;
  out << YAML::Key << "connect" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "timeout" << YAML::Value << format_duration(p.connect.timeout);
  out << YAML::Key << "on_failure" << YAML::Value << std::string(to_string(p.connect.on_failure));
  if (p.connect.on_failure == CloseAction::http_status) {
    out << YAML::Key << "http_status" << YAML::Value << p.connect.http_status;
    out << YAML::Key << "timeout_status" << YAML::Value << p.connect.timeout_status;
    out << YAML::Key << "keepalive" << YAML::Value << format_duration(p.connect.keepalive);
  }
  out << YAML::Key << "retries" << YAML::Value << p.connect.retries;
  out << YAML::Key << "retry_interval" << YAML::Value << format_duration(p.connect.retry_interval);
  out << YAML::EndMap;
  out << YAML::Key << "half_close" << YAML::Value;
  if (p.half_close.client_fin == p.half_close.server_fin) {
    out << std::string(to_string(p.half_close.client_fin));
  } else {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "client_fin" << YAML::Value << std::string(to_string(p.half_close.client_fin));
    out << YAML::Key << "server_fin" << YAML::Value << std::string(to_string(p.half_close.server_fin));
    out << YAML::EndMap;
  }
  out << YAML::Key << "blackhole_hold" << YAML::Value << format_duration(p.blackhole_hold);
  if (p.mode == Mode::http) {  // the loader refuses both in mode tcp
    emit_handshake(out, p.handshake);
    emit_limits(out, p.limits);
  }
  out << YAML::Key << "timers" << YAML::Value << YAML::BeginSeq;
  for (const TimerSpec& t : p.timers) emit_timer(out, t, p.mode);
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace dropsim
