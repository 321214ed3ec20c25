#pragma once

// SharedModule: the core::Module the daemon owns (unique_ptr) for a module whose work lives in an
// object its own coroutines keep alive (a FooSharedPtr, STYLE 6), such as edgehub's Hub and
// edgestream's Stream. It forwards start/stop/stats and puts the stats on the agent's /metrics
// through `appendMetrics(stats, out)` of the stats type's namespace (found by ADL).
//
// `Interface` is the module's public interface (a core::Module with `Stats stats() const`);
// `Impl` has `Status start()`, `void stop()` and `Stats stats() const`. Calling strands are those
// of core::Module; stats() is any thread, as Impl's.

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "edgecore/core/metrics.h"
#include "edgecore/core/module.h"

namespace edgecore::core {

template <class Interface, class Impl>
class SharedModule final : public Interface {
 public:
  using Stats = decltype(std::declval<const Impl&>().stats());

  // `name` and `group` must outlive the module (string literals, core::names constants).
  // `registry` may be null: no /metrics series then.
  SharedModule(std::string_view name, std::string_view group, std::shared_ptr<Impl> impl,
               MetricsRegistry* registry)
      : name_(name), group_(group), impl_(std::move(impl)) {
    if (registry != nullptr) {
      metrics_ = registry->addScopedCollector(
          [impl = impl_.get()](std::string& out) { appendMetrics(impl->stats(), out); });
    }
  }

  // core::Module
  std::string_view name() const override { return name_; }
  std::string_view group() const override { return group_; }
  Status start() override { return impl_->start(); }
  void stop() override { impl_->stop(); }

  Stats stats() const override { return impl_->stats(); }

 private:
  std::string_view name_;
  std::string_view group_;
  std::shared_ptr<Impl> impl_;
  MetricsRegistry::Registration metrics_;  // after impl_: removed first
};

}  // namespace edgecore::core
