#include "edgecore/core/bus.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "async/one_shot.h"

namespace edgecore::core {

namespace {

// Messages a drain task hands out before it re-posts itself, so one busy module cannot hold an
// I/O thread while other strands wait.
constexpr size_t kDrainBatch = 64;

enum class PushResult { Queued, Full, Closed };

// A module's bounded queue, drained on its strand. Like the chat server's write queue, but
// senders are on any thread: the deque sits behind a small mutex and the first message into an
// idle mailbox posts one drain task (scheduled_ says one is queued or running).
class Mailbox : public std::enable_shared_from_this<Mailbox> {
 public:
  Mailbox(std::string group, Strand strand, MessageHandler handler, size_t capacity)
      : group_(std::move(group)),
        strand_(std::move(strand)),
        handler_(std::move(handler)),
        capacity_(capacity) {}

  const std::string& group() const { return group_; }
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }

  // Any thread. `msg` is moved from only when Queued.
  PushResult push(Message&& msg) {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        return PushResult::Closed;
      }
      if (queue_.size() >= capacity_) {
        return PushResult::Full;
      }
      queue_.push_back(std::move(msg));
      wake = !scheduled_;
      scheduled_ = true;
    }
    if (wake) {
      asio::post(strand_, [self = shared_from_this()] { self->drain(); });
    }
    return PushResult::Queued;
  }

  // Any thread. Stops delivery and returns how many queued messages were dropped.
  uint64_t close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    uint64_t dropped = queue_.size();
    queue_.clear();
    return dropped;
  }

 private:
  // On strand_.
  void drain() {
    for (size_t handled = 0;; ++handled) {
      Message msg;
      {
        std::lock_guard lock(mu_);
        if (closed_ || queue_.empty()) {
          scheduled_ = false;
          return;
        }
        if (handled == kDrainBatch) {
          break;  // still scheduled_: re-posted below, behind other strands' work
        }
        msg = std::move(queue_.front());
        queue_.pop_front();
        // Counted under mu_ so close() and stats() see a consistent total; single writer.
        delivered_.store(delivered_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      }
      try {
        handler_(std::move(msg));
      } catch (const std::exception& e) {
        EC_CHECK(false, std::string("bus handler threw: ") + e.what());
      } catch (...) {
        EC_CHECK(false, "bus handler threw a non-std exception");
      }
    }
    asio::post(strand_, [self = shared_from_this()] { self->drain(); });
  }

  const std::string group_;
  const Strand strand_;
  const MessageHandler handler_;
  const size_t capacity_;

  std::mutex mu_;
  std::deque<Message> queue_;
  bool scheduled_ = false;
  bool closed_ = false;
  std::atomic<uint64_t> delivered_{0};
};

using Waiter = async::OneShot<Message>;

}  // namespace

struct Bus::Impl {
  explicit Impl(size_t capacity) : capacity(capacity) {}

  Status send(std::string_view module, Message&& msg) {
    std::shared_lock lock(registry_mu);
    auto it = mailboxes.find(module);
    if (it == mailboxes.end()) {
      rejected_unknown.fetch_add(1, std::memory_order_relaxed);
      return notFound("no module " + std::string(module));
    }
    switch (it->second->push(std::move(msg))) {
      case PushResult::Queued:
        return {};
      case PushResult::Full:
        rejected_full.fetch_add(1, std::memory_order_relaxed);
        return unavailable("mailbox of " + std::string(module) + " is full");
      case PushResult::Closed:
        break;  // unreachable: mailboxes close under the exclusive registry lock
    }
    return notFound("module " + std::string(module) + " unsubscribed");
  }

  // Hands `response` to the request waiting for `parent_id`.
  Status resolve(const std::string& parent_id, Message&& response) {
    std::shared_ptr<Waiter> waiter;
    {
      std::lock_guard lock(waiters_mu);
      auto it = waiters.find(parent_id);
      if (it != waiters.end()) {
        waiter = std::move(it->second);
        waiters.erase(it);
      }
    }
    if (!waiter || !waiter->complete(std::move(response))) {
      late_replies.fetch_add(1, std::memory_order_relaxed);
      return notFound("no request waiting for " + parent_id);
    }
    return {};
  }

