#pragma once

// Server-side printing: meta.k8s.io/v1 Table rows as kubectl's own printers would compute them
// (k8s.io/kubernetes pkg/printers/internalversion, printPod/printNode at v1.30), so
// `kubectl get` prints the familiar columns from an edge cache.

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/kubeprint/kubeprint.h"
#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metaserver {

enum class IncludeObject { None, Metadata, Object };

// kubectl's time rules live in kubeprint (shared with keadm ctl).
using kubeprint::humanDuration;
// AGE cell: "<unknown>" without a timestamp.
std::string ageCell(std::string_view creation_timestamp, std::chrono::system_clock::time_point now);

class TablePrinter {
 public:
  TablePrinter(std::string_view resource, std::chrono::system_clock::time_point now,
               IncludeObject include);

  // The columnDefinitions array for this resource.
  nlohmann::json columns() const;
  // One row (cells + object) for an object of this resource. `object` is the parsed stored JSON.
  nlohmann::json row(const nlohmann::json& object) const;
  // A whole Table; `resource_version`/`continue_token` go to its metadata.
  nlohmann::json table(const std::vector<metamanager::StoredObjectPtr>& objects,
                       uint64_t resource_version, std::string_view continue_token,
                       int64_t remaining) const;

  // Cells only (exposed for tests); pods: kubeprint::podCells.
  nlohmann::json podCells(const nlohmann::json& pod) const;
  nlohmann::json nodeCells(const nlohmann::json& node) const;

 private:
  enum class Kind { Pod, Node, Generic };
  Kind kind_;
  std::chrono::system_clock::time_point now_;
  IncludeObject include_;
};

}  // namespace edgecore::metaserver
