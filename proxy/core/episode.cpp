#include "episode.h"

namespace dropsim {

bool Episode::add(TimePoint now) {
  if (count_++ > 0) return false;
  since_ = now;
  return true;
}

std::optional<Episode::Summary> Episode::end(TimePoint now) {
  if (count_ == 0) return std::nullopt;
  Summary s{count_, now - since_};
  count_ = 0;
  return s;
}

}  // namespace dropsim
