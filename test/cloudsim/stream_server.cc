// cloudsim's CloudStream tunnel server. See stream_server.h. Its frame code is written here from
// the spec on purpose (not shared with src/edgestream), so both sides cannot be wrong the same way.
//
// g++ 12 note: operations are bound to a local before co_await (see cloudsim.cc).

#include "stream_server.h"

#include <openssl/bn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "listener.h"
#include "util/wait.h"

namespace edgecore::cloudsim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using nlohmann::json;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Go's binary.PutUvarint.
void putUvarint(std::string& out, uint64_t v) {
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    if (v != 0) {
      b |= 0x80;
    }
    out.push_back(static_cast<char>(b));
  } while (v != 0);
}

// Go's binary.ReadUvarint over a byte string; false on truncation or overflow.
bool getUvarint(std::string_view in, size_t& pos, uint64_t& out) {
  uint64_t x = 0;
  for (int shift = 0, i = 0; i < 10; ++i, shift += 7) {
    if (pos >= in.size()) {
      return false;
    }
    auto b = static_cast<uint8_t>(in[pos++]);
    if (b < 0x80) {
      if (i == 9 && b > 1) {
        return false;
      }
      out = x | (static_cast<uint64_t>(b) << shift);
      return true;
    }
    x |= static_cast<uint64_t>(b & 0x7f) << shift;
  }
  return false;
}

std::string frameBytes(uint64_t id, StreamType type, std::string_view data) {
  std::string out;
  putUvarint(out, id);
  putUvarint(out, static_cast<uint64_t>(type));
  out.append(data);
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// The connect body as CloudStream marshals stream.Edged*Connection: MessID, url (net/url.URL
// field by field, Go >= 1.19 key set), header, and method for exec/attach.
std::string connectJson(uint64_t id, StreamType kind, const std::string& path,
                        const std::string& raw_query,
                        const std::map<std::string, std::vector<std::string>>& headers,
                        const std::string& method) {
  json url = {
      {"Scheme", "http"},      {"Opaque", ""},   {"User", nullptr},   {"Host", "127.0.0.1:10350"},
      {"Path", path},          {"RawPath", ""},  {"OmitHost", false}, {"ForceQuery", false},
      {"RawQuery", raw_query}, {"Fragment", ""}, {"RawFragment", ""}};
  json h = json::object();
  for (const auto& [k, v] : headers) {
    h[k] = v;
  }
  json j = {{"MessID", id}, {"url", url}, {"header", h}};
  if (kind == StreamType::Exec || kind == StreamType::Attach) {
    j["method"] = method.empty() ? "POST" : method;
  }
  return j.dump();
}

// A server-side websocket frame (RFC 6455: servers do not mask). Written here rather than using
// Beast's stream for data: Beast refuses text frames whose payload is not UTF-8, and the tunnel
// carries binary bytes in text frames.
std::string wsFrame(uint8_t opcode, std::string_view payload) {
  std::string out;
  out.push_back(static_cast<char>(0x80 | opcode));
  uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n < 65536) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((n >> shift) & 0xff));
    }
  }
  out.append(payload);
  return out;
}

struct Session : std::enable_shared_from_this<Session> {
  Session(tcp::socket socket, ssl::context& ctx)
      : ws(std::move(socket), ctx), wake(ws.get_executor()) {}
  // Beast does the upgrade; afterwards frames go straight over ws.next_layer().
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws;
  beast::flat_buffer rbuf;
  asio::steady_timer wake;
  struct Out {
    std::string bytes;
    bool text = true;
    bool control = false;  // `bytes` is a complete frame already
  };
  std::deque<Out> outq;
  size_t index = 0;  // into sessions_ info
  bool closed = false;

  void closeTcp() {
    if (closed) {
      return;
    }
    closed = true;
    beast::error_code ec;
    beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws).socket().close(ec);
    wake.cancel();
  }
};

}  // namespace

