// TCP keepalive probes on real sockets: what the kernel's counters show of them, and the
// profiles that count them (nlb, azure-lb) against those that cannot (alb: a proxy that
// terminates TCP). And azure-lb's silent blackhole, whose forgotten flow answers nothing.

#include <chrono>
#include <regex>
#include <thread>

#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "builtin_profiles.h"
#include "net_util.h"
#include "profile_yaml.h"
#include "tcp_counters.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

Profile builtin(const std::string& name, const std::vector<SettingOverride>& sets = {}) {
  const auto text = find_profile_text(name);
  return load_profile(text.text, text.file, sets);
}

/// Turns on TCP keepalive on `fd`: a probe after 1 s of silence, then every 1 s (the peer
/// answers each, so the next comes 1 s after that answer).
void keepalive_every_second(int fd, bool on = true) {
  int flag = on ? 1 : 0;
  int one = 1;
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &flag, sizeof flag), 0);
  if (!on) return;
  ASSERT_EQ(::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &one, sizeof one), 0);
  ASSERT_EQ(::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &one, sizeof one), 0);
}

/// Bytes `fd` sent that its peer has not acknowledged (tcpi_unacked counts segments).
std::uint32_t unacked_segments(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
  return info.tcpi_unacked;
}

/// True when data written one way arrives the other: the connection still works.
bool passes(int from, int to, const std::string& what) {
  return send_all(from, what) && recv_exact(to, what.size(), milliseconds(2000)) == what;
}

/// A client connected through a dropsim Proxy running `profile` to a server.
struct Through {
  explicit Through(Profile profile) : proxy(std::move(profile), server.port()) {
    client = connect_to(proxy.port());
    conn = server.accept();
  }
  Listener server;
  ProxyUnderTest proxy;
  Clock::time_point opened = Clock::now();
  Fd client;  ///< the client's socket
  Fd conn;    ///< the server's accepted socket

  /// After `quiet` with no data: nothing closed, and data still passes both ways.
  void expect_alive_after(Duration quiet) {
    std::this_thread::sleep_for(quiet);
    EXPECT_EQ(proxy.logs().find("closed by"), std::string::npos) << proxy.logs();
    EXPECT_TRUE(passes(client.get(), conn.get(), "still here")) << proxy.logs();
    EXPECT_TRUE(passes(conn.get(), client.get(), "and here")) << proxy.logs();
  }
};


// The proof the detection rests on (tcp_counters.h): a probe moves segs_in and not
// data_segs_in on the socket that receives it; data moves data_segs_in, and is no probe.
TEST(Keepalive, ProbesMoveSegmentsInButNotDataSegmentsIn) {
  Listener l;
  Fd peer = connect_to(l.port());
  Fd ours = l.accept();
  ASSERT_TRUE(ours.valid());
  const auto before = read_segment_counters(ours.get());
  ASSERT_TRUE(before);
  keepalive_every_second(peer.get());
  std::optional<SegmentCounters> now;
  // A probe a second: at least two within 6 s, however loaded the machine.
  EXPECT_TRUE(wait_until(
      [&] {
        now = read_segment_counters(ours.get());
        return now && probes_between(*before, *now) >= 2;
      },
      milliseconds(6000)));
  ASSERT_TRUE(now);
  EXPECT_GT(now->segs_in, before->segs_in);
  EXPECT_EQ(now->data_segs_in, before->data_segs_in) << "a probe carries no data";
  // Data: data_segs_in moves, and the data is not taken for a probe.
  keepalive_every_second(peer.get(), false);
  const auto quiet = read_segment_counters(ours.get());
  ASSERT_TRUE(passes(peer.get(), ours.get(), "hello"));
  const auto after_data = read_segment_counters(ours.get());
  ASSERT_TRUE(quiet && after_data);
  EXPECT_GT(after_data->data_segs_in, quiet->data_segs_in);
  EXPECT_EQ(probes_between(*quiet, *after_data), 0u);
  // Our data and the peer's ACKs of it: not probes either.
  ASSERT_TRUE(passes(ours.get(), peer.get(), "world"));
  std::this_thread::sleep_for(milliseconds(100));  // the peer's (possibly delayed) ACK
  const auto after_ack = read_segment_counters(ours.get());
  ASSERT_TRUE(after_ack);
  EXPECT_GT(after_ack->data_segs_out, after_data->data_segs_out);
  EXPECT_EQ(probes_between(*after_data, *after_ack), 0u);
}

