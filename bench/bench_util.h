#pragma once
// What every dropsim benchmark binary prints and takes the same way.

#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

namespace dropsim::bench {

/// The 1-minute load average (other work on the machine skews every number a bench prints).
inline std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "?" : one;
}

/// The one option every bench takes: true for `--quick`, false for none; nullopt (after
/// printing the usage) for anything else.
inline std::optional<bool> quick_option(int argc, char** argv) {
  const bool quick = argc == 2 && std::strcmp(argv[1], "--quick") == 0;
  if (argc > 2 || (argc == 2 && !quick)) {
    std::fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
    return std::nullopt;
  }
  return quick;
}

}  // namespace dropsim::bench
