#pragma once

// The real MetaStore (src/metamanager's SQLite store) on a database file in a fresh temp dir,
// plus synchronous helpers that write objects exactly as metamanager does when the cloud sends
// them: a cloud message (source edgecontroller, resource "<ns>/<type>/<name>") becomes the v1
// `meta` row (key = resource, type = the type token, value = the content's Go encoding) and the
// meta_v2 ops metamanager's imitator derives from it, in one batch. Each helper returns once the
// batch is durable and the change listeners have run (the store dispatches before the callback).
// For MetaServer and metamanager tests and the MetaServer benchmark; needs test/util/process.cc and
// edgecore_metamanager.

#include <cctype>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgecore/core/message.h"
#include "edgecore/core/status.h"
#include "edgecore/metamanager/meta_store.h"
#include "metamanager/imitator.h"
#include "util/process.h"

namespace edgecore::testing {

class SqliteTestStore {
 public:
  using Gvr = metamanager::Gvr;
  using ObjectKey = metamanager::ObjectKey;
  using WriteOp = metamanager::WriteOp;

  explicit SqliteTestStore(metamanager::SqliteStoreOptions options = {}) {
    options.path = path_;
    auto opened = metamanager::openSqliteMetaStore(options);
    EC_CHECK(opened.ok(), "cannot open the test store: " + opened.status().toString());
    store_ = std::move(*opened);
  }

  metamanager::MetaStore& operator*() { return *store_; }
  metamanager::MetaStore* operator->() { return store_.get(); }
  const metamanager::MetaStore* operator->() const { return store_.get(); }
  const std::string& dbPath() const { return path_; }
  const TempDir& dir() const { return dir_; }

  // metamanager's type token for a resource: the lowercase kind ("configmaps" -> "configmap").
  static std::string typeToken(const Gvr& gvr) {
    std::string t = metamanager::resourceToKind(gvr.resource);
    for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return t;
  }

  // The cloud inserts (or updates) `json`, an object of `gvr`: metamanager's writes for it.
  void put(const Gvr& gvr, const std::string& json) { mustCommit(putOps(gvr, json)); }

  // Many objects at once, as metamanager does with a burst of cloud messages: one batch per
  // object, all queued before waiting (the writer groups them into few transactions).
  void putMany(const Gvr& gvr, const std::vector<std::string>& jsons) {
    for (const auto& json : jsons) {
      core::Status st = store_->submit(putOps(gvr, json), nullptr);
      EC_CHECK(st.ok(), "test store refused a write: " + st.toString());
    }
    flush();
  }

  // The batch metamanager submits for a cloud insert of `json`.
  static std::vector<WriteOp> putOps(const Gvr& gvr, const std::string& json) {
    nlohmann::json doc = nlohmann::json::parse(json);
    const auto& meta = doc.at("metadata");
    std::string ns = meta.value("namespace", "");
    core::Message msg = core::Message::create(
        "edgecontroller", "resource", core::op::kInsert,
        resourceOf(gvr, ns, meta.at("name").get<std::string>()), std::move(doc));
    std::string type = typeToken(gvr);
    WriteOp row;
    row.kind = WriteOp::Kind::UpsertMeta;
    row.key = msg.route.resource;
    row.type = type;
    row.value = msg.contentData();
    std::vector<WriteOp> ops{std::move(row)};
    auto v2 = metamanager::imitatorOps(msg, core::op::kInsert, type);
    EC_CHECK(v2.skipped == 0, "object not storable in meta_v2: " + v2.skip_reason);
    for (auto& op : v2.ops) ops.push_back(std::move(op));
    return ops;
  }

  // The cloud deletes the object at `key` (the message carries its last state, as the cloud's
  // delete does): metamanager's writes for it. Deleting an absent object changes nothing.
  void remove(const ObjectKey& key) {
    auto stored = store_->getObject(key);
    nlohmann::json doc =
        stored ? nlohmann::json::parse(stored->json)
               : nlohmann::json{{"metadata", {{"name", key.name}, {"namespace", key.ns}}}};
    std::string type = typeToken(key.gvr);
    core::Message msg = core::Message::create("edgecontroller", "resource", core::op::kDelete,
                                              resourceOf(key.gvr, key.ns, key.name), doc);
    WriteOp row;
    if (type == "pod") {
      row.kind = WriteOp::Kind::DeletePodGuarded;  // metamanager deletes pods by uid
      row.uid = doc["metadata"].value("uid", "");
    } else {
      row.kind = WriteOp::Kind::DeleteMeta;
    }
    row.key = msg.route.resource;
    std::vector<WriteOp> ops{std::move(row)};
    for (auto& op : metamanager::imitatorOps(msg, core::op::kDelete, type).ops) {
      ops.push_back(std::move(op));
    }
    mustCommit(std::move(ops));
  }

  // A meta_v2 row that is not an object (e.g. "/version", written by Go edgecore's MetaServer
  // when it proxied the cloud's version answer); our store keeps it as a pass-through row.
  void putRaw(const std::string& key, const std::string& value) {
    WriteOp op;
    op.kind = WriteOp::Kind::UpsertRawV2;
    op.key = key;
    op.value = value;
    mustCommit({std::move(op)});
  }

  // Returns once every write submitted before the call committed (an empty batch waits for the
  // next commit, and batches commit in submission order).
  void flush() { mustCommit({}); }

  // Submits `ops` and waits for the store's verdict (Unavailable at once if it refused them).
  core::Status submitAndWait(std::vector<WriteOp> ops) {
    auto done = std::make_shared<std::promise<core::Status>>();
    auto result = done->get_future();
    core::Status st =
        store_->submit(std::move(ops), [done](core::Status s) { done->set_value(s); });
    if (!st.ok()) return st;
    return result.get();
  }

 private:
  static std::string resourceOf(const Gvr& gvr, const std::string& ns, const std::string& name) {
    return (ns.empty() ? std::string("default") : ns) + "/" + typeToken(gvr) + "/" + name;
  }
  void mustCommit(std::vector<WriteOp> ops) {
    core::Status st = submitAndWait(std::move(ops));
    EC_CHECK(st.ok(), "test store write failed: " + st.toString());
  }

  TempDir dir_;
  std::string path_ = dir_.file("edgecore.db");
  std::unique_ptr<metamanager::MetaStore> store_;
};

}  // namespace edgecore::testing
