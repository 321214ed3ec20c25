#pragma once

// An in-memory MetaStore with the contract of include/edgecore/metamanager/meta_store.h: lists
// sorted by namespace then name, a revision that grows by at least one per committed change (and
// follows larger object resourceVersions, like the real store), change listeners called in
// commit order after the memory view changed. Writes apply synchronously inside submit() and
// `done` runs on the submitting thread. Test scenery until the SQLite store is in the tree: every
// test talks to it only through MetaStore plus the put/remove helpers below.

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <tuple>

#include "edgecore/metamanager/meta_store.h"

namespace edgecore::testing {

class FakeMetaStore final : public metamanager::MetaStore {
 public:
  using Gvr = metamanager::Gvr;
  using ObjectKey = metamanager::ObjectKey;
  using StoredObject = metamanager::StoredObject;
  using StoredObjectPtr = metamanager::StoredObjectPtr;
  using WriteOp = metamanager::WriteOp;
  using Status = core::Status;
  template <typename T>
  using Result = core::Result<T>;

  // Builds the StoredObject the real store would publish for `json` (fields extracted once).
  static StoredObjectPtr makeObject(const Gvr& gvr, const std::string& json) {
    auto obj = std::make_shared<StoredObject>();
    nlohmann::json j = nlohmann::json::parse(json);
    const auto& meta = j.at("metadata");
    obj->key = ObjectKey{gvr, meta.value("namespace", ""), meta.value("name", "")};
    obj->json = j.dump();
    std::string rv = meta.value("resourceVersion", "");
    obj->resource_version = rv.empty() ? 0 : std::strtoull(rv.c_str(), nullptr, 10);
    if (meta.contains("labels") && meta["labels"].is_object()) {
      for (auto it = meta["labels"].begin(); it != meta["labels"].end(); ++it) {
        obj->labels.emplace_back(it.key(), it->get<std::string>());
      }
      std::sort(obj->labels.begin(), obj->labels.end());
    }
    obj->uid = meta.value("uid", "");
    obj->creation_timestamp = meta.value("creationTimestamp", "");
    if (j.contains("spec") && j["spec"].is_object()) {
      obj->node_name = j["spec"].value("nodeName", "");
    }
    if (j.contains("status") && j["status"].is_object()) {
      obj->phase = j["status"].value("phase", "");
    }
    return obj;
  }

  // Synchronous helpers for tests: upsert an object JSON / delete by key.
  void put(const Gvr& gvr, const std::string& json) {
    WriteOp op;
    op.kind = WriteOp::Kind::UpsertObject;
    op.value = json;
    op.object_key = ObjectKey{gvr, {}, {}};
    (void)submit({op}, nullptr);
  }
  void remove(const ObjectKey& key) {
    WriteOp op;
    op.kind = WriteOp::Kind::DeleteObject;
    op.object_key = key;
    (void)submit({op}, nullptr);
  }
  void putRaw(const std::string& key, const std::string& value) {
    WriteOp op;
    op.kind = WriteOp::Kind::UpsertRawV2;
    op.key = key;
    op.value = value;
    (void)submit({op}, nullptr);
  }
  // Makes submit() fail (Unavailable) as a full/closed store does.
  void setUnavailableForTest(bool v) { unavailable_ = v; }
  size_t listenerCount() const {
    std::lock_guard lock(mu_);
    return listeners_.size();
  }

