#include "edgecore/core/bus.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/test_util.h"

namespace edgecore::core {
namespace {

using edgecore::testing::runUntil;
using namespace std::chrono_literals;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define EDGECORE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define EDGECORE_SANITIZED 1
#endif
#endif

// message.cc is not linked here: messages are built field by field.
Message makeMessage(std::string id, std::string source = "test", int64_t seq = 0) {
  Message m;
  m.header.id = std::move(id);
  m.header.timestamp_ms = seq;
  m.route.source = std::move(source);
  m.route.group = "meta";
  m.route.operation = "query";
  m.route.resource = "default/pod/nginx";
  return m;
}

Message makeResponse(const Message& req, nlohmann::json content) {
  Message m;
  m.header.id = "resp-" + req.header.id;
  m.route.source = "responder";
  m.route.operation = "response";
  m.content = std::move(content);
  return m;
}

void rethrow(std::exception_ptr e) {
  if (e) {
    std::rethrow_exception(e);
  }
}

class BusTest : public ::testing::Test {
 protected:
  Strand newStrand() { return asio::make_strand(ioc_); }

  // Runs `bus.request(...)` in a coroutine on `ex`; the result lands in `out`.
  template <typename Executor>
  void spawnRequest(Executor ex, std::string module, Message msg, std::chrono::milliseconds timeout,
                    std::optional<Result<Message>>& out) {
    asio::co_spawn(
        ex,
        [this, module, msg = std::move(msg), timeout, &out]() mutable -> asio::awaitable<void> {
          auto op = bus_.request(module, std::move(msg), timeout);
          out = co_await std::move(op);
        },
        rethrow);
  }

