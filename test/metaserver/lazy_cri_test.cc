#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "edgecore/cri/cri_client.h"
#include "edgecore/metaserver/local_ops.h"

namespace edgecore::metaserver {
namespace {

TEST(LazyCriClient, MakesTheClientOnceOnFirstUseFromManyThreads) {
  std::atomic<int> made{0};
  auto lazy = std::make_shared<const LazyCriClient>([&made] {
    ++made;
    return cri::CriClient::create({});  // a channel only: nothing connects until a call
  });
  LocalOps ops;
  ops.lazy_cri = lazy;
  EXPECT_EQ(made.load(), 0) << "nothing is made before a request needs it";

  std::vector<std::shared_ptr<cri::CriClient>> got(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&ops, &got, i] {
      std::string error;
      got[i] = criClient(ops, error);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(made.load(), 1);
  for (const auto& c : got) {
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c.get(), got[0].get());
  }
}

TEST(LazyCriClient, ReportsWhyThereIsNoClientEveryTime) {
  LocalOps ops;
  ops.lazy_cri = std::make_shared<const LazyCriClient>([] {
    cri::CriClientOptions options;
    options.runtime_endpoint = "tcp://10.0.0.1:1";  // not a unix socket: refused
    return cri::CriClient::create(options);
  });
  for (int i = 0; i < 2; ++i) {
    std::string error;
    EXPECT_EQ(criClient(ops, error), nullptr);
    EXPECT_NE(error.find("unix://"), std::string::npos) << error;
  }
}

TEST(LazyCriClient, NoClientConfiguredSaysSo) {
  LocalOps ops;
  std::string error;
  EXPECT_EQ(criClient(ops, error), nullptr);
  EXPECT_EQ(error, ops.cri_error);
}

}  // namespace
}  // namespace edgecore::metaserver