  // metamanager::MetaStore
  Status submit(std::vector<WriteOp> ops, WriteCallback done) override {
    if (unavailable_) return core::unavailable("store closed");
    std::lock_guard write_lock(write_mu_);
    std::vector<metamanager::ObjectChange> changes;
    {
      std::lock_guard lock(mu_);
      for (auto& op : ops) {
        switch (op.kind) {
          case WriteOp::Kind::UpsertMeta:
            meta_[op.key] = {op.type, op.value};
            break;
          case WriteOp::Kind::DeleteMeta:
            meta_.erase(op.key);
            break;
          case WriteOp::Kind::DeletePodGuarded: {
            auto it = meta_.find(op.key);
            if (it != meta_.end() && it->second.second.find(op.uid) != std::string::npos) {
              meta_.erase(it);
            }
            break;
          }
          case WriteOp::Kind::UpsertRawV2:
            raw_[op.key] = op.value;
            break;
          case WriteOp::Kind::UpsertObject: {
            auto obj =
                std::const_pointer_cast<StoredObject>(makeObject(op.object_key.gvr, op.value));
            auto id = idOf(obj->key);
            bool existed = objects_.count(id) > 0;
            revision_ = std::max(revision_ + 1, obj->resource_version);
            objects_[id] = obj;
            changes.push_back(
                {existed ? metamanager::ChangeType::Modified : metamanager::ChangeType::Added,
                 revision_, obj});
            break;
          }
          case WriteOp::Kind::DeleteObject: {
            auto it = objects_.find(idOf(op.object_key));
            if (it == objects_.end()) break;
            ++revision_;
            changes.push_back({metamanager::ChangeType::Deleted, revision_, it->second});
            objects_.erase(it);
            break;
          }
          case WriteOp::Kind::Exec:
            break;  // no SQL tables here (device rows are tested against the real store)
        }
      }
      stats_.batches++;
      stats_.ops += ops.size();
      stats_.max_batch_ops = std::max<uint64_t>(stats_.max_batch_ops, ops.size());
    }
    std::vector<ChangeListener> listeners;
    {
      std::lock_guard lock(mu_);
      for (auto& [id, l] : listeners_) listeners.push_back(l);
    }
    for (const auto& c : changes) {
      for (const auto& l : listeners) l(c);
    }
    if (done) done(Status());
    return Status();
  }

  Result<std::optional<std::string>> getMeta(std::string_view key) override {
    std::lock_guard lock(mu_);
    auto it = meta_.find(std::string(key));
    if (it == meta_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second.second);
  }
  Result<std::vector<std::string>> listMetaByType(std::string_view type) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [k, tv] : meta_) {
      if (tv.first == type) out.push_back(tv.second);
    }
    return out;
  }

  Result<std::vector<metamanager::SqlRow>> query(
      const std::string&, const std::vector<metamanager::SqlValue>&) override {
    return core::unimplemented("the fake store has no SQL tables");
  }

  StoredObjectPtr getObject(const ObjectKey& key) const override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(idOf(key));
    return it == objects_.end() ? nullptr : it->second;
  }
  std::vector<StoredObjectPtr> listObjects(const Gvr& gvr, std::string_view ns,
                                           uint64_t* revision) const override {
    std::lock_guard lock(mu_);
    std::vector<StoredObjectPtr> out;
    auto it = objects_.lower_bound(Id{gvr, std::string(ns), ""});
    for (; it != objects_.end() && std::get<0>(it->first) == gvr; ++it) {
      if (!ns.empty() && std::get<1>(it->first) != ns) break;
      out.push_back(it->second);
    }
    if (revision) *revision = revision_;
    return out;
  }
  std::vector<Gvr> listGvrs() const override {
    std::lock_guard lock(mu_);
    std::vector<Gvr> out;
    for (const auto& [id, obj] : objects_) {
      if (out.empty() || out.back() != std::get<0>(id)) out.push_back(std::get<0>(id));
    }
    return out;
  }
  uint64_t revision() const override {
    std::lock_guard lock(mu_);
    return revision_;
  }
  std::optional<std::string> getRawV2(std::string_view key) const override {
    std::lock_guard lock(mu_);
    auto it = raw_.find(std::string(key));
    if (it == raw_.end()) return std::nullopt;
    return it->second;
  }
  uint64_t addChangeListener(ChangeListener listener) override {
    std::lock_guard lock(mu_);
    listeners_[++next_listener_] = std::move(listener);
    return next_listener_;
  }
  void removeChangeListener(uint64_t id) override {
    std::lock_guard lock(mu_);
    listeners_.erase(id);
  }
  metamanager::StoreStats stats() const override {
    std::lock_guard lock(mu_);
    auto s = stats_;
    s.objects = objects_.size();
    s.revision = revision_;
    return s;
  }

 private:
  using Id = std::tuple<Gvr, std::string, std::string>;  // gvr, namespace, name: list order
  static Id idOf(const ObjectKey& k) { return Id{k.gvr, k.ns, k.name}; }

  std::mutex write_mu_;  // one writer at a time, so listeners see commit order
  mutable std::mutex mu_;
  std::map<Id, StoredObjectPtr> objects_;
  std::map<std::string, std::pair<std::string, std::string>> meta_;  // key -> (type, value)
  std::map<std::string, std::string> raw_;
  std::map<uint64_t, ChangeListener> listeners_;
  uint64_t next_listener_ = 0;
  uint64_t revision_ = 0;
  metamanager::StoreStats stats_;
  std::atomic<bool> unavailable_{false};
};

}  // namespace edgecore::testing