class StreamServer::Impl {
 public:
  Impl(const Pki& pki, StreamServerOptions opts)
      : opts_(std::move(opts)), ctx_(ssl::context::tls_server), acceptor_(ioc_) {
    pki_ = pki;
  }

  core::Status init() {
    try {
      configureServerTls(ctx_, pki_);
      SSL_CTX_set_cipher_list(ctx_.native_handle(), "ECDHE-ECDSA-AES128-GCM-SHA256");
      ctx_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      port_ = openListener(acceptor_, opts_.listen_host, opts_.port);
    } catch (const std::exception& e) {
      return core::unavailable(std::string("stream server listen: ") + e.what());
    }
    spawn(acceptLoop());
    thread_ = std::thread([this] { ioc_.run(); });
    return {};
  }

  void stop() {
    std::call_once(stop_once_, [this] {
      asio::post(ioc_, [this] {
        beast::error_code ec;
        acceptor_.close(ec);
        for (auto& s : live_) {
          s->closeTcp();
        }
      });
      (void)testing::waitFor(
          [this] {
            std::lock_guard lock(mu_);
            return coroutines_ == 0;
          },
          std::chrono::seconds(2));
      ioc_.stop();
      if (thread_.joinable()) {
        thread_.join();
      }
    });
  }

  uint16_t port() const { return port_; }

  core::Result<uint64_t> open(StreamType kind, std::string path, std::string raw_query,
                              std::map<std::string, std::vector<std::string>> headers,
                              std::string method, std::string node) {
    uint64_t id;
    {
      std::lock_guard lock(mu_);
      id = ++next_connect_id_;
      replies_[id];
      conn_node_[id] = node.empty() ? opts_.node_name : node;
    }
    std::string body = connectJson(id, kind, path, raw_query, headers, method);
    EC_RETURN_IF_ERROR(enqueue(conn_node_of(id), frameBytes(id, kind, body), true));
    return id;
  }

  core::Status sendData(uint64_t id, std::string_view bytes) {
    return enqueue(conn_node_of(id), frameBytes(id, StreamType::Data, bytes), true);
  }
  core::Status sendRemove(uint64_t id) {
    return enqueue(conn_node_of(id), frameBytes(id, StreamType::Remove, ""), true);
  }
  core::Status sendClose(std::string text, std::string node) {
    return enqueue(node, frameBytes(0, StreamType::Close, text), true);
  }
  core::Status sendRaw(std::string payload, bool text, std::string node) {
    return enqueue(node, std::move(payload), text);
  }

  void dropConnections() {
    asio::post(ioc_, [this] {
      for (auto& s : live_) {
        s->closeTcp();
      }
    });
  }
  void setRejectWithClose(std::string text) {
    std::lock_guard lock(mu_);
    opts_.reject_with_close = std::move(text);
  }
  void setSilent(bool silent) {
    std::lock_guard lock(mu_);
    silent_ = silent;
    bumpLocked();
  }

  StreamReply reply(uint64_t id) const {
    std::lock_guard lock(mu_);
    auto it = replies_.find(id);
    return it == replies_.end() ? StreamReply{} : it->second;
  }
  std::vector<TunnelSessionInfo> sessions() const {
    std::lock_guard lock(mu_);
    return infos_;
  }
  size_t openSessions(std::string_view node) const {
    std::lock_guard lock(mu_);
    std::string want(node.empty() ? opts_.node_name : node);
    size_t n = 0;
    for (const auto& i : infos_) {
      n += (i.open && i.node == want) ? 1 : 0;
    }
    return n;
  }
  uint64_t framesFromEdge() const {
    std::lock_guard lock(mu_);
    return frames_in_;
  }
  uint64_t badFramesFromEdge() const {
    std::lock_guard lock(mu_);
    return bad_in_;
  }

  bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const {
    return waitForChange(mu_, cv_, generation_, pred, timeout);
  }

