#include "profile.h"

namespace dropsim {

std::string_view to_string(Mode m) { return m == Mode::tcp ? "tcp" : "http"; }

std::string_view to_string(TimerKind k) {
  switch (k) {
    case TimerKind::idle: return "idle";
    case TimerKind::blocked_write: return "blocked_write";
    case TimerKind::lifetime: return "lifetime";
  }
  return "idle";
}

std::string_view to_string(HalfClose h) { return h == HalfClose::forward ? "forward" : "close_both"; }

}  // namespace dropsim
