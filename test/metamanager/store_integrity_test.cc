// When the store's PRAGMA quick_check runs (SqliteStoreOptions::integrity_check): after open()
// when the last shutdown was clean, before it otherwise; a damaged file is reported either way.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "metamanager/sqlite_meta_store.h"

namespace edgecore::metamanager {
namespace {

namespace fs = std::filesystem;
using core::StatusCode;
using IntegrityCheck = SqliteStoreOptions::IntegrityCheck;

constexpr auto kWait = std::chrono::seconds(20);

Status submitAndWait(MetaStore& store, std::vector<WriteOp> ops) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  Status st = store.submit(std::move(ops), [promise](Status s) { promise->set_value(s); });
  if (!st.ok()) {
    return st;
  }
  if (future.wait_for(kWait) != std::future_status::ready) {
    return core::deadlineExceeded("callback not called");
  }
  return future.get();
}

class StoreIntegrityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "store-integrity-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (fs::path(dir_) / "edgecore.db").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  SqliteStoreOptions options(IntegrityCheck when) {
    SqliteStoreOptions o;
    o.path = path_;
    o.integrity_check = when;
    o.on_background_check_failure = [this](Status st) {
      std::lock_guard lock(mu_);
      reports_.push_back(st);
    };
    return o;
  }

  // A database whose v1 `meta` rows fill most of the file, then one pod in meta_v2; the store
  // closes cleanly (no -wal left). Opening reads meta_v2 only, so damage in the `meta` pages is
  // found by quick_check alone.
  void writeDatabaseAndDamageMetaRows() {
    {
      auto store = SqliteMetaStore::open(options(IntegrityCheck::BeforeOpen));
      ASSERT_TRUE(store.ok()) << store.status().toString();
      std::vector<WriteOp> ops;
      for (int i = 0; i < 400; ++i) {
        WriteOp op;
        op.kind = WriteOp::Kind::UpsertMeta;
        op.key = "default/configmap/cm-" + std::to_string(i);
        op.type = "configmap";
        op.value = std::string(3000, 'v');
        ops.push_back(std::move(op));
      }
      WriteOp pod;
      pod.kind = WriteOp::Kind::UpsertObject;
      pod.object_key.gvr = {"", "v1", "pods"};
      pod.value = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"d"}})";
      ops.push_back(std::move(pod));
      ASSERT_TRUE(submitAndWait(**store, std::move(ops)).ok());
    }
    ASSERT_FALSE(fs::exists(path_ + "-wal"));
    ASSERT_GT(fs::file_size(path_), 300u * 4096);
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    std::string garbage(4096 * 8, '\x5a');
    f.seekp(4096 * 150);
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }

  std::vector<Status> reports() {
    std::lock_guard lock(mu_);
    return reports_;
  }

  std::string dir_;
  std::string path_;
  std::mutex mu_;
  std::vector<Status> reports_;
};

TEST_F(StoreIntegrityTest, AfterCleanShutdownOpensAtOnceAndReportsDamageFromTheBackground) {
  writeDatabaseAndDamageMetaRows();
  auto store = SqliteMetaStore::open(options(IntegrityCheck::AfterOpenIfClean));
  ASSERT_TRUE(store.ok()) << store.status().toString();
  EXPECT_EQ((*store)->stats().objects, 1u);  // serving already
  auto deadline = std::chrono::steady_clock::now() + kWait;
  while (reports().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto got = reports();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].code(), StatusCode::DataLoss);
  EXPECT_NE(got[0].message().find("failed its integrity check"), std::string::npos)
      << got[0].message();
  EXPECT_NE(got[0].message().find("docs/operations.md"), std::string::npos);
}

TEST_F(StoreIntegrityTest, AfterUncleanShutdownChecksBeforeServing) {
  writeDatabaseAndDamageMetaRows();
  std::ofstream(path_ + "-wal").close();  // what a crash leaves behind (here empty)
  auto store = SqliteMetaStore::open(options(IntegrityCheck::AfterOpenIfClean));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::DataLoss);
  EXPECT_NE(store.status().message().find("failed its integrity check"), std::string::npos);
  EXPECT_TRUE(reports().empty());
}

TEST_F(StoreIntegrityTest, BeforeOpenStillRefusesADamagedFile) {
  writeDatabaseAndDamageMetaRows();
  auto store = SqliteMetaStore::open(options(IntegrityCheck::BeforeOpen));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::DataLoss);
}

TEST_F(StoreIntegrityTest, BackgroundCheckOfAHealthyFileReportsNothingAndCloseInterruptsIt) {
  {
    auto store = SqliteMetaStore::open(options(IntegrityCheck::BeforeOpen));
    ASSERT_TRUE(store.ok());
  }
  for (int round = 0; round < 20; ++round) {
    auto store = SqliteMetaStore::open(options(IntegrityCheck::AfterOpenIfClean));
    ASSERT_TRUE(store.ok()) << store.status().toString();
    if (round % 2 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }  // closing while the check runs (odd rounds): no report, no hang
  EXPECT_TRUE(reports().empty());
}

TEST_F(StoreIntegrityTest, NotADatabaseIsStillAClearErrorWhenTheCheckWouldRunLater) {
  {
    std::ofstream f(path_);
    for (int i = 0; i < 200; ++i) {
      f << "this is a config file, not a database\n";
    }
  }
  auto store = SqliteMetaStore::open(options(IntegrityCheck::AfterOpenIfClean));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::FailedPrecondition);
  EXPECT_NE(store.status().message().find("is not an SQLite database"), std::string::npos)
      << store.status().message();
}

}  // namespace
}  // namespace edgecore::metamanager
