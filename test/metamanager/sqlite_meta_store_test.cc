#include "metamanager/sqlite_meta_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "util/plain_db.h"

namespace edgecore::metamanager {
namespace {

namespace fs = std::filesystem;
using core::StatusCode;
using nlohmann::json;

constexpr auto kWait = std::chrono::seconds(20);
const Gvr kPods{"", "v1", "pods"};
const Gvr kNodes{"", "v1", "nodes"};
const Gvr kConfigMaps{"", "v1", "configmaps"};

// The DDL of spec/local-apis.md 2.2, as written there.
const std::vector<std::pair<std::string, std::string>> kSpecDdl = {
    {"device",
     "CREATE TABLE IF NOT EXISTS `device` (\n    `id` varchar(64) NOT NULL PRIMARY KEY,\n    "
     "`name` text,\n    `description` text,\n    `state` text,\n    `last_online` text\n);"},
    {"device_attr",
     "CREATE TABLE IF NOT EXISTS `device_attr` (\n    `id` integer NOT NULL PRIMARY KEY "
     "AUTOINCREMENT,\n    `deviceid` text,\n    `name` text,\n    `description` text,\n    "
     "`value` text,\n    `optional` bool,\n    `attr_type` text,\n    `metadata` text\n);"},
    {"device_twin",
     "CREATE TABLE IF NOT EXISTS `device_twin` (\n    `id` integer NOT NULL PRIMARY KEY "
     "AUTOINCREMENT,\n    `deviceid` text,\n    `name` text,\n    `description` text,\n    "
     "`expected` text,\n    `actual` text,\n    `expected_meta` text,\n    `actual_meta` text,\n "
     "   `expected_version` text,\n    `actual_version` text,\n    `optional` bool,\n    "
     "`attr_type` text,\n    `metadata` text\n);"},
    {"sub_topics",
     "CREATE TABLE IF NOT EXISTS `sub_topics` (\n    `topic` text NOT NULL PRIMARY "
     "KEY\n);"},
    {"meta",
     "CREATE TABLE IF NOT EXISTS `meta` (\n    `key` varchar(256) NOT NULL PRIMARY KEY,\n    "
     "`type` varchar(32) NOT NULL DEFAULT '' ,\n    `value` text\n);"},
    {"meta_v2",
     "CREATE TABLE IF NOT EXISTS `meta_v2` (\n    `key` varchar(256) NOT NULL PRIMARY KEY,\n    "
     "`groupversionresource` varchar(256) NOT NULL DEFAULT '' ,\n    `namespace` varchar(256) "
     "NOT NULL DEFAULT '' ,\n    `name` varchar(256) NOT NULL DEFAULT '' ,\n    "
     "`resourceversion` bigint unsigned NOT NULL DEFAULT 0 ,\n    `value` text\n);"},
    {"target_urls",
     "CREATE TABLE IF NOT EXISTS `target_urls` (\n    `url` text NOT NULL PRIMARY KEY\n);"},
};

// What SQLite keeps in sqlite_master for a CREATE statement: no IF NOT EXISTS, no semicolon.
std::string storedForm(std::string ddl) {
  ddl.erase(ddl.find("IF NOT EXISTS "), 14);
  ddl.pop_back();
  return ddl;
}

using edgecore::testing::PlainDb;

json podJson(const std::string& ns, const std::string& name, uint64_t rv,
             const std::string& uid = "uid-1") {
  return json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", name},
                {"namespace", ns},
                {"resourceVersion", std::to_string(rv)},
                {"uid", uid},
                {"creationTimestamp", "2024-05-01T10:00:00Z"},
                {"labels", {{"app", name}, {"tier", "edge"}}}}},
              {"spec",
               {{"nodeName", "edge-1"},
                {"containers", json::array({{{"name", "c"}, {"image", "nginx:1.25"}}})}}},
              {"status", {{"phase", "Running"}}}};
}

WriteOp upsertObject(const Gvr& gvr, const json& obj) {
  WriteOp op{};
  op.kind = WriteOp::Kind::UpsertObject;
  op.object_key.gvr = gvr;
  op.value = obj.dump();
  return op;
}

WriteOp rawOp(WriteOp::Kind kind, std::string key, std::string value = {}) {
  WriteOp op{};
  op.kind = kind;
  op.key = std::move(key);
  op.value = std::move(value);
  return op;
}

// Submits and waits for the callback; the callback's Status (or the submit error).
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

class SqliteMetaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "metastore-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (fs::path(dir_) / "edgecore.db").string();
  }
  void TearDown() override {
    chmod(dir_.c_str(), 0700);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Default options on path_, adjusted by `edit`.
  template <typename Edit>
  SqliteStoreOptions options(Edit edit) {
    SqliteStoreOptions o;
    o.path = path_;
    edit(o);
    return o;
  }
  std::unique_ptr<SqliteMetaStore> open(SqliteStoreOptions options) {
    auto store = SqliteMetaStore::open(options);
    EXPECT_TRUE(store.ok()) << store.status().toString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::unique_ptr<SqliteMetaStore> open() {
    return open(options([](auto&) {}));
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SqliteMetaStoreTest, FreshSchemaIsSpecDdlInCreationOrder) {
  ASSERT_NE(open(), nullptr);
  PlainDb db(path_);
  auto rows = db.query(
      "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name != 'sqlite_sequence' "
      "ORDER BY rowid");
  ASSERT_EQ(rows.size(), kSpecDdl.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][0], kSpecDdl[i].first);
    EXPECT_EQ(rows[i][1], storedForm(kSpecDdl[i].second)) << rows[i][0];
  }
  EXPECT_EQ(db.query("PRAGMA journal_mode")[0][0], "wal");
  // No secondary indexes beyond SQLite's own for the text primary keys.
  EXPECT_TRUE(db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE "
                       "'sqlite_autoindex_%'")
                  .empty());
}

TEST_F(SqliteMetaStoreTest, DisabledModulesCreateFewerTables) {
  ASSERT_NE(open(options([](auto& o) { o.create_device_tables = false; })), nullptr);
  PlainDb db(path_);
  auto rows = db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0][0], "sub_topics");
  EXPECT_EQ(rows[3][0], "target_urls");
}

// Writes rows the way Go edgecore v1.20 does: beego's DDL, `meta` rows by resource string, and
// meta_v2 rows with the imitator's key/GVR/namespace formats and json.Encoder output.
void writeGoStyleDatabase(const std::string& path, std::vector<json>* objects) {
  PlainDb db(path);
  for (const auto& [name, ddl] : kSpecDdl) {
    db.exec("-- --------------------------------------------------\n--  Table Structure for `" +
            name + "`\n-- --------------------------------------------------\n" + ddl);
  }
  json pod = podJson("default", "nginx", 4711, "0f6c1a2e");
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata",
              {{"name", "app-config"}, {"namespace", "kube-system"}, {"resourceVersion", "4712"}}},
             {"data", {{"a<b", "x&y"}}}};
  json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata", {{"name", "edge-1"}, {"resourceVersion", "4713"}}},
               {"status", {{"phase", "Running"}}}};
  *objects = {pod, cm, node};
  auto insert_meta = [&](const std::string& key, const std::string& type, const json& v) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db.raw(), "INSERT OR REPLACE INTO meta (key, type, value) VALUES (?,?,?)",
                       -1, &stmt, nullptr);
    std::string value = v.dump();
    sqlite3_bind_text(stmt, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, type.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, value.c_str(), -1, SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
  };
  insert_meta("default/pod/nginx", "pod", pod);
  insert_meta("kube-system/configmap/app-config", "configmap", cm);
  insert_meta("default/node/edge-1", "node", node);
  auto insert_v2 = [&](const std::string& key, const std::string& gvr, const std::string& ns,
                       const std::string& name, int64_t rv, const std::string& value) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db.raw(),
                       "INSERT OR REPLACE INTO meta_v2 (key, groupversionresource, "
                       "namespace,name,resourceversion,value) VALUES (?,?,?,?,?,?)",
                       -1, &stmt, nullptr);
    sqlite3_bind_text(stmt, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, gvr.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, ns.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 5, rv);
    sqlite3_bind_text(stmt, 6, value.c_str(), -1, SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
  };
  // json.Encoder: sorted keys (nlohmann sorts too), <>& escaped, newline at the end.
  std::string cm_text = cm.dump();
  for (auto [from, to] : {std::pair{"<", "\\u003c"}, std::pair{"&", "\\u0026"}}) {
    cm_text.replace(cm_text.find(from), 1, to);
  }
  insert_v2("/core/v1/pods/default/nginx", "/v1, Resource=pods", "default", "nginx", 4711,
            pod.dump() + "\n");
  insert_v2("/core/v1/configmaps/kube-system/app-config", "/v1, Resource=configmaps", "kube-system",
            "app-config", 4712, cm_text + "\n");
  insert_v2("/core/v1/nodes/null/edge-1", "/v1, Resource=nodes", "", "edge-1", 4713,
            node.dump() + "\n");
  insert_v2("/version", "", "", "", 0, R"({"major":"1","minor":"30"})");
  insert_v2("upgrade-7f3c", "", "", "NodeUpgradeJobRequest", 0, R"({"UpgradeID":"7f3c"})");
}

