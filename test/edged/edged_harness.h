#pragma once

// An in-process edgecore for edged tests: the real metamanager on a SQLite file, the real edged
// on the real containerd, and a stand-in for edgehub ("websocket") that records what would go
// to the cloud and answers like CloudCore (ObjectResp for podpatch, "OK" for the pod delete).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "edgecore/core/config.h"
#include "edgecore/core/daemon.h"
#include "edgecore/core/message.h"
#include "edgecore/cri/cri_client.h"
#include "edgecore/edged/module.h"
#include "edgecore/metamanager/meta_store.h"
#include "edgecore/metamanager/module.h"
#include "edged/cri_test_util.h"
#include "util/process.h"
#include "util/wait.h"

namespace edgecore::testing {

using json = nlohmann::json;
using namespace std::chrono_literals;

// What the stand-in cloud saw and holds, shared with the test thread.
struct CloudRecord {
  std::mutex mu;
  std::vector<core::Message> upstream;
  // Objects the cloud's kube-apiserver has, by "<ns>/<type>/<name>" (configmaps, secrets,
  // leases): what a `query` from the edge is answered with.
  std::map<std::string, json> objects;
  uint64_t resource_version = 100;

  std::vector<core::Message> snapshot() {
    std::lock_guard lock(mu);
    return upstream;
  }
};

// kube-apiserver's error, as CloudCore marshals a StatusError into a query answer.
inline json apiStatusError(int code, const std::string& reason, const std::string& message) {
  return json{{"ErrStatus",
               {{"kind", "Status"},
                {"apiVersion", "v1"},
                {"status", "Failure"},
                {"message", message},
                {"reason", reason},
                {"code", code}}}};
}

class FakeCloud final : public core::Module {
 public:
  FakeCloud(core::ModuleContext ctx, CloudRecord& record, bool connected)
      : ctx_(std::move(ctx)), record_(record), connected_(connected) {}
  std::string_view name() const override { return core::names::kEdgeHubModule; }
  std::string_view group() const override { return core::names::kHubGroup; }
  core::Status start() override {
    if (connected_) {
      // What edgehub tells metamanager once the tunnel is up.
      EC_RETURN_IF_ERROR(ctx_.bus.send(
          "metamanager", core::Message::create("websocket", "meta", "connect", "node/connection",
                                               "cloud_connected")));
    }
    return ctx_.bus.subscribe(name(), group(), ctx_.strand, [this](core::Message m) {
      {
        std::lock_guard lock(record_.mu);
        record_.upstream.push_back(m);
      }
      std::vector<std::string> tokens;
      for (size_t at = 0;;) {
        size_t slash = m.route.resource.find('/', at);
        tokens.push_back(m.route.resource.substr(at, slash - at));
        if (slash == std::string::npos) break;
        at = slash + 1;
      }
      const std::string type = tokens.size() == 3 ? tokens[1] : "";
      if (type == "lease" ||
          (m.route.operation == core::op::kQuery && (type == "configmap" || type == "secret"))) {
        core::Message r = m.makeResponse(answerFromObjects(m, type, tokens[2]));
        r.route.source = "edgecontroller";
        (void)ctx_.bus.deliverResponse(std::move(r));
      } else if (m.route.operation == core::op::kInsert || m.route.operation == core::op::kUpdate) {
        // Node registration and lease renewal: CloudCore answers with an ObjectResp.
        json obj = m.content;
        if (obj.is_object() && obj.contains("metadata") && obj["metadata"].is_object()) {
          obj["metadata"]["uid"] = "cloud-uid-" + obj["metadata"].value("name", "");
        }
        core::Message r = m.makeResponse(json{{"Object", obj}, {"Err", nullptr}});
        r.route.source = "edgecontroller";
        (void)ctx_.bus.deliverResponse(std::move(r));
      } else if (m.route.operation == core::op::kPatch) {
        core::Message r = m.makeResponse(json{{"Object", json::object()}, {"Err", nullptr}});
        r.route.source = "edgecontroller";
        (void)ctx_.bus.deliverResponse(std::move(r));
      } else if (m.route.operation == core::op::kDelete) {
        core::Message r = m.makeResponse("OK");
        r.route.source = "edgecontroller";
        (void)ctx_.bus.deliverResponse(std::move(r));
      }
    });
  }
  void stop() override { ctx_.bus.unsubscribe(name()); }

