#include "profile_values.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "enum_names.h"

namespace dropsim::detail {

namespace {

/// One byte-size unit.
struct SizeUnit {
  std::string_view name;
  std::uint64_t bytes;
};

/// Largest first: format_size writes the first one that divides a size exactly.
constexpr SizeUnit kSizeUnits[] = {{"GiB", 1ULL << 30}, {"GB", 1'000'000'000}, {"MiB", 1ULL << 20},
                                   {"MB", 1'000'000},   {"KiB", 1ULL << 10},   {"KB", 1'000},
                                   {"B", 1}};

/// The phases as `while:` spells them.
constexpr EnumNames<Phase, 3> kPhases{{{Phase::open, "open"},
                                       {Phase::upstream_finished, "upstream_finished"},
                                       {Phase::downstream_finished, "downstream_finished"}}};

/// The handshake policies as `handshake:` spells them.
constexpr EnumNames<HandshakePolicy::Kind, 3> kHandshakeKinds{
    {{HandshakePolicy::Kind::forward, "forward"},
     {HandshakePolicy::Kind::strip_upgrade, "strip_upgrade"},
     {HandshakePolicy::Kind::reject, "reject"}}};

}  // namespace

std::string join(const std::vector<std::string>& items) {
  return items.empty() ? "(none)" : fmt::format("{}", fmt::join(items, ", "));
}

std::string join_or(const std::vector<std::string>& items) {
  if (items.size() <= 1) return join(items);
  const std::vector<std::string> head(items.begin(), items.end() - 1);
  return fmt::format("{} or {}", fmt::join(head, ", "), items.back());
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

std::string normalise_name(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '-', '_');
  std::replace(out.begin(), out.end(), ' ', '_');
  return out;
}

bool is_bare_number(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  return std::count(text.begin(), text.end(), '.') <= 1 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

std::optional<bool> parse_bool(std::string_view text) {
  if (text == "on" || text == "true" || text == "yes") return true;
  if (text == "off" || text == "false" || text == "no") return false;
  return std::nullopt;
}

std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

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

std::string format_size(std::uint64_t bytes) {
  if (bytes == 0) return "none";
  for (const SizeUnit& u : kSizeUnits) {
    if (bytes % u.bytes == 0) return fmt::format("{}{}", bytes / u.bytes, u.name);
  }
  return fmt::format("{}B", bytes);  // unreachable: "B" divides every size
}

std::optional<std::uint32_t> parse_count(std::string_view text) {
  const auto n = parse_unsigned(text);
  if (!n || *n > kMaxCount) return std::nullopt;
  return static_cast<std::uint32_t>(*n);
}

std::string action_fix(bool (*allowed)(CloseAction)) {
  std::vector<std::string> names;
  for (CloseAction a : all_close_actions()) {
    if (allowed(a)) names.emplace_back(to_string(a));
  }
  return "write " + join_or(names);
}

const std::string& any_action_fix() {
  static const std::string text = action_fix(any_action);
  return text;
}

bool uses(const SideActions& a, CloseAction action) { return a.client == action || a.upstream == action; }

std::optional<std::optional<Duration>> parse_optional_duration(std::string_view text) {
  if (text == "none" || text == "off") return std::make_optional(std::optional<Duration>{});
  if (const auto d = parse_duration(text)) return std::make_optional(std::optional<Duration>{*d});
  return std::nullopt;
}

std::optional<Phase> parse_phase(std::string_view text) { return value_named(kPhases, text); }

std::optional<ResetOnEntry> parse_reset_on(std::string_view text) {
  for (FrameKind k : kFrameKinds) {
    if (to_string(k) == text) return ResetOnEntry{k};
  }
  if (text == "keepalive") return ResetOnEntry{std::nullopt};
  return std::nullopt;
}

std::string reset_on_fix() {
  std::vector<std::string> names;
  for (FrameKind k : kFrameKinds) names.emplace_back(to_string(k));
  names.emplace_back("keepalive");
  return "write " + join_or(names) +
         " (data: text, binary and continuation frames, or every byte in mode tcp; keepalive: TCP keepalive probes)";
}

std::string_view to_string(HandshakePolicy::Kind k) { return name_of(kHandshakeKinds, k); }

std::optional<HandshakePolicy::Kind> parse_handshake_kind(std::string_view text) {
  return value_named(kHandshakeKinds, text);
}

std::optional<std::uint16_t> parse_ws_code(std::string_view text) {
  const auto code = parse_unsigned(text);
  if (!code) return std::nullopt;
  const bool registered = (*code >= 1000 && *code <= 1003) || (*code >= 1007 && *code <= 1014);
  if (!registered && !(*code >= 3000 && *code <= 4999)) return std::nullopt;
  return static_cast<std::uint16_t>(*code);
}

std::optional<int> parse_http_status(std::string_view text) {
  const auto status = parse_unsigned(text);
  if (!status || *status < 200 || *status > 599) return std::nullopt;
  return static_cast<int>(*status);
}

std::optional<std::string> parse_text(std::string_view text) { return std::string(text); }

}  // namespace dropsim::detail
