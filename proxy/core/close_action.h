#pragma once
// How dropsim ends one side of a connection. Each is what a real intermediary does on
// the wire, so the peer observes exactly what it would observe in production.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace dropsim {

/// The way one side of a session is closed.
enum class CloseAction {
  fin,        ///< close(): the kernel sends FIN after the queued bytes (nginx, ALB)
  rst,        ///< SO_LINGER 0 then close(): an immediate RST, queued bytes discarded
  fin_rst,    ///< FIN, then RST at once (HAProxy tcp mode toward the server on a timeout)
  blackhole,  ///< send nothing and forget the flow; answer that side's next bytes with RST (NLB)
  ws_close,   ///< a WebSocket close frame (code, reason) to that side, then FIN; FIN if not a WebSocket
  http_status,  ///< before the upgrade: an HTTP response with a status (504, 403), then FIN; after: FIN
  half_close,   ///< FIN to that side and end the direction toward it; the other direction keeps flowing
                ///< (HAProxy's client-side timeout without a tunnel timeout). Pairs with `keep`.
  keep,         ///< leave that side as it is (the other side is half-closed)
};

/// Every close action, in declaration order (for messages that list them).
std::span<const CloseAction> all_close_actions();
/// The name of each close action ("fin", "rst", "fin_rst", "blackhole", "ws_close", "http_status").
std::string_view to_string(CloseAction a);
/// What the peer will observe, for log lines: "FIN", "RST", "FIN then RST", ...
std::string_view describe(CloseAction a);
/// Parses the names that to_string prints.
std::optional<CloseAction> parse_close_action(std::string_view text);

/// "close 1001 (going away)", for logs: the code and its RFC 6455 §7.4.1 meaning.
std::string describe_close_code(std::uint16_t code);

}  // namespace dropsim
