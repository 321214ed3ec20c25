#pragma once

// MetaStore: the node's offline cache of everything the cloud sent, in KubeEdge's own SQLite file
// (spec/local-apis.md section 2). Two views:
//  - the v1 `meta` table (key = resource string, type, value): metamanager and edged use it;
//    reads go to SQLite (rare, off the hot path);
//  - the `meta_v2` table (etcd-like objects by group/version/resource/namespace/name): MetaServer
//    serves it. Every meta_v2 object is also held in memory as its serialized JSON, so GET/LIST
//    never touch SQLite; the memory view changes only after the write is durable.
// Writes are queued to one writer thread that batches them into one transaction (WAL,
// synchronous=FULL); each batch's callback runs after COMMIT returned, so "acknowledge after
// durable" is: submit, then ACK from the callback.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "edgecore/core/status.h"
#include "edgecore/metamanager/device_twin_store.h"
#include "edgecore/metamanager/sub_topic_store.h"
#include "edgecore/metamanager/upgrade_records.h"

namespace spdlog {
class logger;
}

namespace edgecore::metamanager {

using core::Result;
using core::Status;

// group/version/resource; group "" is the legacy core group.
struct Gvr {
  std::string group;
  std::string version;
  std::string resource;

  friend bool operator==(const Gvr&, const Gvr&) = default;
  friend auto operator<=>(const Gvr&, const Gvr&) = default;
  // Go's GroupVersionResource.String(): "/v1, Resource=pods", "apps/v1, Resource=deployments".
  std::string toGoString() const;
};

// Where an object lives in meta_v2.
struct ObjectKey {
  Gvr gvr;
  std::string ns;  // "" for cluster-scoped objects
  std::string name;

  friend bool operator==(const ObjectKey&, const ObjectKey&) = default;
  // "/<group or core>/<version>/<resource>/<ns or null>/<name>" (spec 2.4).
  std::string storageKey() const;
};

// Parses a meta_v2 storage key back; InvalidArgument if it is not one.
Result<ObjectKey> parseStorageKey(std::string_view key);
// KubeEdge's kind -> resource ("Pod" -> "pods", "Endpoints" -> "endpoints", "Policy" ->
// "policies"), pkg/metaserver/util UnsafeKindToResource @ v1.20.0; and the reverse for list kinds.
std::string kindToResource(std::string_view kind);
std::string resourceToKind(std::string_view resource);

// One object held in memory: immutable once published, shared by readers.
struct StoredObject {
  ObjectKey key;
  uint64_t resource_version = 0;  // metadata.resourceVersion as a number (0 if absent/invalid)
  std::string json;               // compact JSON as stored in meta_v2.value
  // Extracted once at write time so selectors and tables need no JSON parse on the hot path.
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by key
  std::string uid;
  std::string creation_timestamp;  // metadata.creationTimestamp (RFC 3339), may be empty
  std::string node_name;           // spec.nodeName (pods)
  std::string phase;               // status.phase (pods, namespaces)
};
using StoredObjectPtr = std::shared_ptr<const StoredObject>;

enum class ChangeType { Added, Modified, Deleted };

// A committed change to meta_v2, in commit order.
//
// Revisions: at open the store revision is the largest meta_v2.resourceversion (as Go's imitator
// initialises it). Each committed upsert gets max(previous revision + 1, the object's
// resourceVersion), each delete previous + 1; so revisions strictly increase, and never fall
// below an object's own resourceVersion (Go only raises its revision on a larger RV, so it can
// repeat; ours never does). Deleting an absent object is not a change.
struct ObjectChange {
  ChangeType type;
  uint64_t revision;       // store revision after this change (strictly increasing)
  StoredObjectPtr object;  // for Deleted: the last stored state
};

// One write; a batch of them commits atomically.
struct WriteOp {
  enum class Kind {
    UpsertMeta,        // INSERT OR REPLACE INTO meta
    DeleteMeta,        // DELETE FROM meta WHERE key
    DeletePodGuarded,  // delete meta `key` only if value contains `uid`; then its podpatch row
                       // and the serviceaccounttoken rows bound to `uid`
    UpsertObject,      // meta_v2 upsert from a Kubernetes object's JSON (`value`), key derived
    DeleteObject,      // meta_v2 delete by `object_key`
    UpsertRawV2,       // meta_v2 pass-through row: key = `key` (e.g. "/version"), value only
    // devicetwin's tables (DeviceTwinStore), built by the functions below:
    SaveDevice,      // INSERT OR REPLACE a `device` row (`row` holds a DeviceRow)
    SetDeviceState,  // UPDATE device state/last_online of the DeviceRow's id
    AddDeviceAttr,   // INSERT a `device_attr` row (DeviceAttrRow)
    InsertTwin,      // INSERT a `device_twin` row (DeviceTwinRow)
    UpdateTwin,      // UPDATE the `device_twin` row of (device_id, name) (DeviceTwinRow)
    DeleteDevice,    // the device `key`'s twin, attr and device rows
    // eventbus's `sub_topics` (SubTopicStore) and the upgrade rows (UpgradeRecords):
    AddSubTopic,            // INSERT OR REPLACE topic `key`
    RemoveSubTopic,         // DELETE topic `key`
    DeleteUpgradeRequests,  // meta_v2 rows named NodeUpgradeJobRequest / NodeTaskRequest
    // taskmanager's meta_v2 rows (UpgradeRecords::saveNodeTaskRow): key `key`, gvr `type`,
    // name `uid`, value `value`; the Replace kind first deletes the other rows of that gvr.
    UpsertNodeTaskRow,
    ReplaceNodeTaskRows,
    DeleteNodeTaskRow,  // by `key`
  };
  Kind kind = Kind::UpsertMeta;
  std::string key;    // meta key (resource string), raw meta_v2 key, device id or topic
  std::string type;   // meta type token
  std::string value;  // JSON text
  std::string uid;    // DeletePodGuarded
  ObjectKey
      object_key;  // UpsertObject (gvr from the caller; ns/name read from the JSON) / DeleteObject
  // UpsertObject: the already parsed object, when the caller has it (metamanager decoded it from
  // the message); the JSON is then not parsed a second time, and `value`, if not empty, must be
  // exactly Go's encoding of `doc` (core::encodeJsonValue), which the store then keeps instead of
  // encoding `doc` again. submit() drops `doc` once it has read it (before it returns).
  std::shared_ptr<const nlohmann::json> doc;
  std::variant<std::monostate, DeviceRow, DeviceAttrRow, DeviceTwinRow> row;  // device kinds