  void removeWaiter(const std::string& id, const Waiter* waiter) {
    std::lock_guard lock(waiters_mu);
    auto it = waiters.find(id);
    if (it != waiters.end() && it->second.get() == waiter) {
      waiters.erase(it);
    }
  }

  const size_t capacity;

  mutable std::shared_mutex registry_mu;
  std::map<std::string, std::shared_ptr<Mailbox>, std::less<>> mailboxes;

  mutable std::mutex waiters_mu;
  std::unordered_map<std::string, std::shared_ptr<Waiter>> waiters;

  std::atomic<uint64_t> retired_delivered{0};  // delivered by mailboxes since removed
  std::atomic<uint64_t> rejected_full{0};
  std::atomic<uint64_t> rejected_unknown{0};
  std::atomic<uint64_t> discarded{0};
  std::atomic<uint64_t> late_replies{0};
  std::atomic<uint64_t> request_timeouts{0};
};

Bus::Bus(asio::io_context& /*ioc*/, size_t mailbox_capacity)
    : impl_(std::make_shared<Impl>(mailbox_capacity)) {
  EC_CHECK(mailbox_capacity > 0, "bus mailbox capacity must be positive");
}

Bus::~Bus() {
  {
    std::unique_lock lock(impl_->registry_mu);
    for (auto& [name, box] : impl_->mailboxes) {
      impl_->discarded.fetch_add(box->close(), std::memory_order_relaxed);
    }
    impl_->mailboxes.clear();
  }
  // Wake waiting requests now rather than at their deadlines; they end with Cancelled.
  std::unordered_map<std::string, std::shared_ptr<Waiter>> waiters;
  {
    std::lock_guard lock(impl_->waiters_mu);
    waiters.swap(impl_->waiters);
  }
  for (auto& [id, waiter] : waiters) {
    waiter->cancel();
  }
}

Status Bus::subscribe(std::string_view module, std::string_view group, Strand strand,
                      MessageHandler handler) {
  if (module.empty()) {
    return invalidArgument("bus subscribe without a module name");
  }
  std::unique_lock lock(impl_->registry_mu);
  if (impl_->mailboxes.contains(module)) {
    return alreadyExists("module " + std::string(module) + " already subscribed");
  }
  impl_->mailboxes.emplace(std::string(module),
                           std::make_shared<Mailbox>(std::string(group), std::move(strand),
                                                     std::move(handler), impl_->capacity));
  return {};
}

void Bus::unsubscribe(std::string_view module) {
  std::unique_lock lock(impl_->registry_mu);
  auto it = impl_->mailboxes.find(module);
  if (it == impl_->mailboxes.end()) {
    return;
  }
  impl_->discarded.fetch_add(it->second->close(), std::memory_order_relaxed);
  impl_->retired_delivered.fetch_add(it->second->delivered(), std::memory_order_relaxed);
  impl_->mailboxes.erase(it);
}

Status Bus::send(std::string_view module, Message msg) {
  return impl_->send(module, std::move(msg));
}

Status Bus::broadcast(std::string_view group, Message msg) {
  std::shared_lock lock(impl_->registry_mu);
  std::vector<std::pair<const std::string*, Mailbox*>> members;
  for (auto& [name, box] : impl_->mailboxes) {
    if (box->group() == group) {
      members.emplace_back(&name, box.get());
    }
  }
  if (members.empty()) {
    return notFound("no module in group " + std::string(group));
  }
  std::string full;
  for (size_t i = 0; i < members.size(); ++i) {
    Message copy = i + 1 < members.size() ? msg : std::move(msg);
    if (members[i].second->push(std::move(copy)) == PushResult::Full) {
      impl_->rejected_full.fetch_add(1, std::memory_order_relaxed);
      full += full.empty() ? "" : ",";
      full += *members[i].first;
    }
  }
  if (!full.empty()) {
    return unavailable("mailbox full in group " + std::string(group) + ": " + full);
  }
  return {};
}

