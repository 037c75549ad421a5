// The real binary's log output never hurts the data path: JSON lines stay valid UTF-8
// whatever bytes a client sends.

#include <signal.h>

#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net_util.h"
#include "process_util.h"

namespace dropsim::test {
namespace {

using std::chrono::milliseconds;
const std::string kBinary = DROPSIM_BINARY;

/// The number after `needle` in `text` (a port in a log line, a sample's value); -1 when absent.
long long number_after(const std::string& text, const std::string& needle) {
  const auto at = text.find(needle);
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + needle.size()));
}

/// Reads from `fd` until a blank line ends an HTTP head; what came, or less on a timeout.
std::string read_head(int fd) {
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    const std::string byte = recv_exact(fd, 1, milliseconds(3000));
    if (byte.empty()) break;
    head += byte;
  }
  return head;
}

// A WebSocket upgrade whose URL is not UTF-8 (Latin-1, an overlong, a surrogate, a
// truncated sequence), through an http profile in JSON mode: every line parses as JSON
// (nlohmann's parser rejects ill-formed UTF-8) and the URL is there, its bad bytes as
// U+FFFD.
TEST(LogOutput, JsonLinesStayValidUtf8WhenTheUrlIsNot) {
  Listener upstream;
  ChildProcess child({kBinary, "--log-format", "json", "--log-level", "debug", "run", "--no-api", "--profile", "nginx",
                      "--listen", "127.0.0.1:0", "--upstream", fmt::format("127.0.0.1:{}", upstream.port())});
  ASSERT_TRUE(child.wait_err("\"event\":\"listen\"", milliseconds(5000))) << child.err();
  const auto port = static_cast<std::uint16_t>(number_after(child.err(), "\"port\":"));

  Fd client = connect_to(port);
  ASSERT_TRUE(send_all(client.get(),
                       "GET /caf\xe9/\xc0\xaf/\xed\xa0\x80/\xf0\x9f\x98?ok=\xe2\x82\xac HTTP/1.1\r\n"
                       "Host: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
  Fd server = upstream.accept();
  ASSERT_TRUE(server.valid());
  ASSERT_NE(read_head(server.get()).find("\r\n\r\n"), std::string::npos);
  ASSERT_TRUE(send_all(server.get(),
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"));
  ASSERT_TRUE(child.wait_err("\"event\":\"upgrade\"", milliseconds(3000))) << child.err();
  client.reset();
  server.reset();
  child.signal(SIGINT);
  EXPECT_EQ(child.wait(milliseconds(5000)), 0);

  std::istringstream lines(child.err());
  int parsed = 0;
  bool url_seen = false;
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(line)) << testing::PrintToString(line);
    ++parsed;
    if (j.value("event", "") == "upgrade") {
      const std::string msg = j.at("msg");
      const std::string r = "\xef\xbf\xbd";  // U+FFFD
      EXPECT_NE(msg.find("GET /caf" + r + "/" + r + r + "/" + r + r + r + "/" + r + "?ok=\xe2\x82\xac"),
                std::string::npos)
          << msg;
      url_seen = true;
    }
  }
  EXPECT_GE(parsed, 3);
  EXPECT_TRUE(url_seen) << child.err();
}

}  // namespace
}  // namespace dropsim::test
