// edged's ServiceAccount token manager (see token_manager.h).

#include "token/token_manager.h"

#include <algorithm>

#include "edgecore/core/message.h"
#include "edgecore/core/resource.h"

namespace edgecore::edged {

namespace asio = boost::asio;
using core::Message;
using core::Result;
using nlohmann::json;

namespace {

constexpr size_t kMaxTokenBytes = 64 * 1024;  // a JWT is a few KiB; bound what we write
constexpr std::chrono::hours kMaxRefreshAge{24};
constexpr std::chrono::seconds kRetryMax{30};
constexpr size_t kMaxErrorText = 300;

const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) {
    return kNull;
  }
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string clip(std::string s) {
  if (s.size() > kMaxErrorText) {
    s.resize(kMaxErrorText);
    s += "...";
  }
  return s;
}

std::chrono::milliseconds retryDelay(int failures) {
  auto d = std::chrono::milliseconds(1000) * (1LL << std::min(failures - 1, 5));
  return std::min<std::chrono::milliseconds>(d, kRetryMax);
}

std::chrono::steady_clock::time_point steadyAt(core::WallTime at, core::WallTime wall_now,
                                               std::chrono::steady_clock::time_point steady_now) {
  auto left = std::chrono::duration_cast<std::chrono::steady_clock::duration>(at - wall_now);
  return steady_now + std::max(left, std::chrono::steady_clock::duration::zero());
}

// The TokenRequest an answer carries, or why it carries none.
Result<json> tokenRequestOf(const json& content, bool is_error) {
  if (is_error || content.is_string()) {
    std::string text = content.is_string() ? content.get<std::string>() : content.dump();
    return core::unavailable(clip(std::move(text)));
  }
  if (content.is_array()) {  // metamanager's cache: the stored row texts
    if (content.empty() || !content[0].is_string()) {
      return core::notFound("no cached token");
    }
    json tr = core::parseJsonBounded(content[0].get_ref<const std::string&>());
    if (!tr.is_object()) {
      return core::internalError("cached token is not a JSON object");
    }
    return tr;
  }
  if (!content.is_object()) {
    return core::internalError("token answer is not a JSON object");
  }
  if (const json& err = member(content, "ErrStatus"); !err.is_null()) {
    std::string message =
        member(err, "message").is_string() ? err["message"].get<std::string>() : err.dump();
    return core::unavailable(clip("the cloud refused the TokenRequest: " + message));
  }
  if (content.contains("Object") && content.contains("Err")) {
    if (!content["Err"].is_null()) {
      return core::unavailable(
          clip("the cloud refused the TokenRequest: " + content["Err"].dump()));
    }
    return content["Object"];
  }
  return content;
}

}  // namespace

Result<IssuedToken> readTokenAnswer(const json& content, bool is_error, core::WallTime received) {
  EC_ASSIGN_OR_RETURN(json tr, tokenRequestOf(content, is_error));
  const json& status = member(tr, "status");
  const json& token = member(status, "token");
  if (!token.is_string() || token.get_ref<const std::string&>().empty()) {
    return core::internalError("TokenRequest answer has no status.token");
  }
  if (token.get_ref<const std::string&>().size() > kMaxTokenBytes) {
    return core::internalError("TokenRequest answer token is over 64 KiB");
  }
  const json& exp = member(status, "expirationTimestamp");
  if (!exp.is_string()) {
    return core::internalError("TokenRequest answer has no status.expirationTimestamp");
  }
  EC_ASSIGN_OR_RETURN(core::WallTime expiry, core::parseRfc3339(exp.get<std::string>()));
  // The kubelet's issue time: expiry - spec.expirationSeconds of the answer (the API server
  // writes the lifetime it granted there); never later than the receipt.
  core::WallTime issued = received;
  const json& seconds = member(member(tr, "spec"), "expirationSeconds");
  if (seconds.is_number_integer() && seconds.get<int64_t>() > 0) {
    issued = std::min(received, expiry - std::chrono::seconds(seconds.get<int64_t>()));
  }
  auto lifetime = std::max(expiry - issued, core::WallTime::duration::zero());
  auto refresh_after = std::min<core::WallTime::duration>(lifetime * 8 / 10, kMaxRefreshAge);
  IssuedToken out;
  out.token = token.get<std::string>();
  out.expiry = expiry;
  out.refresh_at = issued + refresh_after;
  return out;
}

ServiceAccountTokenManager::ServiceAccountTokenManager(core::Bus& bus,
                                                       std::shared_ptr<spdlog::logger> log,
                                                       std::chrono::milliseconds request_timeout)
    : bus_(bus), log_(std::move(log)), timeout_(request_timeout) {}

void ServiceAccountTokenManager::forgetPod(const std::string& uid) { by_pod_.erase(uid); }

