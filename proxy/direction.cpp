#include "direction.h"

namespace dropsim {

std::string_view to_string(Direction d) {
  return d == Direction::upstream ? "upstream" : "downstream";
}

std::string_view to_string(Side s) { return s == Side::client ? "client" : "upstream"; }

std::optional<Direction> parse_direction(std::string_view text) {
  if (text == "upstream") return Direction::upstream;
  if (text == "downstream") return Direction::downstream;
  return std::nullopt;
}

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
