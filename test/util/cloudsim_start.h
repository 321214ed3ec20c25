#pragma once

// Starting the cloud simulator (test/cloudsim) for a test: a fresh PKI for 127.0.0.1, then the
// simulator with the test's options. Header-only; link cloudsim_lib.

#include <gtest/gtest.h>

#include <memory>

#include "cloudsim/cloudsim.h"
#include "cloudsim/pki.h"

namespace edgecore::testing {

// Fails the test fatally when either step fails; call it as
// ASSERT_NO_FATAL_FAILURE(startCloudSim(options, sim_)) so SetUp stops there too.
inline void startCloudSim(const cloudsim::Options& options,
                          std::unique_ptr<cloudsim::CloudSim>& sim) {
  auto pki = cloudsim::generatePki("127.0.0.1");
  ASSERT_TRUE(pki.ok()) << pki.status().toString();
  auto started = cloudsim::CloudSim::start(*pki, options);
  ASSERT_TRUE(started.ok()) << started.status().toString();
  sim = std::move(started).value();
}

}  // namespace edgecore::testing
