#pragma once

// One accepted connection of the edged server, plain TCP or TLS over it, behind one stream type so
// that Beast's HTTP parser, the log streamer and the exec/attach proxy need no second copy.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <optional>
#include <utility>

namespace edgecore::edged {

class ConnStream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;
  using TlsStream = boost::asio::ssl::stream<boost::beast::tcp_stream>;

  // `tls` null: plain TCP. Otherwise the caller runs tls()->async_handshake(server) first.
  ConnStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* tls) {
    if (tls != nullptr) {
      tls_.emplace(boost::beast::tcp_stream(std::move(socket)), *tls);
    } else {
      plain_.emplace(std::move(socket));
    }
  }

  // The TCP layer: deadlines (expires_after) and closing.
  boost::beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : *plain_; }
  TlsStream* tls() { return tls_ ? &*tls_ : nullptr; }
  executor_type get_executor() {
    return tls_ ? tls_->next_layer().get_executor() : plain_->get_executor();
  }

  // AsyncReadStream / AsyncWriteStream: through TLS when there is TLS.
  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    if (tls_) {
      return tls_->async_read_some(buffers, std::forward<Token>(token));
    }
    return plain_->async_read_some(buffers, std::forward<Token>(token));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    if (tls_) {
      return tls_->async_write_some(buffers, std::forward<Token>(token));
    }
    return plain_->async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  std::optional<boost::beast::tcp_stream> plain_;
  std::optional<TlsStream> tls_;
};

}  // namespace edgecore::edged
