#pragma once
// One table per enum gives both directions, name → value and value → name, so a new
// enumerator is added in one place and the two can never disagree.

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace dropsim {

/// The spelling of every value of enum `E`.
template <class E, std::size_t N>
using EnumNames = std::array<std::pair<E, std::string_view>, N>;

/// The name of `value` in `names` ("" if the table misses it, which a test would catch).
template <class E, std::size_t N>
constexpr std::string_view name_of(const EnumNames<E, N>& names, E value) {
  for (const auto& [v, name] : names) {
    if (v == value) return name;
  }
  return "";
}

/// The value named `text` in `names`; nullopt when none is.
template <class E, std::size_t N>
constexpr std::optional<E> value_named(const EnumNames<E, N>& names, std::string_view text) {
  for (const auto& [v, name] : names) {
    if (name == text) return v;
  }
  return std::nullopt;
}

}  // namespace dropsim
