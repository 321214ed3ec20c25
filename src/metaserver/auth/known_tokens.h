#pragma once

// The tokens this node obtained itself, for requireAuthorization without serviceAccountKeyFiles:
// v1.20 (auth.go, metamanager client CheckTokenExist) then accepts a token only if it equals the
// status.token of a stored serviceaccounttoken answer (the TokenRequests edged sent to the
// cloud). Those rows live in the v1 `meta` table, which is read with blocking SQLite calls, so
// the set is kept in memory (SHA-256 digests, not the tokens), loaded at start and re-read on the
// blocking pool when a token is not found (then that request is refused; the next one, a moment
// later, sees the refreshed set). A token dropped from the store stays in the set until the next
// re-read; it still has to pass exp and the live pod/service account checks.

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metaserver::auth {

class KnownTokens : public std::enable_shared_from_this<KnownTokens> {
 public:
  // `store` and `blocking` must outlive every refresh this schedules.
  KnownTokens(metamanager::MetaStore& store, boost::asio::thread_pool& blocking);

  // Any thread, never blocks; on a miss schedules a refresh (at most one per second).
  bool contains(std::string_view token);
  // Re-reads the stored serviceaccounttoken rows. Blocks (SQLite): the blocking pool only.
  void refreshNow();
  // Schedules refreshNow() on the blocking pool unless one ran within the last second.
  void requestRefresh();

  // The digests of the status.token values in `rows` (serviceaccounttoken row values).
  static std::set<std::string> digestsOf(const std::vector<std::string>& rows);

 private:
  metamanager::MetaStore& store_;
  boost::asio::thread_pool& blocking_;
  std::mutex mu_;
  std::set<std::string> digests_;
  std::chrono::steady_clock::time_point last_request_{};
  bool in_flight_ = false;
};

}  // namespace edgecore::metaserver::auth
