#include "profile_yaml.h"

// to_yaml: the resolved profile as YAML that load_profile reads back to the same profile.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "profile_values.h"

namespace dropsim {

namespace {

using detail::format_size;
using detail::to_string;  // HandshakePolicy::Kind; the other enums' are found by their type
using detail::uses;

/// Emits one setting as a declaration whose default is the value in force.
void emit_setting(YAML::Emitter& out, const Setting& s) {
  out << YAML::Key << s.name << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "type" << YAML::Value << s.type;
  out << YAML::Key << "default" << YAML::Value << s.value;
  std::vector<std::string> notes;
  if (!s.scaled_value.empty()) notes.push_back("runs as " + s.scaled_value + " after time_scale");
  if (s.value != s.default_value) notes.push_back("profile default: " + s.default_value);
  if (!notes.empty()) out << YAML::Comment(fmt::format("{}", fmt::join(notes, "; ")));
  if (!s.min.empty()) out << YAML::Key << "min" << YAML::Value << s.min;
  if (!s.max.empty()) out << YAML::Key << "max" << YAML::Value << s.max;
  if (!s.doc.empty()) out << YAML::Key << "doc" << YAML::Value << s.doc;
  if (!s.range_doc.empty()) out << YAML::Key << "range_doc" << YAML::Value << s.range_doc;
  out << YAML::EndMap;
}

/// Emits `while:` as a flow list.
void emit_phases(YAML::Emitter& out, const Phases& p) {
  out << YAML::Key << "while" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  if (p.open) out << "open";
  if (p.upstream_finished) out << "upstream_finished";
  if (p.downstream_finished) out << "downstream_finished";
  out << YAML::EndSeq;
}

/// "60s", or "none" when disabled.
std::string duration_text(const std::optional<Duration>& d) { return d ? format_duration(*d) : "none"; }

/// Emits `key: {client: .., upstream: .., ws_code: .., ...}` with the details only where an
/// action uses them.
void emit_actions(YAML::Emitter& out, std::string_view key, const SideActions& a) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "client" << YAML::Value << std::string(to_string(a.client));
  out << YAML::Key << "upstream" << YAML::Value << std::string(to_string(a.upstream));
  if (uses(a, CloseAction::ws_close)) {
    out << YAML::Key << "ws_code" << YAML::Value << a.ws_code;
    // Quoted, so that a reason starting with '$' reads back as text, not as a $setting.
    out << YAML::Key << "ws_reason" << YAML::Value << YAML::DoubleQuoted << a.ws_reason;
  }
  if (uses(a, CloseAction::http_status)) out << YAML::Key << "http_status" << YAML::Value << a.http_status;
  out << YAML::EndMap;
}

/// One side's key and value of a per-side field.
struct SideValue {
  std::string_view key;
  std::string_view value;
};

/// Emits `key:` as one value when both sides have it, else as a flow map of the two
/// (half_close, blackhole_answer: what the loader reads back either way).
void emit_per_side(YAML::Emitter& out, std::string_view key, SideValue a, SideValue b) {
  out << YAML::Key << std::string(key) << YAML::Value;
  if (a.value == b.value) {
    out << std::string(a.value);
    return;
  }
  out << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << std::string(a.key) << YAML::Value << std::string(a.value);
  out << YAML::Key << std::string(b.key) << YAML::Value << std::string(b.value);
  out << YAML::EndMap;
}

/// Emits `reset_on:` as a flow list: every kind in mode http; in mode tcp, where every
/// byte counts, only when keepalives count too ([data, keepalive]).
void emit_reset_on(YAML::Emitter& out, const FrameKinds& k, Mode mode) {
  if (mode == Mode::tcp && !k.keepalive) return;
  out << YAML::Key << "reset_on" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (FrameKind kind : kFrameKinds) {
    if (k.contains(kind) && (mode == Mode::http || kind == FrameKind::data)) out << std::string(to_string(kind));
  }
  if (k.keepalive) out << "keepalive";
  out << YAML::EndSeq;
}

/// Emits one timer with only the keys that apply to its kind (and, for reset_on, the mode).
void emit_timer(YAML::Emitter& out, const TimerSpec& t, Mode mode) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << t.name;
  out << YAML::Key << "kind" << YAML::Value << std::string(to_string(t.kind));
  out << YAML::Key << "timeout" << YAML::Value << duration_text(t.timeout);
  if (t.kind == TimerKind::idle) {
    out << YAML::Key << "reset_by" << YAML::Value << std::string(to_string(t.reset_by));
    emit_reset_on(out, t.reset_on, mode);
    out << YAML::Key << "rearm_granularity" << YAML::Value << format_duration(t.rearm_granularity);
    if (t.paused_while_blocked) {
      out << YAML::Key << "paused_while_blocked" << YAML::Value << std::string(to_string(*t.paused_while_blocked));
    }
  }
  if (t.kind == TimerKind::blocked_write) {
    out << YAML::Key << "direction" << YAML::Value << std::string(to_string(t.direction));
  }
  emit_phases(out, t.phases);
  emit_actions(out, "on_expiry", t.on_expiry);
  out << YAML::EndMap;
}

