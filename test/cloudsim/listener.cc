#include "listener.h"

#include <boost/asio/buffer.hpp>

namespace edgecore::cloudsim {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

void configureServerTls(ssl::context& ctx, const Pki& pki) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx.use_certificate_chain(asio::buffer(pki.server_cert_pem));
  ctx.use_private_key(asio::buffer(pki.server_key_pem), ssl::context::pem);
  ctx.add_certificate_authority(asio::buffer(pki.ca_cert_pem));
}

uint16_t openListener(tcp::acceptor& acceptor, const std::string& host, uint16_t port) {
  tcp::endpoint ep(asio::ip::make_address(host), port);
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen();
  return acceptor.local_endpoint().port();
}

bool waitForChange(std::mutex& mu, std::condition_variable& cv, const uint64_t& generation,
                   const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    uint64_t gen;
    {
      std::lock_guard lock(mu);
      gen = generation;
    }
    if (pred()) {
      return true;
    }
    std::unique_lock lock(mu);
    if (!cv.wait_until(lock, deadline, [&] { return generation != gen; })) {
      lock.unlock();
      return pred();
    }
  }
}

}  // namespace edgecore::cloudsim
