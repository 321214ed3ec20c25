#pragma once

// Successful token authentications remembered for a short time, as kube-apiserver wraps its
// token authenticators in a cache (10 s for successes, failures not cached): a client reusing
// its token skips the signature check and the store lookups. An entry never outlives the
// token's own exp. Keyed by SHA-256 of the token (the token itself is not kept). Thread-safe.

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "auth/user_info.h"

namespace edgecore::metaserver::auth {

class TokenCache {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  static constexpr std::chrono::seconds kTtl{10};
  static constexpr size_t kMaxEntries = 4096;

  // The cached user for `token` if an entry is still valid at `now`.
  std::optional<UserInfo> find(std::string_view token, TimePoint now);
  // Remembers a success until min(now + kTtl, token_expiry).
  void add(std::string_view token, UserInfo user, TimePoint now,
           std::optional<TimePoint> token_expiry);

 private:
  struct Entry {
    UserInfo user;
    TimePoint valid_until;
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace edgecore::metaserver::auth
