#include "mqtt_client.h"

#include <openssl/ssl.h>
#include <poll.h>
#include <spdlog/logger.h>
#include <unistd.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <mutex>

namespace edgecore::eventbus {
namespace asio = boost::asio;
using core::Status;

namespace {

std::once_flag g_lib_init;

Status fromMosq(int rc, std::string_view what) {
  std::string text = std::string(what) + ": " + mosquitto_strerror(rc);
  switch (rc) {
    case MOSQ_ERR_SUCCESS:
      return {};
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_MALFORMED_UTF8:
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_OVERSIZE_PACKET:
      return core::invalidArgument(std::move(text));
    case MOSQ_ERR_NO_CONN:
    case MOSQ_ERR_CONN_LOST:
    case MOSQ_ERR_ERRNO:
      return core::unavailable(std::move(text));
    case MOSQ_ERR_NOMEM:
      return core::resourceExhausted(std::move(text));
    default:
      return core::internalError(std::move(text));
  }
}

// Reads after one packet per call: the library reads exactly one MQTT packet per loop_read, so
// several packets can wait in the kernel buffer (and asio's epoll reactor is edge-triggered).
constexpr int kMaxPacketsPerTurn = 256;
constexpr std::chrono::seconds kMiscInterval{1};

}  // namespace

MqttClient::MqttClient(core::Strand strand, MqttClientOptions options,
                       std::shared_ptr<spdlog::logger> log, MessageFn on_message, StateFn on_state)
    : strand_(std::move(strand)),
      options_(std::move(options)),
      log_(std::move(log)),
      on_message_(std::move(on_message)),
      on_state_(std::move(on_state)),
      socket_(strand_),
      misc_timer_(strand_),
      dial_timer_(strand_),
      rng_(std::random_device{}()) {
  std::call_once(g_lib_init, [] { mosquitto_lib_init(); });
}

MqttClient::~MqttClient() {
  if (fd_ >= 0) {
    boost::system::error_code ec;
    socket_.close(ec);
    fd_ = -1;
  }
  if (mosq_ != nullptr) {
    mosquitto_destroy(mosq_);
  }
}

Status MqttClient::start() {
  if (mosq_ == nullptr) {
    mosq_ = mosquitto_new(options_.client_id.empty() ? nullptr : options_.client_id.c_str(),
                          /*clean_session=*/true, this);
    if (mosq_ == nullptr) {
      return core::internalError("mosquitto_new failed");
    }
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    // Small request/response packets: no Nagle delay (a 40 ms delayed-ACK stall otherwise).
    mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_callback_set(mosq_, &MqttClient::onConnect);
    mosquitto_disconnect_callback_set(mosq_, &MqttClient::onDisconnect);
    mosquitto_message_callback_set(mosq_, &MqttClient::onMessage);
    if (!options_.username.empty()) {
      EC_RETURN_IF_ERROR(
          fromMosq(mosquitto_username_pw_set(
                       mosq_, options_.username.c_str(),
                       options_.password.empty() ? nullptr : options_.password.c_str()),
                   "mqtt credentials"));
    }
    if (options_.tls) {
      auto opt = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
      EC_RETURN_IF_ERROR(
          fromMosq(mosquitto_tls_set(mosq_, opt(options_.ca_file), nullptr, opt(options_.cert_file),
                                     opt(options_.key_file), nullptr),
                   "mqtt tls setup"));
    }
  }
  stopped_ = false;
  armMisc();
  dial();
  return {};
}

void MqttClient::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  dial_timer_.cancel();
  misc_timer_.cancel();
  if (mosq_ != nullptr && attached_) {
    mosquitto_disconnect(mosq_);
  }
  ++generation_;
  if (fd_ >= 0) {
    boost::system::error_code ec;
    socket_.close(ec);
    fd_ = -1;
  }
  attached_ = false;
  connected_ = false;
}

void MqttClient::dial() {
  dial_pending_ = false;
  if (stopped_ || attached_) {
    return;
  }
  int rc = ever_dialled_ ? mosquitto_reconnect_async(mosq_)
                         : mosquitto_connect_async(mosq_, options_.host.c_str(), options_.port,
                                                   options_.keepalive_s);
  ever_dialled_ = true;
  if (rc != MOSQ_ERR_SUCCESS) {
    ++stats_.connect_failures;
    if (attempt_ == 0) {
      log_->warn("mqtt connect failed broker={}:{} err={}", options_.host, options_.port,
                 rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc));
    }
    scheduleDial();
    return;
  }
  attachSocket();
}