 private:
  // CloudCore's answers from the API objects: configmap/secret queries (the object, or the
  // NotFound StatusError) and leases as kube-apiserver keeps them (an update must carry the
  // resourceVersion the cloud returned last).
  json answerFromObjects(const core::Message& m, const std::string& type, const std::string& name) {
    std::lock_guard lock(record_.mu);
    auto it = record_.objects.find(m.route.resource);
    const bool found = it != record_.objects.end();
    if (type != "lease") {
      return found ? it->second
                   : apiStatusError(404, "NotFound", type + "s \"" + name + "\" not found");
    }
    auto resp = [](json obj, json err) { return json{{"Object", obj}, {"Err", err}}; };
    const std::string& op = m.route.operation;
    if (op == core::op::kQuery) {
      return found ? resp(it->second, nullptr)
                   : resp(nullptr,
                          apiStatusError(404, "NotFound",
                                         "leases.coordination.k8s.io \"" + name + "\" not found"));
    }
    json lease = m.content;
    if (!lease.is_object() || !lease["metadata"].is_object()) {
      return resp(nullptr, apiStatusError(400, "BadRequest", "not a lease"));
    }
    if (op == core::op::kInsert && found) {
      return resp(nullptr, apiStatusError(409, "AlreadyExists", "lease exists"));
    }
    if (op == core::op::kUpdate) {
      if (!found) {
        return resp(nullptr, apiStatusError(404, "NotFound", "lease not found"));
      }
      if (lease["metadata"].value("resourceVersion", "") !=
          it->second["metadata"].value("resourceVersion", "")) {
        return resp(nullptr, apiStatusError(409, "Conflict", "the object has been modified"));
      }
    }
    lease["metadata"]["resourceVersion"] = std::to_string(++record_.resource_version);
    record_.objects[m.route.resource] = lease;
    return resp(lease, nullptr);
  }

  core::ModuleContext ctx_;
  CloudRecord& record_;
  bool connected_;
};

inline json busyboxContainer(const std::string& name, const std::string& script) {
  return json{
      {"name", name}, {"image", kBusyboxImage}, {"command", json::array({"sh", "-c", script})}};
}

inline json makePod(const std::string& ns, const std::string& name, const std::string& node,
                    json containers, const std::string& restart_policy = "Always",
                    json init_containers = json::array()) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", name},
                {"namespace", ns},
                {"uid", "uid-" + ns + "-" + name},
                {"resourceVersion", "1"},
                {"creationTimestamp", "2026-11-27T10:00:00Z"}}},
              {"spec",
               {{"nodeName", node},
                {"hostNetwork", true},
                {"restartPolicy", restart_policy},
                {"terminationGracePeriodSeconds", 2},
                {"containers", std::move(containers)}}}};
  if (!init_containers.empty()) {
    pod["spec"]["initContainers"] = std::move(init_containers);
  }
  return pod;
}

// Lets a test change the config and add modules (started after edged) before the daemon runs.
using HarnessCustomizer =
    std::function<void(core::EdgeCoreConfig& config, std::vector<core::ModuleSpec>& specs)>;

class EdgedHarness {
 public:
  // `dir` keeps the database, rootDirectory, podLogsDir and manifests (a restart reuses it).
  // `tweak`, when given, edits the config before the modules start; `customize` can also add
  // modules.
  EdgedHarness(const std::string& dir, const std::string& node, edged::EdgedOptions options,
               bool cloud_connected = true, int max_dead_per_container = 1,
               bool report_event = false,
               const std::function<void(core::EdgeCoreConfig&)>& tweak = {},
               const HarnessCustomizer& customize = {})
      : dir_(dir), node_(node) {
    config_ = core::defaultConfig(core::HostInfo{node, "127.0.0.1"});
    config_.database.data_source = dir + "/edgecore.db";
    auto& e = config_.modules.edged;
    e.enable = true;
    e.hostname_override = node;
    e.root_directory = dir + "/root";
    e.pod_logs_dir = dir + "/logs";
    e.static_pod_path = dir + "/manifests";
    e.max_per_pod_container_count = max_dead_per_container;
    e.read_only_port = 0;  // the HTTP server on any free port
    e.report_event = report_event;
    if (tweak) {
      tweak(config_);
    }
    metamanager::SqliteStoreOptions so;
    so.path = config_.database.data_source;
    auto store = metamanager::openSqliteMetaStore(so);
    EXPECT_TRUE(store.ok()) << store.status().toString();
    store_ = std::move(store).value();
    options.read_stored_object = [store = store_.get()](std::string_view key) {
      return store->getMeta(key);
    };
    options.host_ip = "127.0.0.1";
    if (options.relist_period == std::chrono::seconds(1)) {
      options.relist_period = 200ms;
    }
    core::DaemonOptions d;
    d.handle_signals = false;
    d.blocking_threads = 2;
    daemon_ = std::make_unique<core::Daemon>(config_, loggers_, d);
    std::vector<core::ModuleSpec> specs(3);
    specs[0].name = "metamanager";
    specs[0].enabled = true;
    specs[0].factory = [this](core::ModuleContext ctx) {
      return metamanager::create(ctx, *store_);
    };
    specs[1].name = "websocket";
    specs[1].enabled = true;
    specs[1].factory = [this,
                        cloud_connected](core::ModuleContext ctx) -> core::Result<core::ModulePtr> {
      return core::ModulePtr(std::make_unique<FakeCloud>(ctx, cloud_, cloud_connected));
    };
    specs[2].name = "edged";
    specs[2].enabled = true;
    specs[2].factory = [this, options](core::ModuleContext ctx) {
      auto m = edged::create(ctx, options);
      if (m.ok()) {
        edged_ = static_cast<edged::Edged*>(m->get());
      }
      return m;
    };
    if (customize) {
      customize(config_, specs);
    }
    runner_ = std::thread([this, specs = std::move(specs)]() mutable {
      run_status_ = daemon_->run(std::move(specs));
    });
  }

