#pragma once
// Faults, in Toxiproxy's words: a toxic has a name, a type, a stream (the direction it
// acts on), a toxicity (the probability that a connection gets it) and integer
// attributes in Toxiproxy's units. The same model serves the Toxiproxy API, dropsim's
// own endpoints and the `faults:` of a config file.
//
//   Toxic (API, config) ──active_faults()──► DirectionFaults ──► Pipe (latency, bandwidth,
//                                                                slicer, hold, drop, limit)
//                      └───────────────────► Session (reset_peer, timeout close, partition)

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clock.h"
#include "direction.h"

namespace dropsim {

/// What a toxic does. The first seven are Toxiproxy's; `partition` is dropsim's.
enum class ToxicType {
  latency,     ///< delay each chunk by latency ± jitter ms (dropsim never reorders bytes)
  bandwidth,   ///< at most `rate` KB/s
  slow_close,  ///< delay the FIN by `delay` ms
  timeout,     ///< stop every byte; close after `timeout` ms (0: hold the bytes until removed)
  reset_peer,  ///< RST after `timeout` ms (and, dropsim's, after `bytes` bytes)
  slicer,      ///< cut chunks into `average_size` ± `size_variation` bytes, `delay` µs apart
  limit_data,  ///< close once `bytes` bytes have passed
  partition,   ///< dropsim: both directions stall (bytes wait) for `duration` ms (0: until removed)
};

/// One integer attribute of a toxic type, in Toxiproxy's JSON order and units.
struct AttributeSpec {
  std::string_view name;  ///< the JSON key: "latency"
  std::string_view unit;  ///< "ms", "us", "KB/s", "bytes"
  std::string_view doc;   ///< one line for error messages and docs
  /// dropsim's addition to a Toxiproxy type: listed in JSON only when non-zero, so
  /// Toxiproxy clients see the shapes they know.
  bool extension = false;
};

/// Every toxic type, in declaration order.
std::span<const ToxicType> all_toxic_types();
/// "latency", "bandwidth", ...
std::string_view to_string(ToxicType t);
/// Parses the names to_string prints.
std::optional<ToxicType> parse_toxic_type(std::string_view text);
/// The attributes of `t`, in JSON order.
std::span<const AttributeSpec> attributes_of(ToxicType t);
/// Every type name, comma-separated, for "expected one of" messages.
std::string toxic_type_names();

/// One toxic as the API shows it.
struct Toxic {
  std::string name;                        ///< unique in its proxy; default "<type>_<stream>"
  ToxicType type = ToxicType::latency;     ///< what it does
  Direction stream = Direction::downstream;  ///< Toxiproxy's default
  double toxicity = 1.0;                   ///< probability a connection gets it, 0..1
  std::vector<std::int64_t> values;        ///< parallel to attributes_of(type); 0 by default

  /// A toxic of `type` with every attribute 0 and the default name for `stream`.
  static Toxic make(ToxicType type, Direction stream = Direction::downstream);
  /// The value of attribute `attr` (0 when the type has no such attribute).
  std::int64_t get(std::string_view attr) const;
  /// Sets attribute `attr`; false when the type has no such attribute.
  bool set(std::string_view attr, std::int64_t value);
  /// "<type>_<stream>", Toxiproxy's default name.
  std::string default_name() const;
  /// Human description for logs: "latency 100ms ± 10ms downstream".
  std::string describe() const;
};

/// The longest time a toxic's attribute may give, in ms (about 115 days; INT32_MAX ms, a
/// common "forever", fits): every sum of such times, in nanoseconds, stays far from overflow.
inline constexpr std::int64_t kMaxToxicMs = 10'000'000'000;

/// Why `t` is invalid ("" when it is valid): a negative attribute, a time over kMaxToxicMs,
/// toxicity outside 0..1, a slicer without an average size.
std::string validate(const Toxic& t);

/// What one direction's pipe must do to the bytes it moves, from every toxic active on it.
/// Several toxics of one kind combine as a chain would: latencies add, the lowest rate wins.
struct DirectionFaults {
  Duration latency{0};                 ///< added to every chunk
  Duration jitter{0};                  ///< ± uniformly, never reordering bytes
  std::uint64_t rate = 0;              ///< bytes per second; 0: unlimited
  std::size_t slice_average = 0;       ///< 0: no slicing
  std::size_t slice_variation = 0;     ///< ± bytes
  Duration slice_delay{0};             ///< between slices
  Duration slow_close{0};              ///< before forwarding the source's FIN
  bool hold = false;                   ///< bytes wait in the kernel until released (timeout 0, partition)
  bool drop = false;                   ///< bytes are read and discarded (timeout > 0)
  std::optional<std::uint64_t> limit;  ///< limit_data: bytes this direction may still carry

  /// True when the pipe can copy bytes straight through.
  bool none() const;
  bool operator==(const DirectionFaults&) const = default;
};

/// The pipe-level faults of the toxics in `active` that act on direction `d` (a
/// partition acts on both; reset_peer acts on the session, not here).
DirectionFaults pipe_faults(std::span<const Toxic* const> active, Direction d);

/// Whether a connection gets a toxic of `toxicity`: a pure, reproducible roll from the
/// run's seed, the toxic's name and the connection id (so `--seed` replays a run).
bool toxicity_roll(std::uint64_t seed, std::string_view toxic_name, std::uint64_t connection,
                   double toxicity);

}  // namespace dropsim
