#include "close_action.h"

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

}  // namespace dropsim