void MqttClient::scheduleDial() {
  if (stopped_ || dial_pending_) {
    return;
  }
  dial_pending_ = true;
  double base = static_cast<double>(options_.initial_backoff.count());
  for (int i = 0; i < attempt_ && base < static_cast<double>(options_.max_backoff.count()); ++i) {
    base *= 2;
  }
  auto cap = std::min<int64_t>(static_cast<int64_t>(base), options_.max_backoff.count());
  std::uniform_int_distribution<int64_t> dist(cap / 2, std::max<int64_t>(cap, 1));
  ++attempt_;
  dial_timer_.expires_after(std::chrono::milliseconds(dist(rng_)));
  dial_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) {
      self->dial();
    }
  });
}

void MqttClient::attachSocket() {
  int fd = mosquitto_socket(mosq_);
  if (fd < 0) {
    lost(MOSQ_ERR_NO_CONN);
    return;
  }
  // Our own descriptor for the same socket: the library closes its fd when the connection
  // drops, and a closed fd number may be reused before we deregister it from epoll.
  fd_ = ::dup(fd);
  if (fd_ < 0) {
    lost(MOSQ_ERR_ERRNO);
    return;
  }
  boost::system::error_code ec;
  socket_.assign(fd_, ec);
  if (ec) {
    ::close(fd_);
    fd_ = -1;
    lost(MOSQ_ERR_ERRNO);
    return;
  }
  attached_ = true;
  ++generation_;
  armRead();
  flushWrites();
}

bool MqttClient::readable() const {
  if (fd_ < 0) {
    return false;
  }
  if (options_.tls) {
    auto* ssl = static_cast<SSL*>(mosquitto_ssl_get(mosq_));
    if (ssl != nullptr && SSL_pending(ssl) > 0) {
      return true;
    }
  }
  struct pollfd p {};
  p.fd = fd_;
  p.events = POLLIN;
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

void MqttClient::armRead() {
  uint64_t gen = generation_;
  socket_.async_wait(
      asio::posix::stream_descriptor::wait_read,
      asio::bind_executor(strand_, [self = shared_from_this(), gen](boost::system::error_code ec) {
        if (ec || gen != self->generation_ || !self->attached_) {
          return;
        }
        self->serviceRead(gen);
      }));
}

void MqttClient::serviceRead(uint64_t gen) {
  for (int i = 0; i < kMaxPacketsPerTurn; ++i) {
    int rc = mosquitto_loop_read(mosq_, 1);
    if (gen != generation_ || !attached_) {
      return;  // a callback ran stop() or the connection went away
    }
    if (rc != MOSQ_ERR_SUCCESS) {
      lost(rc);
      return;
    }
    if (!readable()) {
      flushWrites();
      armRead();
      return;
    }
  }
  flushWrites();
  // More is waiting: yield to other handlers on the strand, then continue.
  asio::post(strand_, [self = shared_from_this(), gen] {
    if (gen == self->generation_ && self->attached_) {
      self->serviceRead(gen);
    }
  });
}

void MqttClient::flushWrites() {
  if (!attached_ || write_armed_ || !mosquitto_want_write(mosq_)) {
    return;
  }
  int rc = mosquitto_loop_write(mosq_, 1);
  if (rc != MOSQ_ERR_SUCCESS) {
    lost(rc);
    return;
  }
  if (mosquitto_want_write(mosq_)) {
    armWrite(generation_);
  }
}

void MqttClient::armWrite(uint64_t gen) {
  write_armed_ = true;
  socket_.async_wait(
      asio::posix::stream_descriptor::wait_write,
      asio::bind_executor(strand_, [self = shared_from_this(), gen](boost::system::error_code ec) {
        if (gen != self->generation_) {
          return;
        }
        self->write_armed_ = false;
        if (!ec) {
          self->flushWrites();
        }
      }));
}

void MqttClient::armMisc() {
  misc_timer_.expires_after(kMiscInterval);
  misc_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->stopped_) {
      return;
    }
    if (self->attached_) {
      uint64_t gen = self->generation_;
      int rc = mosquitto_loop_misc(self->mosq_);
      if (gen == self->generation_ && self->attached_) {
        if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
          self->lost(rc);
        } else {
          // Safety net for a readiness edge the reactor saw before we waited for it.
          self->write_armed_ = false;
          self->flushWrites();
          if (self->attached_ && self->readable()) {
            self->serviceRead(gen);
          }
        }
      }
    }
    self->armMisc();
  });
}

