#pragma once
// What a proxy is made from: a name, two addresses, a profile with its settings, a time
// scale and the faults it starts with. The command line, a config file (config_yaml.h) and
// the API (POST /proxies, /populate) each produce these, and Runtime::create_proxy takes
// them; a header of its own so that reading a config does not mean knowing the Runtime.

#include <optional>
#include <string>
#include <vector>

#include "clock.h"
#include "profile_yaml.h"
#include "session_control.h"
#include "toxic.h"

namespace dropsim {

/// A toxic declared ahead: applied `after` the proxy starts and removed after `lasts`
/// (a partition window, a latency spike), or for good.
struct FaultSpec {
  Toxic toxic;
  Duration after{0};              ///< from the proxy's start
  std::optional<Duration> lasts;  ///< nullopt: until removed
};

/// A session action declared ahead (a config file's `actions:`): done `after` the proxy
/// starts to every session it has then, as POST /proxies/{name}/sessions does it.
struct ActionSpec {
  ActionRequest request;
  Duration after{0};  ///< from the proxy's start
};

/// How to create a proxy (POST /proxies, /populate, a config file's `proxies:`).
struct ProxySpec {
  std::string name;
  /// "HOST:PORT" with an IP address, or ":PORT" for every interface; a host name is
  /// looked up first (resolver().listen_address), as the API and `dropsim run` do.
  std::string listen = "127.0.0.1:0";
  std::string upstream;                ///< "HOST:PORT"; a host name is looked up per connection
  bool enabled = true;                 ///< listening
  std::string profile = "tcp";         ///< built-in name or YAML path; `tcp` is Toxiproxy's plain proxy
  std::vector<SettingOverride> settings;  ///< the profile's settings by name
  /// Real seconds per profile second; nullopt: RuntimeOptions::time_scale (`run --time-scale`).
  std::optional<double> time_scale;
  std::vector<FaultSpec> faults;  ///< toxics from the start (or scheduled)
  std::vector<ActionSpec> actions;  ///< session actions on a schedule (a config reload at 30s)
  /// Serve loopback clients only (close the rest at accept): a proxy on every interface
  /// made through a loopback-only API. The command line and config files never set it.
  bool loopback_peers_only = false;
};

}  // namespace dropsim
