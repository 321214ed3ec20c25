#pragma once

// The REST semantics of MetaServer, free of sockets: a parsed request goes in, a response (or a
// watch plan, or a cloud Application to forward first) comes out. meta_server.cc moves bytes.

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/clock.h"
#include "edgecore/metamanager/meta_store.h"
#include "edgecore/metaserver/cloud_forwarder.h"
#include "edgecore/metaserver/meta_server.h"
#include "request_info.h"
#include "selector.h"
#include "table_printer.h"
#include "watch_hub.h"

namespace edgecore::metaserver {

struct HttpRequest {
  std::string method;
  std::string target;
  std::string accept;
  std::string content_type;
  std::string body;
};

struct HttpResponse {
  int code = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Protobuf: Kubernetes' protobuf envelope (protobuf/envelope.h); handlers still build JSON and
// ApiHandler::route/finishForward encode it last.
enum class OutputFormat { Json, Yaml, Table, Protobuf };
struct Negotiated {
  OutputFormat format = OutputFormat::Json;
  std::string table_api_version = "meta.k8s.io/v1";
};
// Picks the most preferred media range of `accept` (q-values, then order) we can produce;
// protobuf only when `protobuf` (the resource's group has a protobuf schema; CRDs do not).
// nullopt means 406 (e.g. protobuf only, for a CRD).
std::optional<Negotiated> negotiate(std::string_view accept, bool protobuf = false);

// The response in the negotiated format: a JSON body becomes a protobuf envelope when `format`
// is Protobuf and the body's kind has a protobuf type (otherwise it stays JSON, as
// kube-apiserver answers JSON for kinds without one).
HttpResponse encodeResponse(HttpResponse response, const Negotiated& format);

// A Kubernetes Status (failure) object.
std::string statusBody(int code, std::string_view reason, std::string_view message,
                       std::string_view details_name = {}, std::string_view details_kind = {});
HttpResponse statusResponse(int code, std::string_view reason, std::string_view message,
                            std::string_view details_name = {}, std::string_view details_kind = {});

// JSON text -> YAML text the way kubectl prints it (block style, strings quoted when needed).
core::Result<std::string> jsonToYaml(std::string_view json);

// Continue tokens: opaque base64url of {"rv":R,"start":"<ns>/<name>"}.
std::string encodeContinue(uint64_t rv, std::string_view ns, std::string_view name);
core::Status decodeContinue(std::string_view token, uint64_t* rv, std::string* ns,
                            std::string* name);

// What a watch request asks for, validated.
struct WatchPlan {
  RequestInfo info;
  Selectors selectors;
  Negotiated format;
  IncludeObject include = IncludeObject::Metadata;
  std::chrono::seconds timeout{0};
};

// One route decision.
struct Routed {
  enum class Kind { Respond, Watch, Forward };
  Kind kind = Kind::Respond;
  HttpResponse response;    // Respond
  WatchPlan watch;          // Watch
  Application application;  // Forward
  RequestInfo info;         // Forward: to finish with finishForward()
  Negotiated format;        // Forward
};

class ApiHandler {
 public:
  ApiHandler(const MetaServerOptions& options, metamanager::MetaStore& store,
             CloudForwarder& forwarder, core::Clock& clock);

  // Decides what to do with a request. `ready` feeds /readyz.
  Routed route(const HttpRequest& req, bool ready);
  // Turns the cloud's answer to a forwarded request into the response; for reads a failed call
  // falls back to the cache.
  HttpResponse finishForward(const Routed& routed, const ApplicationResult& result);

  // Offline reads (public for tests and the fallback path).
  HttpResponse get(const RequestInfo& info, const Negotiated& format);
  HttpResponse list(const RequestInfo& info, const Negotiated& format);

  metamanager::MetaStore& store() { return store_; }

 private:
  HttpResponse nonResource(const RequestInfo& info, bool ready);
  HttpResponse discovery(const RequestInfo& info);
  HttpResponse render(std::string json, const Negotiated& format);
  Routed decide(const HttpRequest& req, bool ready);
  HttpResponse finishForwardJson(const Routed& routed, const ApplicationResult& result);

  MetaServerOptions options_;
  metamanager::MetaStore& store_;
  CloudForwarder& forwarder_;
  core::Clock& clock_;
};

// Runs one watch: initial events, then filtered live events, bookmarks, errors.
class WatchSession {
 public:
  WatchSession(WatchPlan plan, metamanager::MetaStore& store, WatchHub& hub, core::Clock& clock,
               size_t queue_limit);
  ~WatchSession();

  // Subscribes and returns the first events: ADDED for current objects (no or zero
  // resourceVersion), the replay from the window, or one ERROR event (410 Expired) after which
  // the session is done(). `notify` is called (from any thread) when live events are queued.
  std::string start(std::function<void()> notify);
  // Encodes everything queued since the last call. Sets done() if the watcher fell behind.
  std::string drain();
  // Pending events, then a BOOKMARK at the latest revision this watcher has fully seen.
  std::string bookmark();
  bool done() const { return done_; }
  const WatchPlan& plan() const { return plan_; }
  // The stream's Content-Type (JSON lines or length-framed protobuf).
  std::string_view contentType() const;

 private:
  std::string encode(std::string_view type, const metamanager::StoredObject& obj);
  // One event of any object (ERROR, BOOKMARK) in the stream's format.
  std::string frame(std::string_view type, const nlohmann::json& object) const;
  bool inScope(const metamanager::StoredObject& obj) const;
  bool matches(const metamanager::StoredObject& obj) const {
    return inScope(obj) && plan_.selectors.matches(obj);
  }

  WatchPlan plan_;
  metamanager::MetaStore& store_;
  WatchHub& hub_;
  core::Clock& clock_;
  size_t queue_limit_;
  WatchHub::SubscriberPtr sub_;
  uint64_t last_revision_ = 0;
  bool done_ = false;
  bool sent_columns_ = false;
};

}  // namespace edgecore::metaserver
