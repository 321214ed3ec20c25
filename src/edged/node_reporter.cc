// Node registration, node status and the node lease through metamanager (see node_reporter.h).
// EdgedModule spawns reportStatus() and renewLease(); everything here runs on its strand.

#include "node_reporter.h"

// g++ 12 reports asio's awaitable frame operator delete as mismatched when a coroutine frame is
// inlined into its caller (a false positive, GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "edgecore/core/message.h"

namespace edgecore::edged {

namespace asio = boost::asio;
using core::Message;
using core::Result;
using json = nlohmann::json;

namespace {

asio::awaitable<void> sleepFor(asio::steady_timer& timer, std::chrono::milliseconds d) {
  timer.expires_after(d);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

std::string uidOf(const json& obj) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) {
    return "";
  }
  const json& md = obj["metadata"];
  return md.contains("uid") && md["uid"].is_string() ? md["uid"].get<std::string>() : "";
}

}  // namespace

NodeConfig nodeConfigOf(const core::EdgedConfig& cfg, const std::string& node_ip,
                        const std::string& runtime_version) {
  NodeConfig n;
  n.node_name = cfg.hostname_override;
  n.register_namespace =
      cfg.register_node_namespace.empty() ? "default" : cfg.register_node_namespace;
  n.node_labels = cfg.node_labels;
  n.register_schedulable = cfg.register_schedulable;
  n.node_ip = node_ip;
  n.read_only_port = cfg.read_only_port > 0 ? cfg.read_only_port : 10350;
  n.max_pods = cfg.max_pods > 0 ? cfg.max_pods : 110;
  n.container_runtime_version = runtime_version;
  return n;
}

NodeProbe probeNode(cri::CriClient& cri, const std::string& root_directory,
                    const deviceplugin::DeviceManager& devices) {
  NodeProbe p;
  p.facts = readHostFacts(root_directory);
  for (const auto& [name, c] : devices.resources()) {  // device plugin resources
    p.facts.extended_resources[name] = {c.capacity, c.allocatable};
  }
  auto st = cri.status();
  if (st.ok()) {
    p.health.runtime_ready = st->runtime_ready;
    // Pods here use the host network; a missing CNI config does not make the node unusable.
    p.health.network_ready = true;
    p.health.message = st->runtime_ready ? "" : st->runtime_reason;
  } else {
    p.health.runtime_ready = false;
    p.health.message = st.status().message();
  }
  return p;
}

bool cloudAccepted(const Result<Message>& resp, std::string* err) {
  if (!resp.ok()) {
    if (err) {
      *err = resp.status().message();
    }
    return false;
  }
  if (resp->route.operation == core::op::kError) {
    if (err) {
      *err = resp->contentData().substr(0, 300);
    }
    return false;
  }
  const json& c = resp->content;
  if (c.is_object() && c.contains("Err") && !c["Err"].is_null()) {
    std::string reason = c["Err"].is_object() && c["Err"].contains("ErrStatus")
                             ? c["Err"]["ErrStatus"].value("reason", "")
                             : "";
    if (reason == "AlreadyExists") {
      return true;
    }
    if (err) {
      *err = c["Err"].dump().substr(0, 300);
    }
    return false;
  }
  return true;
}

NodeReporter::NodeReporter(Deps deps) : d_(std::move(deps)) {}

asio::awaitable<Result<Message>> NodeReporter::request(Message m) {
  // Not a coroutine: the bus's awaitable is handed on as is.
  return d_.bus.request(core::names::kMetaManagerModule, std::move(m), d_.bus_timeout);
}

