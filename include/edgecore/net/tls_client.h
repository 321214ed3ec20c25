#pragma once

// Dialling the cloud over TLS, shared by edgehub (the websocket tunnel and the certificate
// service) and edgestream (the stream tunnel), so both parse addresses, trust the CA, verify the
// server and back off the same way:
//  - Endpoint: host:port from edgecore.yaml, parsed once;
//  - makeClientTlsContext / setTlsPeer: TLS 1.2 or newer, only the configured CA trusted, the
//    client certificate presented, SNI for DNS names, the server's name checked when asked;
//  - dialTls: resolve, TCP connect and TLS handshake under one deadline;
//  - Backoff: capped, jittered exponential reconnect delays (STYLE 3).
// Everything here is called on the dialling coroutine's strand; nothing keeps global state.

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::net {

struct Endpoint {
  std::string host;       // without brackets: "::1", "10.0.0.1", "cloud.example"
  std::string port;       // "10000"
  bool is_ip = false;     // an IPv4/IPv6 literal: verified against IP SANs, no SNI
  std::string authority;  // for the Host header: "[::1]:10000"
};

// "10.0.0.1:10000", "cloud.example:10000", "[::1]:10000", optionally behind a scheme
// ("https://", "wss://") and with a trailing path (ignored). InvalidArgument when the host or the
// port is missing, the port is not a number in 1..65535, or an IPv6 address lacks brackets.
core::Result<Endpoint> parseEndpoint(std::string_view text);

struct ClientTlsConfig {
  bool verify_peer = true;  // false only for edgehub's bootstrap GET /ca.crt (spec 3.2 step 1)
  std::string ca_pem;       // trusted roots when verify_peer
  std::string cert_pem;     // client certificate; empty: none presented
  std::string key_pem;
  // The server's leaf must be fit for a TLS server (purpose sslserver): an edge node's
  // clientAuth-only certificate from the same CA cannot pose as CloudCore.
  bool require_server_purpose = false;
  // Refuse a certificate and key that do not belong together (InvalidArgument) instead of
  // failing later in the handshake.
  bool check_key_matches = false;
};

// InvalidArgument when the CA holds no PEM certificate or the client certificate/key is unusable.
core::Result<std::shared_ptr<boost::asio::ssl::context>> makeClientTlsContext(
    const ClientTlsConfig& config);

// Per connection: SNI for DNS names and, with `verify_name`, the identity the peer certificate
// must carry (IP SAN for an IP literal, DNS SAN otherwise). Internal on an OpenSSL failure.
core::Status setTlsPeer(SSL* ssl, const Endpoint& ep, bool verify_name);

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// Resolves `ep`, connects and runs the client TLS handshake on `stream` (its context and
// setTlsPeer already applied). `timeout` covers connect and handshake; the deadline is left
// running so that the caller's next step (an upgrade, a request) shares it: the caller calls
// expires_never() or expires_after() next. `abandoned` (may be empty) is checked after each step:
// true ends the dial as Unavailable even if the step succeeded (the owner is stopping).
// Unavailable for a failed step, DeadlineExceeded when the deadline hit; the message names the
// step and the address ("connect 10.0.0.1:10000: Connection refused").
boost::asio::awaitable<core::Status> dialTls(TlsStream& stream, const Endpoint& ep,
                                             std::chrono::steady_clock::duration timeout,
                                             std::function<bool()> abandoned = {});

// The newest OpenSSL error as text (and the queue cleared).
std::string opensslError();

// Capped exponential backoff, each delay drawn from [base/2, base]. The base starts at `initial`
// and grows by `growth` per attempt up to `cap`; while the delays handed out since reset() sum to
// less than `fast_phase`, the base stays at most `fast_cap` (so a peer back after a short outage
// is found quickly). Pure apart from the random source, which the caller seeds.
struct BackoffShape {
  double growth = 2.0;
  std::chrono::milliseconds fast_phase{0};  // 0: no fast phase
  std::chrono::milliseconds fast_cap{0};
};

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, uint64_t seed,
          BackoffShape shape = {})
      : initial_(std::max(initial, std::chrono::milliseconds(1))),
        cap_(cap),
        shape_(shape),
        rng_(seed) {}

  // The delay before the next attempt.
  std::chrono::milliseconds next() {
    double grown = static_cast<double>(initial_.count());
    for (int i = 0; i < attempt_ && grown < static_cast<double>(cap_.count()); ++i) {
      grown *= shape_.growth;
    }
    auto base = std::min(cap_, std::chrono::milliseconds(static_cast<int64_t>(grown)));
    if (waited_ < shape_.fast_phase) {
      base = std::min(base, shape_.fast_cap);
    }
    ++attempt_;
    std::uniform_int_distribution<int64_t> dist(base.count() / 2, base.count());
    auto delay = std::chrono::milliseconds(dist(rng_));
    waited_ += delay;
    return delay;
  }
  void reset() {
    attempt_ = 0;
    waited_ = std::chrono::milliseconds(0);
  }
  int attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  BackoffShape shape_;
  std::chrono::milliseconds waited_{0};  // sum of the delays handed out since reset()
  std::mt19937_64 rng_;
  int attempt_ = 0;
};

}  // namespace edgecore::net
