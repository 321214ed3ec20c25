#include "node_patch.h"

#include <string>
#include <vector>

#include "edgecore/core/message.h"

namespace edgecore::metamanager {

using nlohmann::json;

namespace {

constexpr std::string_view kOrderPrefix = "$setElementOrder/";
constexpr int kMaxDepth = 32;  // deeper patches are cut (a node status is 4 levels deep)

// The merge key of the v1.Node lists that are merged, not replaced (patchMergeKey tags).
const char* mergeKeyOf(std::string_view list) {
  if (list == "conditions" || list == "addresses") return "type";
  if (list == "taints") return "key";
  return nullptr;
}

std::string keyValue(const json& element, const char* merge_key) {
  if (!element.is_object()) return {};
  auto it = element.find(merge_key);
  return it != element.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void mergeObject(json& target, const json& patch, int depth);

void mergeList(json& target, const json& patch, const char* merge_key, int depth) {
  if (!target.is_array()) target = json::array();
  for (const auto& e : patch) {
    std::string k = keyValue(e, merge_key);
    auto same = target.end();
    for (auto it = target.begin(); it != target.end(); ++it) {
      if (!k.empty() && keyValue(*it, merge_key) == k) {
        same = it;
        break;
      }
    }
    const bool remove = e.is_object() && e.value("$patch", "") == "delete";
    if (remove) {
      if (same != target.end()) target.erase(same);
    } else if (same != target.end() && e.is_object()) {
      mergeObject(*same, e, depth + 1);
    } else {
      target.push_back(e);
    }
  }
}

// Puts the elements of `list` in the order of `order` (elements it does not name keep their
// relative order after those it does).
void reorder(json& list, const json& order, const char* merge_key) {
  if (!list.is_array() || !order.is_array()) return;
  json sorted = json::array();
  std::vector<bool> taken(list.size(), false);
  for (const auto& o : order) {
    std::string k = keyValue(o, merge_key);
    for (size_t i = 0; i < list.size(); ++i) {
      if (!taken[i] && !k.empty() && keyValue(list[i], merge_key) == k) {
        sorted.push_back(list[i]);
        taken[i] = true;
        break;
      }
    }
  }
  for (size_t i = 0; i < list.size(); ++i) {
    if (!taken[i]) sorted.push_back(list[i]);
  }
  list = std::move(sorted);
}

void mergeObject(json& target, const json& patch, int depth) {
  if (!target.is_object()) target = json::object();
  if (depth > kMaxDepth) return;
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key.rfind('$', 0) == 0) continue;  // directives: handled below or not for status
    if (v.is_null()) {
      target.erase(key);
    } else if (v.is_object()) {
      mergeObject(target[key], v, depth + 1);
    } else if (const char* mk = mergeKeyOf(key); mk != nullptr && v.is_array()) {
      mergeList(target[key], v, mk, depth);
    } else {
      target[key] = v;
    }
  }
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    std::string_view key = it.key();
    if (key.rfind(kOrderPrefix, 0) != 0) continue;
    std::string list(key.substr(kOrderPrefix.size()));
    const char* mk = mergeKeyOf(list);
    auto t = target.find(list);
    if (mk != nullptr && t != target.end()) reorder(*t, it.value(), mk);
  }
}

}  // namespace

std::optional<json> applyNodePatch(const json& node, std::string_view patch_text) {
  if (!node.is_object()) return std::nullopt;
  json patch = core::parseJsonBounded(patch_text);
  if (!patch.is_object()) return std::nullopt;
  json out = node;
  mergeObject(out, patch, 0);
  return out;
}

std::optional<json> applyPodStatusPatch(const json& pod, std::string_view patch_text) {
  if (!pod.is_object()) return std::nullopt;
  json patch = core::parseJsonBounded(patch_text);
  if (!patch.is_object()) return std::nullopt;
  const json* uid = nullptr;
  if (auto md = patch.find("metadata"); md != patch.end() && md->is_object()) {
    if (auto u = md->find("uid"); u != md->end()) uid = &*u;
  }
  const json* have = nullptr;
  if (auto md = pod.find("metadata"); md != pod.end() && md->is_object()) {
    if (auto u = md->find("uid"); u != md->end()) have = &*u;
  }
  if (uid != nullptr && (have == nullptr || *uid != *have)) return std::nullopt;
  json out = pod;
  mergeObject(out, patch, 0);
  return out;
}

}  // namespace edgecore::metamanager
