#include "close_action.h"

#include <fmt/format.h>

#include "enum_names.h"

namespace dropsim {
namespace {

constexpr EnumNames<CloseAction, 8> kNames{{{CloseAction::fin, "fin"},
                                            {CloseAction::rst, "rst"},
                                            {CloseAction::fin_rst, "fin_rst"},
                                            {CloseAction::blackhole, "blackhole"},
                                            {CloseAction::ws_close, "ws_close"},
                                            {CloseAction::http_status, "http_status"},
                                            {CloseAction::half_close, "half_close"},
                                            {CloseAction::keep, "keep"}}};

constexpr EnumNames<CloseAction, 8> kObserved{{{CloseAction::fin, "FIN"},
                                               {CloseAction::rst, "RST"},
                                               {CloseAction::fin_rst, "FIN then RST"},
                                               {CloseAction::blackhole, "silence (RST on its next bytes)"},
                                               {CloseAction::ws_close, "a WebSocket close frame, then FIN"},
                                               {CloseAction::http_status, "an HTTP status, then FIN"},
                                               {CloseAction::half_close, "FIN (its direction ends, the other flows on)"},
                                               {CloseAction::keep, "nothing"}}};

constexpr std::array<CloseAction, 8> kAll = [] {
  std::array<CloseAction, 8> all{};
  for (std::size_t i = 0; i < kNames.size(); ++i) all[i] = kNames[i].first;
  return all;
}();

}  // namespace

std::span<const CloseAction> all_close_actions() { return kAll; }

std::string_view to_string(CloseAction a) { return name_of(kNames, a); }

std::string_view describe(CloseAction a) { return name_of(kObserved, a); }

std::optional<CloseAction> parse_close_action(std::string_view text) { return value_named(kNames, text); }

std::string describe_close_code(std::uint16_t code) {
  std::string_view meaning;
  switch (code) {
    case 1000: meaning = "normal closure"; break;
    case 1001: meaning = "going away"; break;
    case 1002: meaning = "protocol error"; break;
    case 1003: meaning = "unsupported data"; break;
    case 1005: meaning = "no status received"; break;
    case 1006: meaning = "abnormal closure"; break;
    case 1007: meaning = "invalid payload data"; break;
    case 1008: meaning = "policy violation"; break;
    case 1009: meaning = "message too big"; break;
    case 1010: meaning = "mandatory extension"; break;
    case 1011: meaning = "internal error"; break;
    case 1012: meaning = "service restart"; break;
    case 1013: meaning = "try again later"; break;
    case 1014: meaning = "bad gateway"; break;
    case 1015: meaning = "TLS handshake"; break;
    default: return fmt::format("close {}", code);
  }
  return fmt::format("close {} ({})", code, meaning);
}

}  // namespace dropsim
