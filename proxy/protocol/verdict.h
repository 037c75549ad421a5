#pragma once
// What a pipe does with a chunk it read: the one word the Inspector says back to the data
// path. A header of its own, so that the byte mover (datapath/pipe.h) knows this answer
// and nothing of the HTTP and WebSocket parsers or the Policy that produce it.

#include <cstddef>
#include <string_view>

namespace dropsim {

/// What the pipe does with the chunk it just read.
struct Verdict {
  enum class Action {
    forward,  ///< write the chunk as read
    replace,  ///< write `replacement` instead (empty: hold the chunk back)
    cut,      ///< write the first `prefix` bytes, then stop: see Inspector::problem()
    finish,   ///< write `replacement`, then end this direction as its source's FIN would:
              ///< the message it completes is the last one (a kept-alive client's answer)
  };
  Action action = Action::forward;
  std::string_view replacement;  ///< replace, finish: valid until the next inspect()
  std::size_t prefix = 0;        ///< cut: bytes to write before stopping
};

}  // namespace dropsim
