// The taskmanager module: the bus side (cloud node-task messages, edgehub's connection events,
// MetaServer's confirm), one worker thread per running task, and the action runner.
// Why threads and not ctx.blocking: an action may block for minutes (image pulls, keadm), which
// would starve the small shared pool that SQLite and CRI reads of the other modules use. The
// number of workers is capped (max_running_tasks + 2) and stop() waits for them.

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "edgecore/core/config.h"
#include "edgecore/core/message.h"
#include "edgecore/core/version.h"
#include "edgecore/cri/cri_client.h"
#include "edgecore/metamanager/upgrade_records.h"
#include "edgecore/taskmanager/module.h"
#include "host_actions.h"
#include "task_spec.h"
#include "v1alpha1_task.h"

namespace edgecore::taskmanager {
namespace {

using core::Message;
using nlohmann::json;

constexpr std::string_view kReportOperation = "UpdateNodeActionStatus";
constexpr std::string_view kEdgeHubSource = "edgehub";
constexpr std::string_view kConnectionResource = "node/connection";
constexpr std::string_view kMetaServerSource = "metaserver";  // confirm comes from the node only
constexpr std::string_view kWaitForConfirm =
    "Wait for a confirm for upgrade request on the edge site.";
constexpr std::string_view kKeadmDefaultConfig = "/etc/kubeedge/config/edgecore.yaml";
// KubeEdge's upgrade spec row (3.1) and our own task-state rows, both in meta_v2.
constexpr std::string_view kUpgradeSpecGvr =
    "operations.kubeedge.io/v1alpha2, Resource=nodeupgradejobspecs";
constexpr std::string_view kTaskStateGvr =
    "operations.kubeedge.io/v1alpha2, Resource=nodetaskstates";

// KubeEdge's v1alpha1 request row (3.2) and our own v1alpha1 upgrade row, both in meta_v2.
constexpr std::string_view kV1alpha1RequestGvr =
    "operations.kubeedge.io/v1alpha1, Resource=nodeupgradejobtaskrequests";
constexpr std::string_view kV1alpha1StateGvr =
    "operations.kubeedge.io/v1alpha1, Resource=nodeupgradetaskstates";

std::string v1alpha1RequestKey(const std::string& task) {
  return "v1alpha1/nodeupgradejobtaskrequests/" + task;
}
std::string v1alpha1StateKey(const std::string& task) {
  return "v1alpha1/nodeupgradetaskstates/" + task;
}

// The NodeTaskRequest as KubeEdge stores it (Go field names, Item as received).
std::string encodeTaskRequest(const v1alpha1::TaskRequest& r) {
  nlohmann::ordered_json j;
  j["TaskID"] = r.task_id;
  j["Type"] = r.type;
  j["State"] = r.state;
  j["Item"] = core::parseJsonBounded(r.item);
  return j.dump();
}

std::string upgradeSpecKey(const NodeJobResource& r) {
  return "v1alpha2/nodeupgradejobspecs/" + r.job + "/" + r.node;
}
std::string taskStateKey(const NodeJobResource& r) {
  return "v1alpha2/nodetaskstates/" + r.type + "/" + r.job + "/" + r.node;
}

// What one action did: its error (if any), the report's extend, and whether the flow stops here
// whatever the outcome (WaitingConfirmation, an invalid upgrade spec).
struct ActionOutcome {
  core::Status status;
  std::string extend;
  bool interrupt = false;
};

struct TaskState {
  NodeJobResource resource;
  std::string action;
  std::string phase;  // "running", "waiting" (for confirmation)
  std::string spec;
};

// NodeUpgradeJob's Check: the resources, then the version and image regexes (2.1). KubeEdge
// also pulls the installation image and copies keadm out of it; ours ships with edgecore.
core::Status checkUpgrade(const NodeUpgradeSpec& spec) {
  EC_RETURN_IF_ERROR(runCheckItems(spec.check_items));
  EC_RETURN_IF_ERROR(validateVersion(spec.version));
  if (!spec.image.empty()) EC_RETURN_IF_ERROR(validateImage(spec.image));
  return {};
}

std::string encodeState(const TaskState& s) {
  json j = {{"type", s.resource.type}, {"job", s.resource.job}, {"node", s.resource.node},
            {"action", s.action},      {"phase", s.phase},      {"spec", s.spec}};
  return j.dump();
}

std::optional<TaskState> decodeState(const std::string& text) {
  json j = core::parseJsonBounded(text);
  if (!j.is_object()) return std::nullopt;
  TaskState s;
  s.resource.type = j.value("type", "");
  s.resource.job = j.value("job", "");
  s.resource.node = j.value("node", "");
  s.action = j.value("action", "");
  s.phase = j.value("phase", "");
  s.spec = j.value("spec", "");
  if (!findAction(s.resource.type, s.action) || s.resource.job.empty()) return std::nullopt;
  return s;
}

class TaskManager final : public core::Module {
 public:
  TaskManager(core::ModuleContext ctx, TaskManagerOptions options)
      : ctx_(std::move(ctx)), options_(std::move(options)) {}
  ~TaskManager() override { stop(); }

