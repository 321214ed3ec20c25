// The websocket client session (edgecore/net/ws_session.h): the shared skeleton, Beast's framing
// (edgehub) and the raw RFC 6455 framing (edgestream). The only TU with Beast's websocket.

#include "edgecore/net/ws_session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cstring>
#include <deque>
#include <random>

#include "edgecore/core/async/spawn.h"
#include "edgecore/net/ws_frame.h"

namespace edgecore::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using core::Status;
using error_code = boost::system::error_code;

namespace {

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 64 * 1024;

// ---- Beast's framing (CloudHub) ----

class BeastSession final : public WsSession {
 public:
  BeastSession(asio::any_io_executor ex, WsOptions options)
      : WsSession(ex, std::move(options)), ws_(ex, *options_.tls) {}

  asio::awaitable<Status> connect() override;

 protected:
  TlsStream& tlsStream() override { return ws_.next_layer(); }
  asio::awaitable<void> readLoop(Handler& handler) override;
  asio::awaitable<error_code> write(const std::string& message) override {
    auto [ec, n] = co_await ws_.async_write(asio::buffer(message), kAsTuple);
    (void)n;
    co_return ec;
  }
  asio::awaitable<error_code> ping(std::string_view text) override {
    websocket::ping_data payload(text.data(), text.size());
    auto [ec] = co_await ws_.async_ping(payload, kAsTuple);
    co_return ec;
  }

 private:
  websocket::stream<TlsStream> ws_;
};

asio::awaitable<Status> BeastSession::connect() {
  const auto& server = options_.server;
  {
    auto dial_op =
        dialTls(ws_.next_layer(), server, options_.handshake_timeout, [this] { return closed(); });
    Status dialled = co_await std::move(dial_op);
    if (!dialled.ok()) {
      co_return dialled;
    }
  }
  beast::get_lowest_layer(ws_).expires_never();  // the websocket's own timeouts take over
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = options_.handshake_timeout;
  // Dead links are found by the liveness loop (Beast's own idle pings tick at idle/2 and can
  // take up to 3 x that), so Beast's idle timeout stays off.
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws_.set_option(timeouts);
  std::weak_ptr<WsSession> weak = shared_from_this();
  ws_.control_callback([this, weak](websocket::frame_type, beast::string_view) {
    if (auto locked = weak.lock()) {
      last_rx_ = std::chrono::steady_clock::now();
    }
  });
  ws_.read_message_max(0);  // the reader enforces max_message_bytes itself, keeping the session
  ws_.auto_fragment(false);
  auto headers = options_.headers;
  auto agent = options_.user_agent;
  ws_.set_option(websocket::stream_base::decorator([headers, agent](websocket::request_type& r) {
    for (const auto& [name, value] : headers) {
      r.set(name, value);
    }
    r.set(http::field::user_agent, agent);
  }));
  websocket::response_type res;
  auto [werr] = co_await ws_.async_handshake(res, server.authority, options_.target, kAsTuple);
  if (werr) {
    std::string detail = werr.message();
    if (res.result_int() != 0) {
      detail += " (HTTP " + std::to_string(res.result_int()) + ")";
    }
    co_return core::unavailable("websocket upgrade at " + server.authority + options_.target +
                                ": " + detail);
  }
  ws_.text(true);
  co_return Status{};
}

asio::awaitable<void> BeastSession::readLoop(Handler& handler) {
  const size_t limit = options_.max_message_bytes;
  beast::flat_buffer buf;
  beast::flat_buffer discard;
  while (!closed()) {
    buf.clear();
    bool oversized = false;
    size_t total = 0;
    do {
      beast::flat_buffer& target = oversized ? discard : buf;
      if (oversized) {
        discard.clear();
      }
      auto [ec, n] = co_await ws_.async_read_some(target, kReadChunk, kAsTuple);
      if (ec) {
        endWith("read: " + ec.message());
        co_return;
      }
      sawBytes(handler);
      total += n;
      if (!oversized && buf.size() > limit) {
        oversized = true;
        buf.clear();
        buf.shrink_to_fit();
      }
    } while (!ws_.is_message_done());
    if (oversized) {
      discard.shrink_to_fit();
      handler.onOversized(total);
      continue;
    }
    std::string payload(static_cast<const char*>(buf.data().data()), buf.size());
    if (buf.capacity() > 4 * kReadChunk) {
      buf.shrink_to_fit();  // a large message should not pin its buffer for the session
    }
    auto message_op = handler.onMessage(std::move(payload), ws_.got_binary());
    co_await std::move(message_op);
  }
}

// ---- raw framing (CloudStream) ----

class RawSession final : public WsSession {
 public:
  RawSession(asio::any_io_executor ex, WsOptions options)
      : WsSession(ex, std::move(options)),
        stream_(ex, *options_.tls),
        rng_(std::random_device{}()) {}

