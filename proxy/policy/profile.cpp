#include "profile.h"

#include "enum_names.h"

namespace dropsim {
namespace {

constexpr EnumNames<Mode, 2> kModes{{{Mode::tcp, "tcp"}, {Mode::http, "http"}}};
constexpr EnumNames<TimerKind, 3> kKinds{{{TimerKind::idle, "idle"},
                                          {TimerKind::blocked_write, "blocked_write"},
                                          {TimerKind::lifetime, "lifetime"}}};
constexpr EnumNames<HalfClose, 2> kHalfCloses{{{HalfClose::forward, "forward"},
                                               {HalfClose::close_both, "close_both"}}};

constexpr EnumNames<FrameKind, 4> kFrameKindNames{{{FrameKind::data, "data"},
                                                   {FrameKind::ping, "ping"},
                                                   {FrameKind::pong, "pong"},
                                                   {FrameKind::close, "close"}}};

constexpr EnumNames<BlackholeAnswer, 2> kBlackholeAnswers{{{BlackholeAnswer::rst, "rst"},
                                                            {BlackholeAnswer::none, "none"}}};

}  // namespace

std::string_view to_string(BlackholeAnswer a) { return name_of(kBlackholeAnswers, a); }
std::optional<BlackholeAnswer> parse_blackhole_answer(std::string_view text) {
  return value_named(kBlackholeAnswers, text);
}
std::string_view to_string(FrameKind k) { return name_of(kFrameKindNames, k); }
std::string_view to_string(Mode m) { return name_of(kModes, m); }
std::string_view to_string(TimerKind k) { return name_of(kKinds, k); }
std::string_view to_string(HalfClose h) { return name_of(kHalfCloses, h); }

std::optional<Mode> parse_mode(std::string_view text) { return value_named(kModes, text); }
std::optional<TimerKind> parse_timer_kind(std::string_view text) { return value_named(kKinds, text); }
std::optional<HalfClose> parse_half_close(std::string_view text) { return value_named(kHalfCloses, text); }

}  // namespace dropsim
