#include "sqlite_meta_store.h"

#include <spdlog/logger.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <utility>

#include "edgecore/core/time.h"
#include "module_tables.h"
#include "schema.h"

namespace edgecore::metamanager {
namespace {

constexpr int kBusyTimeoutMs = 5000;  // go-sqlite3's default, which Go edgecore runs with

constexpr char kUpsertMeta[] = "INSERT OR REPLACE INTO meta (key, type, value) VALUES (?,?,?)";
constexpr char kDeleteMeta[] = "DELETE FROM meta WHERE key = ?";
constexpr char kDeletePodGuarded[] = "DELETE FROM meta WHERE key = ? AND value LIKE ? ESCAPE '\\'";
// The ServiceAccount tokens cached for a deleted pod (bound to its uid): useless to anyone now.
constexpr char kDeletePodTokens[] =
    "DELETE FROM meta WHERE type = 'serviceaccounttoken' AND value LIKE ? ESCAPE '\\'";
constexpr char kUpsertV2[] =
    "INSERT OR REPLACE INTO meta_v2 (key, groupversionresource, namespace, name, "
    "resourceversion, value) VALUES (?,?,?,?,?,?)";
constexpr char kDeleteV2[] = "DELETE FROM meta_v2 WHERE key = ?";

std::string_view kindName(WriteOp::Kind kind) {
  switch (kind) {
    case WriteOp::Kind::UpsertMeta:
      return "UpsertMeta";
    case WriteOp::Kind::DeleteMeta:
      return "DeleteMeta";
    case WriteOp::Kind::DeletePodGuarded:
      return "DeletePodGuarded";
    case WriteOp::Kind::UpsertObject:
      return "UpsertObject";
    case WriteOp::Kind::DeleteObject:
      return "DeleteObject";
    case WriteOp::Kind::UpsertRawV2:
      return "UpsertRawV2";
    case WriteOp::Kind::SaveDevice:
      return "SaveDevice";
    case WriteOp::Kind::SetDeviceState:
      return "SetDeviceState";
    case WriteOp::Kind::AddDeviceAttr:
      return "AddDeviceAttr";
    case WriteOp::Kind::InsertTwin:
      return "InsertTwin";
    case WriteOp::Kind::UpdateTwin:
      return "UpdateTwin";
    case WriteOp::Kind::DeleteDevice:
      return "DeleteDevice";
    case WriteOp::Kind::AddSubTopic:
      return "AddSubTopic";
    case WriteOp::Kind::RemoveSubTopic:
      return "RemoveSubTopic";
    case WriteOp::Kind::DeleteUpgradeRequests:
      return "DeleteUpgradeRequests";
    case WriteOp::Kind::UpsertNodeTaskRow:
      return "UpsertNodeTaskRow";
    case WriteOp::Kind::ReplaceNodeTaskRows:
      return "ReplaceNodeTaskRows";
    case WriteOp::Kind::DeleteNodeTaskRow:
      return "DeleteNodeTaskRow";
  }
  return "?";
}

// `%uid%` for LIKE, with LIKE's wildcards in the uid taken literally.
std::string likeContains(std::string_view uid) {
  std::string out = "%";
  for (char c : uid) {
    if (c == '%' || c == '_' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '%';
  return out;
}

// "<ns>/pod/<name>" -> "<ns>/podpatch/<name>" (edge/pkg/metamanager/process.go processDelete).
std::string podPatchKey(const std::string& pod_key) {
  std::string out = pod_key;
  size_t at = out.find("/pod/");
  if (at != std::string::npos) {
    out.replace(at, 5, "/podpatch/");
  }
  return out;
}

std::string utcStamp() {
  return core::formatUtc(std::chrono::system_clock::now(), "%Y%m%dT%H%M%SZ");
}

Status corruptionStatus(const std::string& path, const std::string& detail) {
  std::string aside = path + ".corrupt-" + utcStamp();
  return core::dataLoss("database " + path + " failed its integrity check (" + detail +
                        "). Stop edgecore, move the file aside (mv " + path + " " + aside +
                        ", and the same for " + path + "-wal and " + path +
                        "-shm if present) and start again: the cloud resends everything (see "
                        "docs/operations.md, \"Database\")");
}

// Clear answers for the usual ways a data source path is wrong, before SQLite's terse ones.
Status checkPath(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) {
    return core::invalidArgument("database.dataSource is empty");
  }
  fs::path file(path);
  fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return core::unavailable("database directory " + dir.string() +
                             " does not exist: create it (mkdir -p " + dir.string() +
                             ") or point database.dataSource elsewhere");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return core::unavailable("database directory " + dir.string() + " is not writable by uid " +
                             std::to_string(::getuid()) +
                             " (SQLite needs it for its -wal and -shm files): fix its owner or "
                             "mode, or run edgecore as its owner");
  }
  if (fs::exists(file, ec)) {
    if (fs::is_directory(file, ec)) {
      return core::unavailable("database path " + path + " is a directory, not a file");
    }
    if (::access(file.c_str(), R_OK | W_OK) != 0) {
      return core::unavailable("database file " + path + " is not readable and writable by uid " +
                               std::to_string(::getuid()) + ": fix its owner or mode");
    }
  }
  return {};
}

// PRAGMA quick_check, mapped to DataLoss with the recovery steps; a file that is no database at
// all gets its own message.
Status checkIntegrity(Connection& db) {
  auto stmt = db.prepare("PRAGMA quick_check");
  int rc = stmt.ok() ? SQLITE_OK : SQLITE_ERROR;
  std::string detail;
  if (stmt.ok()) {
    while ((rc = (*stmt)->step()) == SQLITE_ROW) {
      std::string_view line = (*stmt)->columnText(0);
      if (line != "ok" && detail.size() < 300) {
        detail += detail.empty() ? "" : "; ";
        detail += line;
      }
    }
    if (rc != SQLITE_DONE) {
      detail = db.errorMessage();
    }
    (*stmt)->reset();
  } else {
    rc = SQLITE_NOTADB;  // prepare fails the same way when the header is not SQLite's
    detail = stmt.status().message();
  }
  if ((rc & 0xff) == SQLITE_NOTADB) {
    return core::failedPrecondition(
        "file " + db.path() + " is not an SQLite database (" + detail +
        "): point database.dataSource at the edgecore database, or move this file aside");
  }
  if ((rc & 0xff) == SQLITE_CORRUPT || (rc == SQLITE_DONE && !detail.empty())) {
    return corruptionStatus(db.path(), detail);
  }
  if (rc != SQLITE_DONE) {
    return sqliteStatus(rc, "cannot check integrity", db.path(), detail);
  }
  return {};
}

Status configure(Connection& db) {
  auto stmt = db.prepare("PRAGMA journal_mode=WAL");
  if (!stmt.ok()) {
    return stmt.status();
  }
  int rc = (*stmt)->step();
  std::string mode(rc == SQLITE_ROW ? (*stmt)->columnText(0) : std::string_view());
  (*stmt)->reset();
  if (mode != "wal") {
    return sqliteStatus(rc == SQLITE_ROW ? SQLITE_ERROR : rc, "cannot switch to WAL", db.path(),
                        "journal_mode is " + mode + " " + db.errorMessage());
  }
  return db.exec("PRAGMA synchronous=FULL", "cannot set synchronous=FULL");
}

}  // namespace

Result<std::unique_ptr<MetaStore>> openSqliteMetaStore(const SqliteStoreOptions& options) {
  EC_ASSIGN_OR_RETURN(auto store, SqliteMetaStore::open(options));
  return std::unique_ptr<MetaStore>(std::move(store));
}

Result<std::unique_ptr<SqliteMetaStore>> SqliteMetaStore::open(const SqliteStoreOptions& options) {
  using Clock = std::chrono::steady_clock;
  EC_RETURN_IF_ERROR(checkPath(options.path));
  // SQLite deletes the -wal file when the last connection closes cleanly; one left over means a
  // crash or power loss (or another process has the file open): check before serving then.
  std::error_code ec;
  const bool check_later =
      options.integrity_check == SqliteStoreOptions::IntegrityCheck::AfterOpenIfClean &&
      !std::filesystem::exists(options.path + "-wal", ec) && !ec;
  auto t0 = Clock::now();
  EC_ASSIGN_OR_RETURN(auto writer, Connection::open(options.path, true, kBusyTimeoutMs));
  for (const core::ModeChange& c : writer->modeChanges()) {
    // Older versions created the database (it holds Secrets) with the umask's 0644.
    if (options.log) {
      options.log->info("database file mode narrowed path={} old={} new={}", c.path,
                        core::octalMode(c.old_mode), core::octalMode(c.new_mode));
    }
  }
  if (!check_later) {
    EC_RETURN_IF_ERROR(checkIntegrity(*writer));
  }
  auto t_checked = Clock::now();
  std::unique_ptr<SqliteMetaStore> store;
  auto t_schema = t_checked;
  Status st = [&]() -> Status {
    EC_RETURN_IF_ERROR(configure(*writer));
    EC_RETURN_IF_ERROR(syncSchema(*writer, {.device_tables = options.create_device_tables,
                                            .meta_tables = options.create_meta_tables}));
    t_schema = Clock::now();
    EC_ASSIGN_OR_RETURN(auto reader, Connection::open(options.path, false, kBusyTimeoutMs));
    store.reset(new SqliteMetaStore(options, std::move(writer), std::move(reader)));
    if (options.create_meta_tables) {
      EC_RETURN_IF_ERROR(store->loadObjects());
    }
    return {};
  }();
  if (!st.ok() && check_later) {
    // A file that is no database, or damaged where these steps read: the check's clearer error.
    store.reset();
    EC_ASSIGN_OR_RETURN(auto checker, Connection::open(options.path, false, kBusyTimeoutMs));
    EC_RETURN_IF_ERROR(checkIntegrity(*checker));
  }
  EC_RETURN_IF_ERROR(st);
  auto t_loaded = Clock::now();
  if (options.log) {
    auto ms = [](Clock::duration d) {
      return std::chrono::duration<double, std::milli>(d).count();
    };
    options.log->info(
        "database opened path={} quick_check={} check_ms={:.1f} wal_and_schema_ms={:.1f} "
        "load_ms={:.1f}",
        options.path, check_later ? "after-open" : "before-open", ms(t_checked - t0),
        ms(t_schema - t_checked), ms(t_loaded - t_schema));
  }
  store->writer_thread_ = std::thread([s = store.get()] { s->writerLoop(); });
  if (check_later) {
    store->checker_thread_ = std::thread([s = store.get()] { s->checkInBackground(); });
  }
  return store;
}

void SqliteMetaStore::checkInBackground() {
  auto t0 = std::chrono::steady_clock::now();
  auto checker = Connection::open(options_.path, false, kBusyTimeoutMs);
  Status st = checker.ok() ? Status() : checker.status();
  if (checker.ok()) {
    {
      std::lock_guard lock(checker_mu_);
      if (closing_checker_) {
        return;
      }
      checker_ = checker->get();
    }
    // A small page cache: the check reads each page about once, and a default 2 MB cache would
    // stay in the heap (RSS) until the trimmer returns it.
    st = (*checker)->exec("PRAGMA cache_size=-256", "cannot set the check's cache size");
    if (st.ok()) {
      st = checkIntegrity(**checker);
    }
    std::lock_guard lock(checker_mu_);
    checker_ = nullptr;
    if (closing_checker_) {
      return;  // interrupted by the destructor: no verdict
    }
  }
  if (st.ok()) {
    if (options_.log) {
      options_.log->info("database integrity check passed path={} ms={}", options_.path,
                         std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - t0)
                             .count());
    }
    return;
  }
  if (options_.log) {
    options_.log->error("database integrity check failed after start path={} err=\"{}\"",
                        options_.path, st.message());
  }
  if (options_.on_background_check_failure) {
    options_.on_background_check_failure(st);
  }
}