  asio::io_context ioc_;
  Bus bus_{ioc_};
};

TEST_F(BusTest, SendDeliversToTheRightModuleOnItsStrand) {
  Strand edged_strand = newStrand();
  Strand meta_strand = newStrand();
  std::vector<std::string> edged_got;
  std::vector<std::string> meta_got;
  bool on_strand = true;
  ASSERT_TRUE(bus_.subscribe("edged", "edged", edged_strand,
                             [&](Message m) {
                               on_strand = on_strand && edged_strand.running_in_this_thread();
                               edged_got.push_back(m.header.id);
                             })
                  .ok());
  ASSERT_TRUE(bus_.subscribe("metamanager", "meta", meta_strand,
                             [&](Message m) {
                               on_strand = on_strand && meta_strand.running_in_this_thread();
                               meta_got.push_back(m.header.id);
                             })
                  .ok());

  EXPECT_TRUE(bus_.send("edged", makeMessage("a")).ok());
  EXPECT_TRUE(bus_.send("metamanager", makeMessage("b")).ok());
  EXPECT_TRUE(bus_.send("edged", makeMessage("c")).ok());
  ASSERT_TRUE(runUntil(ioc_, [&] { return edged_got.size() == 2 && meta_got.size() == 1; }));

  EXPECT_EQ(edged_got, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(meta_got, (std::vector<std::string>{"b"}));
  EXPECT_TRUE(on_strand);
  EXPECT_EQ(bus_.stats().delivered, 3u);
}

TEST_F(BusTest, SendToUnknownModuleIsNotFoundAndCounted) {
  Status st = bus_.send("twin", makeMessage("a"));
  EXPECT_EQ(st.code(), StatusCode::NotFound);
  EXPECT_EQ(bus_.stats().rejected_unknown, 1u);
}

TEST_F(BusTest, SubscribeRejectsDuplicateAndEmptyNames) {
  ASSERT_TRUE(bus_.subscribe("twin", "twin", newStrand(), [](Message) {}).ok());
  EXPECT_EQ(bus_.subscribe("twin", "twin", newStrand(), [](Message) {}).code(),
            StatusCode::AlreadyExists);
  EXPECT_EQ(bus_.subscribe("", "twin", newStrand(), [](Message) {}).code(),
            StatusCode::InvalidArgument);
}

TEST_F(BusTest, OneSenderThreadKeepsItsOrder) {
  constexpr int64_t kCount = 20000;
  std::vector<int64_t> got;
  ASSERT_TRUE(bus_.subscribe("edged", "edged", newStrand(),
                             [&](Message m) { got.push_back(m.header.timestamp_ms); })
                  .ok());
  std::thread sender([&] {
    for (int64_t i = 0; i < kCount; ++i) {
      while (true) {
        Status st = bus_.send("edged", makeMessage("m", "s", i));
        if (st.ok()) {
          break;
        }
        ASSERT_EQ(st.code(), StatusCode::Unavailable);
        std::this_thread::yield();
      }
    }
  });
  bool done = runUntil(
      ioc_, [&] { return got.size() == static_cast<size_t>(kCount); }, 30s);
  sender.join();
  ASSERT_TRUE(done);
  for (int64_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(got[i], i);
  }
}

TEST_F(BusTest, ConcurrentSendersEachKeepTheirOrder) {
  constexpr int kSenders = 4;
  constexpr int64_t kPerSender = 5000;
  std::array<int64_t, kSenders> last;
  last.fill(-1);
  int out_of_order = 0;
  size_t total = 0;
  ASSERT_TRUE(bus_.subscribe("metamanager", "meta", newStrand(),
                             [&](Message m) {
                               int s = m.route.source[0] - '0';
                               if (m.header.timestamp_ms != last[s] + 1) {
                                 ++out_of_order;
                               }
                               last[s] = m.header.timestamp_ms;
                               ++total;
                             })
                  .ok());
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([this, s] {
      for (int64_t i = 0; i < kPerSender; ++i) {
        while (!bus_.send("metamanager", makeMessage("m", std::to_string(s), i)).ok()) {
          std::this_thread::yield();
        }
      }
    });
  }
  bool done = runUntil(
      ioc_, [&] { return total == kSenders * kPerSender; }, 30s);
  for (auto& t : senders) {
    t.join();
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(out_of_order, 0);
  for (int64_t l : last) {
    EXPECT_EQ(l, kPerSender - 1);
  }
}

TEST(BusCapacityTest, FullMailboxIsUnavailableCountedAndRecovers) {
  asio::io_context ioc;
  Bus bus(ioc, 4);
  EXPECT_EQ(bus.mailboxCapacity(), 4u);
  size_t handled = 0;
  ASSERT_TRUE(
      bus.subscribe("edged", "edged", asio::make_strand(ioc), [&](Message) { ++handled; }).ok());
  // Nobody runs the io_context yet, so nothing drains: the fifth send must fail, not block.
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(bus.send("edged", makeMessage(std::to_string(i))).ok());
  }
  Status st = bus.send("edged", makeMessage("overflow"));
  EXPECT_EQ(st.code(), StatusCode::Unavailable);
  EXPECT_EQ(bus.stats().rejected_full, 1u);

  ASSERT_TRUE(runUntil(ioc, [&] { return handled == 4; }));
  EXPECT_TRUE(bus.send("edged", makeMessage("again")).ok());
  ASSERT_TRUE(runUntil(ioc, [&] { return handled == 5; }));
  EXPECT_EQ(bus.stats().rejected_full, 1u);
  EXPECT_EQ(bus.stats().delivered, 5u);
}

TEST_F(BusTest, BroadcastReachesEveryGroupMember) {
  std::vector<std::string> got;
  for (const char* name : {"metamanager", "metaserver"}) {
    ASSERT_TRUE(bus_.subscribe(name, "meta", newStrand(),
                               [&got, name](Message m) {
                                 got.push_back(std::string(name) + ":" + m.header.id);
                               })
                    .ok());
  }
  ASSERT_TRUE(
      bus_.subscribe("edged", "edged", newStrand(), [&](Message) { got.push_back("edged"); }).ok());

  ASSERT_TRUE(bus_.broadcast("meta", makeMessage("x")).ok());
  ASSERT_TRUE(runUntil(ioc_, [&] { return got.size() == 2; }));
  ioc_.restart();
  ioc_.poll();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"metamanager:x", "metaserver:x"}));

  EXPECT_EQ(bus_.broadcast("twin", makeMessage("y")).code(), StatusCode::NotFound);
}