TEST_F(SqliteMetaStoreTest, ServesRowsWrittenByGoEdgecoreUnchanged) {
  std::vector<json> objects;
  writeGoStyleDatabase(path_, &objects);
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto pod = store->getObject({kPods, "default", "nginx"});
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->json, objects[0].dump());
  EXPECT_EQ(pod->resource_version, 4711u);
  EXPECT_EQ(pod->uid, "0f6c1a2e");
  EXPECT_EQ(pod->node_name, "edge-1");
  EXPECT_EQ(pod->phase, "Running");
  EXPECT_EQ(pod->creation_timestamp, "2024-05-01T10:00:00Z");
  EXPECT_EQ(pod->labels,
            (std::vector<std::pair<std::string, std::string>>{{"app", "nginx"}, {"tier", "edge"}}));
  auto cm = store->getObject({kConfigMaps, "kube-system", "app-config"});
  ASSERT_NE(cm, nullptr);
  EXPECT_EQ(json::parse(cm->json), objects[1]);
  EXPECT_NE(cm->json.find("\\u003c"), std::string::npos);  // bytes kept as stored
  auto node = store->getObject({kNodes, "", "edge-1"});
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->json, objects[2].dump());
  EXPECT_EQ(store->revision(), 4713u);
  EXPECT_EQ(store->getRawV2("/version"), R"({"major":"1","minor":"30"})");
  EXPECT_EQ(store->getRawV2("upgrade-7f3c"), R"({"UpgradeID":"7f3c"})");
  EXPECT_EQ(store->stats().objects, 3u);
  auto meta = store->getMeta("default/pod/nginx");
  ASSERT_TRUE(meta.ok());
  ASSERT_TRUE(meta->has_value());
  EXPECT_EQ(json::parse(**meta), objects[0]);
  auto pods = store->listMetaByType("pod");
  ASSERT_TRUE(pods.ok());
  EXPECT_EQ(pods->size(), 1u);
  // Reopening a synced database changes no schema text.
  PlainDb db(path_);
  EXPECT_EQ(db.query("SELECT sql FROM sqlite_master WHERE name = 'meta_v2'")[0][0],
            storedForm(kSpecDdl[5].second));
}

TEST_F(SqliteMetaStoreTest, ServesTheKubeEdgeV120FixtureFile) {
  std::ifstream in(std::string(EDGECORE_TEST_DATA_DIR) + "/metamanager/kubeedge-v1.20.sql");
  ASSERT_TRUE(in.good());
  std::stringstream sql;
  sql << in.rdbuf();
  {
    PlainDb db(path_);
    db.exec(sql.str());
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto pod = store->getObject({kPods, "default", "nginx"});
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->json.back(), '}');  // Go's trailing newline is not part of the object
  EXPECT_EQ(json::parse(pod->json)["spec"]["nodeName"], "edge-1");
  EXPECT_EQ(pod->uid, "0f6c1a2e-9b1d-4c47-8f0e-3d2b9a7c5e11");
  EXPECT_NE(store->getObject({kNodes, "", "edge-1"}), nullptr);
  EXPECT_EQ(store->listObjects(kConfigMaps, "default").size(), 1u);
  EXPECT_EQ(store->revision(), 4713u);
  EXPECT_EQ(store->getRawV2("/version"), R"({"major":"1","minor":"30"})");
  auto patch = store->getMeta("default/podpatch/nginx");
  ASSERT_TRUE(patch.ok());
  EXPECT_EQ(patch->value_or(""), R"({"status":{"phase":"Running"}})");
}

TEST_F(SqliteMetaStoreTest, AddsMissingColumnsAndKeepsRows) {
  {
    PlainDb db(path_);
    db.exec("CREATE TABLE `meta` (`key` varchar(256) NOT NULL PRIMARY KEY, `value` text)");
    db.exec(
        "CREATE TABLE `meta_v2` (`key` varchar(256) NOT NULL PRIMARY KEY, "
        "`groupversionresource` varchar(256) NOT NULL DEFAULT '' , `value` text)");
    db.exec("INSERT INTO meta (key, value) VALUES ('default/pod/a', '{}')");
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  PlainDb db(path_);
  auto cols = db.query("SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info('meta')");
  ASSERT_EQ(cols.size(), 3u);
  EXPECT_EQ(cols[2], (std::vector<std::string>{"type", "varchar(32)", "1", "''"}));
  auto v2cols = db.query("SELECT name FROM pragma_table_info('meta_v2')");
  EXPECT_EQ(v2cols.size(), 6u);
  EXPECT_EQ(db.query("SELECT type FROM meta WHERE key = 'default/pod/a'")[0][0], "");
  // beego's ALTER text, as SQLite appends it to the table's CREATE statement.
  EXPECT_NE(db.query("SELECT sql FROM sqlite_master WHERE name = 'meta'")[0][0].find(
                "`type` varchar(32) NOT NULL  DEFAULT '')"),
            std::string::npos);
  ASSERT_TRUE(submitAndWait(*store, {upsertObject(kPods, podJson("default", "a", 1))}).ok());
}

TEST_F(SqliteMetaStoreTest, RowsWeWriteAreWhatGoReads) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata", {{"name", "edge-1"}, {"resourceVersion", "9"}}}};
  json deploy = {{"apiVersion", "apps/v1"},
                 {"kind", "Deployment"},
                 {"metadata", {{"name", "web"}, {"namespace", "prod"}, {"resourceVersion", "10"}}},
                 {"spec", {{"note", "<&>"}}}};
  ASSERT_TRUE(submitAndWait(*store, {upsertObject(kPods, podJson("default", "nginx", 8)),
                                     upsertObject({}, node), upsertObject({}, deploy),
                                     rawOp(WriteOp::Kind::UpsertRawV2, "/version", "{}")})
                  .ok());
  PlainDb db(path_);
  auto rows = db.query(
      "SELECT key, groupversionresource, namespace, name, resourceversion, value FROM meta_v2 "
      "ORDER BY key");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"/apps/v1/deployments/prod/web",
                                               "apps/v1, Resource=deployments", "prod", "web", "10",
                                               rows[0][5]}));
  EXPECT_EQ(
      rows[0][5],
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod","resourceVersion":"10"},"spec":{"note":"\u003c\u0026\u003e"}})"
      "\n");
  EXPECT_EQ(rows[1][0], "/core/v1/nodes/null/edge-1");
  EXPECT_EQ(rows[1][1], "/v1, Resource=nodes");
  EXPECT_EQ(rows[1][2], "");
  EXPECT_EQ(rows[2][0], "/core/v1/pods/default/nginx");
  EXPECT_EQ(rows[2][1], "/v1, Resource=pods");
  EXPECT_EQ(rows[2][4], "8");
  EXPECT_EQ(json::parse(rows[2][5]), podJson("default", "nginx", 8));
  EXPECT_EQ(rows[3], (std::vector<std::string>{"/version", "", "", "", "0", "{}"}));
  // Go's RawMetaByGVRNN filter for a namespaced list.
  EXPECT_EQ(db.query("SELECT name FROM meta_v2 WHERE groupversionresource = ? AND namespace = ?",
                     {"/v1, Resource=pods", "default"})
                .size(),
            1u);
  EXPECT_NE(store->getObject({{"apps", "v1", "deployments"}, "prod", "web"}), nullptr);
}

