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

Status Daemon::run(std::vector<ModuleSpec> specs) {
  Impl& d = *impl_;
  auto work = asio::make_work_guard(d.ioc);

  // The signal set is only touched on its strand: its handler re-arms it while the main thread
  // may be cancelling it, and signal_set is not safe for concurrent use.
  Strand signal_strand = asio::make_strand(d.ioc);
  asio::signal_set signals(signal_strand);
  if (d.options.handle_signals) {
    signals.add(SIGTERM);
    signals.add(SIGINT);
    signals.async_wait([&d, &signals](const boost::system::error_code& ec, int signo) {
      if (ec) {
        return;
      }
      // A second signal while stopping means the operator gave up waiting.
      signals.async_wait([&d](const boost::system::error_code& ec2, int) {
        if (!ec2) {
          d.log->error("second stop signal; exiting without waiting for modules");
          d.log->flush();
          std::_Exit(1);
        }
      });
      d.signalStop(signo == SIGTERM ? "SIGTERM" : "SIGINT");
    });
  }

  std::vector<std::thread> io_threads;
  for (int i = 0; i < std::max(1, d.options.io_threads); ++i) {
    io_threads.emplace_back([&d] { d.ioc.run(); });
  }

  std::vector<RunningModule> running;
  Status result;
  for (ModuleSpec& spec : specs) {
    if (!spec.enabled) {
      d.log->info("module disabled module={} config={}.enable=false", spec.name, spec.config_path);
      continue;
    }
    if (!spec.factory) {
      d.log->warn("module not started module={} reason=\"not built into this edgecore version\" {}",
                  spec.name, spec.missing_note);
      continue;
    }
    Strand strand = asio::make_strand(d.ioc);
    ModuleContext ctx{strand, d.bus, d.config, d.loggers.make(spec.name), d.clock, d.blocking};
    ctx.metrics = d.metrics;
    Result<ModulePtr> created = spec.factory(ctx);
    if (!created.ok()) {
      result = created.status().withContext("creating module " + spec.name);
      break;
    }
    RunningModule rm{std::move(created).value(), strand};
    // start() runs on the module's strand too, so the module never races itself.
    std::promise<Status> started;
    auto fut = started.get_future();
    asio::post(strand, [&rm, &started] { started.set_value(rm.module->start()); });
    Status st = fut.get();
    if (!st.ok()) {
      result = st.withContext("starting module " + spec.name);
      break;
    }
    d.log->info("module started module={}", spec.name);
    running.push_back(std::move(rm));
  }

  if (result.ok()) {
    d.log->info("edgecore running modules={}", running.size());
    std::unique_lock lock(d.mu);
    d.cv.wait(lock, [&d] { return d.stop_requested; });
    d.log->info("stopping reason={} deadline_ms={}", d.stop_reason,
                d.options.stop_deadline.count());
  } else {
    d.log->error("startup failed err=\"{}\"", result.message());
  }

  // Stop in reverse start order, all within one deadline.
  const auto deadline = std::chrono::steady_clock::now() + d.options.stop_deadline;
  bool overran = false;
  auto overrun = [&d, &overran](std::string_view what) {
    if (overran) {
      return;
    }
    overran = true;
    d.log->error("shutdown overran deadline deadline_ms={} waiting_for={}",
                 d.options.stop_deadline.count(), what);
    d.log->flush();
    if (d.options.on_stop_overrun) {
      d.options.on_stop_overrun();
    } else {
      std::_Exit(1);
    }
  };
  for (auto it = running.rbegin(); it != running.rend(); ++it) {
    auto budget = deadline - std::chrono::steady_clock::now();
    if (budget < std::chrono::steady_clock::duration::zero() || !d.stopOnStrand(*it, budget)) {
      overrun(it->module->name());
      break;
    }
    d.log->info("module stopped module={}", it->module->name());
  }

  // Let in-flight handlers finish (modules closed their I/O, so run() returns), else cut off.
  asio::post(signal_strand, [&signals] { signals.cancel(); });
  work.reset();
  {
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
      overrun("io threads");
      d.ioc.stop();
    } else {
      lock.unlock();
    }
    for (auto& w : waiters) {
      w.join();
    }
  }
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
