#include "edgecore/core/daemon.h"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "edgecore/core/config.h"
#include "memory_trim.h"

namespace edgecore::core {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// One enabled module with a factory: the object of its current run and what restarts it. Only
// the thread in Daemon::run touches a slot.
struct ModuleSlot {
  ModuleSlot(ModuleSpec& s, Strand st, bool restart, std::chrono::milliseconds first_delay)
      : spec(&s), strand(std::move(st)), restartable(restart), next_delay(first_delay) {}

  ModuleSpec* spec;
  Strand strand;     // kept across runs: a new run's handlers queue behind the old run's
  ModulePtr module;  // set while a run is going (start() succeeded); null otherwise
  bool restartable;  // featureGates.moduleRestart and spec.restart_on_failure
  std::chrono::milliseconds next_delay;  // grows x2 up to the limit, never reset (beehive)
  std::optional<SteadyTime> restart_at;  // set while waiting to restart
  std::string last_error;                // of the failed run, said when restarting
  std::shared_ptr<std::atomic<uint64_t>> restarts = std::make_shared<std::atomic<uint64_t>>(0);
};

// What a module's report_failure leaves for the daemon thread; guarded by Impl::mu.
struct RunReport {
  uint64_t run = 0;  // the run that may report; 0 while none is going
  std::optional<Status> failure;
};

}  // namespace

bool hasOnFailureRestartPolicy(std::string_view name) {
  // Each module's RestartPolicy() in v1.23.1 (names as our module list spells them).
  static constexpr std::string_view kOnFailure[] = {"twin",       "edged",      "websocket",
                                                    "edgestream", "eventbus",   "metamanager",
                                                    "servicebus", "taskmanager"};
  return std::find(std::begin(kOnFailure), std::end(kOnFailure), name) != std::end(kOnFailure);
}

// The two execution contexts with their protected shutdown() callable. Shutting a context down
// destroys the handlers still queued on it; its services (strands included) stay until the object
// goes. A handler queued on one context may hold a strand of the other, so both are shut down
// before either is destroyed (see ~Daemon).
struct IoContext : asio::io_context {
  void destroyPendingHandlers() { shutdown(); }
};
struct BlockingPool : asio::thread_pool {
  using asio::thread_pool::thread_pool;
  void destroyPendingHandlers() { shutdown(); }
};

struct Daemon::Impl {
  Impl(const EdgeCoreConfig& c, const LoggerFactory& l, DaemonOptions o)
      : config(c),
        loggers(l),
        options(o),
        log(l.make("edgecore")),
        bus(ioc),
        blocking(static_cast<size_t>(std::max(1, o.blocking_threads))) {
    auto gate = c.feature_gates.find(std::string(kModuleRestartGate));
    restart_gate = gate != c.feature_gates.end() && gate->second;
    addProcessMetrics(*metrics);
    addBusMetrics();
  }

  // The bus's own counters: every module's traffic goes through it.
  void addBusMetrics() {
    Bus* b = &bus;
    metrics->addCounter("edgecore_bus_messages_delivered_total",
                        "Messages handed to module handlers.",
                        [b] { return static_cast<double>(b->stats().delivered); });
    metrics->addCounter("edgecore_bus_mailbox_full_total",
                        "Sends refused because the target module's mailbox was full.",
                        [b] { return static_cast<double>(b->stats().rejected_full); });
    metrics->addCounter("edgecore_bus_request_timeouts_total",
                        "Bus requests that hit their deadline.",
                        [b] { return static_cast<double>(b->stats().request_timeouts); });
  }

  const EdgeCoreConfig& config;
  const LoggerFactory& loggers;
  DaemonOptions options;
  std::shared_ptr<spdlog::logger> log;
  IoContext ioc;
  Bus bus;
  SystemClock clock;
  BlockingPool blocking;
  // Reads the bus: declared after it, destroyed before it.
  MetricsRegistrySharedPtr metrics = std::make_shared<MetricsRegistry>();

  bool restart_gate = false;  // featureGates.moduleRestart

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;
  std::string stop_reason;
  std::vector<RunReport> reports;  // one per slot: bounded however often a module reports
  uint64_t runs_begun = 0;         // numbers the runs, so a report names the run it ends
  Status run_failure;              // a failed run that stops the daemon (run's thread only)

  // A module's ModuleContext::report_failure. Any thread.
  void reportFailure(size_t slot, uint64_t run, Status st) {
    {
      std::lock_guard lock(mu);
      if (stop_requested || slot >= reports.size() || reports[slot].run != run ||
          reports[slot].failure) {
        return;  // stopping, an earlier run, or already reported
      }
      reports[slot].failure = std::move(st);
    }
    cv.notify_all();
  }

  void signalStop(std::string reason) {
    {
      std::lock_guard lock(mu);
      if (stop_requested) {
        return;
      }
      stop_requested = true;
      stop_reason = std::move(reason);
    }
    cv.notify_all();
  }