TEST_F(SqliteMetaStoreTest, CallbackRunsAfterCommitVisibleToAnotherConnection) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  std::promise<size_t> seen;
  WriteOp meta = rawOp(WriteOp::Kind::UpsertMeta, "default/configmap/c", R"({"a":1})");
  meta.type = "configmap";
  ASSERT_TRUE(store
                  ->submit({meta, upsertObject(kPods, podJson("default", "p", 3))},
                           [this, &seen](Status st) {
                             EXPECT_TRUE(st.ok()) << st.toString();
                             PlainDb other(path_);  // independent connection, in the callback
                             seen.set_value(other.query("SELECT key FROM meta").size() +
                                            other.query("SELECT key FROM meta_v2").size());
                           })
                  .ok());
  auto future = seen.get_future();
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(future.get(), 2u);
  EXPECT_NE(store->getObject({kPods, "default", "p"}), nullptr);
}

// Waits for N callbacks, recording each Status by index.
class Completions {
 public:
  explicit Completions(size_t n) : results_(n) {}
  MetaStore::WriteCallback callback(size_t i) {
    return [this, i](Status st) {
      std::lock_guard lock(mu_);
      results_[i] = st;
      ++done_;
      cv_.notify_all();
    };
  }
  bool waitAll() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [this] { return done_ == results_.size(); });
  }
  Status at(size_t i) {
    std::lock_guard lock(mu_);
    return results_[i];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Status> results_;
  size_t done_ = 0;
};

TEST_F(SqliteMetaStoreTest, QueuedBatchesShareATransaction) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  constexpr size_t kBatches = 1000;
  Completions done(kBatches);
  store->pauseWriterForTest(true);
  for (size_t i = 0; i < kBatches; ++i) {
    ASSERT_TRUE(
        store
            ->submit({upsertObject(kPods, podJson("default", "p" + std::to_string(i), i + 1))},
                     done.callback(i))
            .ok());
  }
  store->pauseWriterForTest(false);
  ASSERT_TRUE(done.waitAll());
  for (size_t i = 0; i < kBatches; ++i) {
    ASSERT_TRUE(done.at(i).ok()) << done.at(i).toString();
  }
  StoreStats stats = store->stats();
  EXPECT_EQ(stats.batches, kBatches);
  EXPECT_EQ(stats.ops, kBatches);
  EXPECT_EQ(stats.transactions, 1u);
  EXPECT_EQ(stats.max_batch_ops, kBatches);
  EXPECT_EQ(stats.objects, kBatches);
  EXPECT_EQ(stats.revision, kBatches);
}

TEST_F(SqliteMetaStoreTest, TransactionsAreCappedAtMaxBatchOps) {
  auto store = open(options([](auto& o) { o.max_batch_ops = 100; }));
  ASSERT_NE(store, nullptr);
  Completions done(1000);
  store->pauseWriterForTest(true);
  for (size_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(store
                    ->submit({upsertObject(kPods, podJson("ns", "p" + std::to_string(i), 1))},
                             done.callback(i))
                    .ok());
  }
  store->pauseWriterForTest(false);
  ASSERT_TRUE(done.waitAll());
  EXPECT_EQ(store->stats().transactions, 10u);
  EXPECT_EQ(store->stats().max_batch_ops, 100u);
}

