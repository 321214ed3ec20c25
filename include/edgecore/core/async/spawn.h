#pragma once

// Starting a coroutine that nobody awaits: use spawnLogged (or logCompletion as the co_spawn
// completion handler) instead of a bare asio::detached, so what the coroutine threw reaches the
// log with the name of what failed instead of vanishing.

#include <spdlog/logger.h>

#include <boost/asio/co_spawn.hpp>
#include <cstdio>
#include <exception>
#include <memory>
#include <utility>

namespace edgecore::core {

// `what` must outlive the coroutine (a string literal). `log` may be null: then stderr.
inline auto logCompletion(std::shared_ptr<spdlog::logger> log, const char* what) {
  return [log = std::move(log), what](std::exception_ptr e) {
    if (!e) {
      return;
    }
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      if (log) {
        log->error("coroutine failed what={} err={}", what, ex.what());
      } else {
        std::fprintf(stderr, "coroutine failed what=%s err=%s\n", what, ex.what());
      }
    } catch (...) {
      if (log) {
        log->error("coroutine failed what={} err=(not a std::exception)", what);
      }
    }
  };
}

template <class Executor, class Awaitable>
void spawnLogged(Executor&& ex, Awaitable&& coro, std::shared_ptr<spdlog::logger> log,
                 const char* what) {
  boost::asio::co_spawn(std::forward<Executor>(ex), std::forward<Awaitable>(coro),
                        logCompletion(std::move(log), what));
}

}  // namespace edgecore::core