  ~EdgedHarness() { stop(); }

  void stop() {
    if (runner_.joinable()) {
      daemon_->requestStop();
      runner_.join();
      EXPECT_TRUE(run_status_.ok()) << run_status_.toString();
    }
  }

  core::Status send(const std::string& op, const json& pod) {
    std::string ns = pod["metadata"]["namespace"];
    std::string name = pod["metadata"]["name"];
    core::Message m =
        core::Message::create("edgecontroller", "resource", op, ns + "/pod/" + name, pod);
    m.header.resource_version = pod["metadata"].value("resourceVersion", "1");
    return sendToMeta(std::move(m));
  }

  // Right after construction the modules may still be starting: waits for metamanager.
  core::Status sendToMeta(core::Message m) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    core::Status st = daemon_->bus().send("metamanager", m);
    while (st.code() == core::StatusCode::NotFound && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
      st = daemon_->bus().send("metamanager", m);
    }
    return st;
  }
  core::Status insert(const json& pod) { return send("insert", pod); }

  // The newest podpatch status the cloud got for ns/name (null if none).
  json cloudStatus(const std::string& ns, const std::string& name) {
    json latest = json::object();
    for (const auto& m : cloud_.snapshot()) {
      if (m.route.operation == "patch" && m.route.resource == ns + "/podpatch/" + name &&
          m.content.is_string()) {
        json p = json::parse(m.content.get<std::string>(), nullptr, false);
        if (p.is_object() && p.contains("status")) {
          latest = p["status"];
        }
      }
    }
    return latest;
  }

  // The status edged computed last (static pods too), null if edged does not know the pod.
  json localStatus(const std::string& ns, const std::string& name) {
    if (!edged_) {
      return json::object();
    }
    for (const auto& p : edged_->pods()) {
      if (p.ns == ns && p.name == name) {
        json st = json::parse(p.status_json, nullptr, false);
        return st.is_object() ? st : json::object();
      }
    }
    return json::object();
  }

  // What edgehub tells metamanager when the tunnel comes up or goes down.
  core::Status setCloudConnected(bool up) {
    return sendToMeta(core::Message::create("websocket", "meta", "connect", "node/connection",
                                            up ? "cloud_connected" : "cloud_disconnected"));
  }

  std::vector<core::Message> upstream() { return cloud_.snapshot(); }
  // Puts (or with a null object removes) an object in the stand-in cloud: what the edge's
  // queries for "<ns>/<type>/<name>" get from now on.
  void setCloudObject(const std::string& ns, const std::string& type, const std::string& name,
                      json obj) {
    std::lock_guard lock(cloud_.mu);
    std::string key = ns + "/" + type + "/" + name;
    if (obj.is_null()) {
      cloud_.objects.erase(key);
    } else {
      cloud_.objects[key] = std::move(obj);
    }
  }
  metamanager::MetaStore& store() { return *store_; }
  core::Bus& bus() { return daemon_->bus(); }
  core::MetricsRegistry& metrics() { return daemon_->metrics(); }
  edged::Edged* edged() { return edged_; }
  const std::string& node() const { return node_; }

 private:
  std::string dir_;
  std::string node_;
  core::EdgeCoreConfig config_;
  // EDGED_TEST_LOG=debug (or info...) shows the modules' logs.
  core::LoggerFactory loggers_{
      std::getenv("EDGED_TEST_LOG")
          ? core::parseLogLevel(std::getenv("EDGED_TEST_LOG")).valueOr(spdlog::level::warn)
          : spdlog::level::warn};
  std::unique_ptr<metamanager::MetaStore> store_;
  std::unique_ptr<core::Daemon> daemon_;
  std::thread runner_;
  core::Status run_status_;
  CloudRecord cloud_;
  edged::Edged* edged_ = nullptr;
};

// A copy of the status entry of container `name` (nullopt if absent).
inline std::optional<json> findContainerStatus(const json& status, const std::string& name,
                                               const char* list = "containerStatuses") {
  if (!status.is_object() || !status.contains(list) || !status[list].is_array()) {
    return std::nullopt;
  }
  for (const auto& c : status[list]) {
    if (c.value("name", "") == name) {
      return c;
    }
  }
  return std::nullopt;
}

inline std::string conditionStatus(const json& status, const std::string& type) {
  if (!status.is_object() || !status.contains("conditions")) {
    return "";
  }
  for (const auto& c : status["conditions"]) {
    if (c.value("type", "") == type) {
      return c.value("status", "");
    }
  }
  return "";
}

}  // namespace edgecore::testing