TEST_F(SqliteMetaStoreTest, AFailingBatchFailsAlone) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  Completions done(4);
  json no_name = podJson("default", "x", 1);
  no_name["metadata"].erase("name");
  WriteOp bad_json = upsertObject(kPods, podJson("default", "y", 1));
  bad_json.value = "{not json";
  store->pauseWriterForTest(true);
  ASSERT_TRUE(
      store->submit({upsertObject(kPods, podJson("default", "a", 1))}, done.callback(0)).ok());
  // A good op before the bad one in the same batch must roll back with it.
  ASSERT_TRUE(
      store->submit({upsertObject(kPods, podJson("default", "b1", 2)), bad_json}, done.callback(1))
          .ok());
  ASSERT_TRUE(
      store->submit({upsertObject(kPods, podJson("default", "c", 3))}, done.callback(2)).ok());
  ASSERT_TRUE(store->submit({upsertObject(kPods, no_name)}, done.callback(3)).ok());
  store->pauseWriterForTest(false);
  ASSERT_TRUE(done.waitAll());
  EXPECT_TRUE(done.at(0).ok());
  EXPECT_EQ(done.at(1).code(), StatusCode::InvalidArgument);
  EXPECT_NE(done.at(1).message().find("not valid JSON"), std::string::npos);
  EXPECT_TRUE(done.at(2).ok());
  EXPECT_EQ(done.at(3).code(), StatusCode::InvalidArgument);
  EXPECT_NE(done.at(3).message().find("metadata.name"), std::string::npos);
  EXPECT_EQ(store->stats().transactions, 1u);
  EXPECT_EQ(store->stats().failed_batches, 2u);
  EXPECT_EQ(store->getObject({kPods, "default", "b1"}), nullptr);
  EXPECT_NE(store->getObject({kPods, "default", "a"}), nullptr);
  EXPECT_NE(store->getObject({kPods, "default", "c"}), nullptr);
  PlainDb db(path_);
  EXPECT_EQ(db.query("SELECT name FROM meta_v2 ORDER BY name"),
            (std::vector<std::vector<std::string>>{{"a"}, {"c"}}));
}

// An object nesting deeper than kMaxJsonDepth (a crafted cloud answer cached by MetaServer, or a
// string content) used to overflow the stack when re-encoded; now it is refused like bad JSON and
// the store keeps writing.
TEST_F(SqliteMetaStoreTest, TooDeeplyNestedObjectIsRefusedAndTheStoreGoesOn) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  WriteOp deep = upsertObject(kPods, podJson("default", "deep", 1));
  deep.value = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"deep"},"spec":)" +
               std::string(200000, '[') + std::string(200000, ']') + "}";
  Status st = submitAndWait(*store, {deep});
  EXPECT_EQ(st.code(), StatusCode::InvalidArgument);
  EXPECT_NE(st.message().find("nests deeper than"), std::string::npos);
  EXPECT_TRUE(submitAndWait(*store, {upsertObject(kPods, podJson("default", "ok", 2))}).ok());
  EXPECT_EQ(store->getObject({kPods, "default", "deep"}), nullptr);
  EXPECT_NE(store->getObject({kPods, "default", "ok"}), nullptr);
}

TEST_F(SqliteMetaStoreTest, FullQueueIsUnavailableAndCounted) {
  auto store = open(options([](auto& o) { o.max_queued_ops = 10; }));
  ASSERT_NE(store, nullptr);
  Completions done(10);
  store->pauseWriterForTest(true);
  for (size_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(store
                    ->submit({upsertObject(kPods, podJson("ns", "p" + std::to_string(i), 1))},
                             done.callback(i))
                    .ok());
  }
  bool called = false;
  Status st = store->submit({upsertObject(kPods, podJson("ns", "late", 1))},
                            [&called](Status) { called = true; });
  EXPECT_EQ(st.code(), StatusCode::Unavailable);
  EXPECT_NE(st.message().find("queue is full"), std::string::npos);
  EXPECT_EQ(store->stats().queue_rejections, 1u);
  store->pauseWriterForTest(false);
  ASSERT_TRUE(done.waitAll());
  EXPECT_FALSE(called);
  EXPECT_EQ(store->stats().objects, 10u);
}

