// edgehub's traffic: cloud messages routed to modules (downstream) and module messages queued
// for the cloud (upstream: the priority lane, the token bucket, the durable outbox), and the
// order in which the session's writer sends them.

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "edgecore/core/async/offload.h"
#include "hub.h"

namespace edgecore::edgehub {

namespace {

constexpr size_t kOutboxBatch = 32;

}  // namespace

// Runs `f` on the blocking worker (ordered with every other outbox call) and resumes on our
// strand.
template <typename F>
asio::awaitable<std::invoke_result_t<F&>> Hub::onBlocking(F f) {
  return core::offloadVia([worker = blocking_](auto job) { worker->post(std::move(job)); },
                          std::move(f));
}

// ---- the session's handler ----

asio::awaitable<void> Session::onMessage(std::string payload, bool binary) {
  hub->bump([](EdgeHubStats& st) { ++st.frames_in; });
  Inbound in = acceptInbound(payload, binary);
  const size_t total = payload.size();
  switch (in.verdict) {
    case InboundVerdict::Dispatch:
      hub->dispatch(std::move(in.msg), std::move(in.route));
      break;
    case InboundVerdict::Binary:
      hub->bump([](EdgeHubStats& st) { ++st.binary_frames; });
      hub->warnLimited("binary", fmt::format("binary frame from cloud dropped bytes={}", total));
      break;
    case InboundVerdict::Malformed:
      hub->bump([](EdgeHubStats& st) { ++st.malformed_frames; });
      hub->warnLimited(
          "malformed",
          fmt::format("malformed frame from cloud dropped bytes={} err={}", total, in.error));
      break;
    case InboundVerdict::Oversized:
      onOversized(total);
      break;
  }
  co_return;
}

void Session::onOversized(uint64_t bytes) {
  hub->bump([](EdgeHubStats& st) { ++st.oversized_frames; });
  hub->warnLimited("oversized", fmt::format("cloud frame too large, dropped bytes={} limit={}",
                                            bytes, kMaxFrameBytes));
}

asio::awaitable<net::WsPull> Session::pull() { return hub->pullFor(*this); }

asio::awaitable<void> Session::onWritten(boost::system::error_code ec, bool /*control*/) {
  return hub->afterWrite(*this, ec);
}

void Session::onHeartbeat() {
  hub->prio_.push_back(Message::create(core::names::kEdgeHubModule, core::names::kResourceGroup,
                                       core::op::kKeepalive, "node", "ping"));
  hub->wakeWriter();
}

void Session::onDeadLink() {
  hub->bump([](EdgeHubStats& st) { ++st.dead_links; });
}

// ---- downstream ----

void Hub::dispatch(Message msg, DownstreamRoute route) {
  log_->debug("cloud message msg_id={} op={} resource={} group={}", msg.header.id,
              msg.route.operation, msg.route.resource, msg.route.group);
  Status st;
  switch (route.action) {
    case DownstreamAction::ControlAck:
      prio_.push_back(msg.makeResponse("ack"));
      wakeWriter();
      return;
    case DownstreamAction::BroadcastGroup:
      st = bus_.broadcast(route.target, std::move(msg));
      break;
    case DownstreamAction::SendModule:
      st = bus_.send(route.target, std::move(msg));
      break;
    case DownstreamAction::DeliverResponse: {
      std::string parent = msg.header.parent_id;
      st = bus_.deliverResponse(std::move(msg));
      if (st.code() == core::StatusCode::NotFound) {
        // Answers to fire-and-forget upstream messages (podpatch ObjectResp, "OK") land here;
        // upstream drops them the same way.
        log_->debug("cloud response with nobody waiting parent_msg_id={}", parent);
        return;
      }
      break;
    }
    case DownstreamAction::Drop:
      st = core::notFound(route.target);
      break;
  }
  if (!st.ok()) {
    bump([](EdgeHubStats& s) { ++s.dropped_downstream; });
    warnLimited("drop:" + route.target,
                fmt::format("cloud message dropped target={} err={}", route.target, st.message()));
  }
}

// ---- upstream ----

void Hub::onUpstream(Message m) {
  const bool sync = m.header.sync;
  m.header.sync = false;  // never on the wire (spec 1.1)
  if (bypassesLimiter(m)) {
    if (prio_.size() >= options_.memory_queue_limit) {
      bump([](EdgeHubStats& s) { ++s.dropped_upstream; });
      warnLimited("prio-full", "upstream reply dropped: queue full");
      return;
    }
    prio_.push_back(std::move(m));
    wakeWriter();
    return;
  }
  if (!online_ && sync) {
    // Fail fast instead of letting the caller wait for its timeout (metamanager then answers
    // from its cache, as upstream's does when disconnected).
    Message err = m.makeError("connection lost between EdgeCore and CloudCore");
    err.route.source = std::string(core::names::kEdgeHubModule);
    err.route.group = m.route.group;
    (void)bus_.reply(m, std::move(err));
    return;
  }
  Durability d = classifyUpstream(m);
  if (d.durable && outbox_ && (!online_ || outboxBusy())) {
    appendToOutbox(std::move(m), d.coalesce_key);
    return;
  }
  if (normal_.size() >= options_.memory_queue_limit) {
    bump([](EdgeHubStats& s) { ++s.dropped_upstream; });
    warnLimited("normal-full",
                fmt::format("upstream message dropped: queue full resource={}", m.route.resource));
    return;
  }
  normal_.push_back({std::move(m), std::move(d)});
  wakeWriter();
}

bool Hub::outboxBusy() const {
  return outbox_appends_in_flight_ > 0 || (outbox_ && outbox_->counters().depth > 0);
}

void Hub::appendToOutbox(Message m, std::optional<std::string> key) {
  if (!outbox_) {
    bump([](EdgeHubStats& s) { ++s.dropped_upstream; });
    return;
  }
  ++outbox_appends_in_flight_;
  blocking_->post([self = shared_from_this(), m = std::move(m), key = std::move(key)] {
    Status st = self->outbox_->append(m, key);
    asio::post(self->strand_, [self, st, resource = m.route.resource] {
      --self->outbox_appends_in_flight_;
      if (!st.ok()) {
        self->bump([](EdgeHubStats& s) { ++s.dropped_upstream; });
        self->warnLimited("outbox-append",
                          fmt::format("outbox append failed, message lost resource={} err={}",
                                      resource, st.message()));
      }
      self->wakeWriter();
    });
  });
}

void Hub::wakeWriter() {
  if (session_) {
    session_->ws->wake();
  }
}

// Order of service: the priority lane (keepalives, replies); then fresh upstream messages;
// then outbox rows, oldest first. A durable message only reaches normal_ when the outbox was
// empty, and later durable ones go to the outbox behind it, so each object's statuses stay
// in order while fresh requests (leases, queries with timeouts) never wait behind a backlog.
asio::awaitable<net::WsPull> Hub::pullFor(Session& s) {
  auto self = shared_from_this();
  net::WsPull next;
  s.writing_seq.reset();
  s.writing_durability.reset();
  while (true) {
    if (!prio_.empty()) {
      s.writing = std::move(prio_.front());
      prio_.pop_front();
    } else if (!normal_.empty() || !s.batch.empty()) {
      auto wait = bucket_.tryTake(std::chrono::steady_clock::now());
      if (wait.count() > 0) {
        next.idle = wait;
        co_return next;
      }
      if (!normal_.empty()) {
        s.writing = std::move(normal_.front().msg);
        s.writing_durability = std::move(normal_.front().durability);
        normal_.pop_front();
      } else {
        s.writing_seq = s.batch.front().seq;
        s.writing = std::move(s.batch.front().message);
        s.batch.pop_front();
      }
    } else if (outbox_ && outbox_appends_in_flight_ == 0 && outbox_->counters().depth > 0) {
      auto box = outbox_;
      auto peek_op = onBlocking([box] { return box->peek(kOutboxBatch); });
      auto rows = co_await std::move(peek_op);
      if (!rows.ok()) {
        warnLimited("outbox-peek", "outbox read failed err=" + rows.status().message());
        next.idle = std::chrono::seconds(1);
        co_return next;
      }
      for (auto& r : *rows) {
        s.batch.push_back(std::move(r));
      }
      continue;
    } else {
      // Woken by a new message, a finished outbox append, a keepalive, or the session end.
      next.idle = std::chrono::hours(24);
      co_return next;
    }
    break;
  }
  std::string frame = core::encodeMessage(s.writing);
  frame.push_back('\n');  // as Go's json.Encoder writes it (spec 9 item 11)
  next.message = std::move(frame);
  co_return next;
}

asio::awaitable<void> Hub::afterWrite(Session& s, boost::system::error_code ec) {
  auto self = shared_from_this();
  const Message& msg = s.writing;
  if (ec) {
    if (s.writing_durability && s.writing_durability->durable && outbox_) {
      appendToOutbox(std::move(s.writing), s.writing_durability->coalesce_key);
    } else if (!s.writing_seq) {
      bump([](EdgeHubStats& st) { ++st.dropped_upstream; });
    }
    co_return;
  }
  const bool keepalive = msg.route.operation == core::op::kKeepalive;
  bump([keepalive](EdgeHubStats& st) {
    ++st.frames_out;
    if (keepalive) {
      ++st.keepalives;
    }
  });
  log_->debug("sent to cloud msg_id={} op={} resource={}", msg.header.id, msg.route.operation,
              msg.route.resource);
  if (s.writing_seq) {
    auto box = outbox_;
    int64_t seq = *s.writing_seq;
    auto remove_op = onBlocking([box, seq] { return box->remove(seq); });
    Status st = co_await std::move(remove_op);
    if (!st.ok()) {
      warnLimited("outbox-remove",
                  "outbox delete failed (row may be sent again) err=" + st.message());
    }
  }
}

// Durable messages still waiting in memory go to disk when the session ends, so a restart keeps
// them too.
void Hub::spillDurable() {
  for (auto it = normal_.begin(); it != normal_.end();) {
    if (it->durability.durable) {
      appendToOutbox(std::move(it->msg), it->durability.coalesce_key);
      it = normal_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace edgecore::edgehub