asio::awaitable<Result<Message>> Bus::request(std::string_view module, Message msg,
                                              std::chrono::milliseconds timeout) {
  // Not a coroutine itself: `module` is copied now, before the caller's string can go away.
  return requestVia(
      std::move(msg),
      [impl = impl_, target = std::string(module)](Message m) {
        return impl->send(target, std::move(m));
      },
      timeout);
}

asio::awaitable<Result<Message>> Bus::requestVia(Message msg,
                                                 std::function<Status(Message)> deliver,
                                                 std::chrono::milliseconds timeout) {
  // Only `impl` from here on: the Bus may be destroyed while this coroutine is suspended.
  std::shared_ptr<Impl> impl = impl_;
  if (msg.header.id.empty()) {
    co_return invalidArgument("bus request without header.id");
  }
  const std::string id = msg.header.id;
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor, timeout);
  {
    std::lock_guard lock(impl->waiters_mu);
    if (!impl->waiters.emplace(id, waiter).second) {
      co_return alreadyExists("a request with id " + id + " is already waiting");
    }
  }
  // Removes the waiter on every exit, including destruction of this frame with its io_context.
  struct Guard {
    Impl& impl;
    const std::string& id;
    const Waiter* waiter;
    ~Guard() { impl.removeWaiter(id, waiter); }
  } guard{*impl, id, waiter.get()};

  msg.header.sync = true;  // beehive context.SendSync marks requests the same way
  if (Status st = deliver(std::move(msg)); !st.ok()) {
    co_return st;
  }
  auto outcome = co_await waiter->wait();
  switch (outcome.state) {
    case Waiter::State::Completed:
      co_return std::move(*outcome.value);
    case Waiter::State::Expired:
      impl->request_timeouts.fetch_add(1, std::memory_order_relaxed);
      co_return deadlineExceeded("no answer to " + id + " within " +
                                 std::to_string(timeout.count()) + "ms");
    case Waiter::State::Cancelled:
    case Waiter::State::Pending:
      break;
  }
  co_return cancelled("request " + id + " cancelled");
}

Status Bus::reply(const Message& request, Message response) {
  if (request.header.id.empty()) {
    return invalidArgument("reply to a request without header.id");
  }
  response.header.parent_id = request.header.id;
  return impl_->resolve(request.header.id, std::move(response));
}

Status Bus::deliverResponse(Message response) {
  if (response.header.parent_id.empty()) {
    return invalidArgument("response without parent_id");
  }
  std::string parent_id = response.header.parent_id;
  return impl_->resolve(parent_id, std::move(response));
}

bool Bus::hasPendingRequest(std::string_view id) const {
  std::lock_guard lock(impl_->waiters_mu);
  return impl_->waiters.contains(std::string(id));
}

BusStats Bus::stats() const {
  BusStats s;
  {
    std::shared_lock lock(impl_->registry_mu);
    s.delivered = impl_->retired_delivered.load(std::memory_order_relaxed);
    for (const auto& [name, box] : impl_->mailboxes) {
      s.delivered += box->delivered();
    }
  }
  s.rejected_full = impl_->rejected_full.load(std::memory_order_relaxed);
  s.rejected_unknown = impl_->rejected_unknown.load(std::memory_order_relaxed);
  s.discarded = impl_->discarded.load(std::memory_order_relaxed);
  s.late_replies = impl_->late_replies.load(std::memory_order_relaxed);
  s.request_timeouts = impl_->request_timeouts.load(std::memory_order_relaxed);
  return s;
}

size_t Bus::mailboxCapacity() const { return impl_->capacity; }

}  // namespace edgecore::core