 private:
  std::string conn_node_of(uint64_t id) {
    std::lock_guard lock(mu_);
    auto it = conn_node_.find(id);
    return it == conn_node_.end() ? opts_.node_name : it->second;
  }

  void bumpLocked() {
    ++generation_;
    cv_.notify_all();
  }

  template <typename Awaitable>
  void spawn(Awaitable&& a) {
    {
      std::lock_guard lock(mu_);
      ++coroutines_;
    }
    asio::co_spawn(ioc_, std::forward<Awaitable>(a), [this](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::cerr << "cloudsim stream server: " << ex.what() << "\n";
        }
      }
      std::lock_guard lock(mu_);
      --coroutines_;
      bumpLocked();
    });
  }

  // Queues a frame on the node's newest open session (from any thread).
  core::Status enqueue(std::string node, std::string bytes, bool text) {
    if (node.empty()) {
      node = opts_.node_name;
    }
    {
      std::lock_guard lock(mu_);
      bool any = false;
      for (const auto& i : infos_) {
        any = any || (i.open && i.node == node);
      }
      if (!any) {
        return core::unavailable("no open tunnel session for node " + node);
      }
    }
    asio::post(ioc_, [this, node, bytes = std::move(bytes), text]() mutable {
      std::shared_ptr<Session> target;
      for (auto& s : live_) {
        if (!s->closed && infoNode(s->index) == node) {
          target = s;  // newest wins: live_ is in accept order
        }
      }
      if (target) {
        target->outq.push_back({std::move(bytes), text, false});
        target->wake.cancel();
      }
    });
    return {};
  }

  std::string infoNode(size_t index) {
    std::lock_guard lock(mu_);
    return index < infos_.size() ? infos_[index].node : std::string();
  }

  asio::awaitable<void> acceptLoop() {
    while (true) {
      auto op = acceptor_.async_accept(kTuple);
      auto [ec, socket] = co_await std::move(op);
      if (ec) {
        if (!acceptor_.is_open()) {
          co_return;
        }
        continue;
      }
      auto s = std::make_shared<Session>(std::move(socket), ctx_);
      live_.push_back(s);
      spawn(runSession(s));
    }
  }

  asio::awaitable<void> runSession(std::shared_ptr<Session> s) {
    auto& lowest = beast::get_lowest_layer(s->ws);
    beast::error_code pec;
    auto peer = lowest.socket().remote_endpoint(pec);
    lowest.expires_after(std::chrono::seconds(10));
    auto hs = s->ws.next_layer().async_handshake(ssl::stream_base::server, kTuple);
    auto [hs_ec] = co_await std::move(hs);
    if (hs_ec) {
      finish(s);
      co_return;
    }
    TunnelSessionInfo info;
    if (X509* cert = SSL_get1_peer_certificate(s->ws.next_layer().native_handle())) {
      if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
        char* hex = BN_bn2hex(bn);
        info.client_serial_hex = hex;
        OPENSSL_free(hex);
        BN_free(bn);
      }
      char cn[256] = {0};
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
      info.client_cn = cn;
      X509_free(cert);
    }
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    auto rd = http::async_read(s->ws.next_layer(), buffer, req, kTuple);
    auto [rd_ec, rd_n] = co_await std::move(rd);
    (void)rd_n;
    if (rd_ec) {
      finish(s);
      co_return;
    }
    for (const auto& f : req) {
      info.headers[lower(f.name_string())] = std::string(f.value());
    }
    info.target = std::string(req.target());
    info.node = std::string(req["sessionhostnameoverride"]);
    info.internal_ip = std::string(req["sessioninternalip"]);
    if (info.internal_ip.empty() && !pec) {
      info.internal_ip = peer.address().to_string();
    }
    // go-restful: only GET /v1/kubeedge/connect reaches the handler.
    if (req.method() != http::verb::get || req.target() != "/v1/kubeedge/connect" ||
        !websocket::is_upgrade(req)) {
      http::response<http::string_body> res{http::status::not_found, req.version()};
      res.body() = "404 page not found";
      res.prepare_payload();
      auto wr = http::async_write(s->ws.next_layer(), res, kTuple);
      co_await std::move(wr);
      finish(s);
      co_return;
    }
    lowest.expires_never();
    websocket::stream_base::timeout to{};
    to.handshake_timeout = std::chrono::seconds(10);
    to.idle_timeout = websocket::stream_base::none();
    to.keep_alive_pings = false;
    s->ws.set_option(to);
    s->ws.read_message_max(4u << 20);
    auto acc = s->ws.async_accept(req, kTuple);
    auto [acc_ec] = co_await std::move(acc);
    if (acc_ec) {
      finish(s);
      co_return;
    }
    // Anything the client sent after its upgrade request belongs to the frame stream.
    if (buffer.size() > 0) {
      auto dst = s->rbuf.prepare(buffer.size());
      s->rbuf.commit(asio::buffer_copy(dst, buffer.data()));
    }
    std::string reject_text;
    {
      std::lock_guard lock(mu_);
      info.id = infos_.size() + 1;
      s->index = infos_.size();
      infos_.push_back(info);
      reject_text = opts_.reject_with_close;
      bumpLocked();
    }
    if (reject_text.empty() && opts_.node_known) {
      // Nothing is read (so no ping is answered) until the Node exists, as in CloudStream.
      auto gate_started = std::chrono::steady_clock::now();
      while (!opts_.node_known(info.node)) {
        if (std::chrono::steady_clock::now() - gate_started >= opts_.gate_timeout) {
          reject_text = "failed to Update KubeletEndpoint Port";
          break;
        }
        asio::steady_timer t(s->ws.get_executor(), opts_.gate_poll);
        auto w = t.async_wait(kTuple);
        co_await std::move(w);
        if (s->closed) {
          finish(s);
          co_return;
        }
      }
    }
    if (!reject_text.empty()) {
      // The node gate failed: CLOSE_CONNECT with ConnectID 0, then the connection ends.
      std::string frame = wsFrame(0x1, frameBytes(0, StreamType::Close, reject_text));
      auto wr = asio::async_write(s->ws.next_layer(), asio::buffer(frame), kTuple);
      co_await std::move(wr);
      finish(s);
      co_return;
    }
    spawn(writeLoop(s));
    auto reading = readLoop(s);
    co_await std::move(reading);
    finish(s);
  }

  void finish(const std::shared_ptr<Session>& s) {
    s->closeTcp();
    std::erase(live_, s);
    std::lock_guard lock(mu_);
    if (s->index < infos_.size() && infos_[s->index].id != 0) {
      infos_[s->index].open = false;
    }
    bumpLocked();
  }

  asio::awaitable<void> writeLoop(std::shared_ptr<Session> s) {
    while (!s->closed) {
      if (s->outq.empty()) {
        s->wake.expires_at(std::chrono::steady_clock::time_point::max());
        auto w = s->wake.async_wait(kTuple);
        co_await std::move(w);
        continue;
      }
      Session::Out out = std::move(s->outq.front());
      s->outq.pop_front();
      std::string frame =
          out.control ? std::move(out.bytes) : wsFrame(out.text ? 0x1 : 0x2, out.bytes);
      auto wr = asio::async_write(s->ws.next_layer(), asio::buffer(frame), kTuple);
      auto [ec, n] = co_await std::move(wr);
      (void)n;
      if (ec) {
        s->closeTcp();
        co_return;
      }
    }
  }

  // Reads until rbuf holds `n` bytes; false when the connection ended.
  asio::awaitable<bool> need(std::shared_ptr<Session> s, size_t n) {
    while (s->rbuf.size() < n) {
      auto rd = s->ws.next_layer().async_read_some(s->rbuf.prepare(16384), kTuple);
      auto [ec, got] = co_await std::move(rd);
      if (ec) {
        co_return false;
      }
      s->rbuf.commit(got);
    }
    co_return true;
  }

  // One client frame at a time (clients mask; messages here are never fragmented by our edge,
  // but continuation frames are joined anyway).
  asio::awaitable<void> readLoop(std::shared_ptr<Session> s) {
    std::string message;
    uint8_t message_op = 0;
    while (!s->closed) {
      bool silent;
      {
        std::lock_guard lock(mu_);
        silent = silent_;
      }
      if (silent) {
        asio::steady_timer t(s->ws.get_executor(), std::chrono::milliseconds(20));
        auto w = t.async_wait(kTuple);
        co_await std::move(w);
        continue;
      }
      auto hdr = need(s, 2);
      if (!co_await std::move(hdr)) {
        co_return;
      }
      auto* p = static_cast<const uint8_t*>(s->rbuf.data().data());
      bool fin = (p[0] & 0x80) != 0;
      uint8_t op = p[0] & 0x0f;
      bool masked = (p[1] & 0x80) != 0;
      uint64_t len = p[1] & 0x7f;
      size_t hlen = 2 + (len == 126 ? 2 : len == 127 ? 8 : 0) + (masked ? 4 : 0);
      auto full = need(s, hlen);
      if (!co_await std::move(full)) {
        co_return;
      }
      p = static_cast<const uint8_t*>(s->rbuf.data().data());
      size_t pos = 2;
      if (len == 126) {
        len = (uint64_t{p[2]} << 8) | p[3];
        pos = 4;
      } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; ++i) {
          len = (len << 8) | p[2 + i];
        }
        pos = 10;
      }
      uint8_t mask[4] = {0, 0, 0, 0};
      if (masked) {
        std::memcpy(mask, p + pos, 4);
      }
      if (len > (8u << 20)) {
        co_return;  // far beyond anything the edge may send
      }
      s->rbuf.consume(hlen);
      auto body = need(s, static_cast<size_t>(len));
      if (!co_await std::move(body)) {
        co_return;
      }
      std::string payload(static_cast<const char*>(s->rbuf.data().data()),
                          static_cast<size_t>(len));
      s->rbuf.consume(static_cast<size_t>(len));
      for (size_t i = 0; i < payload.size(); ++i) {
        payload[i] = static_cast<char>(payload[i] ^ mask[i % 4]);
      }
      if (op == 0x9) {  // ping: count it and answer
        {
          std::lock_guard lock(mu_);
          ++infos_[s->index].pings;
          bumpLocked();
        }
        s->outq.push_front({wsFrame(0xa, payload), true, true});
        s->wake.cancel();
        continue;
      }
      if (op == 0x8) {
        co_return;
      }
      if (op == 0xa) {
        continue;
      }
      if (op != 0) {
        message_op = op;
      }
      message += payload;
      if (!fin) {
        continue;
      }
      std::string frame = std::move(message);
      message.clear();
      size_t fpos = 0;
      uint64_t id = 0;
      uint64_t type = 0;
      std::lock_guard lock(mu_);
      ++frames_in_;
      bumpLocked();
      // CloudStream reads text frames only.
      if (message_op != 0x1 || !getUvarint(frame, fpos, id) || !getUvarint(frame, fpos, type)) {
        ++bad_in_;
        continue;
      }
      auto it = replies_.find(id);
      if (it == replies_.end()) {
        ++bad_in_;  // CloudStream logs "can not find apiServer connection id" and goes on
        continue;
      }
      if (type == static_cast<uint64_t>(StreamType::Data)) {
        it->second.data.append(frame.substr(fpos));
        it->second.frame_sizes.push_back(frame.size() - fpos);
      } else if (type == static_cast<uint64_t>(StreamType::Remove)) {
        it->second.removed = true;
      }
    }
  }

  StreamServerOptions opts_;
  Pki pki_;
  asio::io_context ioc_;
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::once_flag stop_once_;
  std::vector<std::shared_ptr<Session>> live_;  // io thread only

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  uint64_t generation_ = 0;
  int coroutines_ = 0;
  std::vector<TunnelSessionInfo> infos_;
  std::map<uint64_t, StreamReply> replies_;
  std::map<uint64_t, std::string> conn_node_;
  uint64_t next_connect_id_ = 0;
  uint64_t frames_in_ = 0;
  uint64_t bad_in_ = 0;
  bool silent_ = false;
};