SqliteMetaStore::SqliteMetaStore(SqliteStoreOptions options, std::unique_ptr<Connection> writer,
                                 std::unique_ptr<Connection> reader)
    : options_(std::move(options)), writer_(std::move(writer)), reader_(std::move(reader)) {}

SqliteMetaStore::~SqliteMetaStore() {
  {
    std::lock_guard lock(checker_mu_);
    closing_checker_ = true;
    if (checker_ != nullptr) {
      checker_->interrupt();
    }
  }
  if (checker_thread_.joinable()) {
    checker_thread_.join();
  }
  {
    std::lock_guard lock(queue_mu_);
    closing_ = true;
  }
  queue_cv_.notify_all();
  if (writer_thread_.joinable()) {
    writer_thread_.join();
  }
}

Status SqliteMetaStore::loadObjects() {
  EC_ASSIGN_OR_RETURN(Statement * stmt,
                      writer_->prepare("SELECT key, resourceversion, value FROM meta_v2"));
  uint64_t max_rv = 0;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    std::string key(stmt->columnText(0));
    auto rv = static_cast<uint64_t>(stmt->columnInt64(1));
    std::string_view value = stmt->columnText(2);
    max_rv = std::max(max_rv, rv);
    // Rows whose key is not an object key (e.g. "/version", upgrade requests) or whose value is
    // not an object pass through untouched.
    auto object_key = parseStorageKey(key);
    if (object_key.ok()) {
      auto object = loadObject(*object_key, rv, value);
      if (object.ok()) {
        index_.loadObject(std::make_shared<const StoredObject>(std::move(*object)));
        continue;
      }
    }
    index_.loadRaw(std::move(key), std::string(value));
  }
  stmt->reset();
  if (rc != SQLITE_DONE) {
    return sqliteStatus(rc, "cannot load meta_v2", options_.path, writer_->errorMessage());
  }
  index_.setRevision(max_rv);
  return {};
}