/// Emits `handshake:`: the policy alone, or a map with the keys that act: {policy:
/// reject, status: N}, {policy: forward, strip_extensions: true}, {policy: strip_upgrade,
/// keepalive: 75s}.
void emit_handshake(YAML::Emitter& out, const HandshakePolicy& h) {
  out << YAML::Key << "handshake" << YAML::Value;
  const bool reject = h.kind == HandshakePolicy::Kind::reject;
  const bool keepalive = h.keepalive > Duration::zero();
  if (!reject && !h.strip_extensions && !keepalive) {
    out << std::string(to_string(h.kind));
    return;
  }
  out << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "policy" << YAML::Value << std::string(to_string(h.kind));
  if (reject) out << YAML::Key << "status" << YAML::Value << h.status;
  if (h.strip_extensions) out << YAML::Key << "strip_extensions" << YAML::Value << true;
  if (keepalive) out << YAML::Key << "keepalive" << YAML::Value << format_duration(h.keepalive);
  out << YAML::EndMap;
}

/// Emits `limits:` with every key.
void emit_limits(YAML::Emitter& out, const MessageLimits& l) {
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_frame" << YAML::Value << format_size(l.max_frame);
  out << YAML::Key << "max_message" << YAML::Value << format_size(l.max_message);
  emit_actions(out, "on_exceed", l.on_exceed);
  out << YAML::EndMap;
}

}  // namespace

std::string to_yaml(const Profile& p) {
  YAML::Emitter out;
  // Settings stay in the profile's own time, the values the real system is configured with
  // (so that `--set` and the range read the same), and a comment gives what runs; every
  // other duration is already scaled, and time_scale says by how much.
  out << YAML::Comment("Resolved profile: settings substituted. Settings are in the profile's own time (a "
                       "comment gives the value after time_scale); every other duration is already "
                       "multiplied by time_scale.");
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << p.name;
  out << YAML::Key << "description" << YAML::Value << p.description;
  out << YAML::Key << "source" << YAML::Value << p.source;
  out << YAML::Key << "mode" << YAML::Value << std::string(to_string(p.mode));
  // fmt prints the shortest text that reads back as the same double (0.05, not 0.05000000000000000277).
  out << YAML::Key << "time_scale" << YAML::Value << fmt::format("{}", p.time_scale);
  out << YAML::Key << "settings" << YAML::Value << YAML::BeginMap;
  for (const Setting& s : p.settings) emit_setting(out, s);
  out << YAML::EndMap;
  out << YAML::Key << "connect" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "timeout" << YAML::Value << format_duration(p.connect.timeout);
  out << YAML::Key << "on_failure" << YAML::Value << std::string(to_string(p.connect.on_failure));
  if (p.connect.on_failure == CloseAction::http_status) {
    out << YAML::Key << "http_status" << YAML::Value << p.connect.http_status;
    out << YAML::Key << "timeout_status" << YAML::Value << p.connect.timeout_status;
    out << YAML::Key << "keepalive" << YAML::Value << format_duration(p.connect.keepalive);
  }
  out << YAML::Key << "retries" << YAML::Value << p.connect.retries;
  out << YAML::Key << "retry_interval" << YAML::Value << format_duration(p.connect.retry_interval);
  out << YAML::EndMap;
  emit_per_side(out, "half_close", {"client_fin", to_string(p.half_close.client_fin)},
                {"server_fin", to_string(p.half_close.server_fin)});
  out << YAML::Key << "blackhole_hold" << YAML::Value << format_duration(p.blackhole_hold);
  emit_per_side(out, "blackhole_answer", {"client", to_string(p.blackhole_answer.client)},
                {"upstream", to_string(p.blackhole_answer.upstream)});
  if (p.mode == Mode::http) {  // the loader refuses both in mode tcp
    emit_handshake(out, p.handshake);
    emit_limits(out, p.limits);
  }
  out << YAML::Key << "timers" << YAML::Value << YAML::BeginSeq;
  for (const TimerSpec& t : p.timers) emit_timer(out, t, p.mode);
  out << YAML::EndSeq;
  if (p.reload) emit_actions(out, "reload", *p.reload);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace dropsim
