#pragma once

// SqliteMetaStore: MetaStore over KubeEdge's SQLite file. One writer thread owns the write
// connection and turns everything queued into one transaction; readers of the v1 `meta` table use
// a separate connection; meta_v2 readers only touch the in-memory ObjectIndex.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "edgecore/metamanager/meta_store.h"
#include "edgecore/sqlite/sqlite_db.h"
#include "object_index.h"

namespace edgecore::metamanager {

using sqlite::Connection;
using sqlite::sqliteStatus;
using sqlite::Statement;

class SqliteMetaStore final : public MetaStore {
 public:
  static Result<std::unique_ptr<SqliteMetaStore>> open(const SqliteStoreOptions& options);
  // Commits everything already queued, then stops the writer thread.
  ~SqliteMetaStore() override;

  // MetaStore
  Status submit(std::vector<WriteOp> ops, WriteCallback done) override;
  Result<std::optional<std::string>> getMeta(std::string_view key) override;
  Result<std::vector<std::string>> listMetaByType(std::string_view type) override;
  StoredObjectPtr getObject(const ObjectKey& key) const override;
  std::vector<StoredObjectPtr> listObjects(const Gvr& gvr, std::string_view ns,
                                           uint64_t* revision = nullptr) const override;
  std::vector<Gvr> listGvrs() const override;
  uint64_t revision() const override;
  std::optional<std::string> getRawV2(std::string_view key) const override;
  uint64_t addChangeListener(ChangeListener listener) override;
  void removeChangeListener(uint64_t id) override;
  StoreStats stats() const override;
  // DeviceTwinStore, SubTopicStore, UpgradeRecords (SQL in module_tables.cc)
  Result<DeviceTables> loadDeviceTables() override;
  Result<std::vector<std::string>> listSubTopics() override;
  Status addSubTopic(const std::string& topic, WriteCallback done) override;
  Status removeSubTopic(const std::string& topic, WriteCallback done) override;
  Result<UpgradeRequestRows> readUpgradeRequests() override;
  Status deleteUpgradeRequests(WriteCallback done) override;
  Result<std::vector<NodeTaskRow>> readNodeTaskRows(std::string_view gvr) override;
  Status saveNodeTaskRow(NodeTaskRow row, bool only_of_gvr, WriteCallback done) override;
  Status deleteNodeTaskRow(std::string key, WriteCallback done) override;

  // Caps the database at its current size (`pages` below it clamps to it), so the next write
  // that needs a new page fails with SQLITE_FULL as on a full disk. A large value lifts the cap.
  Status setMaxPageCountForTest(uint64_t pages);
  // While paused the writer takes nothing from the queue (so tests can fill it deterministically).
  void pauseWriterForTest(bool paused);

 private:
  struct Batch {
    std::vector<WriteOp> ops;
    WriteCallback done;
    // UpsertObject ops parsed in submit() (on the caller's thread, keeping the writer free for
    // SQLite): objects[i] for ops[i], or parse_error for the first op that did not parse.
    std::vector<StoredObjectPtr> objects;
    Status parse_error;
  };
  // What one successful batch changes in memory once its transaction commits.
  struct Effects {
    std::vector<ObjectIndex::Mutation> objects;
    std::vector<std::pair<std::string, std::optional<std::string>>> raws;
  };
  struct Listener {
    ChangeListener fn;
    bool removed = false;  // guarded by listeners_mu_
  };

  SqliteMetaStore(SqliteStoreOptions options, std::unique_ptr<Connection> writer,
                  std::unique_ptr<Connection> reader);

  Status loadObjects();
  void writerLoop();
  // Blocks until there is work; empty when closing and drained.
  std::vector<Batch> takeBatches();
  void runTransaction(std::vector<Batch>& batches);
  Status applyBatch(const Batch& batch, Effects* effects);
  Status applyOp(const WriteOp& op, const StoredObjectPtr& parsed, Effects* effects);
  void dispatch(const std::vector<ObjectChange>& changes);
  // PRAGMA quick_check on a connection of its own, after open() returned (AfterOpenIfClean).
  void checkInBackground();

  const SqliteStoreOptions options_;
  ObjectIndex index_;

  std::mutex writer_mu_;  // the write connection: writer thread, plus ForTest hooks
  std::unique_ptr<Connection> writer_;
  std::mutex reader_mu_;
  std::unique_ptr<Connection> reader_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Batch> queue_;
  size_t queued_ops_ = 0;
  bool closing_ = false;
  bool paused_ = false;
  size_t last_take_batches_ = 0;  // batches in the previous transaction (group commit)

  mutable std::mutex stats_mu_;
  StoreStats stats_;

  std::mutex listeners_mu_;
  std::mutex dispatch_mu_;  // held while listeners run; removal waits on it
  std::map<uint64_t, std::shared_ptr<Listener>> listeners_;
  uint64_t next_listener_id_ = 1;

  std::thread writer_thread_;

  std::mutex checker_mu_;
  Connection* checker_ = nullptr;  // while the background check runs; interrupted on close
  bool closing_checker_ = false;
  std::thread checker_thread_;
};

}  // namespace edgecore::metamanager
