#pragma once

// ContainerProber: liveness, readiness and startup probes of one container instance, with the
// kubelet's semantics (vendor/k8s.io/kubernetes/pkg/kubelet/prober/{worker.go,prober.go} and
// probe/{http,tcp,exec} @ v1.20.0):
//  - nothing runs before initialDelaySeconds (counted from start()); then one probe per
//    periodSeconds, each bounded by timeoutSeconds;
//  - a result is reported once it was seen successThreshold (success) or failureThreshold
//    (failure) times in a row; initial results: readiness Failure, liveness Success, startup
//    Unknown;
//  - while a startup probe exists and has not succeeded, liveness and readiness do not run;
//  - after a liveness or startup Failure the worker holds (no more probes): the core restarts the
//    container and creates a new ContainerProber for the new instance;
//  - httpGet: plain HTTP GET (scheme HTTPS is reported as a failure), status 200-399 = success;
//    tcpSocket: connect succeeds; exec: the core's callback (CRI ExecSync), exit code 0 = success.
// Threading: everything runs on the strand given to create(); callbacks are invoked there.
// start()/stop() may be called from any thread.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "podplan/pod_plan.h"

namespace edgecore::edged {

enum class ProbeType { Liveness, Readiness, Startup };
enum class ProbeResult { Unknown, Success, Failure };
std::string_view probeTypeName(ProbeType t);  // "Liveness" / "Readiness" / "Startup"

struct ProbeOutcome {
  ProbeResult result = ProbeResult::Unknown;
  std::string output;  // error text or command output (for events/logs)
};

// Runs `command` in the container with a deadline and calls `done` exactly once from any thread
// (Success for exit code 0, Failure otherwise, Unknown for an infrastructure error).
using ExecProbeFn =
    std::function<void(const std::vector<std::string>& command, std::chrono::seconds timeout,
                       std::function<void(ProbeOutcome)> done)>;

class ContainerProber : public std::enable_shared_from_this<ContainerProber> {
 public:
  struct Options {
    std::string host;  // pod IP (host IP for hostNetwork); Action::host overrides it
    std::optional<ProbeSpec> liveness;
    std::optional<ProbeSpec> readiness;
    std::optional<ProbeSpec> startup;
    ExecProbeFn exec;  // required when a probe uses exec
    // Called on the strand when the reported result of a probe type changes.
    std::function<void(ProbeType, ProbeResult, const std::string& output)> on_result;
    // Length of one "second" of the probe spec (tests shrink it).
    std::chrono::milliseconds second = std::chrono::seconds(1);
  };

  static std::shared_ptr<ContainerProber> create(boost::asio::any_io_executor strand,
                                                 Options options);
  ~ContainerProber();

  void start();  // the container just started
  void stop();   // idempotent; pending probes end, no callback after stop() returns on the strand

  // Current reported results (read on the strand).
  ProbeResult result(ProbeType t) const;
  bool ready() const;    // readiness Success (or no readiness probe) and started
  bool started() const;  // startup Success or no startup probe

 private:
  struct Worker;
  ContainerProber(boost::asio::any_io_executor strand, Options options);
  void launch(ProbeType t, const ProbeSpec& spec);
  void account(Worker& w, const ProbeOutcome& out);
  void schedule(const std::shared_ptr<Worker>& w, std::chrono::milliseconds wait);

  boost::asio::any_io_executor strand_;
  Options options_;
  std::vector<std::shared_ptr<Worker>> workers_;
  bool started_ = false;
  bool stopped_ = false;
};

// One probe action, for lifecycle hooks too (postStart/preStop httpGet and tcpSocket).
// Completes on `strand`. Exposed for tests and the core.
void runProbeAction(boost::asio::any_io_executor strand, const Action& action,
                    const std::string& default_host, std::chrono::milliseconds timeout,
                    const ExecProbeFn& exec, std::function<void(ProbeOutcome)> done);

}  // namespace edgecore::edged
