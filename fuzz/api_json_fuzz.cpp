// libFuzzer target for the control API's bodies (proxy/control/api_json.h) and the addresses in
// them (parse_host_port, proxy/core/address.h): everything a client's bytes reach before the
// Runtime acts.
//
//   data[0] % 10 picks the reader, as ControlApi calls it:
//     0 POST /proxies             parse_go_body → go_proxy_spec, then the addresses and the
//                                 profile with its settings, as Runtime::create_proxy reads them
//     1 POST /populate            parse_go_body → go_populate, likewise for each proxy
//     2 PATCH /proxies/{name}     parse_go_body → go_proxy_update, then the addresses
//     3 POST /proxies/{p}/toxics  parse_go_body → go_toxic_head → go_toxic_attributes, then
//                                 validate, describe, toxic_json and pipe_faults, as add_toxic
//     4 PATCH .../toxics/{t}      parse_go_body → go_toxic_update on a toxic of type
//                                 data[1] % 8, then applied as update_toxic does
//     5 POST .../sessions/{id}    parse_strict_body → strict_action
//     6 POST .../drain            parse_strict_body (code, reason) → strict_action (drain)
//     7 PUT .../profile           parse_strict_body → strict_profile_change, then the profile
//     8 POST .../partition        parse_strict_body → strict_partition
//     9 an address                parse_host_port, then text() and literal()
//   rest: the body (from data[2] for 4)
//
// The expected failures are an ApiError (the API's 4xx/5xx), a ProfileError (a setting the
// profile refuses) and std::invalid_argument (a malformed address); any other exception
// escapes and libFuzzer reports it, as it does a sanitizer's finding.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "address.h"
#include "api_json.h"
#include "builtin_profiles.h"
#include "chunks.h"
#include "profile_yaml.h"
#include "toxic.h"

namespace {

using namespace dropsim;

using dropsim::fuzz::check;

/// An address as Runtime reads one: a malformed one is a 400 there.
void address(const std::string& text) {
  try {
    const HostPort where = parse_host_port(text);
    const HostPort again = parse_host_port(where.text());
    check(again.host == where.host && again.port == where.port);
    (void)where.literal();
    (void)where.wildcard();
  } catch (const std::invalid_argument&) {
  }
}

/// Loads a built-in profile with the client's settings, as a proxy's creation or a profile
/// change does; a path is not followed (the fuzzer reads no file).
void profile(const std::string& name, const std::vector<SettingOverride>& settings, double time_scale) {
  for (const EmbeddedProfile& p : embedded_profiles()) {
    if (p.name == name) {
      (void)load_profile(p.text, std::string(p.path), settings, time_scale);
      return;
    }
  }
}

/// What Runtime does with a toxic it accepts: checks it, logs it, hands it to the pipes.
void use_toxic(Toxic toxic) {
  toxic.values.resize(attributes_of(toxic.type).size(), 0);
  if (!validate(toxic).empty()) return;
  (void)toxic.describe();
  (void)toxic_json(toxic).dump();
  const Toxic* active[] = {&toxic};
  for (Direction d : kDirections) (void)pipe_faults(active, d);
}

void proxy_spec(const ProxySpec& spec) {
  address(spec.listen);
  address(spec.upstream);
  profile(spec.profile, spec.settings, spec.time_scale.value_or(1.0));
}

void read(unsigned which, std::uint8_t type, std::string_view body) {
  static const RuntimeOptions kOptions;
  switch (which) {
    case 0: proxy_spec(go_proxy_spec(parse_go_body(body))); break;
    case 1:
      for (const ProxySpec& spec : go_populate(parse_go_body(body))) proxy_spec(spec);
      break;
    case 2: {
      const ProxyUpdate update = go_proxy_update(parse_go_body(body));
      if (update.listen) address(*update.listen);
      if (update.upstream) address(*update.upstream);
      break;
    }
    case 3: {
      const Json parsed = parse_go_body(body);
      Toxic toxic = go_toxic_head(parsed);
      go_toxic_attributes(parsed, toxic);
      use_toxic(toxic);
      break;
    }
    case 4: {
      Toxic current = Toxic::make(static_cast<ToxicType>(type % 8));
      const ToxicUpdate update = go_toxic_update(parse_go_body(body), current);
      if (update.toxicity) current.toxicity = *update.toxicity;
      for (const auto& [attr, value] : update.attributes) check(current.set(attr, value));
      use_toxic(current);
      break;
    }
    case 5: {
      const Json parsed = parse_strict_body(body, {"action", "code", "reason"}, "a session action");
      (void)strict_action(parsed, SessionAction::rst, kOptions);
      break;
    }
    case 6: {
      const Json parsed = parse_strict_body(body, {"code", "reason"}, "a session action");
      (void)strict_action(parsed, SessionAction::drain, kOptions);
      break;
    }
    case 7: {
      const ProfileChange change =
          strict_profile_change(parse_strict_body(body, {"profile", "settings", "time_scale"}, "a profile change"));
      profile(change.profile.value_or("tcp"), change.settings, change.time_scale.value_or(1.0));
      break;
    }
    case 8: (void)strict_partition(parse_strict_body(body, {"duration_ms"}, "a partition")); break;
    default: address(std::string(body)); break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned which = data[0] % 10;
  std::uint8_t type = 0;
  std::size_t skip = 1;
  if (which == 4) {
    if (size < 2) return 0;
    type = data[1];
    skip = 2;
  }
  const std::string_view body(reinterpret_cast<const char*>(data + skip), size - skip);
  try {
    read(which, type, body);
  } catch (const ApiError& e) {
    check(e.status() >= 400 && e.status() <= 599);
  } catch (const ProfileError&) {
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
