// The metamanager module's remote calls (process.go processRemote @ v1.20.0): queries and
// requests metamanager cannot answer from the cache go to the cloud through edgehub; the answer
// is cached (when it is an object) and delivered to everyone who asked. Volume calls go to
// edged. Part of Processor (meta_manager.h); runs on the module strand.

#include <boost/asio/co_spawn.hpp>
#include <exception>
#include <optional>

#include "edgecore/core/async/spawn.h"
#include "meta_manager.h"

// g++ 12 reports asio's awaitable frame operator delete as mismatched when a coroutine frame is
// inlined into its caller (a false positive, GCC bug 109224); this file's coroutines hit it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace edgecore::metamanager {

namespace asio = boost::asio;
namespace names = core::names;
namespace op = core::op;
using core::Message;
using core::Status;
using nlohmann::json;

void Processor::startRemote(Message msg, MetaResource res, bool is_query) {
  if (is_query && msg.content.is_null()) {
    auto [it, first] = queries_in_flight_.try_emplace(msg.route.resource);
    it->second.push_back(msg);
    if (!first) {
      return;  // answered with the query already on its way
    }
  }
  auto coro = remoteCall(shared_from_this(), std::move(msg), std::move(res), is_query);
  core::spawnLogged(strand_, std::move(coro), log_, "metamanager remote call");
}

asio::awaitable<void> Processor::remoteCall(std::shared_ptr<Processor> self, Message original,
                                            MetaResource res, bool is_query) {
  Message req = original;
  req.header.id = core::newUuidV4();
  req.header.sync = false;
  auto pending = self->bus_.request(self->settings_.send_module, std::move(req),
                                    self->settings_.remote_timeout);
  Result<Message> answer = co_await std::move(pending);
  std::vector<Message> waiting;
  if (auto it = self->queries_in_flight_.find(original.route.resource);
      is_query && original.content.is_null() && it != self->queries_in_flight_.end()) {
    waiting = std::move(it->second);
    self->queries_in_flight_.erase(it);
  } else {
    waiting.push_back(std::move(original));
  }
  if (!answer.ok()) {
    bool timeout = answer.status().code() == core::StatusCode::DeadlineExceeded;
    self->count(timeout ? Counter::RemoteTimeout : Counter::RemoteError);
    self->log_->warn("remote call failed msg_id={} resource={} waiting={} err=\"{}\"",
                     waiting.front().header.id, waiting.front().route.resource, waiting.size(),
                     answer.status().message());
    for (auto& w : waiting) {
      if (is_query) {
        // Offline path: whatever the cache holds is the best answer we have.
        self->localQuery(std::move(w), res);
      } else {
        self->feedbackError(w, "failed to process remote: " + answer.status().message());
      }
    }
    co_return;
  }
  self->count(Counter::RemoteOk);
  self->finishRemote(std::move(waiting), std::move(*answer), res);
}

void Processor::finishRemote(std::vector<Message> originals, Message resp,
                             const MetaResource& res) {
  const Message& original = originals.front();
  const json& content = resp.content;
  // What to cache, if anything: failures and a bare "OK" pass through uncached.
  std::optional<json> cache;
  if (content.is_string()) {
    // "OK" is a plain acknowledgement; any other string is an error text (spec cloud-protocol
    // 4.9) except the CA certificate, which is PEM text.
    if (res.type == "k8s/ca.crt") {
      cache = content;
    }
  } else if (content.is_object() && content.contains("Object") && content.contains("Err")) {
    if (content["Err"].is_null()) {
      cache = content["Object"];
    }
  } else if (!isErrorStatusContent(content)) {
    cache = content;
  }
  auto self = shared_from_this();
  auto deliver = [self, originals, resp]() mutable {
    for (const auto& o : originals) {
      self->replyTo(o, resp);
    }
    // The cloud tracks its answers to our queries as reliable messages (spec cloud-protocol 9
    // item 2): ACK them, error answers included.
    self->ackCloud(resp);
  };
  if (!cache) {
    deliver();
    return;
  }
  auto to_store = std::make_shared<Message>();
  to_store->header = resp.header;
  to_store->route = resp.route;
  to_store->route.operation = std::string(op::kInsert);
  to_store->route.resource = original.route.resource;
  to_store->content = std::move(*cache);
  std::vector<WriteOp> ops{upsertMeta(res, to_store->contentData())};
  write(std::move(ops), to_store, [self, originals, deliver](Status st) mutable {
    if (!st.ok()) {
      for (const auto& o : originals) {
        self->feedbackError(o, "insert or update meta failed, " + st.message());
      }
      return;
    }
    deliver();
  });
}

asio::awaitable<void> Processor::volumeCall(std::shared_ptr<Processor> self, Message msg) {
  Message req = msg;
  auto pending =
      self->bus_.request(names::kEdgedModule, std::move(req), self->settings_.volume_timeout);
  Result<Message> back = co_await std::move(pending);
  json content = nullptr;
  if (back.ok()) {
    content = std::move(back->content);
  } else {
    self->log_->warn("volume call to edged failed msg_id={} resource={} err=\"{}\"", msg.header.id,
                     msg.route.resource, back.status().message());
  }
  self->sendToCloud(msg.makeResponse(std::move(content)));
}

}  // namespace edgecore::metamanager
