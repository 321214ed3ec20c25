#pragma once

// The in-process message bus: beehive's role in KubeEdge, without its blocking or silent drops.
// Modules register a bounded mailbox under their KubeEdge module name and group; handlers run on
// the module's strand, one message at a time, in arrival order (FIFO per mailbox, hence per
// sender).
//
// Lifetime: the Bus must outlive every call into it. Mailboxes hold their modules' strands, so
// destroy the Bus (or unsubscribe every module) before the io_context, as declaring the
// io_context first does. ~Bus closes every mailbox (queued messages are discarded and counted)
// and stops delivery; a handler already running finishes. Requests still waiting end with
// Cancelled; a suspended request keeps only shared internal state alive, so it may outlive the
// Bus, and destroying its io_context destroys it without leaking its waiter.
//
// Threading: every method may be called from any thread, including from a handler; none blocks
// beyond a short internal mutex, and none runs a handler inline.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "edgecore/core/message.h"
#include "edgecore/core/status.h"

namespace edgecore::core {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;
// Must not throw: an exception escaping a handler is a bug and aborts the process (EC_CHECK).
using MessageHandler = std::function<void(Message)>;

struct BusStats {
  uint64_t delivered = 0;         // messages handed to handlers
  uint64_t rejected_full = 0;     // send/broadcast refused because a mailbox was full
  uint64_t rejected_unknown = 0;  // send to a module that is not registered
  uint64_t discarded = 0;         // queued messages dropped by unsubscribe or ~Bus
  uint64_t late_replies = 0;      // replies with no waiting request (late or unknown parent)
  uint64_t request_timeouts = 0;  // requests that hit their deadline
};

class Bus {
 public:
  static constexpr size_t kDefaultMailboxCapacity = 1024;

  // `mailbox_capacity` bounds each mailbox: messages queued and not yet handed to the handler.
  explicit Bus(asio::io_context& ioc, size_t mailbox_capacity = kDefaultMailboxCapacity);
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // Registers `module` in `group`; `handler` runs on `strand` for each message, never
  // concurrently with itself. The Bus owns `handler` until unsubscribe/~Bus and the last queued
  // drain task are done. Any thread. AlreadyExists if the name is taken, InvalidArgument if it
  // is empty.
  Status subscribe(std::string_view module, std::string_view group, Strand strand,
                   MessageHandler handler);
  // Removes the mailbox; messages still queued are dropped and counted in `discarded`. A handler
  // already running finishes; called from the module's own strand (as stop() usually is), no
  // handler runs after it returns. The name can be subscribed again at once. Any thread; no-op
  // for an unknown name.
  void unsubscribe(std::string_view module);

  // Queues `msg` for `module`. Never blocks. NotFound if no such module, Unavailable (and
  // counted) if its mailbox is full. Any thread.
  Status send(std::string_view module, Message msg);
  // Queues a copy for every module in `group`. NotFound if the group is empty; Unavailable if
  // any member's mailbox was full (the others still get it). Any thread.
  Status broadcast(std::string_view group, Message msg);

  // Sends `msg` to `module` and waits for the message whose parent_id equals msg.header.id
  // (sets msg.header.sync, as beehive's SendSync does). `module` is copied before this returns.
  // InvalidArgument if msg.header.id is empty, AlreadyExists if a request with that id is
  // already waiting, the send's own error if it could not be queued, DeadlineExceeded after
  // `timeout`, Cancelled if the awaiting operation is cancelled. The coroutine resumes on the
  // executor it was awaited from. The waiter is gone on every path (hasPendingRequest false).
  asio::awaitable<Result<Message>> request(std::string_view module, Message msg,
                                           std::chrono::milliseconds timeout);
  // Same, but `deliver` sends the message itself (e.g. edgehub writing to the cloud); the
  // waiter is registered before `deliver` runs, so an immediate answer is never missed. A
  // failing `deliver` ends the request with its Status. `deliver` runs inline in the awaiting
  // coroutine and must not block.
  asio::awaitable<Result<Message>> requestVia(Message msg, std::function<Status(Message)> deliver,
                                              std::chrono::milliseconds timeout);

  // Answers `request`: sets response.header.parent_id = request.header.id and hands it to the
  // waiter. NotFound (counted as late) if nobody waits any more. Any thread; never blocks.
  Status reply(const Message& request, Message response);
  // Hands a response that already carries parent_id to its waiter (edgehub uses this for cloud
  // answers). NotFound (counted as late) if nobody waits. Any thread; never blocks.
  Status deliverResponse(Message response);
  // True if a request with this id is waiting for its answer. Any thread.
  bool hasPendingRequest(std::string_view id) const;

  // A snapshot; counters are read one by one, so they may be mutually a little stale.
  BusStats stats() const;
  size_t mailboxCapacity() const;

 private:
  struct Impl;
  // shared: queued drain tasks and suspended requests keep the parts they need alive.
  std::shared_ptr<Impl> impl_;
};

}  // namespace edgecore::core
