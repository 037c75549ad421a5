#include "toxiproxy_flags.h"

#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace dropsim {
namespace {

using Args = std::vector<std::string>;

TEST(ToxiproxyFlags, AsGoFlagPackageTakesThem) {
  // Testcontainers Go, compose files, Toxiproxy's Dockerfile.
  EXPECT_EQ(translate_toxiproxy_flags({"run", "-host=0.0.0.0", "-config=/tmp/tc-toxiproxy.json"}),
            (Args{"run", "--host", "0.0.0.0", "--config", "/tmp/tc-toxiproxy.json"}));
  EXPECT_EQ(translate_toxiproxy_flags({"-host", "127.0.0.1", "-port", "8474"}),
            (Args{"--host", "127.0.0.1", "--port", "8474"}));
  EXPECT_EQ(translate_toxiproxy_flags({"--host=::", "--port=0"}), (Args{"--host", "::", "--port", "0"}));
  EXPECT_EQ(translate_toxiproxy_flags({"-proxy-metrics", "-runtime-metrics=true", "-version"}),
            (Args{"--proxy-metrics", "--runtime-metrics", "--toxiproxy-version"}));
  EXPECT_EQ(translate_toxiproxy_flags({"-proxy-metrics=false", "-runtime-metrics=0"}), Args{});
  EXPECT_EQ(translate_toxiproxy_flags({"-h"}), Args{"--help"});
  EXPECT_EQ(translate_toxiproxy_flags({"-help"}), Args{"--help"});
}

TEST(ToxiproxyFlags, SeedIsAGoInt64) {
  EXPECT_EQ(translate_toxiproxy_flags({"-seed=42"}), (Args{"--seed", "42"}));
  EXPECT_EQ(translate_toxiproxy_flags({"-seed", "-1"}), (Args{"--seed", "18446744073709551615"}));
}

TEST(ToxiproxyFlags, DropsimsOwnArgumentsPassUnchanged) {
  const Args own{"run", "-p", "alb", "-l", "localhost:0", "-u", "localhost:3000", "--set", "idle_timeout=5s",
                 "--log-format", "json", "-c", "dropsim.yaml"};
  EXPECT_EQ(translate_toxiproxy_flags(own), own);
  EXPECT_EQ(translate_toxiproxy_flags({"--version"}), Args{"--version"});  // dropsim's
  // After "--" nothing is a flag.
  EXPECT_EQ(translate_toxiproxy_flags({"--", "-host=x"}), (Args{"--", "-host=x"}));
}

TEST(ToxiproxyFlags, ABoolGoRefusesIsRefused) {
  EXPECT_THROW(translate_toxiproxy_flags({"-proxy-metrics=yes"}), std::invalid_argument);
}

TEST(ToxiproxyFlags, ToxiproxysProgramNames) {
  EXPECT_TRUE(is_toxiproxy_name("toxiproxy-server"));
  EXPECT_TRUE(is_toxiproxy_name("/usr/local/bin/toxiproxy-server"));
  EXPECT_TRUE(is_toxiproxy_name("/toxiproxy"));
  EXPECT_FALSE(is_toxiproxy_name("/usr/bin/dropsim"));
  EXPECT_FALSE(is_toxiproxy_name("toxiproxy-cli"));
}

}  // namespace
}  // namespace dropsim
