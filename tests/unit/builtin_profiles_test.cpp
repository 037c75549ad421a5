#include "builtin_profiles.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "profile_yaml.h"

namespace dropsim {
namespace {

/// The error `find_profile_text(arg)` raises; fails the test when it succeeds.
ProfileError find_error(const std::string& arg) {
  try {
    find_profile_text(arg);
  } catch (const ProfileError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ProfileError for " << arg;
  return ProfileError("", 0, 0, "");
}

/// True when `text` contains `part`.
bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

/// A file in the temp directory, removed when the test ends.
class TempFile {
 public:
  /// Writes `text` to a file named for this process and `name`.
  TempFile(const std::string& name, const std::string& text)
      : path_(std::filesystem::temp_directory_path() /
              ("dropsim_" + std::to_string(::getpid()) + "_" + name)) {
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  /// The file's path.
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(BuiltinProfilesTest, EmbedsEveryProfile) {
  std::vector<std::string> names;
  for (const EmbeddedProfile& p : embedded_profiles()) names.emplace_back(p.name);
  for (const char* want : {"alb", "alb-client-activity-only", "apache", "api-gateway", "azure-lb", "caddy",
                           "cloudflare", "envoy", "gcp", "haproxy", "haproxy-tcp", "heroku", "ingress-nginx",
                           "nat-gateway", "nginx", "nginx-stream", "nlb"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
}

TEST(BuiltinProfilesTest, FindsABuiltinByName) {
  const ProfileText t = find_profile_text("nginx");
  EXPECT_EQ(t.file, "profiles/nginx.yaml");
  EXPECT_TRUE(contains(t.text, "name: nginx\n"));
  EXPECT_EQ(load_profile(t.text, t.file).name, "nginx");
  EXPECT_EQ(find_profile_text("nginx-stream").file, "profiles/nginx-stream.yaml");
}

TEST(BuiltinProfilesTest, ReadsAFileByPath) {
  const TempFile file("custom.yaml", "name: custom\nmode: tcp\ntimers: []\n");
  const ProfileText t = find_profile_text(file.path());
  EXPECT_EQ(t.file, file.path());
  EXPECT_EQ(t.text, "name: custom\nmode: tcp\ntimers: []\n");
  EXPECT_EQ(load_profile(t.text, t.file).name, "custom");
}

TEST(BuiltinProfilesTest, ErrorsInAFileNameThatFile) {
  const TempFile file("broken.yaml", "name: broken\nmode: udp\n");
  const ProfileText t = find_profile_text(file.path());
  try {
    load_profile(t.text, t.file);
    ADD_FAILURE() << "loaded a profile with mode: udp";
  } catch (const ProfileError& e) {
    EXPECT_TRUE(std::string_view(e.what()).starts_with(file.path() + ":2:7: ")) << e.what();
  }
}

TEST(BuiltinProfilesTest, MissingFileNamesThePathAndTheBuiltins) {
  const std::string path = "/nonexistent/dropsim/profile.yaml";
  const ProfileError e = find_error(path);
  EXPECT_EQ(e.file(), path);
  EXPECT_TRUE(std::string_view(e.what()).starts_with(path + ": ")) << e.what();
  EXPECT_TRUE(contains(e.what(), "no such file")) << e.what();
  EXPECT_TRUE(contains(e.what(), "alb, alb-client-activity-only, apache, api-gateway, azure-lb")) << e.what();
}

TEST(BuiltinProfilesTest, DirectoryIsNotAProfile) {
  const std::string dir = std::filesystem::temp_directory_path().string() + "/";
  EXPECT_TRUE(contains(find_error(dir).what(), "not a regular file")) << find_error(dir).what();
}

TEST(BuiltinProfilesTest, UnknownNameListsBuiltinsAndSuggests) {
  const ProfileError e = find_error("ngnix");
  EXPECT_EQ(e.file(), "--profile");
  EXPECT_TRUE(std::string_view(e.what()).starts_with("--profile: no built-in profile 'ngnix'")) << e.what();
  EXPECT_TRUE(contains(e.what(), "(did you mean 'nginx'?)")) << e.what();
  EXPECT_TRUE(contains(e.what(),
                       "alb, alb-client-activity-only, apache, api-gateway, azure-lb, caddy, cloudflare, envoy, gcp, "
                       "haproxy, haproxy-tcp, heroku, ingress-nginx, nat-gateway, nginx, nginx-stream, nlb"))
      << e.what();
  EXPECT_TRUE(contains(e.what(), "give a path containing '/'")) << e.what();
  EXPECT_TRUE(contains(find_error("haproxy_tcp").what(), "did you mean 'haproxy-tcp'?"));
}

TEST(BuiltinProfilesTest, UnknownNameFarFromEveryBuiltinHasNoSuggestion) {
  const ProfileError e = find_error("traefik");
  EXPECT_FALSE(contains(e.what(), "did you mean")) << e.what();
  EXPECT_TRUE(contains(e.what(), "built-in profiles: alb")) << e.what();
}

}  // namespace
}  // namespace dropsim
