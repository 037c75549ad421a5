#pragma once
// What the kernel counts per socket (TCP_INFO) that tells TCP keepalive probes apart: a
// user-space proxy never reads a probe (its kernel answers it), but the kernel counts it.
//
// Measured on this machine (Linux 6.18, loopback, tests/unit/tcp_counters_test.cpp and
// tests/integration/keepalive_test.cpp prove it on every run): a peer with SO_KEEPALIVE,
// TCP_KEEPIDLE = TCP_KEEPINTVL = 1 s, sending nothing, makes the receiving socket's
// tcpi_segs_in grow by 1 a second (2 → 7 in 6 s) while tcpi_data_segs_in stays 0 and
// tcpi_bytes_acked does not move; tcpi_segs_out grows by 1 too (the kernel's ACK of each
// probe). tcpi_last_ack_recv does NOT move (1004, 2012, ... 6016 ms ago): a probe (seq =
// snd_una - 1) fails the kernel's sequence check and is answered with a duplicate ACK
// before tcp_ack() would date it, so no counter says when a probe came: the session reads
// the counters at intervals and dates what it finds between two readings.
// The other segments without data that arrive are the peer's pure ACKs of what we sent:
// 5 data segments written to a peer brought its 5 ACKs (segs_in 2 → 7, data_segs_out 5).
// A peer acknowledges each data segment at most once (delayed ACKs: one per two), so
// "segments without data, less the data segments we sent" never counts an ACK as a probe;
// it undercounts probes in a window where data also flowed, which is harmless for an idle
// timer: that data reset the timer already. What it can still take for a probe: a window
// update (a peer whose buffer was full reads), a duplicate ACK after loss or reordering
// (none on loopback), a FIN.

#include <cstdint>
#include <optional>

namespace dropsim {

/// The counters of one socket (struct tcp_info), as far as probes need them.
struct SegmentCounters {
  std::uint32_t segs_in = 0;        ///< tcpi_segs_in: every segment received
  std::uint32_t data_segs_in = 0;   ///< tcpi_data_segs_in: those carrying data
  std::uint32_t data_segs_out = 0;  ///< tcpi_data_segs_out: data segments sent (the peer ACKs them)
  bool operator==(const SegmentCounters&) const = default;
};

/// Reads `fd`'s counters; nullopt when the kernel will not say (not a TCP socket, closed).
std::optional<SegmentCounters> read_segment_counters(int fd);

/// The keepalive probes among what arrived between two readings: segments without data,
/// less one per data segment sent (the peer's ACKs of it); never negative. The counters
/// are 32-bit and wrap: differences are taken modulo 2^32.
std::uint32_t probes_between(const SegmentCounters& before, const SegmentCounters& after);

}  // namespace dropsim