TEST(BusCapacityTest, BroadcastWithOneFullMemberStillReachesTheOthers) {
  asio::io_context ioc;
  Bus bus(ioc, 1);
  int a = 0;
  int b = 0;
  ASSERT_TRUE(bus.subscribe("a", "g", asio::make_strand(ioc), [&](Message) { ++a; }).ok());
  ASSERT_TRUE(bus.subscribe("b", "g", asio::make_strand(ioc), [&](Message) { ++b; }).ok());
  ASSERT_TRUE(bus.send("a", makeMessage("fill")).ok());

  Status st = bus.broadcast("g", makeMessage("x"));
  EXPECT_EQ(st.code(), StatusCode::Unavailable);
  EXPECT_EQ(bus.stats().rejected_full, 1u);
  ASSERT_TRUE(runUntil(ioc, [&] { return a == 1 && b == 1; }));
}

TEST_F(BusTest, UnsubscribeDiscardsQueuedMessagesAndCountsThem) {
  int handled = 0;
  ASSERT_TRUE(bus_.subscribe("edged", "edged", newStrand(), [&](Message) { ++handled; }).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(bus_.send("edged", makeMessage(std::to_string(i))).ok());
  }
  bus_.unsubscribe("edged");
  ioc_.poll();
  EXPECT_EQ(handled, 0);
  EXPECT_EQ(bus_.stats().discarded, 3u);
  EXPECT_EQ(bus_.send("edged", makeMessage("late")).code(), StatusCode::NotFound);

  // The name is free again.
  ASSERT_TRUE(bus_.subscribe("edged", "edged", newStrand(), [&](Message) { ++handled; }).ok());
  ASSERT_TRUE(bus_.send("edged", makeMessage("new")).ok());
  ASSERT_TRUE(runUntil(ioc_, [&] { return handled == 1; }));
}

TEST_F(BusTest, UnsubscribeFromOwnHandlerStopsFurtherDelivery) {
  int handled = 0;
  ASSERT_TRUE(bus_.subscribe("edged", "edged", newStrand(),
                             [&](Message) {
                               ++handled;
                               bus_.unsubscribe("edged");
                             })
                  .ok());
  ASSERT_TRUE(bus_.send("edged", makeMessage("1")).ok());
  ASSERT_TRUE(bus_.send("edged", makeMessage("2")).ok());
  ASSERT_TRUE(runUntil(ioc_, [&] { return handled == 1; }));
  ioc_.restart();
  ioc_.poll();
  EXPECT_EQ(handled, 1);
  EXPECT_EQ(bus_.stats().discarded, 1u);
  EXPECT_EQ(bus_.stats().delivered, 1u);
}

// A module that answers every request on its strand.
void subscribeEcho(Bus& bus, Strand strand) {
  ASSERT_TRUE(bus.subscribe("metamanager", "meta", strand,
                            [&bus](Message m) {
                              EXPECT_TRUE(m.header.sync);
                              EXPECT_TRUE(bus.reply(m, makeResponse(m, "OK")).ok());
                            })
                  .ok());
}

TEST_F(BusTest, RequestReplyRoundtripResumesOnTheAwaitingExecutor) {
  subscribeEcho(bus_, newStrand());
  Strand caller = newStrand();
  std::optional<Result<Message>> result;
  bool resumed_on_caller = false;
  asio::co_spawn(
      caller,
      [&]() -> asio::awaitable<void> {
        auto op = bus_.request("metamanager", makeMessage("req-1"), 5s);
        result = co_await std::move(op);
        resumed_on_caller = caller.running_in_this_thread();
      },
      rethrow);
  ASSERT_TRUE(runUntil(ioc_, [&] { return result.has_value(); }));
  ASSERT_TRUE(result->ok()) << result->status().toString();
  EXPECT_EQ((*result)->header.parent_id, "req-1");
  EXPECT_EQ((*result)->content, "OK");
  EXPECT_TRUE(resumed_on_caller);
  EXPECT_FALSE(bus_.hasPendingRequest("req-1"));
  EXPECT_EQ(bus_.stats().late_replies, 0u);
}

