#include "shaper.h"

#include <algorithm>

namespace dropsim {

Shaper::Shaper(const DirectionFaults& faults, std::uint64_t seed, TimePoint after, std::uint64_t admitted)
    : faults_(faults), rng_(seed), last_(after), admitted_(admitted) {}

std::vector<Piece> Shaper::plan(std::size_t n, TimePoint arrival) {
  std::vector<Piece> out;
  if (n == 0) return out;
  // Toxiproxy's latency toxic delays each chunk relative to its arrival timestamp; here
  // no earlier than the previous piece, so bytes keep their order.
  const TimePoint ready = std::max(arrival + delay(), last_);
  std::vector<std::size_t> sizes;
  auto pass = [&](std::size_t size, TimePoint at) {
    if (faults_.slice_average == 0) return emit(size, at, out);
    sizes.clear();
    slice(size, sizes);
    for (std::size_t s : sizes) emit(s, at, out);
  };
  if (faults_.rate == 0) {
    pass(n, ready);
    return out;
  }
  // Toxiproxy's bandwidth toxic: a chunk takes size/rate, and one longer than 100 ms of
  // the rate goes out in 100 ms pieces, so a slow link still trickles.
  const std::uint64_t step = std::max<std::uint64_t>(1, faults_.rate / 10);
  const double ns_per_byte = 1e9 / static_cast<double>(faults_.rate);
  std::uint64_t sent = 0;
  while (sent < n) {
    const std::size_t size = static_cast<std::size_t>(std::min<std::uint64_t>(step, n - sent));
    sent += size;
    pass(size, ready + Duration(static_cast<Duration::rep>(static_cast<double>(sent) * ns_per_byte)));
  }
  return out;
}

std::size_t Shaper::admit(std::size_t n) {
  const auto left = remaining();
  const std::size_t allowed = left ? static_cast<std::size_t>(std::min<std::uint64_t>(n, *left)) : n;
  admitted_ += allowed;
  return allowed;
}

std::optional<std::uint64_t> Shaper::remaining() const {
  if (!faults_.limit) return std::nullopt;
  return *faults_.limit > admitted_ ? *faults_.limit - admitted_ : 0;
}

TimePoint Shaper::fin_time(TimePoint eof, TimePoint drained) const {
  return std::max(eof, drained) + faults_.slow_close;
}

std::uint64_t Shaper::below(std::uint64_t n) { return n == 0 ? 0 : rng_() % n; }

Duration Shaper::delay() {
  const auto jitter = static_cast<std::uint64_t>(std::max<Duration::rep>(faults_.jitter.count(), 0));
  if (jitter == 0) return faults_.latency;
  return faults_.latency + Duration(static_cast<Duration::rep>(below(2 * jitter)) - faults_.jitter.count());
}

void Shaper::slice(std::size_t n, std::vector<std::size_t>& sizes) {
  const std::size_t average = faults_.slice_average;
  // validate() keeps the variation within the average; clamp for any other caller.
  const std::size_t variation = std::min(faults_.slice_variation, average);
  if (n <= average + variation) {
    sizes.push_back(n);
    return;
  }
  // n > average + variation >= 2 * variation, so n / 2 >= variation: no underflow. The
  // clamp keeps both halves non-empty (Toxiproxy may emit an empty slice; nobody wants it).
  const std::size_t offset = n / 2 + static_cast<std::size_t>(below(2 * variation)) - variation;
  const std::size_t mid = std::clamp<std::size_t>(offset, 1, n - 1);
  slice(mid, sizes);
  slice(n - mid, sizes);
}

void Shaper::emit(std::size_t size, TimePoint at, std::vector<Piece>& out) {
  // Toxiproxy's slicer waits `delay` after every slice it sends, the last one included.
  const Duration gap = faults_.slice_average > 0 ? faults_.slice_delay : Duration::zero();
  last_ = std::max(at, last_ + gap);
  out.push_back({size, last_});
}

}  // namespace dropsim