Status SqliteMetaStore::submit(std::vector<WriteOp> ops, WriteCallback done) {
  size_t weight = std::max<size_t>(ops.size(), 1);
  Batch batch{std::move(ops), std::move(done), {}, {}};
  batch.objects.resize(batch.ops.size());
  for (size_t i = 0; i < batch.ops.size(); ++i) {
    WriteOp& op = batch.ops[i];
    if (op.kind != WriteOp::Kind::UpsertObject) {
      continue;
    }
    auto parsed = op.doc ? parseObjectDoc(*op.doc, op.object_key.gvr, std::move(op.value))
                         : parseObject(op.value, op.object_key.gvr);
    if (!parsed.ok()) {
      // Reported through `done` like any failed batch; the writer skips its SQL.
      batch.parse_error = parsed.status().withContext("op " + std::to_string(i) + " (" +
                                                      std::string(kindName(op.kind)) + ")");
      break;
    }
    batch.objects[i] = std::make_shared<const StoredObject>(std::move(*parsed));
  }
  // The writer needs only the parsed objects: let go of the callers' documents now, so the
  // caller is their only owner again when `done` runs.
  for (WriteOp& op : batch.ops) {
    op.doc.reset();
  }
  {
    std::lock_guard lock(queue_mu_);
    if (closing_) {
      return core::unavailable("meta store is closed");
    }
    if (queued_ops_ + weight > options_.max_queued_ops) {
      std::lock_guard stats_lock(stats_mu_);
      ++stats_.queue_rejections;
      return core::unavailable("meta store write queue is full (" + std::to_string(queued_ops_) +
                               " ops queued, limit " + std::to_string(options_.max_queued_ops) +
                               ")");
    }
    queued_ops_ += weight;
    queue_.push_back(std::move(batch));
  }
  queue_cv_.notify_one();
  return {};
}

