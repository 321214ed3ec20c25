#include "edgecore/core/host_port.h"

#include <gtest/gtest.h>

namespace edgecore::core {
namespace {

TEST(HostPort, ParsesNamesIpv4AndBracketedIpv6) {
  auto a = parseHostPort("127.0.0.1:10550");
  ASSERT_TRUE(a.ok()) << a.status().toString();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 10550);
  EXPECT_FALSE(a->ipv6);
  EXPECT_EQ(a->authority(), "127.0.0.1:10550");

  auto b = parseHostPort("cloud.example.com:10000");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "cloud.example.com");

  auto c = parseHostPort("[::1]:1883");
  ASSERT_TRUE(c.ok()) << c.status().toString();
  EXPECT_EQ(c->host, "::1");
  EXPECT_TRUE(c->ipv6);
  EXPECT_EQ(c->port, 1883);
  EXPECT_EQ(c->authority(), "[::1]:1883");
}

TEST(HostPort, RejectsWithAReason) {
  for (const char* bad : {"", "localhost", "localhost:", ":80", "host:0", "host:65536", "host:8x",
                          "::1:80", "user@host:80", "host:80/path"}) {
    auto r = parseHostPort(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
    }
  }
}

}  // namespace
}  // namespace edgecore::core
