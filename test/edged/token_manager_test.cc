// edged's ServiceAccount token manager against a real Bus on a real io_context, with a
// stand-in metamanager that answers the serviceaccounttoken queries as the real one does
// (the cloud's TokenRequest while connected, the cached row or an error text while offline).

#include "token/token_manager.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "core/test_util.h"
#include "edgecore/core/logging.h"
#include "edgecore/core/message.h"

namespace edgecore::edged {
namespace {

namespace asio = boost::asio;
using core::Message;
using nlohmann::json;
using std::chrono::seconds;
using testing::runUntil;

json podWithToken(int64_t expiration_seconds = 3607) {
  json pod = json::parse(R"({"metadata": {"name": "web", "namespace": "demo", "uid": "u-1"},
    "spec": {"serviceAccountName": "builder", "containers": [{"name": "c", "image": "i"}],
      "volumes": [{"name": "kube-api-access-1", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token"}}]}}]}})");
  pod["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] =
      expiration_seconds;
  return pod;
}

json answerFor(const json& request, const std::string& token, seconds lifetime) {
  json tr = request;
  tr["spec"]["expirationSeconds"] = lifetime.count();
  tr["status"] = {
      {"token", token},
      {"expirationTimestamp", core::formatRfc3339(std::chrono::system_clock::now() + lifetime)}};
  return tr;
}

TEST(TokenAnswer, RefreshAtEightyPercentOrAfterADay) {
  const auto now = std::chrono::system_clock::now();
  json tr = {{"spec", {{"expirationSeconds", 3600}}},
             {"status",
              {{"token", "t"}, {"expirationTimestamp", core::formatRfc3339(now + seconds(3600))}}}};
  auto got = readTokenAnswer(tr, false, now);
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_EQ(got->token, "t");
  auto refresh_in = std::chrono::duration_cast<seconds>(got->refresh_at - now).count();
  EXPECT_NEAR(refresh_in, 2880, 2);  // 80 % of an hour
  // A year-long token is refreshed after 24 h.
  tr["spec"]["expirationSeconds"] = 365 * 86400;
  tr["status"]["expirationTimestamp"] = core::formatRfc3339(now + seconds(365 * 86400));
  got = readTokenAnswer(tr, false, now);
  ASSERT_TRUE(got.ok());
  EXPECT_NEAR(std::chrono::duration_cast<seconds>(got->refresh_at - now).count(), 86400, 2);
  // The cached row as metamanager answers offline, issued 50 min ago: past 80 %, so due.
  tr["spec"]["expirationSeconds"] = 3600;
  tr["status"]["expirationTimestamp"] = core::formatRfc3339(now + seconds(600));
  got = readTokenAnswer(json::array({tr.dump()}), false, now);
  ASSERT_TRUE(got.ok());
  EXPECT_LT(got->refresh_at, now);  // past 80 %: due, though still valid for 10 min
  EXPECT_GT(got->expiry, now);
}

TEST(TokenAnswer, FailuresSayWhy) {
  const auto now = std::chrono::system_clock::now();
  auto err = readTokenAnswer(json("service account token for demo/serviceaccounttoken/builder "
                                  "expired at 2026-12-07T10:00:00Z and the cloud is unreachable"),
                             true, now);
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.status().message().find("expired at 2026-12-07T10:00:00Z"), std::string::npos);
  err = readTokenAnswer(json{{"ErrStatus", {{"message", "serviceaccounts \"x\" not found"}}}},
                        false, now);
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.status().message().find("serviceaccounts \"x\" not found"), std::string::npos);
  EXPECT_FALSE(readTokenAnswer(json{{"Object", nullptr}, {"Err", {{"m", 1}}}}, false, now).ok());
  EXPECT_FALSE(readTokenAnswer(json{{"status", {{"token", ""}}}}, false, now).ok());
  EXPECT_FALSE(readTokenAnswer(json::array(), false, now).ok());
  EXPECT_FALSE(readTokenAnswer(json::array({"not json"}), false, now).ok());
  json huge = {{"status",
                {{"token", std::string(70000, 'a')},
                 {"expirationTimestamp", core::formatRfc3339(now + seconds(60))}}}};
  EXPECT_FALSE(readTokenAnswer(huge, false, now).ok());
}

class TokenManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bus_.subscribe("metamanager", "meta", asio::make_strand(ioc_),
                               [this](Message m) {
                                 requests_.push_back(m);
                                 if (answer_) {
                                   (void)bus_.reply(m, answer_(m));
                                 }
                               })
                    .ok());
    manager_ = std::make_unique<ServiceAccountTokenManager>(bus_, loggers_.make("edged"),
                                                            std::chrono::seconds(5));
  }
  void TearDown() override { bus_.unsubscribe("metamanager"); }

  TokenFetch fetch(const json& pod) {
    std::optional<TokenFetch> out;
    asio::co_spawn(
        strand_, [&]() -> asio::awaitable<void> { out = co_await manager_->fetch(pod); },
        asio::detached);
    EXPECT_TRUE(runUntil(ioc_, [&] { return out.has_value(); }));
    return out ? std::move(*out) : TokenFetch{};
  }

