#pragma once

// The metamanager module's machinery (see include/edgecore/metamanager/module.h for the contract).
//
// Threads: every handler and continuation runs on the module strand, so the state below needs no
// lock. Three things leave the strand and come back to it:
//  - store writes: store.submit(); the callback comes on the writer thread after COMMIT and is
//    posted back to the strand, where the ACK and the hand-offs happen (so an ACK is never sent
//    for data that is not durable);
//  - cache reads: an empty store batch first (so a query sees every write submitted before it),
//    then the SQLite read on ctx.blocking, then the answer on the strand;
//  - remote calls: a coroutine on the strand awaiting bus.request to edgehub.
// A Gate stops posting to the strand once stop() ran: the store and the blocking pool may finish
// work after the io_context is gone. Work in flight holds the Processor through shared_ptr.

#include <spdlog/logger.h>

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ack_rules.h"
#include "edgecore/core/bus.h"
#include "edgecore/core/clock.h"
#include "edgecore/core/log_limiter.h"
#include "edgecore/core/message.h"
#include "edgecore/metamanager/meta_store.h"
#include "edgecore/metamanager/module.h"

namespace edgecore::metamanager {

// Counter slots; kept in an array of atomics, copied into MetaManagerCounters on demand.
enum class Counter : size_t {
  Inserts,
  Updates,
  Patches,
  Deletes,
  Queries,
  Responses,
  Connects,
  VolumeOps,
  AcksSent,
  AcksUnsent,
  CloudUnsent,
  WriteFailures,
  RemoteOk,
  RemoteTimeout,
  RemoteError,
  LocalQueries,
  EdgedAbsent,
  TwinAbsent,
  LateReplies,
  Malformed,
  V2Skipped,
  Dropped,
  Count,
};

struct MetaManagerSettings {
  std::string send_module;  // contextSendModule: where messages for the cloud go ("websocket")
  std::chrono::milliseconds remote_timeout{60000};
  std::chrono::milliseconds volume_timeout{60000};
  std::chrono::milliseconds failure_log_interval{10000};
  core::CloudLinkStatus* link_status = nullptr;  // may be null
};

// The v1 `meta` row for `res` (INSERT OR REPLACE key, type, value).
WriteOp upsertMeta(const MetaResource& res, std::string value);

class Processor : public std::enable_shared_from_this<Processor> {
 public:
  Processor(core::Strand strand, core::Bus& bus, std::shared_ptr<spdlog::logger> log,
            core::Clock& clock, boost::asio::thread_pool& blocking, MetaStore& store,
            MetaManagerSettings settings);

  core::Status start();
  void stop();
  MetaManagerCounters counters() const;

 private:
  using Continuation = std::function<void(core::Status)>;
  // A message shared by a write's continuation and the store (which reads the content in
  // submit() without copying it and lets go before the continuation runs).
  using MessagePtr = std::shared_ptr<core::Message>;

  // Entry point: one bus message, on the strand.
  void handle(core::Message msg);

