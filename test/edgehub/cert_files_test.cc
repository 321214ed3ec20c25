// Where edgehub writes the node's key and certificates (crypto.h writeFileAtomic, used by the
// certificate bootstrap and rotation): a local user who can write the certificate directory
// planted a symlink at the temporary name older versions used (<file>.tmp.<pid>); the key must
// not be written through it, and it must be 0600 from its first byte whatever the umask.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto.h"

namespace edgecore::edgehub {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

unsigned modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class EdgeHubCertFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    old_umask_ = ::umask(022);
    std::string tmpl = (fs::temp_directory_path() / "edgehub-certs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::umask(old_umask_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  mode_t old_umask_ = 0;
  std::string dir_;
};

TEST_F(EdgeHubCertFiles, KeyIsNotWrittenThroughAPlantedTemporaryName) {
  const std::string victim = dir_ + "/victim";
  std::ofstream(victim) << "root's file";
  ASSERT_EQ(::chmod(victim.c_str(), 0644), 0);
  const std::string key = dir_ + "/certs/server.key";
  fs::create_directories(dir_ + "/certs");
  fs::create_symlink(victim, key + ".tmp." + std::to_string(::getpid()));
  fs::create_symlink(victim, key + ".tmp");

  ASSERT_TRUE(writeFileAtomic(key, "PRIVATE KEY", 0600).ok());
  EXPECT_EQ(slurp(victim), "root's file");
  EXPECT_EQ(modeOf(victim), 0644u);
  EXPECT_FALSE(fs::is_symlink(key));
  EXPECT_EQ(slurp(key), "PRIVATE KEY");
  EXPECT_EQ(modeOf(key), 0600u);
}

TEST_F(EdgeHubCertFiles, MissingCertificateDirectoryIsCreated0700) {
  const std::string cert = dir_ + "/etc/kubeedge/certs/server.crt";
  ASSERT_TRUE(writeFileAtomic(cert, "CERT", 0600).ok());
  EXPECT_EQ(modeOf(dir_ + "/etc/kubeedge/certs"), 0700u);
  EXPECT_EQ(modeOf(cert), 0600u);
}

}  // namespace
}  // namespace edgecore::edgehub