  static WriteOp saveDevice(DeviceRow device) {
    return withRow(Kind::SaveDevice, std::move(device));
  }
  static WriteOp setDeviceState(std::string id, std::string state, std::string last_online) {
    DeviceRow device;
    device.id = std::move(id);
    device.state = std::move(state);
    device.last_online = std::move(last_online);
    return withRow(Kind::SetDeviceState, std::move(device));
  }
  static WriteOp addDeviceAttr(DeviceAttrRow attr) {
    return withRow(Kind::AddDeviceAttr, std::move(attr));
  }
  static WriteOp insertTwin(DeviceTwinRow twin) {
    return withRow(Kind::InsertTwin, std::move(twin));
  }
  static WriteOp updateTwin(DeviceTwinRow twin) {
    return withRow(Kind::UpdateTwin, std::move(twin));
  }
  static WriteOp deleteDevice(std::string id) { return withKey(Kind::DeleteDevice, std::move(id)); }
  static WriteOp addSubTopic(std::string topic) {
    return withKey(Kind::AddSubTopic, std::move(topic));
  }
  static WriteOp removeSubTopic(std::string topic) {
    return withKey(Kind::RemoveSubTopic, std::move(topic));
  }

 private:
  template <typename Row>
  static WriteOp withRow(Kind kind, Row row) {
    WriteOp w;
    w.kind = kind;
    w.row = std::move(row);
    return w;
  }
  static WriteOp withKey(Kind kind, std::string key) {
    WriteOp w;
    w.kind = kind;
    w.key = std::move(key);
    return w;
  }
};

struct StoreStats {
  uint64_t transactions = 0;     // write transactions run (committed or not)
  uint64_t commit_failures = 0;  // transactions whose BEGIN/COMMIT failed: all their batches failed
  uint64_t batches = 0;          // batches taken from the queue
  uint64_t ops = 0;
  uint64_t failed_batches = 0;
  uint64_t max_batch_ops = 0;  // most ops in one transaction
  uint64_t queue_rejections = 0;
  size_t objects = 0;
  uint64_t revision = 0;
};

// The store implements the small typed interfaces of the other tables' owners, so main.cc hands
// each module only the part it needs and every write still goes through the one writer.
class MetaStore : public DeviceTwinStore, public SubTopicStore, public UpgradeRecords {
 public:
  using WriteCallback = std::function<void(Status)>;
  using ChangeListener = std::function<void(const ObjectChange&)>;

  virtual ~MetaStore() = default;