  void processInsert(core::Message msg, const MetaResource& res);
  void processUpdate(core::Message msg, const MetaResource& res);
  void processPatch(core::Message msg, const MetaResource& res);
  // The Node in meta_v2 with a nodepatch applied (nullopt when there is none or the patch is junk).
  std::optional<WriteOp> patchedNode(const MetaResource& res, const std::string& patch);
  std::optional<WriteOp> patchedPod(const MetaResource& res, const std::string& patch);
  void processDelete(core::Message msg, const MetaResource& res);
  void processQuery(core::Message msg, const MetaResource& res);
  void processResponse(core::Message msg, const MetaResource& res);
  void processConnect(const core::Message& msg);
  void localQuery(core::Message msg, const MetaResource& res);
  // A `<ns>/serviceaccounttoken/<sa>` query: cached under the TokenRequest's key
  // (service_account_token.h); from the cloud while connected, else from the cache while the
  // cached token has not expired (our addition: KubeEdge issues #4441, #6414).
  void processTokenQuery(core::Message msg, MetaResource res);
  // The offline answer from the cached row(s) of a token key: the row as Go's local answer
  // (a JSON array of one value text) while it is valid, else an error saying why.
  void answerTokenFromCache(const core::Message& msg, const std::vector<std::string>& rows);
  void startRemote(core::Message msg, MetaResource res, bool is_query);
  static boost::asio::awaitable<void> remoteCall(std::shared_ptr<Processor> self, core::Message msg,
                                                 MetaResource res, bool is_query);
  // Answers every request in `originals` (the first and those coalesced onto it) with `resp`,
  // caching what it carries once and ACKing it to the cloud once.
  void finishRemote(std::vector<core::Message> originals, core::Message resp,
                    const MetaResource& res);
  static boost::asio::awaitable<void> volumeCall(std::shared_ptr<Processor> self,
                                                 core::Message msg);

  // Writes `ops` (plus the meta_v2 ops of `msg`) and runs `then` on the strand once durable or
  // failed. A failure is logged (rate-limited) and counted before `then` runs. When ops[0] is
  // the meta row of msg's object content, its value doubles as the meta_v2 encoding.
  void write(std::vector<WriteOp> ops, const MessagePtr& msg, Continuation then);
  // The message itself when `msg` is its only owner (the usual case once the store let go),
  // else a copy: for the last use of a message in a continuation.
  static core::Message take(const MessagePtr& msg);
  void postToStrand(std::function<void()> fn);
  void count(Counter c) { counters_[static_cast<size_t>(c)].fetch_add(1); }

  // Outbound helpers (strand).
  void sendToCloud(core::Message msg);
  void ackCloud(const core::Message& msg);
  // The second half of ackCloud, for an ACK built before its message was handed on.
  void sendAck(core::Message ack, std::string_view resource);
  void sendToEdged(core::Message msg);
  void sendToTwin(core::Message msg);
  // Answers `original`: bus.reply when it was a request, else a message to edged (Go's
  // sendToEdged).
  void replyTo(const core::Message& original, core::Message resp);
  // Go's feedbackError: an `error` message to the requester (sync or edged) or to the cloud.
  void feedbackError(const core::Message& original, std::string_view text);
  void warnLimited(core::LogLimiter& limiter, std::string_view what, const core::Message& msg,
                   std::string_view err);
  // Our addition (Go only forwards events): an event from edged is also kept in meta_v2, so
  // MetaServer and `keadm ctl describe` show it offline. At most kMaxLocalEvents are kept
  // (the oldest by lastTimestamp go first) and none older than kLocalEventTtl (the API server's
  // default --event-ttl), pruned as new events arrive.
  void keepEventLocally(const core::Message& msg);
  void pruneLocalEvents();

  struct Gate {
    std::mutex mu;
    bool open = true;
  };

  core::Strand strand_;
  core::Bus& bus_;
  std::shared_ptr<spdlog::logger> log_;
  core::Clock& clock_;
  boost::asio::thread_pool& blocking_;
  MetaStore& store_;
  const MetaManagerSettings settings_;
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Counter::Count)> counters_{};

  // Strand-only state.
  bool connected_ = false;  // edgehub's last node/connection event; disconnected until told
  // Plain remote queries in flight, by resource, with the requests waiting on each: a second
  // query of the same object joins the first. CloudHub queues the answers of one object under
  // one key, so of two concurrent answers to one node only the newer is delivered.
  std::map<std::string, std::vector<core::Message>> queries_in_flight_;
  uint64_t events_kept_ = 0;
  core::LogLimiter write_fail_log_;
  core::LogLimiter malformed_log_;
  core::LogLimiter v2_skip_log_;
  core::LogLimiter token_refusal_log_;  // offline token queries refused (edged retries them)
};

}  // namespace edgecore::metamanager
