#pragma once
// Durations as people write them in profiles and on the command line: 60s, 300ms, 2m,
// 1h, 1m30s, 1.5s. A bare number is refused rather than guessed (nginx reads it as
// seconds, HAProxy as milliseconds).

#include <optional>
#include <string>
#include <string_view>

#include "clock.h"

namespace dropsim {

/// Parses "60s", "300ms", "2m", "1h", "250us", "1m30s", "1.5s"; nullopt when malformed.
std::optional<Duration> parse_duration(std::string_view text);

/// The shortest exact spelling that parse_duration reads back: "60s", "300ms", "1m30s".
std::string format_duration(Duration d);

/// Seconds with millisecond precision, for logs: "2.000s".
std::string format_seconds(Duration d);

/// `d` multiplied by `factor` (--time-scale), rounded to the nearest nanosecond.
Duration scale(Duration d, double factor);

}  // namespace dropsim
