#pragma once

// OneShot<T>: a value handed from any thread to one waiting coroutine, with a deadline.
//
// Why not experimental::concurrent_channel raced with a timer through `||`: that spawns two
// child coroutines per wait, and a value sent just as the timer wins is left in the channel
// while the sender was told it got through. Here the first of complete(), cancel() or the
// deadline wins under one mutex, so the sender learns whether the waiter took the value, and the
// wake-up is the steady_timer itself: complete() cancels it, which resumes the waiter on its own
// executor. Every touch of the timer happens under mu_, because the timer is not thread-safe and
// complete() runs on foreign threads.
//
// The awaiting coroutine's handler is owned by the pending timer wait, not by OneShot, so
// destroying the io_context destroys the coroutine frame (no reference cycle, no leak).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace edgecore::core::async {

namespace asio = boost::asio;

template <typename T>
class OneShot : public std::enable_shared_from_this<OneShot<T>> {
 public:
  enum class State { Pending, Completed, Expired, Cancelled };
  struct Outcome {
    State state = State::Pending;
    std::optional<T> value;  // set iff state == Completed
  };

  // `ex` is the waiting coroutine's executor; the deadline runs from construction.
  OneShot(asio::any_io_executor ex, std::chrono::steady_clock::duration timeout)
      : timer_(std::move(ex), timeout) {}

  // Hands `value` to the waiter. Any thread, never blocks. False if the deadline or a
  // cancellation came first (the value is then dropped).
  bool complete(T value) {
    std::lock_guard lock(mu_);
    if (state_ != State::Pending) {
      return false;
    }
    state_ = State::Completed;
    value_.emplace(std::move(value));
    timer_.cancel();
    return true;
  }

  // Ends the wait with State::Cancelled unless something came first. Any thread.
  bool cancel() { return finish(State::Cancelled); }

  // Waits for complete(), cancel(), the deadline, or cancellation of the awaiting operation
  // (its cancellation slot). Await once. Resumes on the awaiting coroutine's executor.
  // The caller keeps this OneShot alive until wait() returns.
  asio::awaitable<Outcome> wait() {
    // The initiation captures a raw pointer on purpose: g++ 12 may destroy a non-trivially
    // destructible temporary in a co_await expression twice (seen as a shared_ptr
    // use-after-free under ASan), so nothing with a destructor goes in that expression. (Named
    // capture: clang 14 calls a plain `this` capture of a generic lambda in a coroutine unused.)
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [self = this](auto handler) { self->initiateWait(std::move(handler)); },
        asio::use_awaitable);
    std::lock_guard lock(mu_);
    co_return Outcome{state_, std::move(value_)};
  }

 private:
  bool finish(State state) {
    std::lock_guard lock(mu_);
    if (state_ != State::Pending) {
      return false;
    }
    state_ = state;
    timer_.cancel();
    return true;
  }

  template <typename Handler>
  void initiateWait(Handler handler) {
    auto ex = asio::get_associated_executor(handler, timer_.get_executor());
    std::unique_lock lock(mu_);
    if (state_ != State::Pending) {
      // Answered before we suspended (e.g. a synchronous deliver): resume without waiting.
      lock.unlock();
      asio::post(ex, std::move(handler));
      return;
    }
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      // weak: the slot lives in the caller's frame and must not keep this alive.
      slot.assign([weak = this->weak_from_this()](asio::cancellation_type type) {
        if (type == asio::cancellation_type::none) {
          return;
        }
        if (auto self = weak.lock()) {
          self->cancel();
        }
      });
    }
    timer_.async_wait(asio::bind_executor(
        ex, [self = this->shared_from_this(), h = std::move(handler)](auto /*ec*/) mutable {
          // Aborted means complete()/cancel() already set the state; otherwise it expired.
          self->finish(State::Expired);
          asio::get_associated_cancellation_slot(h).clear();
          std::move(h)();
        }));
  }

  std::mutex mu_;
  State state_ = State::Pending;
  std::optional<T> value_;
  asio::steady_timer timer_;
};

}  // namespace edgecore::core::async
