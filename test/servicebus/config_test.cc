// modules.serviceBus as edgecore.yaml gives it: v1.20's keys and defaults, and KubeEdge master's
// TLS keys, which are accepted but never printed (they are in no release).

#include "edgecore/core/config.h"

#include <gtest/gtest.h>

namespace edgecore::servicebus {
namespace {

using namespace std::chrono_literals;

const core::HostInfo kHost{"edge-node", "10.0.0.5"};

TEST(ServiceBusConfig, DefaultsAreUpstreams) {
  auto c = core::parseConfig("", "edgecore.yaml", kHost);
  ASSERT_TRUE(c.ok()) << c.status().toString();
  const auto& s = c->modules.service_bus;
  EXPECT_FALSE(s.enable);
  EXPECT_EQ(s.server, "127.0.0.1");
  EXPECT_EQ(s.port, 9060);
  EXPECT_EQ(s.timeout, 60s);
  EXPECT_EQ(s.tls_cert_file, "");
  EXPECT_EQ(s.tls_private_key_file, "");
}

TEST(ServiceBusConfig, TlsKeysAreReadButNotPrinted) {
  auto c = core::parseConfig(
      "modules:\n  serviceBus:\n    enable: true\n    port: 9161\n    timeout: 5\n"
      "    tlsCertFile: /etc/sb/tls.crt\n    tlsPrivateKeyFile: /etc/sb/tls.key\n",
      "edgecore.yaml", kHost);
  ASSERT_TRUE(c.ok()) << c.status().toString();
  const auto& s = c->modules.service_bus;
  EXPECT_EQ(s.port, 9161);
  EXPECT_EQ(s.timeout, 5s);
  EXPECT_EQ(s.tls_cert_file, "/etc/sb/tls.crt");
  EXPECT_EQ(s.tls_private_key_file, "/etc/sb/tls.key");
  EXPECT_TRUE(c->unknown_keys.empty());
  // The printed serviceBus section (up to the next module) stays v1.23's.
  const std::string yaml = core::defaultConfigYaml(kHost);
  const size_t begin = yaml.find("  serviceBus:\n");
  ASSERT_NE(begin, std::string::npos);
  size_t end = begin + 1;
  while ((end = yaml.find("\n  ", end + 1)) != std::string::npos && yaml[end + 3] == ' ') {
  }
  const std::string section = yaml.substr(begin, end - begin);
  EXPECT_NE(section.find("port: 9060"), std::string::npos) << section;
  EXPECT_EQ(section.find("tls"), std::string::npos) << section;
}

}  // namespace
}  // namespace edgecore::servicebus