  std::string_view name() const override { return kModuleName; }
  std::string_view group() const override { return kGroup; }

  core::Status start() override {
    if (options_.records == nullptr) {
      return core::failedPrecondition("taskmanager needs the local store (metaManager enabled)");
    }
    if (!options_.cri) {
      cri::CriClientOptions o;
      const auto& edged = ctx_.config.modules.edged;
      if (!edged.container_runtime_endpoint.empty()) {
        o.runtime_endpoint = edged.container_runtime_endpoint;
      }
      if (!edged.image_service_endpoint.empty()) o.image_endpoint = edged.image_service_endpoint;
      auto client = cri::CriClient::create(o);
      if (client.ok()) {
        options_.cri = std::move(*client);
      } else {
        ctx_.log->warn("image pulls unavailable err=\"{}\"", client.status().message());
      }
    }
    keadm_ = resolveKeadm();
    EC_RETURN_IF_ERROR(ctx_.bus.subscribe(kModuleName, kGroup, ctx_.strand,
                                          [this](Message m) { onMessage(std::move(m)); }));
    subscribed_ = true;
    ctx_.log->info("taskmanager started keadm={} report_file={}", keadm_, upgradeReportPath());
    spawn("resume", [this] { resumeAfterRestart(); });
    return {};
  }

  void stop() override {
    if (subscribed_) {
      ctx_.bus.unsubscribe(kModuleName);
      subscribed_ = false;
    }
    std::unique_lock lock(mu_);
    stopping_ = true;
    if (workers_ > 0) ctx_.log->info("waiting for {} node task worker(s) to finish", workers_);
    idle_.wait(lock, [this] { return workers_ == 0; });
  }

 private:
  // ---- bus side (module strand) ----

  void onMessage(Message m) {
    if (m.route.source == kEdgeHubSource && m.route.resource == kConnectionResource) {
      spawn("connection", [this] { reportKeadmResult(); });
      return;
    }
    if (m.route.operation == kConfirmOperation && m.route.source == kMetaServerSource) {
      spawn("confirm", [this, m] { confirm(m); });
      return;
    }
    if (!isNodeJobResource(m.route.resource)) {
      onV1alpha1(m);
      return;
    }
    auto resource = parseNodeJobResource(m.route.resource);
    if (!resource.ok()) {
      ctx_.log->warn("node task dropped err=\"{}\"", resource.status().message());
      return;
    }
    std::string action = m.route.operation;
    std::string spec = m.contentData();
    const std::string key = resource->toString();
    if (!claim(key)) {
      ctx_.log->warn("node task dropped: one is already running resource={} op={}", key, action);
      return;
    }
    bool started = spawn(key, [this, r = *resource, action, spec, key] {
      runTask(r, action, spec);
      release(key);
    });
    if (!started) {
      release(key);
      report(*resource,
             {action, false, rfc3339Now(), "too many node tasks running on the node", ""});
    }
  }

  struct V1alpha1Task {
    v1alpha1::TaskRequest request;
    std::string node;  // who answers
  };
  struct V1alpha1Outcome {
    std::string event;
    bool ok = false;
    bool confirmation = false;  // Action "Confirmation" instead of Success/Failure
  };

