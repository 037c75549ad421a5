#include "session_control.h"

#include "enum_names.h"

namespace dropsim {
namespace {

constexpr EnumNames<SessionAction, 6> kActionNames{{
    {SessionAction::rst, "rst"},
    {SessionAction::fin, "fin"},
    {SessionAction::blackhole, "blackhole"},
    {SessionAction::ws_close, "ws_close"},
    {SessionAction::drain, "drain"},
    {SessionAction::reload, "reload"},
}};

constexpr EnumNames<SessionState, 4> kStateNames{{
    {SessionState::connecting, "connecting"},
    {SessionState::open, "open"},
    {SessionState::closing, "closing"},
    {SessionState::blackholed, "blackholed"},
}};

}  // namespace

std::string_view to_string(SessionState s) { return name_of(kStateNames, s); }

void ActionTally::add(ActResult r) {
  switch (r) {
    case ActResult::acted: ++acted; break;
    case ActResult::released: ++released; break;
    case ActResult::none: ++ended; break;
  }
}

std::string_view to_string(SessionAction a) { return name_of(kActionNames, a); }

std::optional<SessionAction> parse_session_action(std::string_view text) { return value_named(kActionNames, text); }

std::string session_action_names() {
  std::string out;
  for (const auto& [a, name] : kActionNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace dropsim
