#pragma once

// What cloudsim's servers (CloudHub + certificate server in cloudsim.cc, the CloudStream tunnel
// server in stream_server.cc) set up the same way: a TLS server context holding the PKI's server
// certificate, a listening socket on an ephemeral or given port, and "wait until a predicate holds,
// re-checked on every state change" for the observation API.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "pki.h"

namespace edgecore::cloudsim {

// TLS 1.2 or newer, the server certificate and key of `pki`, its CA trusted for client
// certificates. Cipher list and verify mode are each server's own. Throws (Asio) on bad PEM.
void configureServerTls(boost::asio::ssl::context& ctx, const Pki& pki);

// Opens, binds (SO_REUSEADDR) and listens on host:port (0 = ephemeral); returns the bound port.
// Throws (Asio) when the address cannot be bound.
uint16_t openListener(boost::asio::ip::tcp::acceptor& acceptor, const std::string& host,
                      uint16_t port);

// Waits until pred() holds; pred() is re-checked whenever `generation` (guarded by `mu`, bumped
// with cv.notify_all() on every state change) moves, and once more at the deadline. pred() is
// called without `mu` held. False on timeout.
bool waitForChange(std::mutex& mu, std::condition_variable& cv, const uint64_t& generation,
                   const std::function<bool()>& pred, std::chrono::milliseconds timeout);

}  // namespace edgecore::cloudsim
