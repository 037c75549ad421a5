// Every enum's names read back as the value they name, and no two values share a name.

#include "enum_names.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "close_action.h"
#include "profile.h"

namespace dropsim {
namespace {

template <class E, class ToString, class Parse>
void expect_round_trip(std::initializer_list<E> values, ToString to_text, Parse parse) {
  std::set<std::string> seen;
  for (E v : values) {
    const std::string name(to_text(v));
    EXPECT_FALSE(name.empty()) << static_cast<int>(v);
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
    EXPECT_EQ(parse(name), v) << name;
  }
  EXPECT_FALSE(parse("nonsense"));
  EXPECT_FALSE(parse(""));
}

TEST(EnumNamesTest, CloseActions) {
  expect_round_trip({CloseAction::fin, CloseAction::rst, CloseAction::fin_rst, CloseAction::blackhole},
                    [](CloseAction a) { return to_string(a); }, parse_close_action);
  EXPECT_EQ(describe(CloseAction::fin_rst), "FIN then RST");
}

TEST(EnumNamesTest, ProfileEnums) {
  expect_round_trip({Mode::tcp, Mode::http}, [](Mode m) { return to_string(m); }, parse_mode);
  expect_round_trip({TimerKind::idle, TimerKind::blocked_write, TimerKind::lifetime},
                    [](TimerKind k) { return to_string(k); }, parse_timer_kind);
  expect_round_trip({HalfClose::forward, HalfClose::close_both}, [](HalfClose h) { return to_string(h); },
                    parse_half_close);
}

TEST(EnumNamesTest, Directions) {
  expect_round_trip({Direction::upstream, Direction::downstream}, [](Direction d) { return to_string(d); },
                    parse_direction);
}

TEST(EnumNamesTest, MissingEntryGivesEmptyName) {
  enum class Color { red, green };
  constexpr EnumNames<Color, 1> names{{{Color::red, "red"}}};
  EXPECT_EQ(name_of(names, Color::red), "red");
  EXPECT_EQ(name_of(names, Color::green), "");
  EXPECT_EQ(value_named(names, "red"), Color::red);
  EXPECT_FALSE(value_named(names, "green"));
}

}  // namespace
}  // namespace dropsim
