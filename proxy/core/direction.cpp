#include "direction.h"

#include "enum_names.h"

namespace dropsim {
namespace {

constexpr EnumNames<Direction, 2> kDirectionNames{{{Direction::upstream, "upstream"},
                                                   {Direction::downstream, "downstream"}}};
constexpr EnumNames<Side, 2> kSideNames{{{Side::client, "client"}, {Side::upstream, "upstream"}}};

}  // namespace

std::string_view to_string(Direction d) { return name_of(kDirectionNames, d); }

std::string_view to_string(Side s) { return name_of(kSideNames, s); }

std::string_view flow(Direction d) { return d == Direction::upstream ? "client→server" : "server→client"; }

std::string_view peer(Side s) { return s == Side::client ? "client" : "server"; }

std::optional<Direction> parse_direction(std::string_view text) { return value_named(kDirectionNames, text); }

std::string_view to_string(DirectionSet set) {
  if (set.upstream && set.downstream) return "both";
  if (set.upstream) return "upstream";
  if (set.downstream) return "downstream";
  return "none";
}

std::optional<DirectionSet> parse_direction_set(std::string_view text) {
  if (text == "both") return DirectionSet::both();
  if (text == "none") return DirectionSet{};
  if (auto d = parse_direction(text)) return DirectionSet::only(*d);
  return std::nullopt;
}

}  // namespace dropsim