  asio::awaitable<Status> connect() override;

 protected:
  TlsStream& tlsStream() override { return stream_; }
  asio::awaitable<void> readLoop(Handler& handler) override;
  asio::awaitable<error_code> write(const std::string& message) override {
    co_return co_await writeControl(encode(WsOpcode::Text, message));
  }
  bool takeControl(std::string& frame) override {
    if (control_.empty()) {
      return false;
    }
    frame = std::move(control_.front());
    control_.pop_front();
    return true;
  }
  asio::awaitable<error_code> writeControl(const std::string& frame) override {
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(frame), kAsTuple);
    (void)n;
    co_return ec;
  }
  // Queued, not written here: the writer sends control frames before the next message.
  asio::awaitable<error_code> ping(std::string_view text) override {
    queueControl(WsOpcode::Ping, text);
    co_return error_code{};
  }

 private:
  // Masked, as a client must. Control frames jump the queue (newest first, as before the
  // session was shared); we never fragment, so they cannot split a message.
  std::string encode(WsOpcode op, std::string_view payload) {
    uint8_t mask[4];
    uint64_t r = rng_();
    std::memcpy(mask, &r, sizeof mask);
    return encodeWsFrame(op, payload, mask);
  }
  void queueControl(WsOpcode op, std::string_view payload) {
    if (closed()) {
      return;
    }
    control_.push_front(encode(op, payload));
    wake();
  }
  asio::awaitable<bool> fill(Handler& handler, size_t n);
  std::string_view unparsed() const {
    auto d = rbuf_.data();
    return {static_cast<const char*>(d.data()), d.size()};
  }
  asio::awaitable<bool> readPayload(Handler& handler, const WsFrameHeader& h, std::string& message,
                                    bool drop);

  TlsStream stream_;
  beast::flat_buffer rbuf_;  // bytes read, not yet parsed (may start with upgrade leftovers)
  std::deque<std::string> control_;
  std::mt19937_64 rng_;
};

asio::awaitable<Status> RawSession::connect() {
  const auto& server = options_.server;
  {
    auto dial_op =
        dialTls(stream_, server, options_.handshake_timeout, [this] { return closed(); });
    Status dialled = co_await std::move(dial_op);
    if (!dialled.ok()) {
      co_return dialled;
    }
  }
  // The upgrade, as gorilla's Dialer sends it plus the caller's headers (spec 6.1).
  std::string key = newWsKey();
  http::request<http::empty_body> req{http::verb::get, options_.target, 11};
  req.set(http::field::host, server.authority);
  req.set(http::field::user_agent, options_.user_agent);
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::sec_websocket_key, key);
  req.set(http::field::sec_websocket_version, "13");
  for (const auto& [name, value] : options_.headers) {
    req.set(name, value);
  }
  auto [werr, wn] = co_await http::async_write(stream_, req, kAsTuple);
  (void)wn;
  http::response_parser<http::empty_body> res;
  res.skip(true);  // a 101 has no body; anything after the head is websocket data
  error_code rderr = werr;
  if (!rderr) {
    auto [e, n] = co_await http::async_read_header(stream_, rbuf_, res, kAsTuple);
    (void)n;
    rderr = e;
  }
  const std::string where = "websocket upgrade at " + server.authority + options_.target;
  if (rderr || closed()) {
    co_return core::unavailable(where + ": " + (rderr ? rderr.message() : std::string("stopped")));
  }
  const auto& head = res.get();
  if (head.result() != http::status::switching_protocols ||
      head[http::field::sec_websocket_accept] != wsAcceptFor(key)) {
    co_return core::unavailable(where + " refused (HTTP " + std::to_string(head.result_int()) +
                                ")");
  }
  beast::get_lowest_layer(stream_).expires_never();
  co_return Status{};
}

// Reads at least `n` unparsed bytes into rbuf_. False when the stream ended.
asio::awaitable<bool> RawSession::fill(Handler& handler, size_t n) {
  while (rbuf_.size() < n) {
    auto space = rbuf_.prepare(std::max<size_t>(kReadChunk, n - rbuf_.size()));
    auto [ec, got] = co_await stream_.async_read_some(space, kAsTuple);
    if (ec) {
      endWith("read: " + ec.message());
      co_return false;
    }
    rbuf_.commit(got);
    sawBytes(handler);
  }
  co_return true;
}