asio::awaitable<void> NodeReporter::reportStatus() {
  auto period =
      std::chrono::duration_cast<std::chrono::milliseconds>(d_.cfg.node_status_update_frequency);
  if (period.count() <= 0) {
    period = std::chrono::seconds(10);
  }
  auto report =
      std::chrono::duration_cast<std::chrono::milliseconds>(d_.cfg.node_status_report_frequency);
  NodeStatusTracker tracker(report.count() > 0 ? report : std::chrono::minutes(5));
  asio::steady_timer timer(d_.strand);
  bool registered = false;
  bool force = true;
  int failures = 0;
  // Until registered: the kubelet's registration back-off (100 ms doubling to 7 s), and a
  // try as soon as the cloud link comes up.
  std::chrono::milliseconds register_delay{100};
  while (!stopping_) {
    auto probe_op = d_.probe();
    NodeProbe p = co_await std::move(probe_op);
    NodeConfig nc = d_.node_config();
    auto now = std::chrono::system_clock::now();
    if (!registered) {
      json node = buildNodeObject(nc, p.facts, p.health, now);
      auto insert_op = request(Message::create(core::names::kEdgedModule, core::names::kMetaGroup,
                                               core::op::kInsert, nodeResource(nc), node));
      Result<Message> resp = co_await std::move(insert_op);
      std::string err;
      if (cloudAccepted(resp, &err)) {
        registered = true;
        const json& c = resp->content;
        if (c.is_object() && c.contains("Object")) {
          node_uid_ = uidOf(c["Object"]);
        }
        d_.log->info("node registered node={}", nc.node_name);
      } else if (failures++ == 0) {
        d_.log->info("node registration pending (cloud not reachable) err=\"{}\"", err);
      }
    }
    if (!registered) {
      co_await waitToRegister(timer, register_delay);
      register_delay =
          std::min<std::chrono::milliseconds>(register_delay * 2, std::chrono::seconds(7));
      continue;
    }
    if (auto patch = tracker.update(nc, p.facts, p.health, now, force)) {
      auto patch_op =
          request(Message::create(core::names::kEdgedModule, core::names::kMetaGroup,
                                  core::op::kPatch, nodePatchResource(nc), json(*patch)));
      Result<Message> resp = co_await std::move(patch_op);
      force = !cloudAccepted(resp);
    }
    co_await sleepFor(timer, period);
  }
}

// Sleeps `delay`, or less when the cloud link comes up meanwhile (polled every 100 ms; the
// link status is an atomic kept by metamanager).
asio::awaitable<void> NodeReporter::waitToRegister(asio::steady_timer& timer,
                                                   std::chrono::milliseconds delay) {
  const auto until = std::chrono::steady_clock::now() + delay;
  const bool was_up = d_.cloud_link != nullptr && d_.cloud_link->connected();
  while (!stopping_ && std::chrono::steady_clock::now() < until) {
    auto step = std::min<std::chrono::steady_clock::duration>(
        until - std::chrono::steady_clock::now(), std::chrono::milliseconds(100));
    co_await sleepFor(timer, std::chrono::duration_cast<std::chrono::milliseconds>(step) +
                                 std::chrono::milliseconds(1));
    if (!was_up && d_.cloud_link != nullptr && d_.cloud_link->connected()) {
      co_return;
    }
  }
}

asio::awaitable<void> NodeReporter::renewLease() {
  int32_t duration = static_cast<int32_t>(d_.cfg.node_lease_duration.count());
  if (duration <= 0) {
    duration = 40;
  }
  auto period = std::chrono::milliseconds(duration * 1000 / 4);
  asio::steady_timer timer(d_.strand);
  NodeLease lease(d_.cfg.hostname_override, duration);
  std::string last_problem;
  std::chrono::milliseconds unknown_wait{1000};
  while (!stopping_) {
    // Query and insert are steps towards the renewal: the update follows without a pause.
    for (int step = 0; step < 3 && !stopping_; ++step) {
      NodeConfig nc = d_.node_config();
      NodeLease::Request req = lease.next(node_uid_, std::chrono::system_clock::now());
      auto lease_op =
          request(Message::create(core::names::kEdgedModule, core::names::kMetaGroup, req.operation,
                                  leaseResource(nc), std::move(req.content)));
      Result<Message> resp = co_await std::move(lease_op);
      const bool answered = resp.ok() && resp->route.operation != core::op::kError;
      std::string problem;
      if (!answered) {
        lease.onNoAnswer();
        problem = resp.ok() ? resp->contentData().substr(0, 200) : resp.status().message();
      } else {
        problem = lease.onAnswer(resp->content);
      }
      if (problem != last_problem) {
        if (problem.empty()) {
          d_.log->info("node lease in sync with the cloud node={}", nc.node_name);
        } else {
          d_.log->info("node lease not renewed op={} reason=\"{}\"", req.operation, problem);
        }
        last_problem = problem;
      }
      if (!answered || (problem.empty() && req.operation != "query")) {
        break;  // offline, or renewed/created: wait for the next period
      }
      if (!problem.empty() && req.operation != "update" && problem != "NotFound") {
        break;  // could not read or create it
      }
      // Read it, or it is missing (create it), or the update was refused (read it): go on now.
    }
    // Not known yet (offline at start): try again soon, so the lease exists right after the
    // node registers instead of a whole period later.
    std::chrono::milliseconds wait = period;
    if (!lease.known()) {
      wait = std::min(period, unknown_wait);
      unknown_wait = std::min(unknown_wait * 2, period);
    } else {
      unknown_wait = std::chrono::seconds(1);
    }
    co_await sleepFor(timer, wait);
  }
}

}  // namespace edgecore::edged
