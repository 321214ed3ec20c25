// Container probes (see probe_runner.h). Called by EdgedModule on its strand after each relist;
// the probers report back through the module's callback.

#include "probe_runner.h"

#include <boost/asio/post.hpp>

namespace edgecore::edged {

namespace asio = boost::asio;

bool applyProbeResult(ProbeState& ps, ProbeType type, ProbeResult result) {
  bool restart = false;
  switch (type) {
    case ProbeType::Startup:
      if (result == ProbeResult::Success) {
        ps.started = true;
      } else {
        restart = true;
      }
      break;
    case ProbeType::Liveness:
      restart = result == ProbeResult::Failure;
      break;
    case ProbeType::Readiness:
      ps.ready = result == ProbeResult::Success;
      break;
  }
  if (!restart || ps.liveness_failed) {
    return false;
  }
  ps.liveness_failed = true;
  return true;
}

void ProbeRunner::sync(PodEntry& e) {
  if (!e.plan || e.deleting || e.terminal) {
    stop(e);
    return;
  }
  for (const auto& c : e.plan->containers) {
    if (!c.liveness && !c.readiness && !c.startup) {
      continue;
    }
    const ContainerView* v = e.runtime.latest(c.name);
    const bool running = v && v->state == ContainerRunState::Running;
    auto it = e.probers.find(c.name);
    if (it != e.probers.end() && (!running || it->second.container_id != v->id)) {
      it->second.prober->stop();
      e.probers.erase(it);
      it = e.probers.end();
    }
    if (!running || it != e.probers.end()) {
      continue;
    }
    ProbeState& ps = e.probes[c.name];
    ps = ProbeState{};
    ps.container_id = v->id;
    ps.started = !c.startup;
    ps.ready = !c.readiness;
    ContainerProber::Options o;
    const SandboxView* sb = e.runtime.currentSandbox();
    o.host = e.plan->sandbox.host_network || !sb || sb->ip.empty() ? d_.host_ip : sb->ip;
    o.liveness = c.liveness;
    o.readiness = c.readiness;
    o.startup = c.startup;
    o.exec = [cri = d_.cri, pool = d_.pool, id = v->id](const std::vector<std::string>& cmd,
                                                        std::chrono::seconds timeout,
                                                        std::function<void(ProbeOutcome)> done) {
      asio::post(*pool, [cri, id, cmd, timeout, done = std::move(done)] {
        auto r = cri->execSync(id, cmd, std::max<int64_t>(1, timeout.count()));
        ProbeOutcome out;
        if (!r.ok()) {
          out.result = ProbeResult::Failure;  // the kubelet counts a timeout as a failure
          out.output = r.status().message();
        } else {
          out.result = r->exit_code() == 0 ? ProbeResult::Success : ProbeResult::Failure;
          // The kubelet's exec prober reports the combined output.
          out.output = (r->stdout() + r->stderr()).substr(0, 1024);
        }
        done(std::move(out));
      });
    };
    o.on_result = [cb = d_.on_result, uid = e.uid, name = c.name, id = v->id](
                      ProbeType t, ProbeResult r, const std::string& output) {
      cb(uid, name, id, t, r, output);
    };
    auto prober = ContainerProber::create(d_.strand, std::move(o));
    prober->start();
    e.probers[c.name] = {v->id, prober};
  }
}

void ProbeRunner::stop(PodEntry& e) {
  for (auto& [name, slot] : e.probers) {
    slot.prober->stop();
  }
  e.probers.clear();
}

}  // namespace edgecore::edged
