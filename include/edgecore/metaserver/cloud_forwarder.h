#pragma once

// The MetaServer's narrow view of the cloud link: while connected, reads and writes travel to
// CloudCore's dynamiccontroller as "Applications" (spec/local-apis.md 4.6). The daemon wires an
// implementation on top of the bus and edgehub; until then NullCloudForwarder keeps MetaServer in
// offline mode (everything served from the local cache, writes refused).

#include <functional>
#include <memory>
#include <string>

#include "edgecore/core/status.h"

namespace edgecore::metaserver {

// One REST call as the cloud sees it (the request half of KubeEdge's Application,
// pkg/metaserver/application.go @ v1.20.0). The implementation adds ID, node name, timestamps
// and base64 encoding when it builds the wire message.
struct Application {
  std::string key;          // meta_v2 storage key ("/core/v1/pods/default/nginx") or a path
  std::string verb;         // get, list, watch, create, update, updatestatus, patch, delete
  std::string option_json;  // Get/List/Create/Update/Delete options or PatchInfo, as JSON
  std::string req_body;     // request object (create/update) or patch document
  std::string subresource;  // e.g. "status"
  std::string patch_type;   // patch only: the request's Content-Type
};

// The cloud's answer.
struct ApplicationResult {
  // Ok: `body` is the object (get/create/update/patch/delete) or list JSON.
  // FailedPrecondition: the cloud rejected it; `body` is its Kubernetes Status JSON and
  //   `http_code` the Status' code (returned to the client as is).
  // Anything else (Unavailable, DeadlineExceeded, Internal): the call failed; MetaServer falls
  //   back to the cache for reads and answers 500 for writes.
  core::Status status;
  int http_code = 200;
  std::string body;
};

class CloudForwarder {
 public:
  using ApplyCallback = std::function<void(ApplicationResult)>;

  virtual ~CloudForwarder() = default;

  // Whether the cloud link is up right now. Any thread, never blocks.
  virtual bool isConnected() const = 0;

  // Sends `app` and calls `done` exactly once with the answer (within the implementation's own
  // deadline, KubeEdge uses 10 s). Any thread; never blocks; `done` may run on any thread.
  virtual void apply(Application app, ApplyCallback done) = 0;
};
using CloudForwarderPtr = std::unique_ptr<CloudForwarder>;

// Always disconnected; apply() answers Unavailable at once.
class NullCloudForwarder final : public CloudForwarder {
 public:
  bool isConnected() const override { return false; }
  void apply(Application, ApplyCallback done) override {
    done(ApplicationResult{core::unavailable("not connected to the cloud"), 500, {}});
  }
};

}  // namespace edgecore::metaserver