  // Init of a v1alpha1 upgrade: the request must name its UpgradeID; a node already at the
  // version is done. The v1.17.5 edge answers "Upgrading" there, which its cloud's rule table
  // lacks; "Upgrade"/"Success" is the row (Init/Upgrade/Success -> Successful). Otherwise the
  // request is stored (3.2) and, with RequireConfirmation, waits for `keadm ctl confirm`.
  void initV1alpha1Upgrade(const V1alpha1Task& task) {
    auto req = v1alpha1::parseUpgradeRequest(task.request.item);
    core::Status st = req.status();
    if (st.ok() && req->upgrade_id.empty()) st = core::invalidArgument("upgradeID cannot be empty");
    if (st.ok() && req->version == core::kKubeEdgeCompat) {
      reportV1alpha1(task, {"Upgrade", true}, "");
      return;
    }
    // KubeEdge pulls Image here and copies keadm out of it; our keadm ships with edgecore. The
    // version and image are still checked now, so a bad job fails before any backup.
    if (st.ok()) st = validateVersion(req->version);
    if (st.ok() && !req->image.empty()) st = validateImage(req->image);
    if (!st.ok()) {
      reportV1alpha1(task, {"Init", false}, st.message());
      return;
    }
    const bool confirm = req->require_confirmation;
    writeRow({v1alpha1RequestKey(task.request.task_id), std::string(kV1alpha1RequestGvr),
              task.request.task_id, encodeTaskRequest(task.request)},
             true);
    saveV1alpha1(task, confirm ? "waiting" : "ready");
    if (confirm) {
      reportV1alpha1(task, {"Confirm", false, true}, std::string(kWaitForConfirm));
    } else {
      reportV1alpha1(task, {"Init", true}, "");
    }
  }

  // BackingUp, Upgrading and RollingBack of a v1alpha1 upgrade: our keadm, argv only, as the
  // v1alpha2 actions run it.
  void runV1alpha1Upgrade(const V1alpha1Task& task, const std::string& event) {
    if (event == "Backup") {
      ActionOutcome out = backup(false);
      reportV1alpha1(task, {event, out.status.ok()}, out.status.ok() ? "" : out.status.message());
      return;
    }
    auto req = v1alpha1::parseUpgradeRequest(task.request.item);
    std::vector<std::string> argv;
    if (req.ok() && event == "Upgrade") {
      auto a = keadmUpgradeArgv(keadm_, {req->version, req->image, {}, false});
      if (!a.ok()) {
        reportV1alpha1(task, {event, false}, a.status().message());
        return;
      }
      argv = std::move(*a);
      // What the v1alpha1 edge passes; our keadm logs them (its result comes back through its
      // report file, not over HTTPS).
      for (auto [flag, value] : {std::pair{"--upgradeID", req->upgrade_id},
                                 {"--historyID", req->history_id},
                                 {"--fromVersion", std::string(core::kKubeEdgeCompat)}}) {
        if (!value.empty()) argv.insert(argv.end(), {flag, value});
      }
    } else if (req.ok()) {
      argv = keadmRollbackArgv(keadm_);
    } else {
      reportV1alpha1(task, {event, false}, req.status().message());
      return;
    }
    // Stored before keadm restarts edgecore: the next edgecore answers from keadm's report file
    // when it connects. KubeEdge's request row is only needed until here (as v1.23.1).
    saveV1alpha1(task, event == "Upgrade" ? "upgrading" : "rollingback");
    deleteRow(v1alpha1RequestKey(task.request.task_id));
    std::string what = event == "Upgrade" ? "upgrade" : "rollback";
    std::unique_lock lock(report_file_mu_);
    ctx_.log->info("running keadm {} for v1alpha1 task {} log={}", what, task.request.task_id,
                   keadmLogPath());
    auto rc = runProgram(withConfig(argv), keadmLogPath());
    auto file = takeUpgradeReport(upgradeReportPath());
    lock.unlock();
    V1alpha1Outcome out{event, rc.ok() && *rc == 0 && (!file.ok() || file->success)};
    if (file.ok() && file->event == "Rollback") out.event = "Rollback";
    std::string reason;
    if (!rc.ok()) {
      reason = rc.status().message();
    } else if (!out.ok) {
      reason = file.ok() && !file->error_message.empty()
                   ? file->error_message
                   : "keadm " + what + " failed, err: exit status " + std::to_string(*rc);
    }
    reportV1alpha1(task, out, reason);
    deleteRow(v1alpha1StateKey(task.request.task_id));
  }

  void saveV1alpha1(const V1alpha1Task& task, const std::string& phase) {
    const std::string& id = task.request.task_id;
    writeRow(
        {v1alpha1StateKey(id), std::string(kV1alpha1StateGvr), id,
         v1alpha1::encodeUpgradeState({id, task.node, phase, encodeTaskRequest(task.request)})},
        true);
  }

  // The v1alpha1 upgrade the node holds (one at a time), as a task to answer.
  std::optional<std::pair<V1alpha1Task, std::string>> readV1alpha1() {
    auto rows = options_.records->readNodeTaskRows(kV1alpha1StateGvr);
    if (!rows.ok() || rows->empty()) return std::nullopt;
    auto state = v1alpha1::decodeUpgradeState(rows->front().value);
    auto request = state ? v1alpha1::parseTaskRequest(state->request)
                         : core::Result<v1alpha1::TaskRequest>(core::invalidArgument("bad row"));
    if (!request.ok()) {
      ctx_.log->warn("v1alpha1 upgrade row ignored key={}", rows->front().key);
      return std::nullopt;
    }
    return std::pair{V1alpha1Task{std::move(*request), state->node}, state->phase};
  }
  void deleteV1alpha1(const std::string& task_id) {
    deleteRow(v1alpha1StateKey(task_id));
    deleteRow(v1alpha1RequestKey(task_id));
  }