TEST_F(SqliteMetaStoreTest, ListenersSeeCommitOrderTypesAndRisingRevisions) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  std::vector<std::tuple<ChangeType, uint64_t, std::string>> seen;  // writer thread only
  uint64_t id = store->addChangeListener([&seen](const ObjectChange& c) {
    seen.emplace_back(c.type, c.revision, c.object->key.name);
  });
  WriteOp del_a{};
  del_a.kind = WriteOp::Kind::DeleteObject;
  del_a.object_key = {kPods, "default", "a"};
  WriteOp del_missing = del_a;
  del_missing.object_key.name = "missing";
  ASSERT_TRUE(submitAndWait(*store, {upsertObject(kPods, podJson("default", "a", 5))}).ok());
  ASSERT_TRUE(submitAndWait(*store, {upsertObject(kPods, podJson("default", "a", 3)),
                                     upsertObject(kPods, podJson("default", "b", 100))})
                  .ok());
  ASSERT_TRUE(submitAndWait(*store, {del_a, del_missing}).ok());
  uint64_t revision = 0;
  auto list = store->listObjects(kPods, "", &revision);
  store->removeChangeListener(id);
  ASSERT_TRUE(submitAndWait(*store, {upsertObject(kPods, podJson("default", "c", 1))}).ok());
  using C = ChangeType;
  EXPECT_EQ(seen, (std::vector<std::tuple<ChangeType, uint64_t, std::string>>{
                      {C::Added, 5, "a"},
                      {C::Modified, 6, "a"},  // max(5 + 1, 3)
                      {C::Added, 100, "b"},
                      {C::Deleted, 101, "a"},
                  }));
  EXPECT_EQ(revision, 101u);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(store->revision(), 102u);
}

TEST_F(SqliteMetaStoreTest, ListenerMayRemoveItselfOnTheWriterThread) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  int calls = 0;
  uint64_t id = 0;
  id = store->addChangeListener([&](const ObjectChange&) {
    ++calls;
    store->removeChangeListener(id);
  });
  ASSERT_TRUE(submitAndWait(*store, {upsertObject(kPods, podJson("d", "a", 1)),
                                     upsertObject(kPods, podJson("d", "b", 1))})
                  .ok());
  EXPECT_EQ(calls, 1);
}

TEST_F(SqliteMetaStoreTest, ListObjectsIsSortedAndFiltered) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  std::vector<WriteOp> ops;
  for (const char* ns : {"b", "a", "c"}) {
    for (const char* name : {"z", "x", "y"}) {
      ops.push_back(upsertObject(kPods, podJson(ns, name, 1)));
    }
  }
  ops.push_back(upsertObject(kConfigMaps, {{"apiVersion", "v1"},
                                           {"kind", "ConfigMap"},
                                           {"metadata", {{"name", "m"}, {"namespace", "a"}}}}));
  ops.push_back(rawOp(WriteOp::Kind::UpsertRawV2, "/version", R"({"major":"1"})"));
  ASSERT_TRUE(submitAndWait(*store, ops).ok());
  std::vector<std::string> names;
  for (const auto& o : store->listObjects(kPods, "")) {
    names.push_back(o->key.ns + "/" + o->key.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a/x", "a/y", "a/z", "b/x", "b/y", "b/z", "c/x", "c/y",
                                             "c/z"}));
  auto in_b = store->listObjects(kPods, "b");
  ASSERT_EQ(in_b.size(), 3u);
  EXPECT_EQ(in_b[0]->key.name, "x");
  EXPECT_TRUE(store->listObjects(kPods, "nope").empty());
  EXPECT_EQ(store->listGvrs(), (std::vector<Gvr>{kConfigMaps, kPods}));
  EXPECT_EQ(store->getRawV2("/version"), R"({"major":"1"})");
  EXPECT_EQ(store->getRawV2("/api"), std::nullopt);
  // All of it survives a reopen.
  store.reset();
  store = open();
  EXPECT_EQ(store->listObjects(kPods, "").size(), 9u);
  EXPECT_EQ(store->getRawV2("/version"), R"({"major":"1"})");
}

TEST_F(SqliteMetaStoreTest, MetaTableWritesAndGuardedPodDelete) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  WriteOp pod =
      rawOp(WriteOp::Kind::UpsertMeta, "default/pod/p", podJson("default", "p", 1, "uid-A").dump());
  pod.type = "pod";
  WriteOp patch = rawOp(WriteOp::Kind::UpsertMeta, "default/podpatch/p", R"({"status":{}})");
  patch.type = "podpatch";
  ASSERT_TRUE(submitAndWait(*store, {pod, patch}).ok());
  WriteOp guarded = rawOp(WriteOp::Kind::DeletePodGuarded, "default/pod/p");
  guarded.uid = "uid-B";  // a newer pod with the same name: keep both rows
  ASSERT_TRUE(submitAndWait(*store, {guarded}).ok());
  EXPECT_TRUE(store->getMeta("default/pod/p")->has_value());
  EXPECT_TRUE(store->getMeta("default/podpatch/p")->has_value());
  guarded.uid = "uid_A";  // LIKE's wildcard in a uid is taken literally
  ASSERT_TRUE(submitAndWait(*store, {guarded}).ok());
  EXPECT_TRUE(store->getMeta("default/pod/p")->has_value());
  guarded.uid = "uid-A";
  ASSERT_TRUE(submitAndWait(*store, {guarded}).ok());
  EXPECT_FALSE(store->getMeta("default/pod/p")->has_value());
  EXPECT_FALSE(store->getMeta("default/podpatch/p")->has_value());
  EXPECT_TRUE(store->listMetaByType("pod")->empty());
  ASSERT_TRUE(submitAndWait(*store, {rawOp(WriteOp::Kind::DeleteMeta, "nope")}).ok());
}