  // Runs module->stop() on its own strand (its state lives there) and waits up to `budget`.
  bool stopOnStrand(ModuleSlot& m, std::chrono::steady_clock::duration budget) {
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    Module* module = m.module.get();
    asio::post(m.strand, [module, done] {
      module->stop();
      done->set_value();
    });
    return fut.wait_for(budget) == std::future_status::ready;
  }

  // Destroys a module while the loop runs (a restart): on its strand, so none of its handlers
  // runs at the same time. Modules keep what late handlers touch in shared state (STYLE 3).
  void destroyOnStrand(Strand& strand, ModulePtr module) {
    auto holder = std::make_shared<ModulePtr>(std::move(module));
    std::promise<void> done;
    auto fut = done.get_future();
    asio::post(strand, [holder, &done] {
      holder->reset();
      done.set_value();
    });
    fut.wait();
  }

  // The steps of Daemon::run, in the order it takes them.
  void armStopSignals(asio::signal_set& signals);
  // Creates and starts the enabled modules in order; the first failure of a module that is not
  // restarted stops the sequence.
  Status startModules(std::vector<ModuleSpec>& specs, std::vector<ModuleSlot>& slots);
  // Blocks the calling (main) thread until signalStop(), handling failed runs and restarts.
  void supervise(std::vector<ModuleSlot>& slots);
  // Stops the running modules of `slots` in reverse start order within `deadline`.
  void stopModules(std::vector<ModuleSlot>& slots, std::chrono::steady_clock::time_point deadline,
                   bool& overran);

  // One run of slot `i`: calls the factory and start(). On error nothing of the run is left.
  Status beginRun(std::vector<ModuleSlot>& slots, size_t i);
  // A run failed: stops the daemon, or (restartable) stops the module and schedules a restart.
  void onRunFailed(ModuleSlot& slot, Status st);
  // The delayed restart of a restartable slot.
  void restart(std::vector<ModuleSlot>& slots, size_t i);
  // Joins the I/O threads, giving up on them at `deadline`.
  void joinIoThreads(std::vector<std::thread>& io_threads,
                     std::chrono::steady_clock::time_point deadline, bool& overran);
  // Logs the first overrun once and hands it to on_stop_overrun (default: exit now).
  void reportOverrun(bool& overran, std::string_view what);
};

Daemon::Daemon(const EdgeCoreConfig& config, const LoggerFactory& loggers, DaemonOptions options)
    : impl_(std::make_unique<Impl>(config, loggers, options)) {}

Daemon::~Daemon() {
  impl_->blocking.stop();
  impl_->blocking.join();
  // After a clean run the io_context has nothing queued; after a stop that overran (the I/O
  // threads were stopped, not drained) it may hold handlers that own strands of the pool, and the
  // pool may hold handlers owning strands of the io_context. Destroy all of them while both
  // contexts still exist.
  impl_->ioc.stop();
  impl_->ioc.destroyPendingHandlers();
  impl_->blocking.destroyPendingHandlers();
}

Bus& Daemon::bus() { return impl_->bus; }

MetricsRegistry& Daemon::metrics() { return *impl_->metrics; }

void Daemon::requestStop() { impl_->signalStop("stop requested"); }

void Daemon::Impl::armStopSignals(asio::signal_set& signals) {
  signals.add(SIGTERM);
  signals.add(SIGINT);
  signals.async_wait([this, &signals](const boost::system::error_code& ec, int signo) {
    if (ec) {
      return;
    }
    // A second signal while stopping means the operator gave up waiting.
    signals.async_wait([this](const boost::system::error_code& ec2, int) {
      if (!ec2) {
        log->error("second stop signal; exiting without waiting for modules");
        log->flush();
        std::_Exit(1);
      }
    });
    signalStop(signo == SIGTERM ? "SIGTERM" : "SIGINT");
  });
}

Status Daemon::Impl::startModules(std::vector<ModuleSpec>& specs, std::vector<ModuleSlot>& slots) {
  // Every slot exists before the first start: report_failure closures hold slot indexes.
  for (ModuleSpec& spec : specs) {
    if (!spec.enabled) {
      log->info("module disabled module={} config={}.enable=false", spec.name, spec.config_path);
      continue;
    }
    if (!spec.factory) {
      log->warn("module not started module={} reason=\"not built into this edgecore version\" {}",
                spec.name, spec.missing_note);
      continue;
    }
    ModuleSlot& slot =
        slots.emplace_back(spec, asio::make_strand(ioc), restart_gate && spec.restart_on_failure,
                           options.restart_interval);
    if (slot.restartable) {
      metrics->add("edgecore_module_restarts_total",
                   "Restarts of a module after a failed run (featureGates.moduleRestart).",
                   MetricType::Counter, {{"module", spec.name}},
                   [n = slot.restarts] { return static_cast<double>(n->load()); });
    }
  }
  {
    std::lock_guard lock(mu);
    reports.assign(slots.size(), RunReport{});
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    Status st = beginRun(slots, i);
    if (st.ok()) {
      log->info("module started module={}", slots[i].spec->name);
    } else if (slots[i].restartable) {
      onRunFailed(slots[i], std::move(st));
    } else {
      return st;
    }
  }
  return {};
}