  // v1alpha1 (1.2, 2.4): the cloud sends one NodeTaskRequest per FSM state and waits for the
  // answer event; the edge keeps no state between them.
  void onV1alpha1(const Message& m) {
    auto resource = v1alpha1::parseTaskResource(m.route.resource);
    if (!resource.ok()) {
      ctx_.log->warn("node task dropped err=\"{}\" op={}", resource.status().message(),
                     m.route.operation.substr(0, 64));
      return;
    }
    auto request = v1alpha1::parseTaskRequest(m.contentData());
    if (request.ok() && request->type != resource->type) {
      request = core::invalidArgument("Type " + request->type.substr(0, 64) +
                                      " does not match the resource");
    }
    if (!request.ok()) {
      ctx_.log->warn("v1alpha1 node task dropped resource={} err=\"{}\"",
                     m.route.resource.substr(0, 200), request.status().message());
      return;
    }
    if (request->task_id.empty()) request->task_id = resource->task;
    if (request->task_id.find('/') != std::string::npos || request->task_id.size() > 253) {
      // It becomes a part of the answer's resource task/<TaskID>/node/<node>.
      ctx_.log->warn("v1alpha1 node task dropped: TaskID is not a name resource={}",
                     m.route.resource.substr(0, 200));
      return;
    }
    // KubeEdge answers with its configured node name; the resource's is the same in practice.
    const std::string& own = ctx_.config.modules.edged.hostname_override;
    V1alpha1Task task{std::move(*request), own.empty() ? resource->node : own};
    auto event = v1alpha1::eventOfState(task.request.type, task.request.state);
    if (!event) {
      ctx_.log->warn("v1alpha1 node task dropped: no method for state {} in executor {}",
                     task.request.state.substr(0, 64), task.request.type);
      return;
    }
    ctx_.log->info("v1alpha1 node task resource={} state={}", m.route.resource, task.request.state);
    // Per state: the cloud sends the next state as soon as it has an answer, which the worker
    // of the previous state sends just before it lets go of its key.
    const std::string key = "v1alpha1/" + m.route.resource + "/" + *event;
    if (!claim(key)) {
      ctx_.log->warn("node task dropped: one is already running resource={}", m.route.resource);
      return;
    }
    bool started = spawn(key, [this, task, e = *event, key] {
      runV1alpha1(task, e);
      release(key);
    });
    if (!started) {
      release(key);
      reportV1alpha1(task, {*event, false}, "too many node tasks running on the node");
    }
  }

  void runV1alpha1(const V1alpha1Task& task, const std::string& event) {
    const v1alpha1::TaskRequest& request = task.request;
    if (event == "Init") {
      // CloudCore v1.17.5 sends Init before its informer cache holds the job's node list; an
      // answer that arrives first finds no node there and is lost (seen with the real cloud).
      std::this_thread::sleep_for(options_.v1alpha1_init_delay);
      if (request.type == v1alpha1::kUpgrade) {
        initV1alpha1Upgrade(task);
      } else {
        reportV1alpha1(task, {event, true}, "");
      }
      return;
    }
    if (event == "Check") {
      auto items = v1alpha1::parseCheckItems(request.item);
      core::Status st = items.ok() ? v1alpha1::runPreCheck(*items) : items.status();
      reportV1alpha1(task, {event, st.ok()}, st.ok() ? "" : st.message());
      return;
    }
    if (request.type == v1alpha1::kUpgrade) {
      runV1alpha1Upgrade(task, event);
      return;
    }
    auto spec = v1alpha1::parsePrePullRequest(request.item);
    if (!spec.ok()) {
      reportV1alpha1(task, {event, false}, spec.status().message());
      return;
    }
    PullOptions o{options_.cri, options_.read_meta, options_.pull_concurrency, ctx_.log};
    std::vector<ImageResult> results;
    core::Status st = pullImages(*spec, o, &results);
    // KubeEdge's reason names the last image that failed; a secret error fails before any pull.
    std::string reason = st.ok() ? "" : st.message();
    for (const ImageResult& r : results) {
      if (!r.ok) reason = "pull image failed, err: " + r.reason;
    }
    reportV1alpha1(task, {event, st.ok()}, reason, v1alpha1::encodeImageStates(results));
  }

