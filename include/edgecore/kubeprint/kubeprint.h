#pragma once

// What kubectl prints, computed the way kubectl computes it, shared by MetaServer's server-side
// Table rows (src/metaserver/table_printer.cc) and `keadm ctl` (src/keadm/printing.cc), so that
// `keadm ctl get pod` and `kubectl get pod` against MetaServer agree to the byte.
// Pure functions of their arguments: no I/O, callable from any thread, never throw.

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::kubeprint {

// ---- tolerant field access on decoded Kubernetes objects ----
// A missing key or a value of another type reads as null / "" / 0 / false / [].
const nlohmann::json& field(const nlohmann::json& object, std::string_view key);
std::string fieldString(const nlohmann::json& object, std::string_view key);
int64_t fieldInt(const nlohmann::json& object, std::string_view key);
bool fieldBool(const nlohmann::json& object, std::string_view key);
const nlohmann::json& fieldArray(const nlohmann::json& object, std::string_view key);
// kubectl's placeholder for an empty cell.
std::string orNone(std::string s);

// ---- time ----
// Kubernetes' HumanDuration (k8s.io/apimachinery pkg/util/duration): "5s", "3m20s", "5h", "2d",
// "3y12d"; "<invalid>" below -1 s.
std::string humanDuration(std::chrono::system_clock::duration d);
// An AGE cell: HumanDuration since `timestamp`, "<unknown>" when it is missing or invalid.
std::string ageSince(std::string_view timestamp, std::chrono::system_clock::time_point now);

// ---- pods ----
// The nine cells of kubectl's printPod (k8s.io/kubernetes pkg/printers/internalversion
// printers.go @ v1.30): NAME READY STATUS RESTARTS AGE IP NODE NOMINATED-NODE READINESS-GATES,
// with STATUS from the init/container states and RESTARTS as "N (5m ago)".
std::vector<std::string> podCells(const nlohmann::json& pod,
                                  std::chrono::system_clock::time_point now);

// ---- YAML ----
// kubectl-like YAML: block style, indent 2, strings quoted when they would read back as another
// type, text ending in one newline as a "|" block, numbers spelled as in the JSON.
// Internal when the emitter fails (it does not for decoded JSON; checked all the same).
core::Result<std::string> toYaml(const nlohmann::json& j);

}  // namespace edgecore::kubeprint
