#include "edgecore/metaserver/bus_cloud_forwarder.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <boost/asio/co_spawn.hpp>
#include <nlohmann/json.hpp>

#include "edgecore/core/async/spawn.h"
#include "edgecore/core/base64.h"
#include "edgecore/core/message.h"

namespace edgecore::metaserver {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

std::string sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

// Go marshals a nil []byte as null and a non-nil one as base64.
json bytesField(const std::string& bytes) {
  return bytes.empty() ? json(nullptr) : json(core::base64Encode(bytes));
}

class BusCloudForwarder final : public CloudForwarder {
 public:
  BusCloudForwarder(core::Bus& bus, asio::any_io_executor executor,
                    const core::CloudLinkStatus& link, BusCloudForwarderOptions options,
                    std::shared_ptr<spdlog::logger> log)
      : bus_(bus),
        executor_(std::move(executor)),
        link_(link),
        options_(std::move(options)),
        log_(std::move(log)) {}

  bool isConnected() const override { return link_.connected(); }

  void apply(Application app, ApplyCallback done) override {
    if (!link_.connected()) {
      done(ApplicationResult{
          core::unavailable("connection lost between EdgeCore and CloudCore"), 500, {}});
      return;
    }
    core::Message msg =
        core::Message::create("metaserver", "dynamiccontroller", "null", "null",
                              json::parse(encodeApplication(app, options_.node_name)));
    core::spawnLogged(executor_,
                      call(bus_, std::move(msg), options_.timeout, std::move(done), log_), log_,
                      "metaserver apply through the cloud");
  }

 private:
  static asio::awaitable<void> call(core::Bus& bus, core::Message msg,
                                    std::chrono::milliseconds timeout, ApplyCallback done,
                                    std::shared_ptr<spdlog::logger> log) {
    const std::string id = msg.header.id;
    // Named first: g++ 12 destroys temporaries inside a co_await expression twice.
    auto op = bus.request(core::names::kEdgeHubModule, std::move(msg), timeout);
    core::Result<core::Message> answer = co_await std::move(op);
    if (!answer.ok()) {
      log->debug("cloud application failed msg_id={} err=\"{}\"", id, answer.status().message());
      done(ApplicationResult{
          core::Status(answer.status().code(),
                       "failed to access cloud Application center: " + answer.status().message()),
          500,
          {}});
      co_return;
    }
    done(decodeApplicationAnswer(answer->contentData()));
  }

  core::Bus& bus_;
  asio::any_io_executor executor_;
  const core::CloudLinkStatus& link_;
  BusCloudForwarderOptions options_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace

std::string encodeApplication(const Application& app, const std::string& node_name) {
  std::string id_input =
      node_name + app.key + app.verb + app.option_json + app.req_body + app.subresource;
  // Key order is Go's struct order (the Application struct has no JSON tags).
  nlohmann::ordered_json j;
  j["ID"] = sha256Hex(id_input);
  j["Key"] = app.key;
  j["Verb"] = app.verb;
  j["Nodename"] = node_name;
  j["Option"] = bytesField(app.option_json);
  j["ReqBody"] = bytesField(app.req_body);
  j["Subresource"] = app.subresource;
  j["RespBody"] = nullptr;
  j["Status"] = "InApplying";
  j["Reason"] = "";
  j["Error"] = {{"ErrStatus", {{"metadata", json::object()}}}};
  j["Timestamp"] = "0001-01-01T00:00:00Z";
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApplicationResult decodeApplicationAnswer(const std::string& content_data) {
  json j = core::parseJsonBounded(content_data);  // ErrStatus is copied and dumped
  if (!j.is_object()) {
    return {
        core::internalError("failed to get Application from resp msg: not a JSON object"), 500, {}};
  }
  auto text = [&j](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string status = text("Status");
  if (status == "Approved" || status == "Completed") {
    std::optional<std::string> body = core::base64Decode(text("RespBody"));
    if (!body) {
      return {core::internalError("cloud answer has a RespBody that is not base64"), 500, {}};
    }
    return {core::Status(), 200, std::move(*body)};
  }
  if (status == "Rejected") {
    json err_status = json::object();
    if (auto e = j.find("Error"); e != j.end() && e->is_object()) {
      if (auto s = e->find("ErrStatus"); s != e->end() && s->is_object()) {
        err_status = *s;
      }
    }
    int code = err_status.value("code", 500);
    if (code < 400 || code > 599) {
      code = 500;
    }
    if (!err_status.contains("kind")) {
      err_status["kind"] = "Status";
      err_status["apiVersion"] = "v1";
    }
    return {core::failedPrecondition("rejected by the cloud: " + text("Reason")), code,
            err_status.dump()};
  }
  std::string reason = text("Reason");
  return {
      core::internalError(reason.empty() ? "cloud application ended in state " + status : reason),
      500,
      {}};
}

CloudForwarderPtr createBusCloudForwarder(core::Bus& bus, boost::asio::any_io_executor executor,
                                          const core::CloudLinkStatus& link,
                                          BusCloudForwarderOptions options,
                                          std::shared_ptr<spdlog::logger> log) {
  return std::make_unique<BusCloudForwarder>(bus, std::move(executor), link, std::move(options),
                                             std::move(log));
}

}  // namespace edgecore::metaserver
