// The typed interfaces over the tables other modules own (DeviceTwinStore, SubTopicStore,
// UpgradeRecords), on a real SQLite file: the rows on disk are exactly what KubeEdge's dtclient /
// eventbus / MetaServer leave there, and they go through the store's one writer.

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "edgecore/metamanager/meta_store.h"
#include "util/plain_db.h"
#include "util/process.h"

namespace edgecore::metamanager {
namespace {

using edgecore::testing::PlainDb;
using Rows = std::vector<std::vector<std::string>>;

constexpr auto kWait = std::chrono::seconds(10);

// Waits for a write callback; the submit error if it was refused.
class Done {
 public:
  MetaStore::WriteCallback callback() {
    return [p = promise_](Status st) { p->set_value(st); };
  }
  Status wait(Status submitted) {
    if (!submitted.ok()) {
      return submitted;
    }
    auto future = promise_->get_future();
    if (future.wait_for(kWait) != std::future_status::ready) {
      return core::deadlineExceeded("callback not called");
    }
    return future.get();
  }

 private:
  std::shared_ptr<std::promise<Status>> promise_ = std::make_shared<std::promise<Status>>();
};

class ModuleTablesTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }
  void TearDown() override { store_.reset(); }
  void reopen() {
    store_.reset();
    SqliteStoreOptions options;
    options.path = path_;
    auto store = openSqliteMetaStore(options);
    ASSERT_TRUE(store.ok()) << store.status().toString();
    store_ = std::move(*store);
  }
  Status write(std::vector<WriteOp> ops) {
    Done done;
    return done.wait(store_->submit(std::move(ops), done.callback()));
  }

  edgecore::testing::TempDir dir_;
  const std::string path_ = dir_.file("edgecore.db");
  std::unique_ptr<MetaStore> store_;
};

DeviceTwinRow twin(std::string name, std::optional<std::string> actual) {
  DeviceTwinRow t;
  t.device_id = "default/thermo";
  t.name = std::move(name);
  t.actual = std::move(actual);
  t.actual_meta = R"({"timestamp":1700000000000})";
  t.actual_version = R"({"cloud":0,"edge":1})";
  t.optional = false;
  t.attr_type = "string";
  return t;
}