TEST_F(BusTest, RequestTimesOutAndLateReplyIsNotFound) {
  std::optional<Message> held;
  ASSERT_TRUE(
      bus_.subscribe("metamanager", "meta", newStrand(), [&](Message m) { held = m; }).ok());
  std::optional<Result<Message>> result;
  spawnRequest(ioc_.get_executor(), "metamanager", makeMessage("req-slow"), 20ms, result);
  ASSERT_TRUE(runUntil(ioc_, [&] { return held.has_value(); }));
  EXPECT_TRUE(bus_.hasPendingRequest("req-slow"));
  ASSERT_TRUE(runUntil(ioc_, [&] { return result.has_value(); }));
  EXPECT_EQ(result->status().code(), StatusCode::DeadlineExceeded);
  EXPECT_EQ(bus_.stats().request_timeouts, 1u);
  EXPECT_FALSE(bus_.hasPendingRequest("req-slow"));

  // The answer arrives after the deadline: refused and counted, nothing resumes.
  EXPECT_EQ(bus_.reply(*held, makeResponse(*held, "late")).code(), StatusCode::NotFound);
  EXPECT_EQ(bus_.stats().late_replies, 1u);
  ioc_.restart();
  ioc_.poll();
  EXPECT_EQ(result->status().code(), StatusCode::DeadlineExceeded);
}

TEST_F(BusTest, RequestViaSeesAnAnswerGivenInsideDeliver) {
  std::optional<Result<Message>> result;
  bool pending_during_deliver = false;
  asio::co_spawn(
      ioc_,
      [&]() -> asio::awaitable<void> {
        auto op = bus_.requestVia(
            makeMessage("req-sync"),
            [&](Message m) {
              pending_during_deliver = bus_.hasPendingRequest(m.header.id);
              return bus_.deliverResponse([&] {
                Message r = makeResponse(m, "inline");
                r.header.parent_id = m.header.id;
                return r;
              }());
            },
            60s);
        result = co_await std::move(op);
      },
      rethrow);
  // Far below the 60 s deadline: the answer given during deliver was not missed.
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return result.has_value(); }, 5s));
  ASSERT_TRUE(result->ok()) << result->status().toString();
  EXPECT_EQ((*result)->content, "inline");
  EXPECT_TRUE(pending_during_deliver);
  EXPECT_FALSE(bus_.hasPendingRequest("req-sync"));
}

TEST_F(BusTest, RequestViaDeliverFailureReturnsItsStatusWithoutLeakingTheWaiter) {
  std::optional<Result<Message>> result;
  asio::co_spawn(
      ioc_,
      [&]() -> asio::awaitable<void> {
        auto op = bus_.requestVia(
            makeMessage("req-fail"), [](Message) { return unavailable("cloud offline"); }, 60s);
        result = co_await std::move(op);
      },
      rethrow);
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return result.has_value(); }, 5s));
  EXPECT_EQ(result->status(), unavailable("cloud offline"));
  EXPECT_FALSE(bus_.hasPendingRequest("req-fail"));
}

TEST_F(BusTest, RequestErrors) {
  subscribeEcho(bus_, newStrand());
  std::optional<Result<Message>> no_id;
  std::optional<Result<Message>> unknown;
  spawnRequest(ioc_.get_executor(), "metamanager", makeMessage(""), 1s, no_id);
  spawnRequest(ioc_.get_executor(), "nosuchmodule", makeMessage("req-x"), 1s, unknown);
  ASSERT_TRUE(runUntil(ioc_, [&] { return no_id.has_value() && unknown.has_value(); }));
  EXPECT_EQ(no_id->status().code(), StatusCode::InvalidArgument);
  EXPECT_EQ(unknown->status().code(), StatusCode::NotFound);
  EXPECT_FALSE(bus_.hasPendingRequest("req-x"));

  EXPECT_EQ(bus_.deliverResponse(makeMessage("orphan")).code(), StatusCode::InvalidArgument);
  Message stray = makeMessage("stray");
  stray.header.parent_id = "nobody";
  EXPECT_EQ(bus_.deliverResponse(stray).code(), StatusCode::NotFound);
  EXPECT_EQ(bus_.stats().late_replies, 1u);
}

