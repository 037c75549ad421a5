#include "toxic.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "enum_names.h"

namespace dropsim {
namespace {

constexpr EnumNames<ToxicType, 8> kTypeNames{{
    {ToxicType::latency, "latency"},
    {ToxicType::bandwidth, "bandwidth"},
    {ToxicType::slow_close, "slow_close"},
    {ToxicType::timeout, "timeout"},
    {ToxicType::reset_peer, "reset_peer"},
    {ToxicType::slicer, "slicer"},
    {ToxicType::limit_data, "limit_data"},
    {ToxicType::partition, "partition"},
}};

constexpr std::array<ToxicType, 8> kTypes{ToxicType::latency,    ToxicType::bandwidth, ToxicType::slow_close,
                                          ToxicType::timeout,    ToxicType::reset_peer, ToxicType::slicer,
                                          ToxicType::limit_data, ToxicType::partition};

// Toxiproxy's attribute names, order and units (toxics/*.go in Toxiproxy 2.12).
constexpr std::array<AttributeSpec, 2> kLatency{{
    {"latency", "ms", "time added to every chunk"},
    {"jitter", "ms", "up to this much more or less, at random"},
}};
constexpr std::array<AttributeSpec, 1> kBandwidth{{{"rate", "KB/s", "bytes per second / 1000"}}};
constexpr std::array<AttributeSpec, 1> kSlowClose{{{"delay", "ms", "delay before the FIN is passed on"}}};
constexpr std::array<AttributeSpec, 1> kTimeout{
    {{"timeout", "ms", "close the connection after this long with no byte passing (0: never close)"}}};
constexpr std::array<AttributeSpec, 2> kResetPeer{{
    {"timeout", "ms", "send RST this long after the toxic applies (0: at once)"},
    {"bytes", "bytes", "send RST once this many bytes have passed in the stream instead", true},
}};
constexpr std::array<AttributeSpec, 3> kSlicer{{
    {"average_size", "bytes", "mean slice size"},
    {"size_variation", "bytes", "slices vary by up to this much"},
    {"delay", "us", "pause between slices"},
}};
constexpr std::array<AttributeSpec, 1> kLimitData{{{"bytes", "bytes", "close once this many bytes have passed"}}};
constexpr std::array<AttributeSpec, 1> kPartition{
    {{"duration", "ms", "heal after this long (0: until the toxic is removed)"}}};

Duration ms(std::int64_t v) { return std::chrono::milliseconds(v); }

/// splitmix64: a well-mixed 64-bit hash step, so nearby ids give unrelated rolls.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::span<const ToxicType> all_toxic_types() { return kTypes; }

std::string_view to_string(ToxicType t) { return name_of(kTypeNames, t); }

std::optional<ToxicType> parse_toxic_type(std::string_view text) { return value_named(kTypeNames, text); }

std::span<const AttributeSpec> attributes_of(ToxicType t) {
  switch (t) {
    case ToxicType::latency: return kLatency;
    case ToxicType::bandwidth: return kBandwidth;
    case ToxicType::slow_close: return kSlowClose;
    case ToxicType::timeout: return kTimeout;
    case ToxicType::reset_peer: return kResetPeer;
    case ToxicType::slicer: return kSlicer;
    case ToxicType::limit_data: return kLimitData;
    case ToxicType::partition: return kPartition;
  }
  return {};
}

std::string toxic_type_names() {
  std::string out;
  for (ToxicType t : kTypes) {
    if (!out.empty()) out += ", ";
    out += to_string(t);
  }
  return out;
}

Toxic Toxic::make(ToxicType type, Direction stream) {
  Toxic t;
  t.type = type;
  t.stream = stream;
  t.values.assign(attributes_of(type).size(), 0);
  t.name = t.default_name();
  return t;
}

std::int64_t Toxic::get(std::string_view attr) const {
  const auto specs = attributes_of(type);
  for (std::size_t i = 0; i < specs.size() && i < values.size(); ++i) {
    if (specs[i].name == attr) return values[i];
  }
  return 0;
}

bool Toxic::set(std::string_view attr, std::int64_t value) {
  const auto specs = attributes_of(type);
  values.resize(specs.size(), 0);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].name == attr) {
      values[i] = value;
      return true;
    }
  }
  return false;
}