TEST_F(ModuleTablesTest, DeviceRowsAreDtclientsColumnForColumn) {
  std::vector<WriteOp> ops;
  ops.push_back(WriteOp::saveDevice({.id = "default/thermo",
                                     .name = "thermo",
                                     .description = "a thermometer",
                                     .state = "unknown",
                                     .last_online = ""}));
  ops.push_back(WriteOp::addDeviceAttr({.device_id = "default/thermo",
                                        .name = "unit",
                                        .value = "C",
                                        .optional = true,
                                        .attr_type = "string",
                                        .metadata = R"({"type":"string"})"}));
  ops.push_back(WriteOp::insertTwin(twin("temp", "21")));
  ASSERT_TRUE(write(std::move(ops)).ok());

  PlainDb db(path_);
  EXPECT_EQ(db.query("SELECT id, name, description, state, last_online FROM device"),
            (Rows{{"default/thermo", "thermo", "a thermometer", "unknown", ""}}));
  EXPECT_EQ(db.query("SELECT deviceid, name, description, value, optional, typeof(optional), "
                     "attr_type, metadata FROM device_attr"),
            (Rows{{"default/thermo", "unit", "", "C", "1", "integer", "string",
                   R"({"type":"string"})"}}));
  EXPECT_EQ(
      db.query("SELECT deviceid, name, expected, actual, expected_meta, actual_meta, "
               "expected_version, actual_version, optional, attr_type, metadata "
               "FROM device_twin"),
      (Rows{{"default/thermo", "temp", "<null>", "21", "<null>", R"({"timestamp":1700000000000})",
             "<null>", R"({"cloud":0,"edge":1})", "0", "string", ""}}));

  // Update in place, then the state.
  std::vector<WriteOp> more;
  more.push_back(WriteOp::updateTwin(twin("temp", std::nullopt)));
  more.push_back(WriteOp::setDeviceState("default/thermo", "online", "2024-05-01T10:00:00Z"));
  ASSERT_TRUE(write(std::move(more)).ok());
  EXPECT_EQ(db.query("SELECT actual, optional FROM device_twin"), (Rows{{"<null>", "0"}}));
  EXPECT_EQ(db.query("SELECT name, description, state, last_online FROM device"),
            (Rows{{"thermo", "a thermometer", "online", "2024-05-01T10:00:00Z"}}));

  // What devicetwin reads back at startup, from a fresh store on the same file.
  reopen();
  auto tables = store_->loadDeviceTables();
  ASSERT_TRUE(tables.ok()) << tables.status().toString();
  ASSERT_EQ(tables->devices.size(), 1u);
  EXPECT_EQ(tables->devices[0].state, "online");
  EXPECT_EQ(tables->devices[0].description, "a thermometer");
  ASSERT_EQ(tables->attrs.size(), 1u);
  EXPECT_TRUE(tables->attrs[0].optional);
  EXPECT_EQ(tables->attrs[0].metadata, R"({"type":"string"})");
  ASSERT_EQ(tables->twins.size(), 1u);
  EXPECT_EQ(tables->twins[0].name, "temp");
  EXPECT_FALSE(tables->twins[0].actual.has_value());
  EXPECT_FALSE(tables->twins[0].expected_meta.has_value());
  EXPECT_EQ(tables->twins[0].actual_version, R"({"cloud":0,"edge":1})");
  EXPECT_FALSE(tables->twins[0].optional);
}

TEST_F(ModuleTablesTest, ReadsRowsGoWroteWithTextBooleans) {
  {
    PlainDb db(path_);
    db.exec(
        "INSERT INTO device (id, name, description, state, last_online) VALUES "
        "('ns/d', 'd', '', 'ok', '');"
        "INSERT INTO device_attr (deviceid, name, description, value, optional, attr_type, "
        "metadata) VALUES ('ns/d', 'a', '', 'v', 'true', 'int', '');");
  }
  auto tables = store_->loadDeviceTables();
  ASSERT_TRUE(tables.ok()) << tables.status().toString();
  ASSERT_EQ(tables->attrs.size(), 1u);
  EXPECT_TRUE(tables->attrs[0].optional);
  EXPECT_EQ(tables->attrs[0].attr_type, "int");
}

TEST_F(ModuleTablesTest, DeleteDeviceRemovesItsRowsOnly) {
  std::vector<WriteOp> ops;
  for (std::string id : {"default/a", "default/b"}) {
    DeviceRow device;
    device.id = id;
    ops.push_back(WriteOp::saveDevice(device));
    DeviceAttrRow attr;
    attr.device_id = id;
    attr.name = "x";
    ops.push_back(WriteOp::addDeviceAttr(attr));
    DeviceTwinRow t = twin("t", "1");
    t.device_id = id;
    ops.push_back(WriteOp::insertTwin(t));
  }
  ASSERT_TRUE(write(std::move(ops)).ok());
  std::vector<WriteOp> del;
  del.push_back(WriteOp::deleteDevice("default/a"));
  ASSERT_TRUE(write(std::move(del)).ok());
  PlainDb db(path_);
  EXPECT_EQ(db.query("SELECT id FROM device"), (Rows{{"default/b"}}));
  EXPECT_EQ(db.query("SELECT deviceid FROM device_attr"), (Rows{{"default/b"}}));
  EXPECT_EQ(db.query("SELECT deviceid FROM device_twin"), (Rows{{"default/b"}}));
}

