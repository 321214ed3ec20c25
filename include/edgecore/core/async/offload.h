#pragma once

// offload(pool, fn): runs a blocking call (SQLite, CRI gRPC, a file read) on a thread pool and
// resumes the awaiting coroutine on its own executor (usually a strand) with the result, so
// strands never block. What `fn` throws is rethrown in the coroutine, not on the pool thread.
//
//   auto op = core::offload(pool, [&store, key] { return store.getMeta(key); });
//   auto value = co_await std::move(op);
//
// The shared_ptr overload keeps the pool alive until the call has finished, for owners that may
// be destroyed while a call is still running (edged's CRI pool); offloadVia takes any scheduler
// (edgehub's serial outbox worker).

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace edgecore::core {

namespace offload_detail {

template <class R>
struct Outcome {
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> value{};
  std::exception_ptr error;
};

// `post(job)` schedules `job` on another thread.
template <class Post, class F, class Keep>
boost::asio::awaitable<std::invoke_result_t<F&>> run(Post post, F fn, Keep keep_alive) {
  using R = std::invoke_result_t<F&>;
  auto outcome = std::make_shared<Outcome<R>>();
  auto ex = co_await boost::asio::this_coro::executor;
  auto init = [&post, ex, outcome, keep_alive, fn = std::move(fn)](auto handler) mutable {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    post([h, ex, outcome, keep_alive, fn = std::move(fn)]() mutable {
      try {
        if constexpr (std::is_void_v<R>) {
          fn();
        } else {
          outcome->value.emplace(fn());
        }
      } catch (...) {
        outcome->error = std::current_exception();
      }
      boost::asio::post(ex, [h]() mutable { (*h)(); });
    });
  };
  co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
      std::move(init), boost::asio::use_awaitable);
  if (outcome->error) {
    std::rethrow_exception(outcome->error);
  }
  if constexpr (!std::is_void_v<R>) {
    co_return std::move(*outcome->value);
  }
}

}  // namespace offload_detail

template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(boost::asio::thread_pool& pool, F fn) {
  auto post = [&pool](auto job) { boost::asio::post(pool, std::move(job)); };
  return offload_detail::run(post, std::move(fn), nullptr);
}

template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(
    std::shared_ptr<boost::asio::thread_pool> pool, F fn) {
  auto post = [p = pool.get()](auto job) { boost::asio::post(*p, std::move(job)); };
  return offload_detail::run(post, std::move(fn), std::move(pool));
}

// The same through any scheduler: `post(job)` must run `job` later on another thread (a serial
// worker that keeps jobs in order, for instance). `job` is copyable when `fn` is.
template <class Post, class F>
boost::asio::awaitable<std::invoke_result_t<F&>> offloadVia(Post post, F fn) {
  return offload_detail::run(std::move(post), std::move(fn), nullptr);
}

}  // namespace edgecore::core