TEST_F(SqliteMetaStoreTest, CorruptDatabaseIsDataLossWithRecoverySteps) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    std::vector<WriteOp> ops;
    for (int i = 0; i < 300; ++i) {
      ops.push_back(upsertObject(kPods, podJson("default", "pod-" + std::to_string(i), 1)));
    }
    ASSERT_TRUE(submitAndWait(*store, ops).ok());
  }
  ASSERT_FALSE(fs::exists(path_ + "-wal"));  // checkpointed on close
  auto size = fs::file_size(path_);
  ASSERT_GT(size, 20u * 4096);
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    std::string garbage(4096 * 8, '\x5a');
    f.seekp(4096 * 10);
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  auto store = SqliteMetaStore::open(options([](auto&) {}));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::DataLoss);
  std::string msg = store.status().message();
  EXPECT_NE(msg.find("failed its integrity check"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mv " + path_ + " " + path_ + ".corrupt-"), std::string::npos) << msg;
  EXPECT_NE(msg.find("docs/operations.md"), std::string::npos) << msg;
}

TEST_F(SqliteMetaStoreTest, NotADatabaseIsAClearError) {
  {
    std::ofstream f(path_);
    for (int i = 0; i < 200; ++i) {
      f << "this is a config file, not a database\n";
    }
  }
  auto store = SqliteMetaStore::open(options([](auto&) {}));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::FailedPrecondition);
  EXPECT_NE(store.status().message().find("is not an SQLite database"), std::string::npos)
      << store.status().message();
}

TEST_F(SqliteMetaStoreTest, MissingDirectoryIsAClearError) {
  auto store =
      SqliteMetaStore::open(options([this](auto& o) { o.path = dir_ + "/absent/edgecore.db"; }));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::Unavailable);
  EXPECT_NE(store.status().message().find("does not exist"), std::string::npos);
}

TEST_F(SqliteMetaStoreTest, UnwritableDirectoryIsAClearError) {
  ASSERT_EQ(chmod(dir_.c_str(), 0555), 0);
  auto check = [this] {
    auto store = SqliteMetaStore::open(options([](auto&) {}));
    return !store.ok() && store.status().code() == StatusCode::Unavailable &&
           store.status().message().find("is not writable") != std::string::npos;
  };
  if (geteuid() != 0) {
    EXPECT_TRUE(check());
    return;
  }
  // Root may write anywhere: check as an unprivileged user in a child process.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    _exit(setgid(65534) == 0 && setuid(65534) == 0 && check() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(SqliteMetaStoreTest, FullDiskFailsTheWriteAndAppliesNothing) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(submitAndWait(*store, {upsertObject(kPods, podJson("default", "before", 7))}).ok());
  ASSERT_TRUE(store->setMaxPageCountForTest(1).ok());  // clamps to the current size
  json big = podJson("default", "big", 8);
  big["data"] = std::string(200 * 1024, 'x');
  std::vector<uint64_t> revisions;
  store->addChangeListener(
      [&revisions](const ObjectChange& c) { revisions.push_back(c.revision); });
  Status st = submitAndWait(*store, {upsertObject(kPods, big)});
  EXPECT_EQ(st.code(), StatusCode::ResourceExhausted) << st.toString();
  EXPECT_NE(st.message().find("disk"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(path_), std::string::npos) << st.message();
  EXPECT_EQ(store->getObject({kPods, "default", "big"}), nullptr);
  EXPECT_EQ(store->revision(), 7u);
  EXPECT_TRUE(revisions.empty());
  ASSERT_TRUE(store->setMaxPageCountForTest(1u << 30).ok());
  ASSERT_TRUE(submitAndWait(*store, {upsertObject(kPods, big)}).ok());
  EXPECT_NE(store->getObject({kPods, "default", "big"}), nullptr);
  EXPECT_EQ(revisions, (std::vector<uint64_t>{8}));
}

SqliteStoreOptions pathOptions(const std::string& path) {
  SqliteStoreOptions o;
  o.path = path;
  return o;
}

// Child process body: opens the store and upserts pods one batch at a time, as fast as the
// writer takes them, writing the index of each acknowledged write to `fd`. Never returns.
[[noreturn]] void ackLoop(const std::string& path, int round, int fd) {
  auto store = SqliteMetaStore::open(pathOptions(path));
  if (!store.ok()) {
    _exit(2);
  }
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  for (int32_t i = 0;; ++i) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < 64; });
      ++in_flight;
    }
    json pod = podJson("r" + std::to_string(round), "p" + std::to_string(i), i + 1);
    Status st = (*store)->submit({upsertObject(kPods, pod)}, [&, i, fd](Status s) {
      if (s.ok()) {
        if (write(fd, &i, sizeof(i)) != sizeof(i)) {
          _exit(3);
        }
      }
      std::lock_guard lock(mu);
      --in_flight;
      cv.notify_all();
    });
    if (!st.ok()) {
      _exit(4);
    }
  }
}