std::string Toxic::default_name() const { return fmt::format("{}_{}", to_string(type), to_string(stream)); }

std::string Toxic::describe() const {
  std::string out = fmt::format("{} ({}", name, to_string(type));
  const auto specs = attributes_of(type);
  for (std::size_t i = 0; i < specs.size() && i < values.size(); ++i) {
    if (specs[i].extension && values[i] == 0) continue;
    out += fmt::format(" {}={}{}", specs[i].name, values[i], specs[i].unit == "bytes" ? "" : specs[i].unit);
  }
  if (type != ToxicType::partition) out += fmt::format(", {}", to_string(stream));
  if (toxicity < 1.0) out += fmt::format(", toxicity {}", toxicity);
  return out + ")";
}

std::string validate(const Toxic& t) {
  if (!(t.toxicity >= 0.0 && t.toxicity <= 1.0)) {
    return fmt::format("toxicity must be between 0 and 1, got {}", t.toxicity);
  }
  const auto specs = attributes_of(t.type);
  for (std::size_t i = 0; i < specs.size() && i < t.values.size(); ++i) {
    if (t.values[i] < 0) return fmt::format("{} must not be negative, got {}", specs[i].name, t.values[i]);
    // Times become nanoseconds (Duration): a larger one would overflow.
    const std::int64_t max_time = specs[i].unit == "ms" ? kMaxToxicMs : specs[i].unit == "us" ? kMaxToxicMs * 1000 : 0;
    if (max_time > 0 && t.values[i] > max_time) {
      return fmt::format("{} must be at most {} {}, got {}", specs[i].name, max_time, specs[i].unit, t.values[i]);
    }
  }
  if (t.type == ToxicType::slicer && t.get("size_variation") > t.get("average_size")) {
    return "size_variation must not exceed average_size";
  }
  return "";
}

bool DirectionFaults::none() const { return *this == DirectionFaults{}; }

DirectionFaults pipe_faults(std::span<const Toxic* const> active, Direction d) {
  DirectionFaults f;
  for (const Toxic* t : active) {
    if (t->type != ToxicType::partition && t->stream != d) continue;
    switch (t->type) {
      case ToxicType::latency:
        f.latency += ms(t->get("latency"));
        f.jitter += ms(t->get("jitter"));
        break;
      case ToxicType::bandwidth: {
        const auto rate = static_cast<std::uint64_t>(t->get("rate")) * 1000;
        // rate 0 in Toxiproxy stalls the stream: take it as the slowest rate possible.
        const std::uint64_t r = std::max<std::uint64_t>(rate, 1);
        f.rate = f.rate == 0 ? r : std::min(f.rate, r);
        break;
      }
      case ToxicType::slow_close: f.slow_close += ms(t->get("delay")); break;
      case ToxicType::timeout:
        if (t->get("timeout") == 0) {
          f.hold = true;
        } else {
          f.drop = true;
        }
        break;
      case ToxicType::slicer:
        f.slice_average = static_cast<std::size_t>(t->get("average_size"));
        f.slice_variation = static_cast<std::size_t>(t->get("size_variation"));
        f.slice_delay = std::chrono::microseconds(t->get("delay"));
        break;
      case ToxicType::limit_data: {
        const auto bytes = static_cast<std::uint64_t>(t->get("bytes"));
        f.limit = f.limit ? std::min(*f.limit, bytes) : bytes;
        break;
      }
      case ToxicType::partition: f.hold = true; break;
      case ToxicType::reset_peer: break;  // the session's: a timer or a byte count, then RST
    }
  }
  return f;
}

bool toxicity_roll(std::uint64_t seed, std::string_view toxic_name, std::uint64_t connection, double toxicity) {
  if (toxicity >= 1.0) return true;
  if (toxicity <= 0.0) return false;
  std::uint64_t h = mix(seed);
  for (unsigned char c : toxic_name) h = mix(h ^ c);
  h = mix(h ^ connection);
  // 53 random bits → [0, 1)
  const double u = static_cast<double>(h >> 11) * 0x1.0p-53;
  return u < toxicity;
}

}  // namespace dropsim
