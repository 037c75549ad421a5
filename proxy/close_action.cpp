#include "close_action.h"

namespace dropsim {

std::string_view to_string(CloseAction a) {
  switch (a) {
    case CloseAction::fin: return "fin";
    case CloseAction::rst: return "rst";
    case CloseAction::fin_rst: return "fin_rst";
    case CloseAction::blackhole: return "blackhole";
  }
  return "fin";
}

std::string_view describe(CloseAction a) {
  switch (a) {
    case CloseAction::fin: return "FIN";
    case CloseAction::rst: return "RST";
    case CloseAction::fin_rst: return "FIN then RST";
    case CloseAction::blackhole: return "silence (RST on its next bytes)";
  }
  return "FIN";
}

std::optional<CloseAction> parse_close_action(std::string_view text) {
  if (text == "fin") return CloseAction::fin;
  if (text == "rst") return CloseAction::rst;
  if (text == "fin_rst") return CloseAction::fin_rst;
  if (text == "blackhole") return CloseAction::blackhole;
  return std::nullopt;
}

}  // namespace dropsim