  // Source edgehub, group hub, resource task/<taskID>/node/<node>, operation = the task type.
  void reportV1alpha1(const V1alpha1Task& task, const V1alpha1Outcome& outcome,
                      const std::string& reason, const std::string& external = "") {
    v1alpha1::TaskResponse resp;
    resp.node_name = task.node;
    resp.event = outcome.event;
    resp.action = outcome.confirmation ? "Confirmation" : outcome.ok ? "Success" : "Failure";
    resp.reason = reason;
    resp.time = rfc3339Now();
    resp.external_message = external;
    const std::string resource = v1alpha1::reportResource(task.request.task_id, task.node);
    Message m = Message::create(kEdgeHubSource, core::names::kHubGroup, task.request.type, resource,
                                core::rawJsonContent(v1alpha1::encodeResponse(resp)));
    core::Status st = ctx_.bus.send(core::names::kEdgeHubModule, std::move(m));
    ctx_.log->info("v1alpha1 node task report resource={} event={} action={} reason=\"{}\" sent={}",
                   resource, resp.event, resp.action, reason, st.ok());
  }

  // ---- workers ----

  bool spawn(const std::string& what, std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || workers_ >= options_.max_running_tasks + 2) {
        ctx_.log->warn("node task worker refused what={} running={}", what, workers_);
        return false;
      }
      ++workers_;
    }
    std::thread([this, fn = std::move(fn)] {
      fn();
      std::lock_guard lock(mu_);
      --workers_;
      idle_.notify_all();
    }).detach();
    return true;
  }

  bool claim(const std::string& key) {
    std::lock_guard lock(mu_);
    return running_.insert(key).second;
  }
  void release(const std::string& key) {
    std::lock_guard lock(mu_);
    running_.erase(key);
  }

  // ---- store ----

  // Waits for the store's writer (we are on a worker thread).
  void writeRow(metamanager::NodeTaskRow row, bool only_of_gvr) {
    auto done = std::make_shared<std::promise<core::Status>>();
    auto f = done->get_future();
    std::string key = row.key;
    core::Status st = options_.records->saveNodeTaskRow(
        std::move(row), only_of_gvr, [done](core::Status s) { done->set_value(s); });
    if (st.ok()) st = f.get();
    if (!st.ok()) ctx_.log->warn("node task row not saved key={} err=\"{}\"", key, st.message());
  }
  void deleteRow(const std::string& key) {
    auto done = std::make_shared<std::promise<core::Status>>();
    auto f = done->get_future();
    core::Status st =
        options_.records->deleteNodeTaskRow(key, [done](core::Status s) { done->set_value(s); });
    if (st.ok()) st = f.get();
    if (!st.ok()) ctx_.log->warn("node task row not deleted key={} err=\"{}\"", key, st.message());
  }
  void saveState(const TaskState& s) {
    writeRow({taskStateKey(s.resource), std::string(kTaskStateGvr), s.resource.job, encodeState(s)},
             false);
  }
  std::vector<TaskState> readStates() {
    std::vector<TaskState> out;
    auto rows = options_.records->readNodeTaskRows(kTaskStateGvr);
    if (!rows.ok()) {
      ctx_.log->warn("node task states unreadable err=\"{}\"", rows.status().message());
      return out;
    }
    for (const auto& row : *rows) {
      if (auto s = decodeState(row.value)) {
        out.push_back(std::move(*s));
      } else {
        ctx_.log->warn("node task state row ignored key={}", row.key);
      }
    }
    return out;
  }

  // ---- reports ----

  void report(const NodeJobResource& r, const ActionReport& rep) {
    Message m = Message::create(kEdgeHubSource, core::names::kHubGroup, kReportOperation,
                                r.toString(), core::rawJsonContent(encodeReport(rep)));
    core::Status st = ctx_.bus.send(core::names::kEdgeHubModule, std::move(m));
    ctx_.log->info("node task report resource={} action={} succ={} reason=\"{}\" sent={}",
                   r.toString(), rep.action, rep.succ, rep.reason, st.ok());
    if (!st.ok()) ctx_.log->warn("node task report not taken by edgehub err={}", st.message());
  }

  // ---- the runner ----

