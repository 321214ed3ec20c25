// Private files and directories (include/edgecore/core/file.h) on a real filesystem, under the
// umask 022 a shell or systemd usually gives: what we create gets exactly the mode asked for, an
// existing world-readable file is narrowed, and nothing a local user plants next to a file we
// replace (a symlink at the final name or at a guessable temporary name, a file with that name) is
// written through.

#include "edgecore/core/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace edgecore::core {
namespace {

namespace fs = std::filesystem;

unsigned modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PrivateFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    old_umask_ = ::umask(022);
    std::string tmpl = (fs::temp_directory_path() / "core-file-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::umask(old_umask_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  void write(const std::string& path, const std::string& text, unsigned mode) {
    std::ofstream(path) << text;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }

  mode_t old_umask_ = 0;
  std::string dir_;
};

TEST_F(PrivateFiles, CreateDirectoriesGivesNewOnesExactlyTheMode) {
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  auto created = createDirectories(file("a/b/c"), 0700);
  ASSERT_TRUE(created.ok()) << created.status().toString();
  EXPECT_TRUE(*created);
  for (const char* d : {"a", "a/b", "a/b/c"}) {
    EXPECT_EQ(modeOf(file(d)), 0700u) << d;
  }
  // Directories that exist keep their mode (an operator's choice, or a shared /var/lib).
  EXPECT_EQ(modeOf(dir_), 0755u);
  auto again = createDirectories(file("a/b/c"), 0700);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  write(file("plain"), "x", 0600);
  EXPECT_FALSE(createDirectories(file("plain"), 0700).ok());
}

TEST_F(PrivateFiles, EnsurePrivateFileCreatesNarrowsAndRefusesSymlinks) {
  auto fresh = ensurePrivateFile(file("new.db"), 0600, true);
  ASSERT_TRUE(fresh.ok()) << fresh.status().toString();
  EXPECT_FALSE(fresh->has_value());
  EXPECT_EQ(modeOf(file("new.db")), 0600u);

  write(file("old.db"), "data", 0644);
  auto narrowed = ensurePrivateFile(file("old.db"), 0600, true);
  ASSERT_TRUE(narrowed.ok()) << narrowed.status().toString();
  ASSERT_TRUE(narrowed->has_value());
  EXPECT_EQ((*narrowed)->path, file("old.db"));
  EXPECT_EQ((*narrowed)->old_mode, 0644u);
  EXPECT_EQ((*narrowed)->new_mode, 0600u);
  EXPECT_EQ(modeOf(file("old.db")), 0600u);
  EXPECT_EQ(slurp(file("old.db")), "data");  // only the mode changed
  EXPECT_EQ(octalMode((*narrowed)->old_mode), "0644");

  auto missing = ensurePrivateFile(file("absent-wal"), 0600, false);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_FALSE(fs::exists(file("absent-wal")));

  write(file("victim"), "secret", 0644);
  fs::create_symlink(file("victim"), file("link.db"));
  auto link = ensurePrivateFile(file("link.db"), 0600, true);
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.status().code(), StatusCode::FailedPrecondition);
  EXPECT_EQ(modeOf(file("victim")), 0644u);  // the link's target was not touched
}

TEST_F(PrivateFiles, WriteFileAtomicGivesTheModeWhateverTheUmask) {
  ASSERT_TRUE(writeFileAtomic(file("node.key"), "KEY", 0600).ok());
  EXPECT_EQ(modeOf(file("node.key")), 0600u);
  EXPECT_EQ(slurp(file("node.key")), "KEY");
  ::umask(077);
  ASSERT_TRUE(writeFileAtomic(file("ca.crt"), "CERT", 0644).ok());
  EXPECT_EQ(modeOf(file("ca.crt")), 0644u);
  // Replacing narrows a file that was readable by others before.
  write(file("old.key"), "OLD", 0644);
  ASSERT_TRUE(writeFileAtomic(file("old.key"), "NEW", 0600).ok());
  EXPECT_EQ(modeOf(file("old.key")), 0600u);
  EXPECT_EQ(slurp(file("old.key")), "NEW");
  // Nothing but the result is left in the directory.
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 3u);
}

TEST_F(PrivateFiles, WriteFileAtomicNeverWritesThroughWhatWasPlanted) {
  write(file("victim"), "root's file", 0644);
  // A symlink at the final name is replaced, not followed.
  fs::create_symlink(file("victim"), file("node.key"));
  // Symlinks and a file at every temporary name older code used (<name>.tmp, <name>.tmp.<pid>).
  fs::create_symlink(file("victim"), file("node.key.tmp"));
  fs::create_symlink(file("victim"), file("node.key.tmp." + std::to_string(::getpid())));
  write(file(".node.key.tmp"), "planted", 0666);
  ASSERT_TRUE(writeFileAtomic(file("node.key"), "KEY", 0600).ok());
  EXPECT_EQ(slurp(file("victim")), "root's file");
  EXPECT_EQ(modeOf(file("victim")), 0644u);
  EXPECT_FALSE(fs::is_symlink(file("node.key")));
  EXPECT_EQ(slurp(file("node.key")), "KEY");
  EXPECT_EQ(modeOf(file("node.key")), 0600u);
  EXPECT_EQ(slurp(file(".node.key.tmp")), "planted");
}

TEST_F(PrivateFiles, WriteFileAtomicReportsAMissingDirectory) {
  auto st = writeFileAtomic(file("absent/node.key"), "KEY", 0600);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::Unavailable);
  EXPECT_NE(st.message().find(file("absent")), std::string::npos) << st.message();
}

}  // namespace
}  // namespace edgecore::core
