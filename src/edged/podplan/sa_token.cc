// Projected serviceAccountToken sources (see sa_token.h).

#include "podplan/sa_token.h"

#include <algorithm>

namespace edgecore::edged {

using nlohmann::json;

namespace {

const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) {
    return kNull;
  }
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string text(const json& j, const char* key) {
  const json& v = member(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

class FetchedTokenSource : public ServiceAccountTokenSource {
 public:
  explicit FetchedTokenSource(std::map<std::string, core::Result<std::string>> tokens)
      : tokens_(std::move(tokens)) {}

  core::Result<std::string> token(const TokenSourceRef& ref) override {
    auto it = tokens_.find(ref.key());
    if (it == tokens_.end()) {
      return core::unavailable("no token was fetched for service account \"" + ref.service_account +
                               "\"");
    }
    return it->second;
  }

 private:
  std::map<std::string, core::Result<std::string>> tokens_;
};

}  // namespace

std::string TokenSourceRef::key() const {
  return service_account + "|" + audience + "|" + std::to_string(expiration_seconds);
}

std::string podServiceAccount(const json& pod) {
  const json& spec = member(pod, "spec");
  std::string sa = text(spec, "serviceAccountName");
  if (sa.empty()) {
    sa = text(spec, "serviceAccount");
  }
  return sa.empty() ? "default" : sa;
}

TokenSourceRef tokenSourceRef(const json& pod, const json& source) {
  TokenSourceRef ref;
  ref.service_account = podServiceAccount(pod);
  ref.audience = text(source, "audience");
  const json& exp = member(source, "expirationSeconds");
  if (exp.is_number_integer()) {
    ref.expiration_seconds = std::max(exp.get<int64_t>(), kMinTokenExpirationSeconds);
  }
  return ref;
}

std::vector<TokenSourceRef> projectedTokenSources(const json& pod) {
  std::vector<TokenSourceRef> out;
  const json& volumes = member(member(pod, "spec"), "volumes");
  if (!volumes.is_array()) {
    return out;
  }
  for (const json& v : volumes) {
    const json& sources = member(member(v, "projected"), "sources");
    if (!sources.is_array()) {
      continue;
    }
    for (const json& s : sources) {
      const json& sat = member(s, "serviceAccountToken");
      if (!sat.is_object()) {
        continue;
      }
      TokenSourceRef ref = tokenSourceRef(pod, sat);
      if (std::find(out.begin(), out.end(), ref) == out.end()) {
        out.push_back(std::move(ref));
      }
    }
  }
  return out;
}

json tokenRequestFor(const json& pod, const TokenSourceRef& ref) {
  const json& meta = member(pod, "metadata");
  json audiences = nullptr;
  if (!ref.audience.empty()) {
    audiences = json::array({ref.audience});
  }
  json bound = json::object();
  bound["kind"] = "Pod";
  bound["apiVersion"] = "v1";
  bound["name"] = text(meta, "name");
  bound["uid"] = text(meta, "uid");
  json spec = json::object();
  spec["audiences"] = std::move(audiences);
  spec["expirationSeconds"] = ref.expiration_seconds;
  spec["boundObjectRef"] = std::move(bound);
  json tr = json::object();
  tr["metadata"] = {{"creationTimestamp", nullptr}};
  tr["spec"] = std::move(spec);
  tr["status"] = {{"token", ""}, {"expirationTimestamp", nullptr}};
  return tr;
}

std::unique_ptr<ServiceAccountTokenSource> makeFetchedTokenSource(
    std::map<std::string, core::Result<std::string>> tokens) {
  return std::make_unique<FetchedTokenSource>(std::move(tokens));
}

}  // namespace edgecore::edged
