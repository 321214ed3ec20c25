#pragma once

// edgehub's reconnect delays: net::Backoff (capped, jittered in [base/2, base]) shaped so that
// during the first minute of an outage the base stays at most 1.5 s, so a cloud back after a
// short outage (a restart, a flapping link) is found within two seconds; after that it grows x1.5
// per attempt to the cap, so a long outage costs little (STYLE 3: about 1 s -> 30 s).

#include "edgecore/net/tls_client.h"

namespace edgecore::edgehub {

inline constexpr net::BackoffShape kEdgeHubBackoffShape{1.5, std::chrono::milliseconds(60000),
                                                        std::chrono::milliseconds(1500)};

class Backoff : public net::Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, uint64_t seed)
      : net::Backoff(initial, cap, seed, kEdgeHubBackoffShape) {}
};

}  // namespace edgecore::edgehub