Status Daemon::Impl::beginRun(std::vector<ModuleSlot>& slots, size_t i) {
  ModuleSlot& slot = slots[i];
  const std::string& name = slot.spec->name;
  uint64_t run = 0;
  {
    std::lock_guard lock(mu);
    run = ++runs_begun;
    reports[i] = RunReport{run, std::nullopt};
  }
  ModuleContext ctx{slot.strand, bus, config, loggers.make(name), clock, blocking};
  ctx.metrics = metrics;
  ctx.report_failure = [this, i, run](Status st) { reportFailure(i, run, std::move(st)); };
  // A run that never got going already failed: nothing may report for it any more.
  auto endRun = [this, i] {
    std::lock_guard lock(mu);
    reports[i] = RunReport{};
  };
  Result<ModulePtr> created = slot.spec->factory(ctx);
  if (!created.ok()) {
    endRun();
    return created.status().withContext("creating module " + name);
  }
  ModulePtr module = std::move(created).value();
  // start() runs on the module's strand too, so the module never races itself.
  std::promise<Status> started;
  auto fut = started.get_future();
  asio::post(slot.strand, [m = module.get(), &started] { started.set_value(m->start()); });
  Status st = fut.get();
  if (!st.ok()) {
    endRun();
    if (slot.restartable) {
      // A half-done start may hold the module's bus name or a socket the next run needs.
      slot.module = std::move(module);
      if (!stopOnStrand(slot, options.stop_deadline)) {
        return st.withContext("starting module " + name);  // onRunFailed sees it still there
      }
      module = std::move(slot.module);
    }
    // Its strand may still hold handlers it posted: destroyed there, after them.
    destroyOnStrand(slot.strand, std::move(module));
    return st.withContext("starting module " + name);
  }
  slot.module = std::move(module);
  return {};
}

void Daemon::Impl::onRunFailed(ModuleSlot& slot, Status st) {
  const std::string& name = slot.spec->name;
  if (!slot.restartable) {
    log->error("module failed module={} err=\"{}\"", name, st.message());
    if (run_failure.ok()) {
      run_failure = st.withContext("module " + name + " failed");
    }
    signalStop("module " + name + " failed");
    return;
  }
  if (slot.module) {
    if (!stopOnStrand(slot, options.stop_deadline)) {
      // It is still stopping on its strand: it can be neither destroyed nor replaced.
      log->error("module did not stop for its restart module={} deadline_ms={}", name,
                 options.stop_deadline.count());
      if (run_failure.ok()) {
        run_failure = deadlineExceeded("module " + name + " did not stop for its restart");
      }
      signalStop("module " + name + " stuck stopping");
      return;
    }
    destroyOnStrand(slot.strand, std::move(slot.module));
  }
  auto delay = slot.next_delay;
  slot.next_delay = std::min(delay * 2, std::max(options.restart_interval_limit, delay));
  slot.restart_at = std::chrono::steady_clock::now() + delay;
  slot.last_error = st.message();
  log->error("module failed module={} err=\"{}\" restart_in_ms={}", name, st.message(),
             delay.count());
}

void Daemon::Impl::restart(std::vector<ModuleSlot>& slots, size_t i) {
  ModuleSlot& slot = slots[i];
  slot.restart_at.reset();
  uint64_t n = ++*slot.restarts;
  log->warn("module restarting module={} restart={} err=\"{}\"", slot.spec->name, n,
            slot.last_error);
  Status st = beginRun(slots, i);
  if (st.ok()) {
    log->info("module started module={} restart={}", slot.spec->name, n);
  } else {
    onRunFailed(slot, std::move(st));
  }
}