TEST_F(BusTest, DuplicatePendingRequestIdIsAlreadyExists) {
  ASSERT_TRUE(bus_.subscribe("metamanager", "meta", newStrand(), [](Message) {}).ok());
  std::optional<Result<Message>> first;
  std::optional<Result<Message>> second;
  spawnRequest(ioc_.get_executor(), "metamanager", makeMessage("dup"), 50ms, first);
  ASSERT_TRUE(runUntil(ioc_, [&] { return bus_.hasPendingRequest("dup"); }));
  spawnRequest(ioc_.get_executor(), "metamanager", makeMessage("dup"), 50ms, second);
  ASSERT_TRUE(runUntil(ioc_, [&] { return first.has_value() && second.has_value(); }));
  EXPECT_EQ(second->status().code(), StatusCode::AlreadyExists);
  EXPECT_EQ(first->status().code(), StatusCode::DeadlineExceeded);
}

TEST_F(BusTest, CancelledRequestRemovesItsWaiter) {
  using namespace asio::experimental::awaitable_operators;
  ASSERT_TRUE(bus_.subscribe("metamanager", "meta", newStrand(), [](Message) {}).ok());
  std::optional<Result<Message>> result;
  bool timer_won = false;
  asio::co_spawn(
      ioc_,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor, 10ms);
        auto op = bus_.request("metamanager", makeMessage("req-c"), 60s);
        auto either = co_await (std::move(op) || timer.async_wait(asio::use_awaitable));
        timer_won = either.index() == 1;
      },
      rethrow);
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return timer_won; }, 5s));
  EXPECT_FALSE(bus_.hasPendingRequest("req-c"));
  EXPECT_EQ(bus_.stats().request_timeouts, 0u);
}

TEST(BusLifetimeTest, DestroyingTheIoContextRemovesPendingWaiters) {
  auto ioc = std::make_unique<asio::io_context>();
  Bus bus(*ioc);
  ASSERT_TRUE(bus.subscribe("metamanager", "meta", asio::make_strand(*ioc), [](Message) {}).ok());
  std::optional<Result<Message>> result;
  asio::co_spawn(
      *ioc,
      [&]() -> asio::awaitable<void> {
        auto op = bus.request("metamanager", makeMessage("req-d"), 60s);
        result = co_await std::move(op);
      },
      rethrow);
  ASSERT_TRUE(runUntil(*ioc, [&] { return bus.hasPendingRequest("req-d"); }));
  bus.unsubscribe("metamanager");  // its mailbox holds a strand of *ioc
  ioc.reset();
  EXPECT_FALSE(bus.hasPendingRequest("req-d"));
  EXPECT_FALSE(result.has_value());
  Message late = makeMessage("late");
  late.header.parent_id = "req-d";
  EXPECT_EQ(bus.deliverResponse(late).code(), StatusCode::NotFound);
}

TEST(BusLifetimeTest, DestroyingTheBusCancelsPendingRequests) {
  asio::io_context ioc;
  auto bus = std::make_unique<Bus>(ioc);
  ASSERT_TRUE(bus->subscribe("metamanager", "meta", asio::make_strand(ioc), [](Message) {}).ok());
  std::optional<Result<Message>> result;
  asio::co_spawn(
      ioc,
      [&, b = bus.get()]() -> asio::awaitable<void> {
        auto op = b->request("metamanager", makeMessage("req-e"), 60s);
        result = co_await std::move(op);
      },
      rethrow);
  ASSERT_TRUE(runUntil(ioc, [&] { return bus->hasPendingRequest("req-e"); }));
  bus.reset();
  ASSERT_TRUE(runUntil(
      ioc, [&] { return result.has_value(); }, 5s));
  EXPECT_EQ(result->status().code(), StatusCode::Cancelled);
}

