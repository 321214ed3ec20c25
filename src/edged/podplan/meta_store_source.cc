// ObjectSource over the metamanager's v1 `meta` table: configmaps and secrets are stored under
// the resource keys "<ns>/configmap/<name>" and "<ns>/secret/<name>" with the object JSON as
// value (spec/local-apis.md 2.3). Blocking SQLite reads.

#include "edgecore/metamanager/meta_store.h"
#include "podplan/pod_plan.h"

namespace edgecore::edged {
namespace {

class MetaStoreObjectSource : public ObjectSource {
 public:
  explicit MetaStoreObjectSource(metamanager::MetaStore& store) : store_(store) {}

  Result<nlohmann::json> getConfigMap(std::string_view ns, std::string_view name) override {
    return get(ns, "configmap", name);
  }
  Result<nlohmann::json> getSecret(std::string_view ns, std::string_view name) override {
    return get(ns, "secret", name);
  }

 private:
  Result<nlohmann::json> get(std::string_view ns, std::string_view type, std::string_view name) {
    std::string key(ns);
    key += "/";
    key += type;
    key += "/";
    key += name;
    EC_ASSIGN_OR_RETURN(auto value, store_.getMeta(key));
    if (!value) {
      return notFound(std::string(type) + " \"" + std::string(name) + "\" not found");
    }
    auto doc = nlohmann::json::parse(*value, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return invalidArgument("stored " + key + " is not a JSON object");
    }
    return doc;
  }

  metamanager::MetaStore& store_;
};

}  // namespace

std::unique_ptr<ObjectSource> makeMetaStoreObjectSource(metamanager::MetaStore& store) {
  return std::make_unique<MetaStoreObjectSource>(store);
}

}  // namespace edgecore::edged