void MqttClient::lost(int rc) {
  bool was_connected = connected_;
  if (attached_) {
    attached_ = false;
    ++generation_;
    boost::system::error_code ec;
    socket_.close(ec);  // our dup only
    fd_ = -1;
    write_armed_ = false;
  }
  if (was_connected) {
    connected_ = false;
    ++stats_.disconnects;
    log_->warn("mqtt connection lost broker={}:{} err={}", options_.host, options_.port,
               rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc));
    if (on_state_) {
      on_state_(false);
    }
  } else if (!stopped_) {
    ++stats_.connect_failures;
    if (attempt_ == 0) {
      log_->warn("mqtt connect failed broker={}:{} err={}", options_.host, options_.port,
                 rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc));
    }
  }
  scheduleDial();
}

void MqttClient::onConnect(struct mosquitto*, void* self_ptr, int rc) {
  auto* self = static_cast<MqttClient*>(self_ptr);
  if (rc != 0) {
    ++self->stats_.connect_failures;
    self->log_->warn("mqtt connection refused broker={}:{} err={}", self->options_.host,
                     self->options_.port, mosquitto_connack_string(rc));
    return;  // the broker closes the socket; the read path notices
  }
  self->connected_ = true;
  self->attempt_ = 0;
  ++self->stats_.connects;
  self->log_->info("mqtt connected broker={}:{} subscriptions={}", self->options_.host,
                   self->options_.port, self->wanted_.size());
  for (const std::string& filter : self->wanted_) {
    int src =
        mosquitto_subscribe(self->mosq_, nullptr, filter.c_str(), self->options_.subscribe_qos);
    if (src != MOSQ_ERR_SUCCESS) {
      self->log_->warn("mqtt subscribe failed topic={} err={}", filter, mosquitto_strerror(src));
    }
  }
  if (self->on_state_) {
    self->on_state_(true);
  }
}

void MqttClient::onDisconnect(struct mosquitto*, void* self_ptr, int rc) {
  auto* self = static_cast<MqttClient*>(self_ptr);
  if (!self->stopped_) {
    self->lost(rc == 0 ? MOSQ_ERR_CONN_LOST : rc);
  }
}

void MqttClient::onMessage(struct mosquitto*, void* self_ptr, const struct mosquitto_message* msg) {
  auto* self = static_cast<MqttClient*>(self_ptr);
  ++self->stats_.received;
  if (self->on_message_ && msg != nullptr && msg->topic != nullptr) {
    std::string payload;
    if (msg->payload != nullptr && msg->payloadlen > 0) {
      payload.assign(static_cast<const char*>(msg->payload), static_cast<size_t>(msg->payloadlen));
    }
    self->on_message_(msg->topic, std::move(payload));
  }
}

Status MqttClient::subscribe(const std::string& filter) {
  if (mosquitto_sub_topic_check(filter.c_str()) != MOSQ_ERR_SUCCESS) {
    return core::invalidArgument("not a valid MQTT topic filter: " + filter);
  }
  wanted_.insert(filter);
  if (connected_) {
    EC_RETURN_IF_ERROR(fromMosq(
        mosquitto_subscribe(mosq_, nullptr, filter.c_str(), options_.subscribe_qos), "subscribe"));
    flushWrites();
  }
  return {};
}

Status MqttClient::unsubscribe(const std::string& filter) {
  wanted_.erase(filter);
  if (connected_) {
    EC_RETURN_IF_ERROR(
        fromMosq(mosquitto_unsubscribe(mosq_, nullptr, filter.c_str()), "unsubscribe"));
    flushWrites();
  }
  return {};
}

Status MqttClient::publish(const std::string& topic, std::string_view payload, int qos,
                           bool retain) {
  if (!connected_) {
    ++stats_.publish_failures;
    return core::unavailable("not connected to the MQTT broker");
  }
  if (mosquitto_pub_topic_check(topic.c_str()) != MOSQ_ERR_SUCCESS) {
    ++stats_.publish_failures;
    return core::invalidArgument("not a valid MQTT topic name: " + topic);
  }
  int rc = mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                             payload.data(), qos, retain);
  if (rc != MOSQ_ERR_SUCCESS) {
    ++stats_.publish_failures;
    return fromMosq(rc, "publish");
  }
  ++stats_.published;
  flushWrites();
  return {};
}

}  // namespace edgecore::eventbus