core::Result<std::unique_ptr<StreamServer>> StreamServer::start(const Pki& pki,
                                                                StreamServerOptions options) {
  auto impl = std::make_unique<Impl>(pki, std::move(options));
  EC_RETURN_IF_ERROR(impl->init());
  return std::unique_ptr<StreamServer>(new StreamServer(std::move(impl)));
}

StreamServer::StreamServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StreamServer::~StreamServer() { stop(); }
void StreamServer::stop() { impl_->stop(); }
uint16_t StreamServer::port() const { return impl_->port(); }

core::Result<uint64_t> StreamServer::open(StreamType kind, std::string path, std::string raw_query,
                                          std::map<std::string, std::vector<std::string>> headers,
                                          std::string method, std::string node) {
  return impl_->open(kind, std::move(path), std::move(raw_query), std::move(headers),
                     std::move(method), std::move(node));
}
core::Status StreamServer::sendData(uint64_t id, std::string_view bytes) {
  return impl_->sendData(id, bytes);
}
core::Status StreamServer::sendRemove(uint64_t id) { return impl_->sendRemove(id); }
core::Status StreamServer::sendClose(std::string text, std::string node) {
  return impl_->sendClose(std::move(text), std::move(node));
}
core::Status StreamServer::sendRaw(std::string payload, bool text, std::string node) {
  return impl_->sendRaw(std::move(payload), text, std::move(node));
}

