#include "error_list.h"

#include <algorithm>
#include <utility>

namespace dropsim {

void ErrorList::add(const ProfileError& e) {
  for (const ProfileError& one : e.errors()) errors_.push_back(one);
}

void ErrorList::throw_if_any(const std::string& file) const {
  if (errors_.empty()) return;
  // The order a reader meets errors is not always the file's (cross-checks run after the
  // entries they compare); the user reads them top to bottom. An error in another file
  // takes the place of the one recorded before it, so a config's profile errors stay
  // beside the proxy that names the profile.
  std::vector<std::pair<std::pair<int, int>, ProfileError>> keyed;
  std::pair<int, int> key{0, 0};
  for (const ProfileError& e : errors_) {
    if (e.file() == file) key = {e.line(), e.column()};
    keyed.emplace_back(key, e);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ProfileError> sorted;
  for (auto& [k, e] : keyed) sorted.push_back(std::move(e));
  if (sorted.size() == 1) throw sorted.front();
  throw ProfileError(std::move(sorted));
}

}  // namespace dropsim
