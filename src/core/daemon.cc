#include "edgecore/core/daemon.h"

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
#include <thread>

namespace edgecore::core {

namespace {

struct RunningModule {
  ModulePtr module;
  Strand strand;
};

}  // namespace

struct Daemon::Impl {
  Impl(const EdgeCoreConfig& c, const LoggerFactory& l, DaemonOptions o)
      : config(c),
        loggers(l),
        options(o),
        log(l.make("edgecore")),
        bus(ioc),
        blocking(static_cast<size_t>(std::max(1, o.blocking_threads))) {
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
  asio::io_context ioc;
  Bus bus;
  SystemClock clock;
  asio::thread_pool blocking;
  // Reads the bus: declared after it, destroyed before it.
  MetricsRegistrySharedPtr metrics = std::make_shared<MetricsRegistry>();

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;
  std::string stop_reason;

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
  bool stopOnStrand(RunningModule& m, std::chrono::steady_clock::duration budget) {
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    asio::post(m.strand, [&m, done] {
      m.module->stop();
      done->set_value();
    });
    return fut.wait_for(budget) == std::future_status::ready;
  }

  // The steps of Daemon::run, in the order it takes them.
  void armStopSignals(asio::signal_set& signals);
  // Creates and starts the enabled modules in order; the first failure stops the sequence.
  Status startModules(std::vector<ModuleSpec>& specs, std::vector<RunningModule>& running);
  // Blocks the calling (main) thread until signalStop().
  void waitForStop(size_t running_modules);
  // Stops `running` in reverse start order within `deadline`.
  void stopModules(std::vector<RunningModule>& running,
                   std::chrono::steady_clock::time_point deadline, bool& overran);
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

Status Daemon::Impl::startModules(std::vector<ModuleSpec>& specs,
                                  std::vector<RunningModule>& running) {
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
    Strand strand = asio::make_strand(ioc);
    ModuleContext ctx{strand, bus, config, loggers.make(spec.name), clock, blocking};
    ctx.metrics = metrics;
    Result<ModulePtr> created = spec.factory(ctx);
    if (!created.ok()) {
      return created.status().withContext("creating module " + spec.name);
    }
    RunningModule rm{std::move(created).value(), strand};
    // start() runs on the module's strand too, so the module never races itself.
    std::promise<Status> started;
    auto fut = started.get_future();
    asio::post(strand, [&rm, &started] { started.set_value(rm.module->start()); });
    Status st = fut.get();
    if (!st.ok()) {
      return st.withContext("starting module " + spec.name);
    }
    log->info("module started module={}", spec.name);
    running.push_back(std::move(rm));
  }
  return {};
}

void Daemon::Impl::waitForStop(size_t running_modules) {
  log->info("edgecore running modules={}", running_modules);
  std::unique_lock lock(mu);
  cv.wait(lock, [this] { return stop_requested; });
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

void Daemon::Impl::stopModules(std::vector<RunningModule>& running,
                               std::chrono::steady_clock::time_point deadline, bool& overran) {
  for (auto it = running.rbegin(); it != running.rend(); ++it) {
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

  std::vector<RunningModule> running;
  Status result = d.startModules(specs, running);
  if (result.ok()) {
    d.waitForStop(running.size());
  } else {
    d.log->error("startup failed err=\"{}\"", result.message());
  }

  // Stop in reverse start order, all within one deadline.
  const auto deadline = std::chrono::steady_clock::now() + d.options.stop_deadline;
  bool overran = false;
  d.stopModules(running, deadline, overran);

  // Let in-flight handlers finish (modules closed their I/O, so run() returns), else cut off.
  asio::post(signal_strand, [&signals] { signals.cancel(); });
  work.reset();
  d.joinIoThreads(io_threads, deadline, overran);
  // Modules are destroyed after the loop stopped, so no handler can touch a dead module.
  running.clear();

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
