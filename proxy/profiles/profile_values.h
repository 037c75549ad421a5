#pragma once
// The values a profile writes, as text: booleans, numbers, byte sizes, counts, close actions
// and the enums of the format, each with its parser and the fix a message offers. Pure: no
// YAML, no settings. Internal to the profiles module (the API is profile_yaml.h).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "close_action.h"
#include "duration.h"
#include "profile.h"

namespace dropsim::detail {

// ---------------------------------------------------------------------------------------
// Text helpers

/// "a, b, c", or "(none)" for an empty list.
std::string join(const std::vector<std::string>& items);

/// "a, b or c": the alternatives a fix offers.
std::string join_or(const std::vector<std::string>& items);

/// `text` without surrounding blanks.
std::string_view trim(std::string_view text);

/// `--set` names match with '-' and ' ' read as '_': timeout-tunnel, "timeout tunnel".
std::string normalise_name(std::string_view name);

/// True for "60" or "1.5": what nginx.conf and haproxy.cfg write without a unit.
bool is_bare_number(std::string_view text);

/// on/off, true/false, yes/no, as nginx and YAML 1.1 spell booleans.
std::optional<bool> parse_bool(std::string_view text);

/// A decimal number for time_scale; nullopt unless the whole text is one.
std::optional<double> parse_number(std::string_view text);

/// A whole non-negative decimal integer; nullopt for anything else (signs, blanks, overflow).
std::optional<std::uint64_t> parse_unsigned(std::string_view text);

// ---------------------------------------------------------------------------------------
// Byte sizes (limits): an integer with a unit, as AWS and nginx write them.

inline constexpr std::string_view kSizeFix =
    "write an integer with a unit, e.g. 32KiB, 128KB, 1MiB or 512B (KB, MB, GB are powers of "
    "1000; KiB, MiB, GiB powers of 1024), or none (0) for no limit";

inline constexpr std::string_view kCountFix = "write a whole number from 0 to 1000, e.g. 3";

/// "32KiB" → 32768, "128KB" → 128000; "none", "off" and a bare "0" → 0 (no limit). Any other
/// bare number is refused: 32 could mean bytes or KiB.
std::optional<std::uint64_t> parse_size(std::string_view text);

/// The shortest exact spelling parse_size reads back: 32768 → "32KiB", 0 → "none".
std::string format_size(std::uint64_t bytes);

/// The largest count a profile takes (HAProxy's `retries` has no documented maximum).
inline constexpr std::uint64_t kMaxCount = 1000;

/// A whole number of times, 0-1000 (`retries`).
std::optional<std::uint32_t> parse_count(std::string_view text);

// ---------------------------------------------------------------------------------------
// Close actions: every message that lists them is built from this one list.

/// The actions that act only on an HTTP/WebSocket connection (mode http).
constexpr bool is_http_action(CloseAction a) { return a == CloseAction::ws_close || a == CloseAction::http_status; }
/// The actions that end one direction and leave the connection open (timers only).
constexpr bool is_partial_action(CloseAction a) { return a == CloseAction::half_close || a == CloseAction::keep; }

/// "write fin, rst, fin_rst, blackhole, ws_close or http_status", leaving out what `allowed`
/// refuses.
std::string action_fix(bool (*allowed)(CloseAction));

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
const std::string& any_action_fix();

/// Parses an action `Allowed` accepts.
template <bool (*Allowed)(CloseAction)>
std::optional<CloseAction> parse_allowed_action(std::string_view text) {
  const auto a = parse_close_action(text);
  return a && Allowed(*a) ? a : std::nullopt;
}

/// True when either side of `a` is `action`.
bool uses(const SideActions& a, CloseAction action);

// ---------------------------------------------------------------------------------------
// The other values of the format's fields

/// The phases of a timer's `while:` list.
enum class Phase { open, upstream_finished, downstream_finished };

/// A duration, or none/off for "disabled".
std::optional<std::optional<Duration>> parse_optional_duration(std::string_view text);

/// Parses one `while:` entry.
std::optional<Phase> parse_phase(std::string_view text);

/// One `reset_on:` entry: a WebSocket frame kind (data, ping, pong, close, as profile.cpp
/// spells them), or `keepalive`, TCP keepalive probes.
struct ResetOnEntry {
  std::optional<FrameKind> frame;  ///< nullopt: keepalive
  bool operator==(const ResetOnEntry&) const = default;
};

/// Parses one `reset_on:` entry.
std::optional<ResetOnEntry> parse_reset_on(std::string_view text);

/// "write data, ping, pong, close or keepalive (...)".
std::string reset_on_fix();

/// "forward", "strip_upgrade" or "reject".
std::string_view to_string(HandshakePolicy::Kind k);

/// Parses a handshake policy.
std::optional<HandshakePolicy::Kind> parse_handshake_kind(std::string_view text);

/// A WebSocket close code a proxy may send: registered codes and the application range.
/// 1004 is reserved; 1005, 1006 and 1015 are only reported by an endpoint, never sent; peers
/// treat 1016-2999 as a protocol error (RFC 6455 7.4; IANA WebSocket close code registry).
std::optional<std::uint16_t> parse_ws_code(std::string_view text);

/// A final HTTP status, 200-599 (a 1xx is not a final response).
std::optional<int> parse_http_status(std::string_view text);

/// Free text: taken as written.
std::optional<std::string> parse_text(std::string_view text);

}  // namespace dropsim::detail