// 1M messages from two sender threads fan out over four modules whose strands share one
// io_context run by two threads. Senders retry on Unavailable (back-pressure); every message must
// arrive exactly once and each sender's order must hold at every module.
TEST(BusStressTest, MillionMessagesFourModulesTwoIoThreadsNoLoss) {
#ifdef EDGECORE_SANITIZED
  constexpr int64_t kTotal = 100'000;
#else
  constexpr int64_t kTotal = 1'000'000;
#endif
  constexpr int kSenders = 2;
  constexpr int kModules = 4;
  constexpr int64_t kPerSender = kTotal / kSenders;
  const std::array<std::string, kModules> names = {"websocket", "metamanager", "edged", "twin"};

  asio::io_context ioc;
  Bus bus(ioc);
  // seen[s][i]: how often sender s's message i arrived. Each index is written by one strand.
  std::array<std::vector<uint8_t>, kSenders> seen;
  for (auto& v : seen) {
    v.assign(kPerSender, 0);
  }
  struct ModuleState {
    std::array<int64_t, kSenders> last;
    int64_t out_of_order = 0;
  };
  std::array<ModuleState, kModules> state;
  std::atomic<int64_t> received{0};
  for (int m = 0; m < kModules; ++m) {
    state[m].last.fill(-1);
    ASSERT_TRUE(bus.subscribe(names[m], "stress", asio::make_strand(ioc),
                              [&, m](Message msg) {
                                int s = msg.route.source[0] - '0';
                                int64_t i = msg.header.timestamp_ms;
                                if (i <= state[m].last[s]) {
                                  ++state[m].out_of_order;
                                }
                                state[m].last[s] = i;
                                ++seen[s][i];
                                received.fetch_add(1, std::memory_order_release);
                              })
                    .ok());
  }

  auto guard = asio::make_work_guard(ioc);
  std::thread io_thread([&] { ioc.run(); });
  std::atomic<int64_t> retries{0};
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      const std::string source = std::to_string(s);
      for (int64_t i = 0; i < kPerSender; ++i) {
        const std::string& target = names[i % kModules];
        while (true) {
          Message msg;
          msg.route.source = source;
          msg.header.timestamp_ms = i;
          Status st = bus.send(target, std::move(msg));
          if (st.ok()) {
            break;
          }
          if (st.code() != StatusCode::Unavailable) {
            ADD_FAILURE() << st.toString();
            return;
          }
          retries.fetch_add(1, std::memory_order_relaxed);
          std::this_thread::yield();
        }
      }
    });
  }
  // The test thread is the second I/O thread.
  bool done = runUntil(
      ioc, [&] { return received.load(std::memory_order_acquire) == kTotal; }, 120s);
  for (auto& t : senders) {
    t.join();
  }
  guard.reset();
  ioc.stop();
  io_thread.join();
  ASSERT_TRUE(done) << "received " << received.load();

  for (int s = 0; s < kSenders; ++s) {
    for (int64_t i = 0; i < kPerSender; ++i) {
      ASSERT_EQ(seen[s][i], 1) << "sender " << s << " message " << i;
    }
  }
  for (int m = 0; m < kModules; ++m) {
    EXPECT_EQ(state[m].out_of_order, 0) << names[m];
  }
  BusStats stats = bus.stats();
  EXPECT_EQ(stats.delivered, static_cast<uint64_t>(kTotal));
  EXPECT_EQ(stats.rejected_full, static_cast<uint64_t>(retries.load()));
  std::printf("[ stress   ] %lld messages, %lld back-pressure retries\n",
              static_cast<long long>(kTotal), static_cast<long long>(retries.load()));
}

}  // namespace
}  // namespace edgecore::core
