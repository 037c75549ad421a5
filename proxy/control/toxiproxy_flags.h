#pragma once
// toxiproxy-server's command line, as scripts, containers and the Testcontainers modules
// write it, turned into `dropsim run`'s:
//
//   toxiproxy-server -host=0.0.0.0 -port 8474 -config=/tmp/proxies.json -proxy-metrics
//   dropsim run --host 0.0.0.0 --port 8474 --config /tmp/proxies.json --proxy-metrics
//
// Go's flag package takes one or two dashes, "-flag=value" or "-flag value", and a bool
// flag alone or as "-flag=false"; CLI11 would read "-host" as the short options h, o, s,
// t. Pure: strings in, strings out; main() hands the result to CLI11.

#include <string>
#include <string_view>
#include <vector>

namespace dropsim {

/// True when the program was started under Toxiproxy's name ("toxiproxy-server", or
/// "toxiproxy" as its container image's entrypoint is called): it then runs `run`.
bool is_toxiproxy_name(std::string_view argv0);

/// `args` (without the program name) with toxiproxy-server's flags (-host, -port,
/// -config, -seed, -proxy-metrics, -runtime-metrics, -version, -h/-help) spelled as
/// dropsim's long options; everything else, and all after "--", unchanged ("--version"
/// too: it is dropsim's own, and Toxiproxy's users write -version). A negative
/// Go int64 seed becomes the same 64 bits unsigned. Throws std::invalid_argument for a
/// bool flag whose value Go would refuse.
std::vector<std::string> translate_toxiproxy_flags(const std::vector<std::string>& args);

}  // namespace dropsim
