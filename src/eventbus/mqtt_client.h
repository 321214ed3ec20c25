#pragma once
// An MQTT 3.1.1 client on libmosquitto, driven from our io_context: the library never runs a
// thread of its own. Its socket is watched with a posix::stream_descriptor (readable ->
// mosquitto_loop_read, writable while the library wants to write -> mosquitto_loop_write) and a
// one-second timer runs mosquitto_loop_misc (keepalive PINGREQs). Every call and every library
// callback happens on the strand given at construction.
#include <mosquitto.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>

#include "edgecore/core/bus.h"
#include "edgecore/core/status.h"

namespace spdlog {
class logger;
}

namespace edgecore::eventbus {

struct MqttClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  std::string client_id;
  std::string username;
  std::string password;
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  int keepalive_s = 30;
  int subscribe_qos = 1;
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{30000};
};

struct MqttClientStats {
  uint64_t connects = 0;
  uint64_t connect_failures = 0;
  uint64_t disconnects = 0;
  uint64_t received = 0;
  uint64_t published = 0;
  uint64_t publish_failures = 0;
};

class MqttClient : public std::enable_shared_from_this<MqttClient> {
 public:
  using MessageFn = std::function<void(std::string topic, std::string payload)>;
  using StateFn = std::function<void(bool connected)>;

  // Strand-bound. `on_message` and `on_state` run on `strand`.
  MqttClient(core::Strand strand, MqttClientOptions options, std::shared_ptr<spdlog::logger> log,
             MessageFn on_message, StateFn on_state);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // Starts dialling (and keeps redialling). Strand. Internal if libmosquitto refuses the options
  // (bad TLS files).
  core::Status start();
  // Disconnects and stops redialling. Strand; idempotent.
  void stop();

  // Adds `filter` to the wanted set and subscribes now if connected (else on the next connect).
  // InvalidArgument for a filter MQTT rejects. Strand.
  core::Status subscribe(const std::string& filter);
  core::Status unsubscribe(const std::string& filter);
  // Publishes now; Unavailable when not connected, InvalidArgument for a bad topic. Strand.
  core::Status publish(const std::string& topic, std::string_view payload, int qos, bool retain);

  bool connected() const { return connected_; }
  const std::set<std::string>& subscriptions() const { return wanted_; }
  const MqttClientStats& stats() const { return stats_; }

 private:
  void dial();
  void scheduleDial();
  void attachSocket();
  void armRead();
  void armWrite(uint64_t gen);
  void armMisc();
  void lost(int rc);
  void serviceRead(uint64_t gen);
  void flushWrites();
  bool readable() const;

  static void onConnect(struct mosquitto* m, void* self, int rc);
  static void onDisconnect(struct mosquitto* m, void* self, int rc);
  static void onMessage(struct mosquitto* m, void* self, const struct mosquitto_message* msg);

  core::Strand strand_;
  MqttClientOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  MessageFn on_message_;
  StateFn on_state_;
  struct mosquitto* mosq_ = nullptr;
  boost::asio::posix::stream_descriptor socket_;
  boost::asio::steady_timer misc_timer_;
  boost::asio::steady_timer dial_timer_;
  uint64_t generation_ = 0;  // bumped on every attach/detach; stale handlers check it
  bool attached_ = false;
  bool write_armed_ = false;
  bool stopped_ = true;
  bool connected_ = false;
  bool ever_dialled_ = false;
  bool dial_pending_ = false;
  int fd_ = -1;  // our dup of the library's socket
  int attempt_ = 0;
  std::mt19937_64 rng_;
  std::set<std::string> wanted_;
  MqttClientStats stats_;
};

}  // namespace edgecore::eventbus