  void runTask(const NodeJobResource& r, std::string action, const std::string& spec) {
    ctx_.log->info("node task start resource={} action={}", r.toString(), action);
    if (!findAction(r.type, action)) {
      report(r, {action, false, rfc3339Now(), "unknown action " + action.substr(0, 64), ""});
      return;
    }
    // PreRun: the spec must parse; the upgrade spec is kept in KubeEdge's row (3.1).
    core::Status parsed = checkSpec(r.type, spec);
    if (!parsed.ok()) {
      report(r, {action, false, rfc3339Now(), parsed.message(), ""});
      return;
    }
    if (r.type == kNodeUpgradeJob) {
      writeRow({upgradeSpecKey(r), std::string(kUpgradeSpecGvr), r.job, spec}, true);
    }
    TaskState state{r, action, "running", spec};
    while (true) {
      state.action = action;
      state.phase = "running";
      saveState(state);
      ActionOutcome out = runAction(r, action, spec);
      bool ok = out.status.ok();
      // Stored before the report, so a confirm that follows the report finds it.
      const bool waiting = out.interrupt && ok && action == "WaitingConfirmation";
      if (waiting) {
        state.phase = "waiting";
        saveState(state);
      }
      report(r, {action, ok, rfc3339Now(), ok ? "" : out.status.message(), out.extend});
      if (waiting) {
        ctx_.log->info("node upgrade waits for confirmation (keadm ctl confirm) job={}", r.job);
        return;
      }
      auto step = findAction(r.type, action);
      std::string_view next = ok ? step->next_success : step->next_failure;
      if (out.interrupt || next.empty()) break;
      action = std::string(next);
    }
    // PostRun: the flow is over.
    deleteRow(taskStateKey(r));
    if (r.type == kNodeUpgradeJob) deleteRow(upgradeSpecKey(r));
    ctx_.log->info("node task done resource={} last_action={}", r.toString(), action);
  }

  core::Status checkSpec(const std::string& type, const std::string& spec) {
    if (type == kNodeUpgradeJob) return parseNodeUpgradeSpec(spec).status();
    if (type == kImagePrePullJob) return parseImagePrePullSpec(spec).status();
    return parseConfigUpdateSpec(spec).status();
  }

  ActionOutcome runAction(const NodeJobResource& r, const std::string& action,
                          const std::string& spec_text) {
    if (r.type == kImagePrePullJob) {
      ImagePrePullSpec spec = *parseImagePrePullSpec(spec_text);
      if (action == "Check") return {runCheckItems(spec.check_items), "", false};
      PullOptions o{options_.cri, options_.read_meta, options_.pull_concurrency, ctx_.log};
      std::vector<ImageResult> results;
      core::Status st = pullImages(spec, o, &results);
      return {st, results.empty() && !st.ok() ? "" : encodeImageResults(results), false};
    }
    if (r.type == kNodeUpgradeJob) {
      NodeUpgradeSpec spec = *parseNodeUpgradeSpec(spec_text);
      if (action == "Check") return {checkUpgrade(spec), "", false};
      if (action == "WaitingConfirmation") return {{}, "", spec.require_confirmation};
      if (action == "BackUp") return backup(true);
      if (action == "Upgrade") {
        auto argv = keadmUpgradeArgv(keadm_, spec);
        if (!argv.ok()) return {argv.status(), "", true};  // no rollback for a refused spec
        return runKeadm(withConfig(*argv), "upgrade");
      }
      return runKeadm(withConfig(keadmRollbackArgv(keadm_)), "rollback");
    }
    ConfigUpdateSpec spec = *parseConfigUpdateSpec(spec_text);
    if (action == "Check") return {};
    if (action == "BackUp") return backup(false);
    if (action == "Update") {
      auto argv = keadmConfigUpdateArgv(keadm_, spec);
      if (!argv.ok()) return {argv.status(), "", true};
      std::lock_guard lock(report_file_mu_);
      std::string output;
      auto rc = runProgram(withConfig(*argv), keadmLogPath(), &output);
      if (!rc.ok()) return {rc.status(), "", false};
      (void)takeUpgradeReport(upgradeReportPath());
      if (*rc != 0) {
        return {core::unavailable("update config failed, err: exit status " + std::to_string(*rc) +
                                  ", output: " + output),
                "", false};
      }
      return {};
    }
    return runKeadm(withConfig(keadmRollbackArgv(keadm_)), "rollback");
  }

  ActionOutcome backup(bool want_versions) {
    std::lock_guard lock(report_file_mu_);
    auto rc = runProgram(withConfig(keadmBackupArgv(keadm_)), keadmLogPath());
    if (!rc.ok()) return {rc.status(), "", false};
    auto file = takeUpgradeReport(upgradeReportPath());
    if (*rc != 0) {
      // keadm's own reason, when its report file has one, says more than the exit status.
      std::string why = "exit status " + std::to_string(*rc);
      if (file.ok() && !file->error_message.empty()) why += ": " + file->error_message;
      return {core::unavailable("keadm backup failed, err: " + why), "", false};
    }
    if (!want_versions) return {};
    if (!file.ok()) {
      return {core::unavailable("keadm backup failed, err: " + file.status().message()), "", false};
    }
    if (!file->success) {
      return {core::unavailable("keadm backup failed, err: " + file->error_message), "", false};
    }
    return {{}, file->from_version + "," + file->to_version, false};
  }

