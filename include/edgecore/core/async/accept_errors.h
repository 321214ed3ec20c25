#pragma once

// What an accept loop does with an error. Running out of descriptors (EMFILE, ENFILE) or kernel
// memory, or a peer that reset before it was accepted, leaves the listening socket as it was:
// pause, then accept again. The pause matters: the pending connection keeps the listener
// readable, so accepting again at once spins a core at 100 % until a descriptor frees up.
// Any other error means the listening socket itself is unusable and the loop should end (and
// say so in the log).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <cerrno>
#include <chrono>

namespace edgecore::core {

inline constexpr std::chrono::milliseconds kAcceptErrorPause{50};

inline bool isTransientAcceptError(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) {
    return false;
  }
  switch (ec.value()) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case ECONNABORTED:
    case ECONNRESET:
    case EINTR:
    case EPROTO:
    case EPERM:  // a firewall rule refused the connection (Linux accept(2))
    case ETIMEDOUT:
      return true;
    default:
      return false;
  }
}

// Waits kAcceptErrorPause on the calling coroutine's executor.
inline boost::asio::awaitable<void> pauseAfterAcceptError() {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, kAcceptErrorPause);
  boost::system::error_code ignored;
  co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
}

// What every accept loop does after an error that is not its own stop: false at once when the
// listener cannot go on (the caller reports it and ends), else true after the pause.
inline boost::asio::awaitable<bool> waitOutAcceptError(boost::system::error_code ec) {
  if (!isTransientAcceptError(ec)) {
    co_return false;
  }
  co_await pauseAfterAcceptError();
  co_return true;
}

}  // namespace edgecore::core
