#include "close_action.h"

#include "enum_names.h"

namespace dropsim {
namespace {

constexpr EnumNames<CloseAction, 4> kNames{{{CloseAction::fin, "fin"},
                                            {CloseAction::rst, "rst"},
                                            {CloseAction::fin_rst, "fin_rst"},
                                            {CloseAction::blackhole, "blackhole"}}};

constexpr EnumNames<CloseAction, 4> kObserved{{{CloseAction::fin, "FIN"},
                                               {CloseAction::rst, "RST"},
                                               {CloseAction::fin_rst, "FIN then RST"},
                                               {CloseAction::blackhole, "silence (RST on its next bytes)"}}};

}  // namespace

std::string_view to_string(CloseAction a) { return name_of(kNames, a); }

std::string_view describe(CloseAction a) { return name_of(kObserved, a); }

std::optional<CloseAction> parse_close_action(std::string_view text) { return value_named(kNames, text); }

}  // namespace dropsim