  // keadm's commands default to /etc/kubeedge/config/edgecore.yaml; an edgecore started with
  // another --config must not have keadm back up or change that file instead of its own.
  std::vector<std::string> withConfig(std::vector<std::string> argv) const {
    if (!options_.config_path.empty() && options_.config_path != kKeadmDefaultConfig) {
      argv.push_back("--config");
      argv.push_back(options_.config_path);
    }
    return argv;
  }

  // upgrade / rollback: output appended to keadm's log. KubeEdge reports "," here; we take the
  // versions from keadm's report file when it left one.
  ActionOutcome runKeadm(const std::vector<std::string>& argv, const std::string& what) {
    std::lock_guard lock(report_file_mu_);
    ctx_.log->info("running keadm {} log={}", what, keadmLogPath());
    auto rc = runProgram(argv, keadmLogPath());
    if (!rc.ok()) return {rc.status(), ",", false};
    auto file = takeUpgradeReport(upgradeReportPath());
    std::string extend = file.ok() ? file->from_version + "," + file->to_version : ",";
    if (*rc != 0) {
      return {
          core::unavailable("keadm " + what + " failed, err: exit status " + std::to_string(*rc)),
          extend, false};
    }
    return {{}, extend, false};
  }

  // ---- confirm, reconnect, restart ----

  void confirm(const Message& request) {
    std::optional<TaskState> waiting;
    for (TaskState& s : readStates()) {
      if (s.resource.type == kNodeUpgradeJob && s.phase == "waiting") waiting = std::move(s);
    }
    if (!waiting && confirmV1alpha1(request)) return;
    auto rows = options_.records->readNodeTaskRows(kUpgradeSpecGvr);
    std::string spec;
    if (waiting) {
      spec = waiting->spec;
      if (rows.ok() && !rows->empty()) spec = rows->front().value;
    }
    json answer = {
        {"started", waiting.has_value()},
        {"message", waiting ? "node upgrade job " + waiting->resource.job +
                                  " confirmed: running BackUp and Upgrade"
                            : std::string("no node upgrade job waits for confirmation")}};
    (void)ctx_.bus.reply(request, request.makeResponse(answer));
    if (!waiting) return;
    const std::string key = waiting->resource.toString();
    // The run that reported WaitingConfirmation may still be finishing: give it a moment.
    bool claimed = claim(key);
    for (int i = 0; i < 50 && !claimed; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      claimed = claim(key);
    }
    if (!claimed) {
      ctx_.log->warn("confirm ignored: the task is already running resource={}", key);
      return;
    }
    ctx_.log->info("node upgrade confirmed job={}", waiting->resource.job);
    runTask(waiting->resource, "BackUp", spec);
    release(key);
  }

  // A v1alpha1 upgrade waiting for confirmation answers Init/Success now: the cloud (which has
  // no rule for Confirm/Confirmation and so kept the node at Init) goes on to Checking.
  bool confirmV1alpha1(const Message& request) {
    auto held = readV1alpha1();
    if (!held || held->second != "waiting") return false;
    V1alpha1Task& task = held->first;
    json answer = {{"started", true},
                   {"message", "node upgrade task " + task.request.task_id +
                                   " confirmed: answered Init to the cloud"}};
    (void)ctx_.bus.reply(request, request.makeResponse(answer));
    saveV1alpha1(task, "ready");
    ctx_.log->info("v1alpha1 node upgrade confirmed task={}", task.request.task_id);
    reportV1alpha1(task, {"Init", true}, "");
    return true;
  }

  // keadm's result for a v1alpha1 upgrade whose keadm restarted edgecore: the answer the old
  // edgecore could not give.
  bool answerV1alpha1FromFile(const UpgradeReportFile& file, const std::string& path) {
    auto held = readV1alpha1();
    if (!held || (held->second != "upgrading" && held->second != "rollingback")) return false;
    const V1alpha1Task& task = held->first;
    reportV1alpha1(task, {file.event == "Rollback" ? "Rollback" : "Upgrade", file.success},
                   file.success ? "" : file.error_message);
    std::error_code ec;
    std::filesystem::remove(path, ec);
    deleteV1alpha1(task.request.task_id);
    return true;
  }

