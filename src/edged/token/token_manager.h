#pragma once

// edged's ServiceAccount token manager (the kubelet's pkg/kubelet/token Manager, on the edge):
// gets the tokens of a pod's projected serviceAccountToken sources through metamanager (a
// `query <ns>/serviceaccounttoken/<sa>` carrying the TokenRequest: to the cloud while connected,
// from metamanager's cache while offline, valid tokens only), keeps them in memory and says
// when the pod must be synced again to refresh them.
//
// Refresh (serviceaccount.go requiresRefresh @ v1.20.0): a token is refreshed once 80 % of its
// lifetime has passed (issue time = status.expirationTimestamp - spec.expirationSeconds of the
// answer) or 24 h after issue, whichever comes first. A failed refresh is retried with a
// back-off (1 s doubling to 30 s) and logged; the current token is kept while it is valid, so a
// valid token file is never replaced by nothing. An expired token is never handed out.
//
// Threading: one strand (edged's). fetch() awaits bus requests; nothing here blocks.

#include <spdlog/logger.h>

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "edgecore/core/bus.h"
#include "edgecore/core/status.h"
#include "edgecore/core/time.h"
#include "podplan/sa_token.h"

namespace edgecore::edged {

// A token answer read: the token and its lifetime.
struct IssuedToken {
  std::string token;
  core::WallTime expiry{};
  core::WallTime refresh_at{};  // 80 % of the lifetime or issue + 24 h
};

// Reads metamanager's answer to a serviceaccounttoken query: the cloud's TokenRequest (also
// wrapped as {"Object","Err"}), or the cached row (a JSON array of one text). `received` is the
// receipt time (the issue time when the answer does not allow computing it). Errors carry the
// reason (the cloud's Status message, metamanager's error text).
core::Result<IssuedToken> readTokenAnswer(const nlohmann::json& content, bool is_error,
                                          core::WallTime received);

struct TokenFetch {
  // By TokenSourceRef::key(): the token or why there is none.
  std::map<std::string, core::Result<std::string>> tokens;
  // When the pod should sync again for a refresh or a retry; nullopt: no token source.
  std::optional<std::chrono::steady_clock::time_point> next_refresh;
};

class ServiceAccountTokenManager {
 public:
  ServiceAccountTokenManager(core::Bus& bus, std::shared_ptr<spdlog::logger> log,
                             std::chrono::milliseconds request_timeout);

  // The tokens of every projected serviceAccountToken source of `pod`. Strand only.
  boost::asio::awaitable<TokenFetch> fetch(nlohmann::json pod);
  // Drops what is kept for a pod that is gone. Strand only.
  void forgetPod(const std::string& uid);

 private:
  struct Entry {
    std::optional<IssuedToken> current;
    int failures = 0;
    std::chrono::steady_clock::time_point next_try{};
    std::string last_error;
  };
  boost::asio::awaitable<core::Result<IssuedToken>> request(const nlohmann::json& pod,
                                                            const TokenSourceRef& ref);

  core::Bus& bus_;
  std::shared_ptr<spdlog::logger> log_;
  std::chrono::milliseconds timeout_;
  std::map<std::string, std::map<std::string, Entry>> by_pod_;  // uid -> ref key -> entry
};

}  // namespace edgecore::edged
