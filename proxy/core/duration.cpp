#include "duration.h"

#include <cmath>
#include <cstdint>

#include <fmt/format.h>

namespace dropsim {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t nanos;
};

// Longest suffix first, so "ms" is not read as "m" followed by garbage.
constexpr Unit kUnits[] = {
    {"ms", 1'000'000}, {"us", 1'000}, {"ns", 1}, {"h", 3'600'000'000'000},
    {"m", 60'000'000'000}, {"s", 1'000'000'000},
};

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  long double total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t number_start = i;
    bool seen_digit = false;
    bool seen_dot = false;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) {
      if (text[i] == '.') {
        if (seen_dot) return std::nullopt;
        seen_dot = true;
      } else {
        seen_digit = true;
      }
      ++i;
    }
    if (!seen_digit) return std::nullopt;
    const long double value = std::stold(std::string(text.substr(number_start, i - number_start)));
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.suffix.size()) == u.suffix) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return std::nullopt;  // a bare number or an unknown unit
    i += unit->suffix.size();
    total += value * static_cast<long double>(unit->nanos);
  }
  if (total > static_cast<long double>(INT64_MAX)) return std::nullopt;
  return Duration(static_cast<std::int64_t>(std::llround(total)));
}

std::string format_duration(Duration d) {
  std::int64_t n = d.count();
  if (n == 0) return "0s";
  std::string out;
  if (n < 0) {
    out = "-";
    n = -n;
  }
  // Whole hours, minutes and seconds read best as "1m30s"; below a second use the
  // coarsest unit that is exact.
  constexpr std::int64_t kSec = 1'000'000'000;
  if (n % kSec == 0) {
    std::int64_t s = n / kSec;
    if (s >= 3600 && s % 3600 == 0) return out + fmt::format("{}h", s / 3600);
    if (s >= 60 && s % 60 == 0) return out + fmt::format("{}m", s / 60);
    if (s >= 60) {
      const std::int64_t minutes = s / 60;
      return out + fmt::format("{}m{}s", minutes, s % 60);
    }
    return out + fmt::format("{}s", s);
  }
  if (n % 1'000'000 == 0) return out + fmt::format("{}ms", n / 1'000'000);
  if (n % 1'000 == 0) return out + fmt::format("{}us", n / 1'000);
  return out + fmt::format("{}ns", n);
}

std::string format_seconds(Duration d) {
  return fmt::format("{:.3f}s", std::chrono::duration<double>(d).count());
}

Duration scale(Duration d, double factor) {
  return Duration(static_cast<std::int64_t>(std::llround(static_cast<long double>(d.count()) * factor)));
}

}  // namespace dropsim
