// The metamanager module's ServiceAccount token queries: the cache key KubeEdge uses
// (service_account_token.h), the cloud while connected, and offline the cached token only while it
// is still valid. Part of Processor (meta_manager.h); runs on the module strand.

#include <string>
#include <vector>

#include "edgecore/core/message.h"
#include "edgecore/core/time.h"
#include "meta_manager.h"
#include "service_account_token.h"

namespace edgecore::metamanager {

namespace names = core::names;
using core::Message;
using nlohmann::json;

void Processor::processTokenQuery(Message msg, MetaResource res) {
  Result<std::string> key = serviceAccountTokenKeyOf(msg.route.resource, msg.content);
  if (!key.ok()) {
    count(Counter::Malformed);
    warnLimited(malformed_log_, "serviceaccounttoken query refused", msg, key.status().message());
    feedbackError(msg, "invalid serviceaccounttoken query: " + key.status().message());
    return;
  }
  // Go's parseResource: the key replaces the resource, and there is no id.
  res.key = std::move(*key);
  res.id.clear();
  if (connected_) {
    startRemote(std::move(msg), std::move(res), /*is_query=*/true);
    return;
  }
  localQuery(std::move(msg), res);
}

void Processor::answerTokenFromCache(const Message& msg, const std::vector<std::string>& rows) {
  const std::string& what = msg.route.resource;
  if (rows.empty()) {
    warnLimited(token_refusal_log_, "service account token not served", msg,
                "none cached, cloud unreachable");
    feedbackError(msg,
                  "no cached service account token for " + what + " and the cloud is unreachable");
    return;
  }
  json cached = core::parseJsonBounded(rows.front());
  Result<core::WallTime> expiry = tokenExpiry(cached);
  if (!expiry.ok()) {
    warnLimited(token_refusal_log_, "service account token not served", msg,
                "cached row unusable: " + expiry.status().message());
    feedbackError(msg, "cached service account token for " + what +
                           " is unusable: " + expiry.status().message());
    return;
  }
  if (*expiry <= clock_.wallNow()) {
    // Go would answer from the cache only before 80 % of the lifetime and then fail; we serve
    // until the token itself expires, never after.
    std::string at = core::formatRfc3339(*expiry);
    warnLimited(token_refusal_log_, "service account token not served", msg,
                "cached token expired at " + at + ", cloud unreachable");
    feedbackError(msg, "service account token for " + what + " expired at " + at +
                           " and the cloud is unreachable");
    return;
  }
  log_->debug("service account token served from the cache resource={}", what);
  Message resp = msg.makeResponse(json::array({rows.front()}));
  resp.route.source = std::string(names::kMetaManagerModule);
  replyTo(msg, std::move(resp));
}

}  // namespace edgecore::metamanager
