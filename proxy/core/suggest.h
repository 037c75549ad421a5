#pragma once
// "Did you mean ...?" for every place that reads a name a person typed: profile names,
// setting names, YAML keys.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dropsim {

/// Optimal-string-alignment distance: a swapped pair of letters ("ngnix") counts once.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate within typo distance of `word` (the nearest), if any.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);

/// " (did you mean 'x'?)" when a candidate is within typo distance of `word`, else "".
/// `prefix` is printed before the suggestion (e.g. "$" for setting references).
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates,
                         std::string_view prefix = "");

}  // namespace dropsim