TEST_F(ModuleTablesTest, DeviceRowsCommitWithTheRestOfTheirBatch) {
  // devicetwin mirrors a state into the Device object in the same batch: a bad object fails the
  // batch, and no device row of it lands either.
  std::vector<WriteOp> ops;
  DeviceRow device;
  device.id = "default/thermo";
  ops.push_back(WriteOp::saveDevice(device));
  ops.push_back(WriteOp::insertTwin(twin("t", "1")));
  WriteOp object;
  object.kind = WriteOp::Kind::UpsertObject;
  object.object_key.gvr = {"devices.kubeedge.io", "v1beta1", "devices"};
  object.value = "not json";
  ops.push_back(std::move(object));
  Status st = write(std::move(ops));
  EXPECT_EQ(st.code(), core::StatusCode::InvalidArgument) << st.toString();
  PlainDb db(path_);
  EXPECT_TRUE(db.query("SELECT id FROM device").empty());
  EXPECT_TRUE(db.query("SELECT name FROM device_twin").empty());
}

TEST_F(ModuleTablesTest, SubTopicsAddReplaceRemove) {
  Done a, again, b, gone;
  ASSERT_TRUE(a.wait(store_->addSubTopic("$hw/a", a.callback())).ok());
  ASSERT_TRUE(again.wait(store_->addSubTopic("$hw/a", again.callback())).ok());
  ASSERT_TRUE(b.wait(store_->addSubTopic("$hw/b", b.callback())).ok());
  auto topics = store_->listSubTopics();
  ASSERT_TRUE(topics.ok());
  EXPECT_EQ(*topics, (std::vector<std::string>{"$hw/a", "$hw/b"}));
  ASSERT_TRUE(gone.wait(store_->removeSubTopic("$hw/a", gone.callback())).ok());
  PlainDb db(path_);
  EXPECT_EQ(db.query("SELECT topic FROM sub_topics"), (Rows{{"$hw/b"}}));
}

TEST_F(ModuleTablesTest, UpgradeRequestsAreReadFromTheFileAndDeletedThroughTheWriter) {
  auto none = store_->readUpgradeRequests();
  ASSERT_TRUE(none.ok()) << none.status().toString();
  EXPECT_TRUE(none->job.empty());
  EXPECT_TRUE(none->task.empty());
  {
    // One row there before the store opened (cached as a pass-through row), one written by
    // another process while it runs, and a row that is not an upgrade request.
    PlainDb db(path_);
    db.exec(
        "INSERT INTO meta_v2 (key, groupversionresource, namespace, name, resourceversion, value) "
        "VALUES ('up-1', '', '', 'NodeUpgradeJobRequest', 0, '{\"UpgradeID\":\"1\"}'),"
        "('/version', '', '', '', 0, '{\"major\":\"1\"}')");
  }
  reopen();
  {
    PlainDb db(path_);
    db.exec(
        "INSERT INTO meta_v2 (key, groupversionresource, namespace, name, resourceversion, value) "
        "VALUES ('task-1', '', '', 'NodeTaskRequest', 0, '{\"TaskID\":\"t\"}')");
  }
  auto rows = store_->readUpgradeRequests();
  ASSERT_TRUE(rows.ok()) << rows.status().toString();
  EXPECT_EQ(rows->job, R"({"UpgradeID":"1"})");
  EXPECT_EQ(rows->task, R"({"TaskID":"t"})");
  EXPECT_TRUE(store_->getRawV2("up-1").has_value());

  Done done;
  ASSERT_TRUE(done.wait(store_->deleteUpgradeRequests(done.callback())).ok());
  PlainDb db(path_);
  EXPECT_EQ(db.query("SELECT key FROM meta_v2"), (Rows{{"/version"}}));
  EXPECT_FALSE(store_->getRawV2("up-1").has_value());  // the cached copy went with it
  EXPECT_TRUE(store_->getRawV2("/version").has_value());
  auto after = store_->readUpgradeRequests();
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->job.empty());
}

}  // namespace
}  // namespace edgecore::metamanager