// The issue's numbers: keepalive every 1 s through nlb with a 3 s idle timeout survives
// 10 s; once the probes stop it is dropped 3 s later, and the close line says why.
TEST(Keepalive, NlbCountsTheClientsProbes) {
  const Profile p = builtin("nlb", {{"idle_timeout", "3s"}});
  ASSERT_FALSE(p.warnings.empty()) << "3s is below NLB's 60 s: a warning, not an error";
  Through t(p);
  auto& [server, proxy, opened, client, conn] = t;
  ASSERT_TRUE(conn.valid());
  keepalive_every_second(client.get());
  t.expect_alive_after(seconds(10));
  // The probes stop: the flow is forgotten 3 s after the last thing that counted.
  keepalive_every_second(client.get(), false);
  const auto stopped = Clock::now();
  ASSERT_TRUE(proxy.wait_log("closed by idle_timeout", milliseconds(6000))) << proxy.logs();
  EXPECT_GE(Clock::now() - stopped, milliseconds(2500));
  std::smatch m;
  const std::string logs = proxy.logs();
  EXPECT_TRUE(std::regex_search(logs, m,
                                std::regex(R"(TCP keepalive every [0-9.]+s from the client counts for idle_timeout 3s: )"
                                           R"(margin [0-9.]+x)")))
      << logs;
}

TEST(Keepalive, NlbDropsAClientWithoutKeepaliveAtTheTimeout) {
  Through t(builtin("nlb", {{"idle_timeout", "3s"}}));
  auto& [server, proxy, opened, client, conn] = t;
  ASSERT_TRUE(conn.valid());
  ASSERT_TRUE(proxy.wait_log("closed by idle_timeout after 3.", milliseconds(6000))) << proxy.logs();
  EXPECT_GE(Clock::now() - opened, milliseconds(2900));
  EXPECT_EQ(proxy.logs().find("TCP keepalive"), std::string::npos) << "no probe, nothing said";
  // NLB: the forgotten flow's next packet meets RST.
  ASSERT_TRUE(send_all(client.get(), "anyone?"));
  EXPECT_EQ(wait_end(client.get(), milliseconds(2000)).how, End::reset);
}

TEST(Keepalive, AlbDropsAClientEvenWithKeepalive) {
  Through t(builtin("alb", {{"idle_timeout", "3s"}}));
  auto& [server, proxy, opened, client, conn] = t;
  ASSERT_TRUE(conn.valid());
  keepalive_every_second(client.get());
  ASSERT_TRUE(proxy.wait_log("closed by idle_timeout after 3.", milliseconds(6000))) << proxy.logs();
  EXPECT_GE(Clock::now() - opened, milliseconds(2900));
  EXPECT_LT(Clock::now() - opened, milliseconds(5500)) << "the probes kept nothing alive";
  EXPECT_TRUE(proxy.wait_log("TCP keepalive probes from the client (")) << proxy.logs();
  EXPECT_TRUE(proxy.wait_log("do not reach alb (it terminates TCP; its kernel answers them): only data counts"))
      << proxy.logs();
}

TEST(Keepalive, NlbCountsTheServersProbesToo) {
  Through t(builtin("nlb", {{"idle_timeout", "3s"}}));
  auto& [server, proxy, opened, client, conn] = t;
  ASSERT_TRUE(conn.valid());
  keepalive_every_second(conn.get());
  t.expect_alive_after(seconds(6));
}

// --- silent blackholes (blackhole_answer: none) ------------------------------------------

/// Sends to a blackholed flow through `fd` and waits `wait`: "RST" when it was reset, "no
/// answer" when nothing came back and the bytes stay unacknowledged (its kernel
/// retransmits them), else what happened.
std::string answer_to(int fd, Ms wait) {
  if (!send_all(fd, "hello?")) return "send failed";
  const End how = wait_end(fd, wait).how;
  if (how == End::reset) return "RST";
  if (how != End::timeout) return to_string(how);
  return unacked_segments(fd) > 0 ? "no answer" : "acknowledged";
}

TEST(Keepalive, AzureForgetsTheFlowSilently) {
  // Azure's minimum is 4 minutes: 1s loads with a range warning.
  Through t(builtin("azure-lb", {{"idle_timeout_in_minutes", "1s"}}));
  ASSERT_TRUE(t.conn.valid());
  ASSERT_TRUE(t.proxy.wait_log("closed by idle_timeout_in_minutes", milliseconds(4000))) << t.proxy.logs();
  EXPECT_TRUE(t.proxy.wait_log("client blackholed (silence, and no answer to its next bytes)")) << t.proxy.logs();
  // Either side sends after the drop: no RST, no data, no EOF; not even an ACK.
  EXPECT_EQ(answer_to(t.client.get(), milliseconds(1000)), "no answer");
  EXPECT_EQ(answer_to(t.conn.get(), milliseconds(300)), "no answer");
}

TEST(Keepalive, NatGatewayResetsTheInsideHostAndIgnoresTheOutside) {
  Through t(builtin("nat-gateway", {{"idle_timeout", "1s"}}));
  ASSERT_TRUE(t.conn.valid());
  ASSERT_TRUE(t.proxy.wait_log("closed by idle_timeout", milliseconds(4000))) << t.proxy.logs();
  EXPECT_EQ(answer_to(t.conn.get(), milliseconds(500)), "no answer");
  EXPECT_EQ(answer_to(t.client.get(), milliseconds(2000)), "RST");
}

}  // namespace
}  // namespace dropsim::test