std::vector<SqliteMetaStore::Batch> SqliteMetaStore::takeBatches() {
  std::unique_lock lock(queue_mu_);
  queue_cv_.wait(lock, [this] { return closing_ || (!paused_ && !queue_.empty()); });
  if (!closing_ && last_take_batches_ > 1 && options_.group_commit_wait.count() > 0 &&
      queued_ops_ < options_.group_commit_ops) {
    // Writes are arriving concurrently: give the next few a moment to join this transaction.
    auto deadline = std::chrono::steady_clock::now() + options_.group_commit_wait;
    queue_cv_.wait_until(lock, deadline, [this] {
      return closing_ || paused_ || queued_ops_ >= options_.group_commit_ops;
    });
    if (paused_ && !closing_) {
      queue_cv_.wait(lock, [this] { return closing_ || !paused_; });
    }
  }
  std::vector<Batch> out;
  size_t ops = 0;
  while (!queue_.empty()) {
    size_t weight = std::max<size_t>(queue_.front().ops.size(), 1);
    if (!out.empty() && ops + weight > options_.max_batch_ops) {
      break;
    }
    ops += weight;
    queued_ops_ -= weight;
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  last_take_batches_ = out.size();
  return out;
}

void SqliteMetaStore::writerLoop() {
  while (true) {
    std::vector<Batch> batches = takeBatches();
    if (batches.empty()) {
      return;  // closing and drained
    }
    runTransaction(batches);
  }
}

Status SqliteMetaStore::applyOp(const WriteOp& op, const StoredObjectPtr& parsed,
                                Effects* effects) {
  switch (op.kind) {
    case WriteOp::Kind::UpsertMeta: {
      EC_ASSIGN_OR_RETURN(Statement * stmt, writer_->prepare(kUpsertMeta));
      stmt->bind(1, op.key);
      stmt->bind(2, op.type);
      stmt->bind(3, op.value);
      return stmt->run("cannot write meta " + op.key);
    }
    case WriteOp::Kind::DeleteMeta: {
      EC_ASSIGN_OR_RETURN(Statement * stmt, writer_->prepare(kDeleteMeta));
      stmt->bind(1, op.key);
      return stmt->run("cannot delete meta " + op.key);
    }
    case WriteOp::Kind::DeletePodGuarded: {
      EC_ASSIGN_OR_RETURN(Statement * stmt, writer_->prepare(kDeletePodGuarded));
      stmt->bind(1, op.key);
      stmt->bind(2, likeContains(op.uid));
      EC_RETURN_IF_ERROR(stmt->run("cannot delete pod " + op.key));
      if (writer_->changes() == 0) {
        return {};  // not this pod (another uid): keep its patch too
      }
      std::string patch_key = podPatchKey(op.key);
      EC_ASSIGN_OR_RETURN(Statement * del, writer_->prepare(kDeleteMeta));
      del->bind(1, patch_key);
      EC_RETURN_IF_ERROR(del->run("cannot delete meta " + patch_key));
      if (op.uid.empty()) {
        return {};
      }
      EC_ASSIGN_OR_RETURN(Statement * tokens, writer_->prepare(kDeletePodTokens));
      tokens->bind(1, likeContains(op.uid));
      return tokens->run("cannot delete the tokens of pod " + op.key);
    }
    case WriteOp::Kind::UpsertObject: {
      StoredObjectPtr object = parsed;
      std::string key = object->key.storageKey();
      EC_ASSIGN_OR_RETURN(Statement * stmt, writer_->prepare(kUpsertV2));
      stmt->bind(1, key);
      stmt->bind(2, object->key.gvr.toGoString());
      stmt->bind(3, object->key.ns);
      stmt->bind(4, object->key.name);
      stmt->bind(5, static_cast<int64_t>(object->resource_version));
      // Go's json.Encoder ends the document with a newline; store the same bytes.
      stmt->bind(6, object->json + "\n");
      EC_RETURN_IF_ERROR(stmt->run("cannot write object " + key));
      effects->objects.push_back({key, object->key, std::move(object)});
      return {};
    }
    case WriteOp::Kind::DeleteObject: {
      std::string key = op.object_key.storageKey();
      EC_ASSIGN_OR_RETURN(Statement * stmt, writer_->prepare(kDeleteV2));
      stmt->bind(1, key);
      EC_RETURN_IF_ERROR(stmt->run("cannot delete object " + key));
      effects->objects.push_back({key, op.object_key, nullptr});
      return {};
    }
    case WriteOp::Kind::UpsertRawV2: {
      EC_ASSIGN_OR_RETURN(Statement * stmt, writer_->prepare(kUpsertV2));
      stmt->bind(1, op.key);
      stmt->bind(2, std::string_view());
      stmt->bind(3, std::string_view());
      stmt->bind(4, std::string_view());
      stmt->bind(5, int64_t{0});
      stmt->bind(6, op.value);
      EC_RETURN_IF_ERROR(stmt->run("cannot write meta_v2 row " + op.key));
      effects->raws.emplace_back(op.key, op.value);
      return {};
    }
    default:
      break;
  }
  if (isModuleTableOp(op.kind)) {
    std::vector<std::string> deleted_v2_keys;
    EC_RETURN_IF_ERROR(applyModuleTableOp(*writer_, op, &deleted_v2_keys));
    for (std::string& key : deleted_v2_keys) {
      if (index_.getRaw(key)) {
        effects->raws.emplace_back(std::move(key), std::nullopt);  // drop the cached copy too
      }
    }
    return {};
  }
  return core::invalidArgument("unknown write op kind");
}

Status SqliteMetaStore::applyBatch(const Batch& batch, Effects* effects) {
  if (!batch.parse_error.ok()) {
    return batch.parse_error;
  }
  const std::vector<WriteOp>& ops = batch.ops;
  for (size_t i = 0; i < ops.size(); ++i) {
    Status st = applyOp(ops[i], batch.objects[i], effects);
    if (!st.ok()) {
      return st.withContext("op " + std::to_string(i) + " (" + std::string(kindName(ops[i].kind)) +
                            ")");
    }
  }
  return {};
}

void SqliteMetaStore::runTransaction(std::vector<Batch>& batches) {
  std::vector<Status> results(batches.size());
  Effects committed;
  Status commit_status;
  size_t ops = 0;
  {
    std::lock_guard lock(writer_mu_);
    commit_status = writer_->exec("BEGIN IMMEDIATE", "cannot begin a write transaction");
    for (size_t i = 0; i < batches.size() && commit_status.ok(); ++i) {
      ops += batches[i].ops.size();
      // Each batch in its own savepoint, so a bad batch rolls back alone.
      commit_status = writer_->exec("SAVEPOINT batch", "cannot start a savepoint");
      if (!commit_status.ok()) {
        break;
      }
      Effects effects;
      results[i] = applyBatch(batches[i], &effects);
      if (results[i].ok()) {
        commit_status = writer_->exec("RELEASE batch", "cannot release a savepoint");
        for (auto& m : effects.objects) {
          committed.objects.push_back(std::move(m));
        }
        for (auto& r : effects.raws) {
          committed.raws.push_back(std::move(r));
        }
      } else {
        commit_status =
            writer_->exec("ROLLBACK TO batch; RELEASE batch", "cannot roll back a failed batch");
      }
    }
    if (commit_status.ok()) {
      commit_status = writer_->exec("COMMIT", "cannot commit");
    }
    if (!commit_status.ok() && writer_->inTransaction()) {
      (void)writer_->exec("ROLLBACK", "cannot roll back");
    }
  }

  size_t failed = 0;
  for (Status& st : results) {
    if (st.ok() && !commit_status.ok()) {
      st = commit_status;  // the whole transaction is gone: every batch in it failed
    }
    failed += st.ok() ? 0 : 1;
  }
  if (commit_status.ok()) {
    std::vector<ObjectChange> changes;
    index_.apply(committed.objects, committed.raws, &changes);
    dispatch(changes);
  }
  {
    std::lock_guard lock(stats_mu_);
    stats_.transactions += 1;
    stats_.commit_failures += commit_status.ok() ? 0 : 1;
    stats_.batches += batches.size();
    stats_.failed_batches += failed;
    stats_.ops += ops;
    stats_.max_batch_ops = std::max<uint64_t>(stats_.max_batch_ops, ops);
  }
  for (size_t i = 0; i < batches.size(); ++i) {
    if (batches[i].done) {
      batches[i].done(results[i]);
    }
  }
}

void SqliteMetaStore::dispatch(const std::vector<ObjectChange>& changes) {
  if (changes.empty()) {
    return;
  }
  std::lock_guard dispatching(dispatch_mu_);
  std::vector<std::shared_ptr<Listener>> listeners;
  {
    std::lock_guard lock(listeners_mu_);
    for (const auto& [id, l] : listeners_) {
      listeners.push_back(l);
    }
  }
  for (const ObjectChange& change : changes) {
    for (const auto& l : listeners) {
      {
        std::lock_guard lock(listeners_mu_);
        if (l->removed) {
          continue;  // removed by an earlier listener call on this thread
        }
      }
      l->fn(change);
    }
  }
}

uint64_t SqliteMetaStore::addChangeListener(ChangeListener listener) {
  std::lock_guard lock(listeners_mu_);
  uint64_t id = next_listener_id_++;
  listeners_.emplace(id, std::make_shared<Listener>(Listener{std::move(listener), false}));
  return id;
}

void SqliteMetaStore::removeChangeListener(uint64_t id) {
  {
    std::lock_guard lock(listeners_mu_);
    auto it = listeners_.find(id);
    if (it == listeners_.end()) {
      return;
    }
    it->second->removed = true;
    listeners_.erase(it);
  }
  if (std::this_thread::get_id() != writer_thread_.get_id()) {
    // Wait out a dispatch in flight, so the listener is never called after we return.
    std::lock_guard wait(dispatch_mu_);
  }
}

Result<std::optional<std::string>> SqliteMetaStore::getMeta(std::string_view key) {
  std::lock_guard lock(reader_mu_);
  EC_ASSIGN_OR_RETURN(Statement * stmt, reader_->prepare("SELECT value FROM meta WHERE key = ?"));
  stmt->bind(1, key);
  int rc = stmt->step();
  std::optional<std::string> out;
  if (rc == SQLITE_ROW) {
    out.emplace(stmt->columnText(0));
  }
  Status st = rc == SQLITE_ROW || rc == SQLITE_DONE
                  ? Status()
                  : sqliteStatus(rc, "cannot read meta " + std::string(key), options_.path,
                                 reader_->errorMessage());
  stmt->reset();  // ends the read transaction, so checkpoints can proceed
  if (!st.ok()) {
    return st;
  }
  return out;
}

Result<std::vector<std::string>> SqliteMetaStore::listMetaByType(std::string_view type) {
  std::lock_guard lock(reader_mu_);
  EC_ASSIGN_OR_RETURN(Statement * stmt, reader_->prepare("SELECT value FROM meta WHERE type = ?"));
  stmt->bind(1, type);
  std::vector<std::string> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    out.emplace_back(stmt->columnText(0));
  }
  Status st = rc == SQLITE_DONE ? Status()
                                : sqliteStatus(rc, "cannot list meta " + std::string(type),
                                               options_.path, reader_->errorMessage());
  stmt->reset();
  if (!st.ok()) {
    return st;
  }
  return out;
}