TEST_F(SqliteMetaStoreTest, AcknowledgedWritesSurviveSigkill) {
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 5; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      ackLoop(path_, round, fds[1]);
    }
    close(fds[1]);
    size_t kill_after = std::uniform_int_distribution<size_t>(20, 400)(rng);
    std::set<int32_t> acked;
    int32_t index;
    bool killed = false;
    while (read(fds[0], &index, sizeof(index)) == sizeof(index)) {
      acked.insert(index);
      if (!killed && acked.size() >= kill_after) {
        kill(pid, SIGKILL);
        killed = true;  // keep reading: acks already in the pipe were given before the kill
      }
    }
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    {
      PlainDb db(path_);
      EXPECT_EQ(db.query("PRAGMA integrity_check")[0][0], "ok");
      auto rows =
          db.query("SELECT name FROM meta_v2 WHERE namespace = ?", {"r" + std::to_string(round)});
      std::set<std::string> present;
      for (const auto& r : rows) {
        present.insert(r[0]);
      }
      for (int32_t i : acked) {
        ASSERT_TRUE(present.contains("p" + std::to_string(i)))
            << "round " << round << " lost " << i;
      }
    }
    auto store = open();
    ASSERT_NE(store, nullptr);
    EXPECT_GE(store->listObjects(kPods, "r" + std::to_string(round)).size(), acked.size());
  }
}

// ---------------------------------------------------------------- file modes
// The database holds Secrets: under the usual umask 022 it, its -wal and its -shm must still be
// 0600, and a database an older version left world-readable is narrowed at open, logged once.

unsigned modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Sets the umask for one test and restores it.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

// A logger whose lines the test reads back.
struct CapturedLog {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> log = std::make_shared<spdlog::logger>(
      "metamanager", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
  size_t count(const std::string& needle) const {
    std::string text = out.str();
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
      ++n;
    }
    return n;
  }
};

TEST_F(SqliteMetaStoreTest, NewDatabaseWalAndShmAre0600UnderUmask022) {
  ScopedUmask mask(022);
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(submitAndWait(*store, {upsertObject(kPods, podJson("default", "a", 1))}).ok());
  ASSERT_TRUE(fs::exists(path_ + "-wal"));
  ASSERT_TRUE(fs::exists(path_ + "-shm"));
  EXPECT_EQ(modeOf(path_), 0600u);
  EXPECT_EQ(modeOf(path_ + "-wal"), 0600u);
  EXPECT_EQ(modeOf(path_ + "-shm"), 0600u);
}

TEST_F(SqliteMetaStoreTest, WorldReadableDatabaseIsNarrowedAtOpenAndLoggedOnce) {
  ScopedUmask mask(022);
  { ASSERT_NE(open(), nullptr); }
  // As an older version left it: 0644, with the -wal and -shm of a process that did not close.
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(other, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES(1)",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  ASSERT_EQ(modeOf(path_ + "-wal"), 0644u);
  ASSERT_EQ(modeOf(path_ + "-shm"), 0644u);

  CapturedLog captured;
  {
    auto store = open(options([&](auto& o) { o.log = captured.log; }));
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(modeOf(path_), 0600u);
    EXPECT_EQ(modeOf(path_ + "-wal"), 0600u);
    EXPECT_EQ(modeOf(path_ + "-shm"), 0600u);
  }
  sqlite3_close(other);
  for (const std::string& f : {path_, path_ + "-wal", path_ + "-shm"}) {
    EXPECT_EQ(captured.count("database file mode narrowed path=" + f + " old=0644 new=0600"), 1u)
        << captured.out.str();
  }
  // Private already: nothing to say the next time.
  CapturedLog again;
  ASSERT_NE(open(options([&](auto& o) { o.log = again.log; })), nullptr);
  EXPECT_EQ(again.count("mode narrowed"), 0u) << again.out.str();
}

TEST_F(SqliteMetaStoreTest, SymlinkAsDatabaseIsRefused) {
  const std::string elsewhere = dir_ + "/elsewhere.db";
  {
    ASSERT_NE(open(options([&](auto& o) { o.path = elsewhere; })), nullptr);
  }
  ASSERT_EQ(::chmod(elsewhere.c_str(), 0644), 0);
  fs::create_symlink(elsewhere, path_);
  auto store = SqliteMetaStore::open(options([](auto&) {}));
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("symbolic link"), std::string::npos)
      << store.status().message();
  EXPECT_EQ(modeOf(elsewhere), 0644u);  // not touched through the link
}

}  // namespace
}  // namespace edgecore::metamanager
