#pragma once
// What the fuzz targets share: a trap for a broken invariant, and the sizes in which a
// stream is cut, as a socket would deliver it.

#include <cstddef>
#include <cstdint>

namespace dropsim::fuzz {

/// __builtin_trap() unless `ok`: libFuzzer reports it as a crash.
inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

/// The next chunk size for `pattern` (0-7), from a tiny deterministic generator.
inline std::size_t next_chunk(unsigned pattern, std::uint32_t& state, std::size_t left) {
  state = state * 1103515245u + 12345u;
  std::size_t n = left;
  switch (pattern) {
    case 0: n = left; break;                            // all at once
    case 1: n = 1; break;                               // byte by byte
    case 2: n = 2; break;
    case 3: n = 1 + (state >> 16) % 7; break;           // small random
    case 4: n = 1 + (state >> 16) % 64; break;          // medium random
    case 5: n = 1 + (state >> 16) % 4096; break;        // large random
    case 6: n = (state >> 16) % 3 == 0 ? 0 : 13; break;  // empty feeds between odd ones
    default: n = 1 + left / 2; break;                   // halves
  }
  return n < left ? n : left;
}

}  // namespace dropsim::fuzz
