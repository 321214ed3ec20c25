#pragma once

#include <nlohmann/json.hpp>

// The in-memory view of meta_v2: every object by GVR -> namespace -> name, plus the raw
// pass-through rows. Readers take a shared lock for a lookup or walk and copy shared_ptrs out;
// the store's writer thread publishes committed changes under the exclusive lock.

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metamanager {

// Builds a StoredObject from a Kubernetes object's JSON: validates it (an object with
// metadata.name), extracts the fields selectors need, and serializes it the way Go's
// encoding/json would (sorted keys, compact, <>& escaped). `gvr` may have an empty resource: it is
// then derived from apiVersion and kind. InvalidArgument on bad input.
Result<StoredObject> parseObject(std::string_view json, const Gvr& gvr);
// Same, from an already parsed document; `encoded`, if not empty, is Go's encoding of `doc`
// (made earlier by the caller) and is kept instead of encoding `doc` again.
Result<StoredObject> parseObjectDoc(const nlohmann::json& doc, const Gvr& gvr,
                                    std::string encoded = {});

// Same for a row loaded from meta_v2: keeps `value` as stored (minus trailing whitespace, as Go
// writes a newline after the JSON) and takes the resource version from the column.
Result<StoredObject> loadObject(const ObjectKey& key, uint64_t resource_version,
                                std::string_view value);

class ObjectIndex {
 public:
  // One committed mutation: object == nullptr means delete.
  struct Mutation {
    std::string storage_key;
    ObjectKey key;
    StoredObjectPtr object;
  };

  StoredObjectPtr get(const ObjectKey& key) const;
  std::vector<StoredObjectPtr> list(const Gvr& gvr, std::string_view ns, uint64_t* revision) const;
  std::vector<Gvr> gvrs() const;
  std::optional<std::string> getRaw(std::string_view key) const;
  uint64_t revision() const;
  size_t size() const;

  // Writer side (one thread). Loading happens before readers exist.
  void loadObject(StoredObjectPtr object);
  void loadRaw(std::string key, std::string value);
  void setRevision(uint64_t revision);

  // Applies a committed transaction atomically for readers: each object change gets the next
  // revision and is appended to *changes in order. Raw rows: nullopt value = delete.
  void apply(const std::vector<Mutation>& objects,
             const std::vector<std::pair<std::string, std::optional<std::string>>>& raws,
             std::vector<ObjectChange>* changes);

 private:
  using NameMap = std::map<std::string, StoredObjectPtr, std::less<>>;
  using NamespaceMap = std::map<std::string, NameMap, std::less<>>;

  StoredObjectPtr findLocked(const ObjectKey& key) const;

  mutable std::shared_mutex mu_;
  std::map<Gvr, NamespaceMap> objects_;
  std::map<std::string, std::string, std::less<>> raw_;
  uint64_t revision_ = 0;
  size_t size_ = 0;
};

}  // namespace edgecore::metamanager