StoredObjectPtr SqliteMetaStore::getObject(const ObjectKey& key) const { return index_.get(key); }

std::vector<StoredObjectPtr> SqliteMetaStore::listObjects(const Gvr& gvr, std::string_view ns,
                                                          uint64_t* revision) const {
  return index_.list(gvr, ns, revision);
}

std::vector<Gvr> SqliteMetaStore::listGvrs() const { return index_.gvrs(); }

uint64_t SqliteMetaStore::revision() const { return index_.revision(); }

std::optional<std::string> SqliteMetaStore::getRawV2(std::string_view key) const {
  return index_.getRaw(key);
}

StoreStats SqliteMetaStore::stats() const {
  StoreStats out;
  {
    std::lock_guard lock(stats_mu_);
    out = stats_;
  }
  out.objects = index_.size();
  out.revision = index_.revision();
  return out;
}

Status SqliteMetaStore::setMaxPageCountForTest(uint64_t pages) {
  std::lock_guard lock(writer_mu_);
  return writer_->exec("PRAGMA max_page_count = " + std::to_string(pages),
                       "cannot set max_page_count");
}

void SqliteMetaStore::pauseWriterForTest(bool paused) {
  {
    std::lock_guard lock(queue_mu_);
    paused_ = paused;
  }
  queue_cv_.notify_all();
}