  // Queues `ops` to commit in one transaction (possibly together with other queued batches;
  // each batch still succeeds or fails as a whole: a failing op rolls back its own batch only,
  // with InvalidArgument for a bad object, ResourceExhausted for a full disk, Unavailable for
  // I/O errors or a foreign lock; a failed COMMIT fails every batch of that transaction).
  // An empty batch counts as one op and just waits for the next commit. UpsertObject values are
  // parsed here, on the caller's thread (CPU only, no I/O), so the writer spends its time in
  // SQLite; a parse error still comes back through `done`. `done` runs on the writer
  // thread after COMMIT (Ok) or after the rollback (the error), never before the data is durable.
  // Never blocks; Unavailable (and `done` is not called) if the write queue is full or the store
  // closed.
  virtual Status submit(std::vector<WriteOp> ops, WriteCallback done) = 0;

  // --- v1 `meta` table: synchronous SQLite reads; call from a blocking pool, not an I/O thread.
  virtual Result<std::optional<std::string>> getMeta(std::string_view key) = 0;
  // All values of a type (KubeEdge's local query without an id: every namespace).
  virtual Result<std::vector<std::string>> listMetaByType(std::string_view type) = 0;

  // --- meta_v2 in memory: any thread, never blocks on the writer.
  virtual StoredObjectPtr getObject(const ObjectKey& key) const = 0;
  // All objects of `gvr` in namespace `ns` ("" = all namespaces), sorted by namespace then name.
  // Sets *revision (if given) to the store revision the snapshot reflects.
  virtual std::vector<StoredObjectPtr> listObjects(const Gvr& gvr, std::string_view ns,
                                                   uint64_t* revision = nullptr) const = 0;
  // Every GVR that has at least one object (for discovery).
  virtual std::vector<Gvr> listGvrs() const = 0;
  virtual uint64_t revision() const = 0;
  // Raw pass-through rows (e.g. "/version"), nullopt if absent.
  virtual std::optional<std::string> getRawV2(std::string_view key) const = 0;

  // Registers a listener for committed meta_v2 changes, called on the writer thread in commit
  // order (keep it short: hand off). Returns an id for removeChangeListener. Thread-safe.
  virtual uint64_t addChangeListener(ChangeListener listener) = 0;
  virtual void removeChangeListener(uint64_t id) = 0;

  virtual StoreStats stats() const = 0;
};

struct SqliteStoreOptions {
  std::string path;               // database.dataSource
  size_t max_queued_ops = 65536;  // bound of the write queue
  size_t max_batch_ops = 4096;    // ops per transaction at most
  // Group commit: when the previous transaction carried more than one batch (several writes in
  // flight), the writer waits up to `group_commit_wait` for `group_commit_ops` queued ops before
  // it begins the next one, so one fsync covers more writes. A lone write (the previous
  // transaction had one batch) never waits. Zero (the default) disables the wait: on this
  // project's shared 2-core box, A/B runs of bench/metamanager_ingest_bench with 1 ms showed no
  // gain (fsync latency of the loaded disk dominates and batches are already large).
  std::chrono::microseconds group_commit_wait{0};
  size_t group_commit_ops = 256;
  bool create_device_tables = true;  // deviceTwin enabled
  bool create_meta_tables = true;    // metaManager enabled
  // When `PRAGMA quick_check` runs. BeforeOpen: open() fails on a damaged file. AfterOpenIfClean:
  // when the last shutdown was clean (no -wal file next to the database: SQLite removes it when
  // the last connection closes), open() returns without it and a thread runs it on its own
  // connection, reporting a damaged file to `on_background_check_failure` (same DataLoss status);
  // after an unclean shutdown it runs before, as with BeforeOpen. The check of a large database
  // takes longer than the rest of open() (0.7 s for 20,000 pods on the project's box).
  enum class IntegrityCheck { BeforeOpen, AfterOpenIfClean };
  IntegrityCheck integrity_check = IntegrityCheck::BeforeOpen;
  std::function<void(Status)> on_background_check_failure;
  // Where open() says that it narrowed the mode of a database file that others could read
  // (one info line per file). Null: not logged.
  std::shared_ptr<spdlog::logger> log;
};

// Opens (creating if needed) the database with KubeEdge's exact schema, switches it to WAL +
// synchronous=FULL (a deliberate divergence from Go edgecore's rollback journal, spec 2.1: Go
// edgecore still reads the file), runs `PRAGMA quick_check`, loads meta_v2 into memory and starts
// the writer thread (see SqliteStoreOptions::integrity_check for when the check runs). Blocks (disk
// I/O): call it at startup. Errors: DataLoss with the recovery
// steps if the integrity check fails; FailedPrecondition if the file is not an SQLite database;
// Unavailable if the file cannot be opened (missing or unwritable directory or file).
Result<std::unique_ptr<MetaStore>> openSqliteMetaStore(const SqliteStoreOptions& options);

}  // namespace edgecore::metamanager
