#include "toxiproxy_flags.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

namespace dropsim {
namespace {

/// One of toxiproxy-server's flags and the dropsim option it becomes.
struct GoFlag {
  std::string_view name;
  std::string_view option;
  bool takes_value;
};

constexpr std::array<GoFlag, 9> kFlags{{
    {"host", "--host", true},
    {"port", "--port", true},
    {"config", "--config", true},
    {"seed", "--seed", true},
    {"proxy-metrics", "--proxy-metrics", false},
    {"runtime-metrics", "--runtime-metrics", false},
    {"version", "--toxiproxy-version", false},
    {"h", "--help", false},
    {"help", "--help", false},
}};

const GoFlag* find_flag(std::string_view name) {
  for (const GoFlag& f : kFlags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

/// Go's strconv.ParseBool.
std::optional<bool> go_bool(std::string_view text) {
  for (std::string_view yes : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == yes) return true;
  }
  for (std::string_view no : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == no) return false;
  }
  return std::nullopt;
}

/// Toxiproxy's seed is an int64; dropsim's the same 64 bits unsigned.
std::string seed_bits(const std::string& value) {
  std::int64_t seed = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seed);
  if (ec != std::errc() || end != value.data() + value.size() || seed >= 0) return value;
  return std::to_string(static_cast<std::uint64_t>(seed));
}

}  // namespace

bool is_toxiproxy_name(std::string_view argv0) {
  const std::size_t slash = argv0.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
  return base == "toxiproxy-server" || base == "toxiproxy";
}

std::vector<std::string> translate_toxiproxy_flags(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    std::string_view body = arg;
    if (body.starts_with("--")) {
      body.remove_prefix(2);
    } else if (body.starts_with("-") && body.size() > 1) {
      body.remove_prefix(1);
    } else {
      out.push_back(arg);
      continue;
    }
    const std::size_t eq = body.find('=');
    const GoFlag* flag = find_flag(body.substr(0, eq));
    // "--version" stays dropsim's own; Toxiproxy's users write -version.
    if (flag && flag->name == "version" && arg.starts_with("--")) flag = nullptr;
    if (!flag) {
      out.push_back(arg);
      continue;
    }
    const std::optional<std::string> inline_value =
        eq == std::string_view::npos ? std::nullopt : std::optional<std::string>(body.substr(eq + 1));
    if (!flag->takes_value) {
      const std::optional<bool> on = inline_value ? go_bool(*inline_value) : true;
      if (!on) {
        throw std::invalid_argument(fmt::format("invalid boolean value '{}' for -{}: write -{} or -{}=false",
                                                *inline_value, flag->name, flag->name, flag->name));
      }
      if (*on) out.emplace_back(flag->option);
      continue;
    }
    out.emplace_back(flag->option);
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      continue;  // CLI11 reports the missing value
    }
    out.push_back(flag->name == "seed" ? seed_bits(value) : value);
  }
  return out;
}

}  // namespace dropsim