Result<DeviceTables> SqliteMetaStore::loadDeviceTables() {
  std::lock_guard lock(reader_mu_);
  return readDeviceTables(*reader_);
}

Result<std::vector<std::string>> SqliteMetaStore::listSubTopics() {
  std::lock_guard lock(reader_mu_);
  return readSubTopics(*reader_);
}

Status SqliteMetaStore::addSubTopic(const std::string& topic, WriteCallback done) {
  std::vector<WriteOp> ops;
  ops.push_back(WriteOp::addSubTopic(topic));
  return submit(std::move(ops), std::move(done));
}

Status SqliteMetaStore::removeSubTopic(const std::string& topic, WriteCallback done) {
  std::vector<WriteOp> ops;
  ops.push_back(WriteOp::removeSubTopic(topic));
  return submit(std::move(ops), std::move(done));
}

Result<UpgradeRequestRows> SqliteMetaStore::readUpgradeRequests() {
  std::lock_guard lock(reader_mu_);
  return readUpgradeRequestRows(*reader_);
}

Status SqliteMetaStore::deleteUpgradeRequests(WriteCallback done) {
  std::vector<WriteOp> ops(1);
  ops[0].kind = WriteOp::Kind::DeleteUpgradeRequests;
  return submit(std::move(ops), std::move(done));
}

Result<std::vector<NodeTaskRow>> SqliteMetaStore::readNodeTaskRows(std::string_view gvr) {
  std::lock_guard lock(reader_mu_);
  return readNodeTaskRowsOf(*reader_, gvr);
}

Status SqliteMetaStore::saveNodeTaskRow(NodeTaskRow row, bool only_of_gvr, WriteCallback done) {
  std::vector<WriteOp> ops(1);
  ops[0].kind = only_of_gvr ? WriteOp::Kind::ReplaceNodeTaskRows : WriteOp::Kind::UpsertNodeTaskRow;
  ops[0].key = std::move(row.key);
  ops[0].type = std::move(row.gvr);
  ops[0].uid = std::move(row.name);
  ops[0].value = std::move(row.value);
  return submit(std::move(ops), std::move(done));
}

Status SqliteMetaStore::deleteNodeTaskRow(std::string key, WriteCallback done) {
  std::vector<WriteOp> ops(1);
  ops[0].kind = WriteOp::Kind::DeleteNodeTaskRow;
  ops[0].key = std::move(key);
  return submit(std::move(ops), std::move(done));
}

}  // namespace edgecore::metamanager