// A data frame's payload in pieces of at most kReadChunk, appended to `message` or dropped.
asio::awaitable<bool> RawSession::readPayload(Handler& handler, const WsFrameHeader& h,
                                              std::string& message, bool drop) {
  uint64_t remaining = h.payload_len;
  uint64_t offset = 0;
  while (remaining > 0) {
    if (rbuf_.size() == 0) {
      auto fill_op = fill(handler, 1);
      if (!co_await std::move(fill_op)) {
        co_return false;
      }
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, rbuf_.size()));
    if (!drop) {
      size_t at = message.size();
      message.append(unparsed().substr(0, take));
      if (h.masked) {
        applyWsMask(message.data() + at, take, h.mask, offset);
      }
    }
    rbuf_.consume(take);
    remaining -= take;
    offset += take;
  }
  co_return true;
}

// Messages of any data opcode (CloudStream uses text frames for binary payloads), at most
// max_message_bytes each: a longer message is read and dropped piecewise, never held whole.
asio::awaitable<void> RawSession::readLoop(Handler& handler) {
  std::string message;
  bool in_message = false;
  bool oversized = false;
  uint64_t message_bytes = 0;
  while (!closed()) {
    WsFrameHeader h;
    WsHeaderStatus hs;
    while ((hs = parseWsHeader(unparsed(), h)) == WsHeaderStatus::NeedMore) {
      auto fill_op = fill(handler, rbuf_.size() + 1);
      if (!co_await std::move(fill_op)) {
        co_return;
      }
    }
    if (hs == WsHeaderStatus::Invalid) {
      endWith("websocket protocol error from the cloud");
      co_return;
    }
    rbuf_.consume(h.header_len);
    if (h.opcode >= 0x8) {  // control
      auto fill_op = fill(handler, h.payload_len);
      if (!co_await std::move(fill_op)) {
        co_return;
      }
      std::string payload(unparsed().substr(0, h.payload_len));
      rbuf_.consume(h.payload_len);
      if (h.masked) {
        applyWsMask(payload.data(), payload.size(), h.mask, 0);
      }
      if (h.opcode == static_cast<uint8_t>(WsOpcode::Ping)) {
        queueControl(WsOpcode::Pong, payload);
      } else if (h.opcode == static_cast<uint8_t>(WsOpcode::Close)) {
        endWith("cloud sent a websocket close");
        co_return;
      }
      continue;  // pong (or an unknown control opcode): fill() noted the bytes
    }
    if (h.opcode != 0 && h.opcode != static_cast<uint8_t>(WsOpcode::Text) &&
        h.opcode != static_cast<uint8_t>(WsOpcode::Binary)) {
      endWith("unknown websocket opcode " + std::to_string(h.opcode));
      co_return;
    }
    if ((h.opcode == 0) != in_message) {
      endWith("websocket fragmentation out of order");
      co_return;
    }
    in_message = true;
    message_bytes += h.payload_len;
    if (!oversized && message_bytes > options_.max_message_bytes) {
      oversized = true;
      message.clear();
      message.shrink_to_fit();
    }
    auto payload_op = readPayload(handler, h, message, oversized);
    if (!co_await std::move(payload_op)) {
      co_return;
    }
    if (!h.fin) {
      continue;
    }
    in_message = false;
    if (oversized) {
      handler.onOversized(message_bytes);
    } else {
      auto message_op = handler.onMessage(std::move(message), false);
      co_await std::move(message_op);
    }
    message = std::string();
    oversized = false;
    message_bytes = 0;
  }
}

}  // namespace

// ---- the skeleton ----

core::Result<WsSessionPtr> WsSession::create(asio::any_io_executor ex, WsOptions options) {
  if (!options.tls) {
    return core::invalidArgument("websocket session without a TLS context");
  }
  const bool verify_name = options.verify_name;
  WsSessionPtr s;
  if (options.framing == WsFraming::Beast) {
    s = std::make_shared<BeastSession>(ex, std::move(options));
  } else {
    s = std::make_shared<RawSession>(ex, std::move(options));
  }
  Status peer = setTlsPeer(s->tlsStream().native_handle(), s->options_.server, verify_name);
  if (!peer.ok()) {
    return peer;
  }
  return s;
}