  asio::io_context ioc_;
  core::Bus bus_{ioc_};
  asio::strand<asio::io_context::executor_type> strand_ = asio::make_strand(ioc_);
  core::LoggerFactory loggers_{spdlog::level::warn};
  std::unique_ptr<ServiceAccountTokenManager> manager_;
  std::vector<Message> requests_;
  std::function<Message(const Message&)> answer_;
  std::string key_ = TokenSourceRef{"builder", "", 3607}.key();
};

TEST_F(TokenManagerTest, AsksOnceThenServesFromMemoryUntilDue) {
  answer_ = [](const Message& req) {
    return req.makeResponse(answerFor(req.content, "tok-1", seconds(3607)));
  };
  TokenFetch first = fetch(podWithToken());
  ASSERT_EQ(requests_.size(), 1u);
  const Message& q = requests_[0];
  EXPECT_EQ(q.route.operation, "query");
  EXPECT_EQ(q.route.resource, "demo/serviceaccounttoken/builder");
  EXPECT_EQ(q.route.source, "edged");
  EXPECT_EQ(q.route.group, "meta");
  EXPECT_EQ(q.content["spec"]["boundObjectRef"]["uid"], "u-1");
  EXPECT_EQ(q.content["spec"]["expirationSeconds"], 3607);
  ASSERT_TRUE(first.tokens.at(key_).ok());
  EXPECT_EQ(*first.tokens.at(key_), "tok-1");
  ASSERT_TRUE(first.next_refresh.has_value());
  auto in = *first.next_refresh - std::chrono::steady_clock::now();
  EXPECT_NEAR(std::chrono::duration_cast<seconds>(in).count(), 2885, 3);

  TokenFetch second = fetch(podWithToken());
  EXPECT_EQ(requests_.size(), 1u);  // not due: no new request
  EXPECT_EQ(*second.tokens.at(key_), "tok-1");
}

TEST_F(TokenManagerTest, RefreshesAShortTokenAndKeepsItWhenRefreshFails) {
  int n = 0;
  answer_ = [&](const Message& req) {
    return req.makeResponse(answerFor(req.content, "tok-" + std::to_string(++n), seconds(3)));
  };
  TokenFetch first = fetch(podWithToken());
  EXPECT_EQ(*first.tokens.at(key_), "tok-1");
  ASSERT_TRUE(first.next_refresh);
  // Due at 80 % of 3 s.
  EXPECT_LE(*first.next_refresh,
            std::chrono::steady_clock::now() + std::chrono::milliseconds(2500));
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return std::chrono::steady_clock::now() >= *first.next_refresh; }, seconds(5)));
  // Refresh fails (the cloud is gone and metamanager says so): the still valid token stays.
  answer_ = [](const Message& req) {
    return req.makeError("no cached service account token and the cloud is unreachable");
  };
  TokenFetch second = fetch(podWithToken());
  EXPECT_EQ(requests_.size(), 2u);
  ASSERT_TRUE(second.tokens.at(key_).ok());
  EXPECT_EQ(*second.tokens.at(key_), "tok-1");
  ASSERT_TRUE(second.next_refresh);  // a retry soon, with back-off
  EXPECT_LE(*second.next_refresh, std::chrono::steady_clock::now() + seconds(2));
  // Before the back-off ends nothing is asked.
  fetch(podWithToken());
  EXPECT_EQ(requests_.size(), 2u);
  // Once it expired, it is not handed out: the error says why.
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return std::chrono::steady_clock::now() >= *second.next_refresh; }, seconds(5)));
  auto expired_at = std::chrono::steady_clock::now() + seconds(2);
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return std::chrono::steady_clock::now() >= expired_at; }, seconds(5)));
  TokenFetch third = fetch(podWithToken());
  ASSERT_FALSE(third.tokens.at(key_).ok());
  EXPECT_NE(third.tokens.at(key_).status().message().find("cloud is unreachable"),
            std::string::npos);
  // The cloud is back: the next try gets a new token.
  answer_ = [&](const Message& req) {
    return req.makeResponse(answerFor(req.content, "tok-new", seconds(3600)));
  };
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return std::chrono::steady_clock::now() >= *third.next_refresh; }, seconds(35)));
  TokenFetch fourth = fetch(podWithToken());
  ASSERT_TRUE(fourth.tokens.at(key_).ok());
  EXPECT_EQ(*fourth.tokens.at(key_), "tok-new");
}

TEST_F(TokenManagerTest, PodWithoutTokenSourcesAsksNothing) {
  json pod = podWithToken();
  pod["spec"].erase("volumes");
  TokenFetch f = fetch(pod);
  EXPECT_TRUE(f.tokens.empty());
  EXPECT_FALSE(f.next_refresh);
  EXPECT_TRUE(requests_.empty());
}

}  // namespace
}  // namespace edgecore::edged
