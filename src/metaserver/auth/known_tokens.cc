#include "auth/known_tokens.h"

#include <openssl/sha.h>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

namespace edgecore::metaserver::auth {

namespace {

std::string sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof digest);
}

}  // namespace

KnownTokens::KnownTokens(metamanager::MetaStore& store, boost::asio::thread_pool& blocking)
    : store_(store), blocking_(blocking) {}

std::set<std::string> KnownTokens::digestsOf(const std::vector<std::string>& rows) {
  std::set<std::string> out;
  for (const auto& row : rows) {
    auto doc = nlohmann::json::parse(row, nullptr, false);
    if (!doc.is_object()) continue;
    auto status = doc.find("status");
    if (status == doc.end() || !status->is_object()) continue;
    auto token = status->find("token");
    if (token != status->end() && token->is_string() &&
        !token->get_ref<const std::string&>().empty()) {
      out.insert(sha256(token->get_ref<const std::string&>()));
    }
  }
  return out;
}

bool KnownTokens::contains(std::string_view token) {
  std::string digest = sha256(token);
  {
    std::lock_guard lock(mu_);
    if (digests_.count(digest) != 0) return true;
  }
  requestRefresh();
  return false;
}

void KnownTokens::refreshNow() {
  auto rows = store_.listMetaByType("serviceaccounttoken");
  if (!rows.ok()) return;  // keep the previous set; the next refresh retries
  auto digests = digestsOf(*rows);
  std::lock_guard lock(mu_);
  digests_ = std::move(digests);
}

void KnownTokens::requestRefresh() {
  {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (in_flight_ || now - last_request_ < std::chrono::seconds(1)) return;
    in_flight_ = true;
    last_request_ = now;
  }
  boost::asio::post(blocking_, [self = shared_from_this()] {
    self->refreshNow();
    std::lock_guard lock(self->mu_);
    self->in_flight_ = false;
  });
}

}  // namespace edgecore::metaserver::auth