  // 3.3: keadm's report file, left by an upgrade/rollback that restarted edgecore (or by
  // config-update, which KubeEdge never reports; we report it as the Update action).
  void reportKeadmResult() {
    std::unique_lock lock(report_file_mu_, std::try_to_lock);
    if (!lock.owns_lock()) return;  // an action is running keadm; it takes the file itself
    const std::string path = upgradeReportPath();
    auto text = readUpgradeReport(path);
    if (!text.ok()) return;  // no keadm result waiting
    auto file = parseUpgradeReportFile(*text);
    if (!file.ok()) {
      ctx_.log->warn("keadm report unreadable path={} err=\"{}\"", path, file.status().message());
      return;
    }
    std::string action;
    std::string type;
    if (file->event == "Upgrade") action = "Upgrade", type = kNodeUpgradeJob;
    if (file->event == "Rollback") action = "RollBack", type = kNodeUpgradeJob;
    if (file->event == "ConfigUpdate") action = "Update", type = kConfigUpdateJob;
    if (action.empty()) {
      ctx_.log->info("keadm report left in place event={} path={}", file->event, path);
      return;
    }
    std::optional<TaskState> task;
    for (TaskState& s : readStates()) {
      // A ConfigUpdateJob's RollBack runs `keadm rollback edge` too, which restarts edgecore.
      // Its stored action may read BackUp: the rollback restored the database of that moment.
      bool cuj_rollback = action == "RollBack" && s.resource.type == kConfigUpdateJob;
      if (s.resource.type == type || (cuj_rollback && !task)) task = std::move(s);
    }
    if (task) type = task->resource.type;
    if (!task && type == kNodeUpgradeJob && answerV1alpha1FromFile(*file, path)) return;
    if (!task) {
      ctx_.log->error("keadm report event={} but no {} task is stored; file kept path={}",
                      file->event, type, path);
      return;
    }
    report(task->resource,
           {action, file->success, rfc3339Now(), file->success ? "" : file->error_message,
            type == kNodeUpgradeJob ? file->from_version + "," + file->to_version : ""});
    std::error_code ec;
    std::filesystem::remove(path, ec);
    lock.unlock();
    const std::string key = task->resource.toString();
    if (type == kNodeUpgradeJob && action == "Upgrade" && !file->success) {
      if (claim(key)) {
        runTask(task->resource, "RollBack", task->spec);
        release(key);
      }
      return;
    }
    deleteRow(taskStateKey(task->resource));
    if (type == kNodeUpgradeJob) deleteRow(upgradeSpecKey(task->resource));
  }

  // A task that was running when edgecore stopped: Check and Pull run again, and so does a
  // BackUp that was cut short (keadm backup restarts nothing, so no report file follows it; a
  // backup is taken again whole). The keadm actions that restart edgecore are not repeated:
  // their result comes from keadm's report file at the next connect. With that file waiting, a
  // stored BackUp is the row of a database a rollback restored, not an interrupted backup.
  void resumeAfterRestart() {
    std::error_code ec;
    const bool keadm_report_waiting = std::filesystem::exists(upgradeReportPath(), ec);
    for (const TaskState& s : readStates()) {
      const std::string key = s.resource.toString();
      if (s.phase == "waiting") {
        ctx_.log->info("node upgrade still waits for confirmation job={}", s.resource.job);
        continue;
      }
      const bool backup_cut_short = s.action == "BackUp" && !keadm_report_waiting;
      if (s.action != "Check" && s.action != "Pull" && !backup_cut_short) {
        ctx_.log->info(
            "node task was in keadm action {} at restart; waiting for its report resource={}",
            s.action, key);
        continue;
      }
      if (!claim(key)) continue;
      ctx_.log->info("node task resumed after restart resource={} action={}", key, s.action);
      runTask(s.resource, s.action, s.spec);
      release(key);
    }
  }

  core::ModuleContext ctx_;
  TaskManagerOptions options_;
  std::string keadm_;
  bool subscribed_ = false;
  std::mutex mu_;
  std::condition_variable idle_;
  size_t workers_ = 0;
  bool stopping_ = false;
  std::set<std::string> running_;
  std::mutex report_file_mu_;  // keadm runs and the reconnect hook take turns on the report file
};

}  // namespace

core::Result<core::ModulePtr> create(core::ModuleContext ctx, TaskManagerOptions options) {
  return core::ModulePtr(std::make_unique<TaskManager>(std::move(ctx), std::move(options)));
}

}  // namespace edgecore::taskmanager