core::Result<StreamReply> StreamServer::fetch(
    StreamType kind, std::string path, std::string raw_query, std::chrono::milliseconds timeout,
    std::map<std::string, std::vector<std::string>> headers) {
  EC_ASSIGN_OR_RETURN(uint64_t id,
                      open(kind, std::move(path), std::move(raw_query), std::move(headers)));
  if (!waitUntil([&] { return reply(id).removed; }, timeout)) {
    return core::deadlineExceeded("no REMOVE_CONNECT from the edge for connect id " +
                                  std::to_string(id) + " (got " +
                                  std::to_string(reply(id).data.size()) + " bytes)");
  }
  return reply(id);
}

void StreamServer::dropConnections() { impl_->dropConnections(); }
void StreamServer::setSilent(bool silent) { impl_->setSilent(silent); }
void StreamServer::setRejectWithClose(std::string text) {
  impl_->setRejectWithClose(std::move(text));
}
StreamReply StreamServer::reply(uint64_t id) const { return impl_->reply(id); }
std::vector<TunnelSessionInfo> StreamServer::sessions() const { return impl_->sessions(); }
size_t StreamServer::openSessions(std::string_view node) const { return impl_->openSessions(node); }
uint64_t StreamServer::framesFromEdge() const { return impl_->framesFromEdge(); }
uint64_t StreamServer::badFramesFromEdge() const { return impl_->badFramesFromEdge(); }
namespace {

bool parseStreamType(const std::string& name, StreamType& out) {
  static const std::map<std::string, StreamType> kTypes = {{"logs", StreamType::Logs},
                                                           {"exec", StreamType::Exec},
                                                           {"metrics", StreamType::Metrics},
                                                           {"attach", StreamType::Attach}};
  auto it = kTypes.find(name);
  if (it == kTypes.end()) {
    return false;
  }
  out = it->second;
  return true;
}

std::string param(const std::map<std::string, std::string>& q, const std::string& key,
                  std::string fallback = "") {
  auto it = q.find(key);
  return it == q.end() ? fallback : it->second;
}

json replyJson(uint64_t id, const StreamReply& r) {
  return {{"id", id}, {"data", r.data}, {"frames", r.frame_sizes.size()}, {"removed", r.removed}};
}

}  // namespace