void Daemon::Impl::supervise(std::vector<ModuleSlot>& slots) {
  size_t running = std::count_if(slots.begin(), slots.end(),
                                 [](const ModuleSlot& s) { return s.module != nullptr; });
  log->info("edgecore running modules={}", running);
  for (;;) {
    std::vector<std::pair<size_t, Status>> failed;
    {
      std::unique_lock lock(mu);
      auto woken = [this] {
        return stop_requested ||
               std::any_of(reports.begin(), reports.end(), [](auto& r) { return r.failure; });
      };
      std::optional<SteadyTime> due;
      for (const ModuleSlot& s : slots) {
        if (s.restart_at && (!due || *s.restart_at < *due)) {
          due = s.restart_at;
        }
      }
      if (due) {
        cv.wait_until(lock, *due, woken);
      } else {
        cv.wait(lock, woken);
      }
      if (stop_requested) {
        break;
      }
      for (size_t i = 0; i < reports.size(); ++i) {
        if (reports[i].failure) {
          failed.emplace_back(i, std::move(*reports[i].failure));
          reports[i] = RunReport{};  // the run is over: later reports from it are ignored
        }
      }
    }
    for (auto& [i, st] : failed) {
      onRunFailed(slots[i], std::move(st));
    }
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].restart_at && *slots[i].restart_at <= now) {
        restart(slots, i);
      }
    }
  }
  log->info("stopping reason={} deadline_ms={}", stop_reason, options.stop_deadline.count());
}

void Daemon::Impl::reportOverrun(bool& overran, std::string_view what) {
  if (overran) {
    return;
  }
  overran = true;
  log->error("shutdown overran deadline deadline_ms={} waiting_for={}",
             options.stop_deadline.count(), what);
  log->flush();
  if (options.on_stop_overrun) {
    options.on_stop_overrun();
  } else {
    std::_Exit(1);
  }
}

void Daemon::Impl::stopModules(std::vector<ModuleSlot>& slots,
                               std::chrono::steady_clock::time_point deadline, bool& overran) {
  for (auto it = slots.rbegin(); it != slots.rend(); ++it) {
    if (!it->module) {
      continue;  // never started, or waiting for its restart
    }
    auto budget = deadline - std::chrono::steady_clock::now();
    if (budget < std::chrono::steady_clock::duration::zero() || !stopOnStrand(*it, budget)) {
      reportOverrun(overran, it->module->name());
      break;
    }
    log->info("module stopped module={}", it->module->name());
  }
}

void Daemon::Impl::joinIoThreads(std::vector<std::thread>& io_threads,
                                 std::chrono::steady_clock::time_point deadline, bool& overran) {
  std::mutex done_mu;
  std::condition_variable done_cv;
  size_t exited = 0;
  std::vector<std::thread> waiters;
  // Joining with a deadline: each I/O thread is joined on a helper that reports back.
  for (auto& t : io_threads) {
    waiters.emplace_back([&t, &done_mu, &done_cv, &exited] {
      t.join();
      std::lock_guard lock(done_mu);
      ++exited;
      done_cv.notify_all();
    });
  }
  std::unique_lock lock(done_mu);
  // Joining the stuck threads below still waits for them; on_stop_overrun decides whether the
  // process waits (tests) or exits now (the default).
  if (!done_cv.wait_until(lock, deadline, [&] { return exited == io_threads.size(); })) {
    lock.unlock();
    reportOverrun(overran, "io threads");
    ioc.stop();
  } else {
    lock.unlock();
  }
  for (auto& w : waiters) {
    w.join();
  }
}

Status Daemon::run(std::vector<ModuleSpec> specs) {
  Impl& d = *impl_;
  auto work = asio::make_work_guard(d.ioc);

  // The signal set is only touched on its strand: its handler re-arms it while the main thread
  // may be cancelling it, and signal_set is not safe for concurrent use.
  Strand signal_strand = asio::make_strand(d.ioc);
  asio::signal_set signals(signal_strand);
  if (d.options.handle_signals) {
    d.armStopSignals(signals);
  }

  std::vector<std::thread> io_threads;
  for (int i = 0; i < std::max(1, d.options.io_threads); ++i) {
    io_threads.emplace_back([&d] { d.ioc.run(); });
  }

  AllocatorTrimmer trimmer(d.ioc, d.options.allocator_trim_interval,
                           d.options.allocator_trim_slack);
  trimmer.start();

  std::vector<ModuleSlot> slots;
  Status result = d.startModules(specs, slots);
  if (result.ok()) {
    d.supervise(slots);
    result = d.run_failure;
  } else {
    d.log->error("startup failed err=\"{}\"", result.message());
  }

  // Stop in reverse start order, all within one deadline.
  const auto deadline = std::chrono::steady_clock::now() + d.options.stop_deadline;
  bool overran = false;
  d.stopModules(slots, deadline, overran);

  // Let in-flight handlers finish (modules closed their I/O, so run() returns), else cut off.
  asio::post(signal_strand, [&signals] { signals.cancel(); });
  trimmer.stop();
  work.reset();
  d.joinIoThreads(io_threads, deadline, overran);
  // Modules are destroyed after the loop stopped, so no handler can touch a dead module.
  slots.clear();

  if (!result.ok()) {
    return result;
  }
  if (overran) {
    return deadlineExceeded("shutdown took longer than " +
                            std::to_string(d.options.stop_deadline.count()) + " ms");
  }
  d.log->info("edgecore stopped");
  return {};
}

}  // namespace edgecore::core