WsSession::WsSession(asio::any_io_executor ex, WsOptions options)
    : options_(std::move(options)), ex_(ex), wake_(ex), liveness_(ex), heartbeat_(ex) {}

asio::awaitable<error_code> WsSession::writeControl(const std::string&) {
  co_return asio::error::operation_not_supported;
}

void WsSession::endWith(std::string reason) {
  if (end_reason_.empty()) {
    end_reason_ = std::move(reason);
  }
}

void WsSession::sawBytes(Handler& handler) {
  last_rx_ = std::chrono::steady_clock::now();
  if (!served_) {
    served_ = true;
    handler.onFirstByte();
  }
}

void WsSession::close(const std::string& reason) {
  if (closed_) {
    return;
  }
  closed_ = true;
  endWith(reason);
  error_code ec;
  auto& lowest = beast::get_lowest_layer(tlsStream());
  lowest.socket().shutdown(tcp::socket::shutdown_both, ec);
  lowest.close();
  wake_.cancel();
  liveness_.cancel();
  heartbeat_.cancel();
  if (auto h = handler_.lock()) {
    h->onClosed();
  }
}

asio::awaitable<std::string> WsSession::run(std::shared_ptr<Handler> handler, WsLiveness liveness) {
  auto self = shared_from_this();
  handler_ = handler;
  last_rx_ = std::chrono::steady_clock::now();
  asio::co_spawn(ex_, writeLoop(handler), core::logCompletion(options_.log, "websocket writer"));
  if (liveness.heartbeat.count() > 0) {
    asio::co_spawn(ex_, heartbeatLoop(handler, liveness),
                   core::logCompletion(options_.log, "websocket heartbeat"));
  }
  asio::co_spawn(ex_, livenessLoop(handler, liveness),
                 core::logCompletion(options_.log, "websocket liveness"));
  auto read_op = readLoop(*handler);
  co_await std::move(read_op);
  close(end_reason_.empty() ? "read ended" : end_reason_);
  co_return end_reason_;
}

asio::awaitable<void> WsSession::writeLoop(std::shared_ptr<Handler> handler) {
  auto self = shared_from_this();
  while (!closed_) {
    std::string frame;
    const bool control = takeControl(frame);
    if (!control) {
      auto pull_op = handler->pull();
      WsPull next = co_await std::move(pull_op);
      if (!next.message) {
        if (next.idle == std::chrono::steady_clock::duration::max()) {
          wake_.expires_at(std::chrono::steady_clock::time_point::max());
        } else {
          wake_.expires_after(next.idle);
        }
        auto [ec] = co_await wake_.async_wait(kAsTuple);
        (void)ec;
        continue;
      }
      frame = std::move(*next.message);
    }
    auto write_op = control ? writeControl(frame) : write(frame);
    error_code ec = co_await std::move(write_op);
    auto written_op = handler->onWritten(ec, control);
    co_await std::move(written_op);
    if (ec) {
      endWith("write: " + ec.message());
      close(end_reason_);
      co_return;
    }
  }
}

asio::awaitable<void> WsSession::heartbeatLoop(std::shared_ptr<Handler> handler, WsLiveness l) {
  auto self = shared_from_this();
  while (!closed_) {
    handler->onHeartbeat();
    heartbeat_.expires_after(l.heartbeat);
    auto [ec] = co_await heartbeat_.async_wait(kAsTuple);
    (void)ec;
  }
}

asio::awaitable<void> WsSession::livenessLoop(std::shared_ptr<Handler> handler, WsLiveness l) {
  auto self = shared_from_this();
  while (!closed_) {
    liveness_.expires_after(l.tick);
    auto [ec] = co_await liveness_.async_wait(kAsTuple);
    (void)ec;
    if (closed_) {
      co_return;
    }
    auto silent = std::chrono::steady_clock::now() - last_rx_;
    if (silent >= (served_ ? l.dead_after : l.dead_after_unserved)) {
      handler->onDeadLink();
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(silent).count();
      close("no frame or pong for " + std::to_string(ms) + " ms (dead link)");
      co_return;
    }
    if (silent >= l.ping_after && !ping_in_flight_) {
      ping_in_flight_ = true;
      auto ping_op = ping(l.ping_payload);
      error_code perr = co_await std::move(ping_op);
      ping_in_flight_ = false;
      if (perr && !closed_) {
        close("ping: " + perr.message());
        co_return;
      }
    }
  }
}

}  // namespace edgecore::net
