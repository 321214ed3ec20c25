// ObjectSource over metamanager's v1 `meta` table, read through a key -> value function (edged
// does not link the store): configmaps and secrets are stored under the resource keys
// "<ns>/configmap/<name>" and "<ns>/secret/<name>" with the object JSON as value
// (spec/local-apis.md 2.3). The reader may block.

#include "podplan/pod_plan.h"

namespace edgecore::edged {
namespace {

class StoredObjectSource : public ObjectSource {
 public:
  explicit StoredObjectSource(StoredObjectReader read) : read_(std::move(read)) {}

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
    EC_ASSIGN_OR_RETURN(auto value, read_(key));
    if (!value) {
      return notFound(std::string(type) + " \"" + std::string(name) + "\" not found");
    }
    auto doc = nlohmann::json::parse(*value, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return invalidArgument("stored " + key + " is not a JSON object");
    }
    return doc;
  }

  StoredObjectReader read_;
};

}  // namespace

std::unique_ptr<ObjectSource> makeStoredObjectSource(StoredObjectReader read) {
  return std::make_unique<StoredObjectSource>(std::move(read));
}

}  // namespace edgecore::edged