StreamServer::ControlAnswer StreamServer::control(std::string_view method, std::string_view path,
                                                  const std::map<std::string, std::string>& query,
                                                  const std::string& body) {
  auto answer = [](int status, const json& j) {
    return ControlAnswer{status, j.dump(-1, ' ', false, json::error_handler_t::replace)};
  };
  auto fail = [&](const core::Status& st) {
    int code = st.code() == core::StatusCode::Unavailable        ? 409
               : st.code() == core::StatusCode::DeadlineExceeded ? 504
                                                                 : 400;
    return answer(code, {{"error", st.toString()}});
  };
  uint64_t id = std::strtoull(param(query, "id", "0").c_str(), nullptr, 10);
  if (path == "/stream/sessions" && method == "GET") {
    json out = json::array();
    for (const auto& s : sessions()) {
      out.push_back({{"id", s.id},
                     {"node", s.node},
                     {"internal_ip", s.internal_ip},
                     {"target", s.target},
                     {"client_cn", s.client_cn},
                     {"client_serial", s.client_serial_hex},
                     {"open", s.open},
                     {"pings", s.pings},
                     {"headers", s.headers}});
    }
    return answer(200, {{"port", port()}, {"sessions", out}});
  }
  if ((path == "/stream/open" || path == "/stream/fetch") && method == "POST") {
    StreamType type;
    if (!parseStreamType(param(query, "type", "logs"), type)) {
      return fail(core::invalidArgument("type must be logs, exec, attach or metrics"));
    }
    std::map<std::string, std::vector<std::string>> headers;
    if (!body.empty()) {
      json h = json::parse(body, nullptr, false);
      if (h.is_discarded() || !h.is_object()) {
        return fail(core::invalidArgument("body must be a JSON object of header lists"));
      }
      for (const auto& [k, v] : h.items()) {
        if (v.is_array()) {
          for (const auto& e : v) {
            if (e.is_string()) headers[k].push_back(e.get<std::string>());
          }
        } else if (v.is_string()) {
          headers[k].push_back(v.get<std::string>());
        }
      }
    }
    std::string p = param(query, "path");
    std::string q = param(query, "query");
    if (path == "/stream/fetch") {
      auto ms = std::clamp<long long>(
          std::strtoll(param(query, "timeout_ms", "10000").c_str(), nullptr, 10), 0, 30000);
      auto r = fetch(type, p, q, std::chrono::milliseconds(ms), headers);
      return r.ok() ? answer(200, replyJson(0, *r)) : fail(r.status());
    }
    auto opened = open(type, p, q, headers, param(query, "method"), param(query, "node"));
    return opened.ok() ? answer(200, {{"id", *opened}}) : fail(opened.status());
  }
  if (path == "/stream/data" && method == "POST") {
    auto st = sendData(id, body);
    return st.ok() ? answer(200, {{"sent", body.size()}}) : fail(st);
  }
  if (path == "/stream/remove" && method == "POST") {
    auto st = sendRemove(id);
    return st.ok() ? answer(200, {{"removed", id}}) : fail(st);
  }
  if (path == "/stream/reply" && method == "GET") {
    return answer(200, replyJson(id, reply(id)));
  }
  if (path == "/stream/close" && method == "POST") {
    auto st = sendClose(param(query, "text", "closed by cloudsim"), param(query, "node"));
    return st.ok() ? answer(200, {{"closed", true}}) : fail(st);
  }
  if (path == "/stream/drop" && method == "POST") {
    dropConnections();
    return answer(200, {{"dropped", true}});
  }
  return answer(404, {{"error", "no such endpoint"}});
}

bool StreamServer::waitUntil(const std::function<bool()>& pred,
                             std::chrono::milliseconds timeout) const {
  return impl_->waitUntil(pred, timeout);
}

}  // namespace edgecore::cloudsim
