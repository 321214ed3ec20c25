#include "auth/token_cache.h"

#include <openssl/sha.h>

namespace edgecore::metaserver::auth {

namespace {

std::string digest(std::string_view token) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), d);
  return std::string(reinterpret_cast<char*>(d), sizeof d);
}

}  // namespace

std::optional<UserInfo> TokenCache::find(std::string_view token, TimePoint now) {
  std::string key = digest(token);
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (now >= it->second.valid_until) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.user;
}

void TokenCache::add(std::string_view token, UserInfo user, TimePoint now,
                     std::optional<TimePoint> token_expiry) {
  TimePoint until = now + kTtl;
  if (token_expiry && *token_expiry < until) until = *token_expiry;
  if (until <= now) return;
  std::string key = digest(token);
  std::lock_guard lock(mu_);
  if (entries_.size() >= kMaxEntries) {
    // Drop the expired ones; if that frees nothing, start over (a flood of distinct valid
    // tokens only costs their re-verification).
    std::erase_if(entries_, [now](const auto& e) { return now >= e.second.valid_until; });
    if (entries_.size() >= kMaxEntries) entries_.clear();
  }
  entries_[std::move(key)] = Entry{std::move(user), until};
}

}  // namespace edgecore::metaserver::auth