asio::awaitable<Result<IssuedToken>> ServiceAccountTokenManager::request(
    const json& pod, const TokenSourceRef& ref) {
  const json& meta = member(pod, "metadata");
  std::string ns =
      member(meta, "namespace").is_string() ? meta["namespace"].get<std::string>() : std::string();
  if (ns.empty()) {
    ns = "default";
  }
  Message m = Message::create(
      core::names::kEdgedModule, core::names::kMetaGroup, core::op::kQuery,
      core::buildResource(ns, core::restype::kServiceAccountToken, ref.service_account),
      tokenRequestFor(pod, ref));
  auto op = bus_.request(core::names::kMetaManagerModule, std::move(m), timeout_);
  Result<Message> resp = co_await std::move(op);
  if (!resp.ok()) {
    co_return core::unavailable("no answer from metamanager: " + resp.status().message());
  }
  co_return readTokenAnswer(resp->content, resp->route.operation == core::op::kError,
                            std::chrono::system_clock::now());
}

asio::awaitable<TokenFetch> ServiceAccountTokenManager::fetch(json pod) {
  TokenFetch out;
  std::vector<TokenSourceRef> refs = projectedTokenSources(pod);
  if (refs.empty()) {
    co_return out;
  }
  const json& meta = member(pod, "metadata");
  const std::string uid = member(meta, "uid").is_string() ? meta["uid"].get<std::string>() : "";
  const std::string who =
      (member(meta, "namespace").is_string() ? meta["namespace"].get<std::string>() + "/"
                                             : std::string()) +
      (member(meta, "name").is_string() ? meta["name"].get<std::string>() : "");
  by_pod_[uid];  // this pod's entries live until forgetPod
  for (const TokenSourceRef& ref : refs) {
    const std::string key = ref.key();
    auto wall = std::chrono::system_clock::now();
    auto steady = std::chrono::steady_clock::now();
    Entry* e = &by_pod_[uid][key];
    const bool valid = e->current && e->current->expiry > wall;
    const bool due = !valid || wall >= e->current->refresh_at;
    if (due && steady >= e->next_try) {
      Result<IssuedToken> got = co_await request(pod, ref);
      auto pod_it = by_pod_.find(uid);
      if (pod_it == by_pod_.end()) {
        co_return TokenFetch{};  // the pod went away meanwhile
      }
      e = &pod_it->second[key];
      wall = std::chrono::system_clock::now();
      steady = std::chrono::steady_clock::now();
      if (got.ok() && got->expiry <= wall) {
        got =
            core::unavailable("the token answered expired at " + core::formatRfc3339(got->expiry));
      }
      if (got.ok()) {
        const bool fresh = got->refresh_at > wall;
        e->current = std::move(*got);
        if (fresh) {
          if (e->failures > 0) {
            log_->info("service account token refreshed again pod={} sa={} after_failures={}", who,
                       ref.service_account, e->failures);
          }
          e->failures = 0;
          e->last_error.clear();
          log_->debug("service account token fetched pod={} sa={} expires={}", who,
                      ref.service_account, core::formatRfc3339(e->current->expiry));
        } else {
          // A valid token that is already due (metamanager's cache while offline): keep it and
          // try again later.
          ++e->failures;
          e->next_try = steady + retryDelay(e->failures);
          log_->debug("service account token due for refresh, cloud copy unavailable pod={} sa={}",
                      who, ref.service_account);
        }
      } else {
        ++e->failures;
        e->last_error = got.status().message();
        e->next_try = steady + retryDelay(e->failures);
        const bool keeping = e->current && e->current->expiry > wall;
        if (e->failures == 1 || e->failures % 10 == 0) {
          log_->warn(
              "service account token fetch failed pod={} sa={} failures={} retry_ms={} "
              "keeping_valid_token={} err=\"{}\"",
              who, ref.service_account, e->failures, retryDelay(e->failures).count(), keeping,
              e->last_error);
        }
      }
    }
    // What this sync gets: a valid token, never an expired one.
    std::chrono::steady_clock::time_point next = e->next_try;
    if (e->current && e->current->expiry > wall) {
      out.tokens.emplace(key, e->current->token);
      if (wall < e->current->refresh_at) {
        next = steadyAt(e->current->refresh_at, wall, steady);
      }
    } else {
      std::string why = e->last_error;
      if (why.empty()) {
        why = e->current ? "the token expired at " + core::formatRfc3339(e->current->expiry)
                         : "no token yet";
      }
      out.tokens.emplace(key, core::unavailable(why));
    }
    next = std::max(next, steady + std::chrono::milliseconds(500));
    out.next_refresh = out.next_refresh ? std::min(*out.next_refresh, next) : next;
  }
  co_return out;
}

}  // namespace edgecore::edged
