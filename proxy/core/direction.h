#pragma once
// Direction and Side: the two words every other file uses to say "which way" and "which end".
//
//   client ──upstream──► dropsim ──upstream──► server      (Side::upstream is the server)
//   client ◄─downstream─ dropsim ◄─downstream─ server
//
// The direction names are Toxiproxy's, which its users already know.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dropsim {

/// Which way bytes flow: upstream = client→server, downstream = server→client.
enum class Direction : std::uint8_t { upstream = 0, downstream = 1 };

/// An end of a proxied connection: the accepted client or the upstream server.
enum class Side : std::uint8_t { client = 0, upstream = 1 };

/// Both directions, in index order, for loops over a session's two pipes.
inline constexpr std::array<Direction, 2> kDirections{Direction::upstream, Direction::downstream};
/// Both sides, in index order.
inline constexpr std::array<Side, 2> kSides{Side::client, Side::upstream};

/// Array index of a direction (upstream 0, downstream 1).
constexpr std::size_t index(Direction d) { return static_cast<std::size_t>(d); }
/// Array index of a side (client 0, upstream 1).
constexpr std::size_t index(Side s) { return static_cast<std::size_t>(s); }

/// The other direction.
constexpr Direction opposite(Direction d) {
  return d == Direction::upstream ? Direction::downstream : Direction::upstream;
}
/// The side a direction's bytes are read from.
constexpr Side source(Direction d) { return d == Direction::upstream ? Side::client : Side::upstream; }
/// The side a direction's bytes are written to.
constexpr Side destination(Direction d) {
  return d == Direction::upstream ? Side::upstream : Side::client;
}
/// The direction whose bytes a side sends.
constexpr Direction sent_by(Side s) {
  return s == Side::client ? Direction::upstream : Direction::downstream;
}

/// "upstream" or "downstream".
std::string_view to_string(Direction d);
/// "client" or "upstream".
std::string_view to_string(Side s);
/// A direction in a sentence: "client→server" or "server→client". Log lines and
/// explanations use these, never "upstream", which a reader may take for the server.
std::string_view flow(Direction d);
/// A side in a sentence: "client" or "server".
std::string_view peer(Side s);
/// Parses "upstream" / "downstream"; nullopt for anything else.
std::optional<Direction> parse_direction(std::string_view text);

/// A set of directions, as in a timer's `reset_by: both`.
struct DirectionSet {
  bool upstream = false;    ///< client→server traffic is in the set
  bool downstream = false;  ///< server→client traffic is in the set

  /// True when `d` is in the set.
  constexpr bool contains(Direction d) const {
    return d == Direction::upstream ? upstream : downstream;
  }
  constexpr bool operator==(const DirectionSet&) const = default;
  /// {upstream, downstream}.
  static constexpr DirectionSet both() { return {true, true}; }
  /// Just `d`.
  static constexpr DirectionSet only(Direction d) {
    return {d == Direction::upstream, d == Direction::downstream};
  }
};

/// "upstream", "downstream", "both" or "none".
std::string_view to_string(DirectionSet set);
/// Parses "upstream", "downstream", "both" or "none".
std::optional<DirectionSet> parse_direction_set(std::string_view text);

}  // namespace dropsim
