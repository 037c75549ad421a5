#include "tcp_counters.h"

#include <cstddef>

// <linux/tcp.h>, not <netinet/tcp.h>: glibc's struct tcp_info stops before the segment
// counters. Nothing else in this file includes netinet/tcp.h, so the two do not clash.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace dropsim {

std::optional<SegmentCounters> read_segment_counters(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return std::nullopt;
  // An older kernel fills less: without the data counters nothing can be told apart.
  if (len < offsetof(tcp_info, tcpi_data_segs_out) + sizeof info.tcpi_data_segs_out) return std::nullopt;
  return SegmentCounters{info.tcpi_segs_in, info.tcpi_data_segs_in, info.tcpi_data_segs_out};
}

std::uint32_t probes_between(const SegmentCounters& before, const SegmentCounters& after) {
  // Unsigned subtraction is modulo 2^32, which is what a wrapped counter needs.
  const std::uint32_t in = after.segs_in - before.segs_in;
  const std::uint32_t data_in = after.data_segs_in - before.data_segs_in;
  const std::uint32_t sent = after.data_segs_out - before.data_segs_out;
  const std::uint32_t bare = in - data_in;
  return bare > sent ? bare - sent : 0;
}

}  // namespace dropsim
