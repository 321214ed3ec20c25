// DMI v1beta1 over gRPC (spec/local-apis.md 7.4): the only translation unit that includes gRPC.
// Mirrors edge/pkg/devicetwin/dmiserver and dtcommon.ConvertDevice @ v1.20.0.
#include "dmi.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/logger.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "dmi/v1beta1/api.grpc.pb.h"
#include "edgecore/core/message.h"

namespace edgecore::devicetwin {
namespace asio = boost::asio;
namespace pb = ::v1beta1;
using core::Result;
using core::Status;
using nlohmann::json;

namespace {

constexpr auto kHandlerTimeout = std::chrono::seconds(5);
constexpr int kMaxMessageBytes = 4 << 20;
// A bound on mapper calls (Go: 1/s with a burst of 100, which throttles a mapper reporting many
// devices; ours only stops a runaway or hostile client).
constexpr double kCallsPerSecond = 1000;
constexpr double kCallBurst = 2000;

class TokenBucket {
 public:
  bool take() {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    tokens_ = std::min(
        kCallBurst, tokens_ + kCallsPerSecond * std::chrono::duration<double>(now - last_).count());
    last_ = now;
    if (tokens_ < 1) {
      return false;
    }
    tokens_ -= 1;
    return true;
  }

 private:
  std::mutex mu_;
  double tokens_ = kCallBurst;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

grpc::Status toGrpc(const Status& st) {
  using C = core::StatusCode;
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  switch (st.code()) {
    case C::Ok:
      return grpc::Status::OK;
    case C::InvalidArgument:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case C::NotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case C::DeadlineExceeded:
      code = grpc::StatusCode::DEADLINE_EXCEEDED;
      break;
    case C::Unavailable:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    case C::ResourceExhausted:
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      break;
    default:
      code = grpc::StatusCode::INTERNAL;
  }
  return {code, st.message()};
}

// A JSON scalar as google.protobuf.Any (dtcommon dataToAny): strings -> StringValue, numbers ->
// FloatValue (Go decodes every JSON number as float64 and narrows it), bools -> BoolValue.
Status toAnyMap(const json& data, google::protobuf::Map<std::string, google::protobuf::Any>* out) {
  if (!data.is_object()) {
    return {};
  }
  for (auto it = data.begin(); it != data.end(); ++it) {
    google::protobuf::Any any;
    if (it->is_string()) {
      google::protobuf::StringValue v;
      v.set_value(it->get<std::string>());
      any.PackFrom(v);
    } else if (it->is_number()) {
      google::protobuf::FloatValue v;
      v.set_value(static_cast<float>(it->get<double>()));
      any.PackFrom(v);
    } else if (it->is_boolean()) {
      google::protobuf::BoolValue v;
      v.set_value(it->get<bool>());
      any.PackFrom(v);
    } else {
      return core::invalidArgument("configData." + it.key() +
                                   ": nested objects and arrays are not supported");
    }
    (*out)[it.key()] = std::move(any);
  }
  return {};
}

Status parseInto(const json& j, google::protobuf::Message* msg) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(j.dump(), msg, opts);
  if (!st.ok()) {
    return core::invalidArgument("cannot convert to DMI: " + std::string(st.message()));
  }
  return {};
}

const json& at(const json& j, const char* key) {
  static const json kNull;
  if (j.is_object()) {
    auto it = j.find(key);
    if (it != j.end()) {
      return *it;
    }
  }
  return kNull;
}

Status convertDevice(const json& crd, pb::Device* out) {
  if (!crd.is_object()) {
    return core::invalidArgument("device is not an object");
  }
  json spec = at(crd, "spec").is_object() ? at(crd, "spec") : json::object();
  json protocol_data = at(at(spec, "protocol"), "configData");
  if (spec.contains("protocol") && spec["protocol"].is_object()) {
    spec["protocol"].erase("configData");
  }
  std::vector<json> visitor_data;
  if (spec.contains("properties") && spec["properties"].is_array()) {
    for (auto& p : spec["properties"]) {
      visitor_data.push_back(at(at(p, "visitors"), "configData"));
      if (p.is_object() && p.contains("visitors") && p["visitors"].is_object()) {
        p["visitors"].erase("configData");
      }
    }
  }
  spec["deviceModelReference"] = at(at(spec, "deviceModelRef"), "name").is_string()
                                     ? at(at(spec, "deviceModelRef"), "name")
                                     : json("");
  spec.erase("deviceModelRef");
  json shaped = {{"name", at(at(crd, "metadata"), "name")},
                 {"namespace", at(at(crd, "metadata"), "namespace")},
                 {"spec", spec}};
  if (at(crd, "status").is_object()) {
    shaped["status"] = at(crd, "status");
  }
  if (!shaped["name"].is_string()) {
    return core::invalidArgument("device without metadata.name");
  }
  if (!shaped["namespace"].is_string()) {
    shaped["namespace"] = "";
  }
  EC_RETURN_IF_ERROR(parseInto(shaped, out));
  if (protocol_data.is_object()) {
    EC_RETURN_IF_ERROR(
        toAnyMap(at(protocol_data, "data"),
                 out->mutable_spec()->mutable_protocol()->mutable_configdata()->mutable_data()));
  }
  for (int i = 0; i < out->spec().properties_size() && i < static_cast<int>(visitor_data.size());
       ++i) {
    if (visitor_data[i].is_object()) {
      EC_RETURN_IF_ERROR(toAnyMap(at(visitor_data[i], "data"), out->mutable_spec()
                                                                   ->mutable_properties(i)
                                                                   ->mutable_visitors()
                                                                   ->mutable_configdata()
                                                                   ->mutable_data()));
    }
  }
  return {};
}

Status convertModel(const json& crd, pb::DeviceModel* out) {
  if (!crd.is_object()) {
    return core::invalidArgument("device model is not an object");
  }
  json spec = at(crd, "spec").is_object() ? at(crd, "spec") : json::object();
  if (spec.contains("properties") && spec["properties"].is_array()) {
    for (auto& p : spec["properties"]) {
      for (const char* k : {"minimum", "maximum"}) {
        if (p.is_object() && p.contains(k) && p[k].is_number()) {
          p[k] = p[k].dump();
        }
      }
    }
  }
  json shaped = {{"name", at(at(crd, "metadata"), "name")},
                 {"namespace", at(at(crd, "metadata"), "namespace")},
                 {"spec", spec}};
  if (!shaped["name"].is_string()) {
    return core::invalidArgument("device model without metadata.name");
  }
  if (!shaped["namespace"].is_string()) {
    shaped["namespace"] = "";
  }
  return parseInto(shaped, out);
}

class DmiService final : public pb::DeviceManagerService::Service {
 public:
  DmiService(core::Strand strand, DmiHandlers handlers, std::shared_ptr<spdlog::logger> log)
      : strand_(std::move(strand)), handlers_(std::move(handlers)), log_(std::move(log)) {}

  void setStopping() { stopping_ = true; }

  grpc::Status MapperRegister(grpc::ServerContext*, const pb::MapperRegisterRequest* req,
                              pb::MapperRegisterResponse* resp) override {
    if (!limiter_.take()) {
      return {grpc::StatusCode::RESOURCE_EXHAUSTED,
              "fail to register mapper because of too many request"};
    }
    const pb::MapperInfo& info = req->mapper();
    if (info.protocol().empty()) {
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "fail to register mapper " + info.name() + " because the protocol is nil"};
    }
    MapperRecord rec;
    rec.name = info.name();
    rec.version = info.version();
    rec.api_version = info.api_version();
    rec.protocol = info.protocol();
    rec.address = info.address();
    rec.state = info.state();
    bool with_data = req->withdata();
    using Lists = std::pair<std::vector<json>, std::vector<json>>;
    auto fn = handlers_.register_mapper;  // copied: the posted task must not touch `this`
    auto result = onStrand<Result<Lists>>([fn, rec, with_data] { return fn(rec, with_data); });
    if (!result.ok()) {
      return toGrpc(result.status());
    }
    for (const json& d : result->first) {
      pb::Device dev;
      Status st = convertDevice(d, &dev);
      if (!st.ok()) {
        log_->warn("device not listed to mapper mapper={} err=\"{}\"", rec.name, st.message());
        continue;
      }
      *resp->add_devicelist() = std::move(dev);
    }
    for (const json& m : result->second) {
      pb::DeviceModel model;
      Status st = convertModel(m, &model);
      if (!st.ok()) {
        log_->warn("model not listed to mapper mapper={} err=\"{}\"", rec.name, st.message());
        continue;
      }
      *resp->add_modellist() = std::move(model);
    }
    return grpc::Status::OK;
  }

  grpc::Status ReportDeviceStatus(grpc::ServerContext*, const pb::ReportDeviceStatusRequest* req,
                                  pb::ReportDeviceStatusResponse*) override {
    if (!limiter_.take()) {
      return {grpc::StatusCode::RESOURCE_EXHAUSTED,
              "fail to report device status because of too many request"};
    }
    if (req->devicename().empty()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "ReportDeviceStatusRequest has no device name"};
    }
    if (!req->has_reporteddevice() || req->reporteddevice().twins_size() == 0) {
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "ReportDeviceStatusRequest does not have twin data"};
    }
    json twins = json::object();
    for (const pb::Twin& t : req->reporteddevice().twins()) {
      if (t.propertyname().empty()) {
        continue;
      }
      json entry = json::object();
      entry["expected"] = {{"value", t.observeddesired().value()}};
      entry["actual"] = {{"value", t.reported().value()}};
      twins[t.propertyname()] = entry;
    }
    json payload = {{"event_id", ""}, {"timestamp", core::nowUnixMillis()}, {"twin", twins}};
    std::string id = req->devicenamespace() + "/" + req->devicename();
    std::string text = payload.dump(-1, ' ', false, json::error_handler_t::replace);
    auto fn = handlers_.report_status;
    auto st = onStrand<Status>([fn, id, text] { return fn(id, text); });
    return toGrpc(st);
  }

  grpc::Status ReportDeviceStates(grpc::ServerContext*, const pb::ReportDeviceStatesRequest* req,
                                  pb::ReportDeviceStatesResponse*) override {
    if (!limiter_.take()) {
      return {grpc::StatusCode::RESOURCE_EXHAUSTED,
              "fail to report device states because of too many request"};
    }
    if (req->devicename().empty() || req->state().empty()) {
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "ReportDeviceStatesRequest needs a device name and a state"};
    }
    json payload = {
        {"event_id", ""}, {"timestamp", core::nowUnixMillis()}, {"State", req->state()}};
    std::string id = req->devicenamespace() + "/" + req->devicename();
    std::string text = payload.dump(-1, ' ', false, json::error_handler_t::replace);
    auto fn = handlers_.report_states;
    auto st = onStrand<Status>([fn, id, text] { return fn(id, text); });
    return toGrpc(st);
  }

 private:
  // Runs `f` on the module strand and waits for it (gRPC threads never touch module state).
  template <typename R, typename F>
  R onStrand(F f) {
    if (stopping_) {
      return R(core::unavailable("edgecore is stopping"));
    }
    auto promise = std::make_shared<std::promise<R>>();
    auto future = promise->get_future();
    asio::post(strand_, [promise, f = std::move(f)]() mutable { promise->set_value(f()); });
    auto deadline = std::chrono::steady_clock::now() + kHandlerTimeout;
    while (future.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
      if (stopping_ || std::chrono::steady_clock::now() > deadline) {
        return R(core::unavailable("devicetwin did not answer in time"));
      }
    }
    return future.get();
  }

  core::Strand strand_;
  DmiHandlers handlers_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<bool> stopping_{false};
  TokenBucket limiter_;
};

class GrpcDmiServer final : public DmiServer {
 public:
  GrpcDmiServer(std::unique_ptr<DmiService> service, std::unique_ptr<grpc::Server> server,
                std::string path)
      : service_(std::move(service)), server_(std::move(server)), path_(std::move(path)) {}
  ~GrpcDmiServer() override { shutdown(); }

  void shutdown() override {
    if (!server_) {
      return;
    }
    service_->setStopping();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    server_->Wait();
    server_.reset();
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }

 private:
  std::unique_ptr<DmiService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string path_;
};

}  // namespace

std::string_view mapperCallName(MapperCall call) {
  switch (call) {
    case MapperCall::RegisterDevice:
      return "RegisterDevice";
    case MapperCall::UpdateDevice:
      return "UpdateDevice";
    case MapperCall::RemoveDevice:
      return "RemoveDevice";
    case MapperCall::CreateDeviceModel:
      return "CreateDeviceModel";
    case MapperCall::UpdateDeviceModel:
      return "UpdateDeviceModel";
    case MapperCall::RemoveDeviceModel:
      return "RemoveDeviceModel";
  }
  return "?";
}

Result<std::unique_ptr<DmiServer>> DmiServer::start(const std::string& socket_path,
                                                    core::Strand strand, DmiHandlers handlers,
                                                    std::shared_ptr<spdlog::logger> log) {
  std::error_code ec;
  std::filesystem::path p(socket_path);
  if (p.has_parent_path()) {
    std::filesystem::create_directories(p.parent_path(), ec);
  }
  std::filesystem::remove(p, ec);  // a stale socket from a previous run
  auto service = std::make_unique<DmiService>(std::move(strand), std::move(handlers), log);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    return core::unavailable("cannot serve DMI on unix:" + socket_path);
  }
  if (::chmod(socket_path.c_str(), 0600) != 0) {
    log->warn("cannot chmod 0600 path={} err={}", socket_path, std::strerror(errno));
  }
  return std::unique_ptr<DmiServer>(
      new GrpcDmiServer(std::move(service), std::move(server), socket_path));
}

Status callMapper(const std::string& address, MapperCall call, const json& object,
                  std::chrono::milliseconds timeout) {
  auto channel = grpc::CreateChannel("unix:" + address, grpc::InsecureChannelCredentials());
  auto stub = pb::DeviceMapperService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::Status st;
  switch (call) {
    case MapperCall::RegisterDevice: {
      pb::RegisterDeviceRequest req;
      EC_RETURN_IF_ERROR(convertDevice(object, req.mutable_device()));
      pb::RegisterDeviceResponse resp;
      st = stub->RegisterDevice(&ctx, req, &resp);
      break;
    }
    case MapperCall::UpdateDevice: {
      pb::UpdateDeviceRequest req;
      EC_RETURN_IF_ERROR(convertDevice(object, req.mutable_device()));
      pb::UpdateDeviceResponse resp;
      st = stub->UpdateDevice(&ctx, req, &resp);
      break;
    }
    case MapperCall::RemoveDevice: {
      pb::RemoveDeviceRequest req;
      req.set_devicename(at(at(object, "metadata"), "name").is_string()
                             ? at(at(object, "metadata"), "name").get<std::string>()
                             : "");
      req.set_devicenamespace(at(at(object, "metadata"), "namespace").is_string()
                                  ? at(at(object, "metadata"), "namespace").get<std::string>()
                                  : "");
      pb::RemoveDeviceResponse resp;
      st = stub->RemoveDevice(&ctx, req, &resp);
      break;
    }
    case MapperCall::CreateDeviceModel: {
      pb::CreateDeviceModelRequest req;
      EC_RETURN_IF_ERROR(convertModel(object, req.mutable_model()));
      pb::CreateDeviceModelResponse resp;
      st = stub->CreateDeviceModel(&ctx, req, &resp);
      break;
    }
    case MapperCall::UpdateDeviceModel: {
      pb::UpdateDeviceModelRequest req;
      EC_RETURN_IF_ERROR(convertModel(object, req.mutable_model()));
      pb::UpdateDeviceModelResponse resp;
      st = stub->UpdateDeviceModel(&ctx, req, &resp);
      break;
    }
    case MapperCall::RemoveDeviceModel: {
      pb::RemoveDeviceModelRequest req;
      req.set_modelname(at(at(object, "metadata"), "name").is_string()
                            ? at(at(object, "metadata"), "name").get<std::string>()
                            : "");
      req.set_modelnamespace(at(at(object, "metadata"), "namespace").is_string()
                                 ? at(at(object, "metadata"), "namespace").get<std::string>()
                                 : "");
      pb::RemoveDeviceModelResponse resp;
      st = stub->RemoveDeviceModel(&ctx, req, &resp);
      break;
    }
  }
  if (!st.ok()) {
    if (st.error_code() == grpc::StatusCode::UNAVAILABLE ||
        st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      return core::unavailable(std::string(mapperCallName(call)) + ": " + st.error_message());
    }
    return core::internalError(std::string(mapperCallName(call)) + ": " + st.error_message());
  }
  return {};
}

}  // namespace edgecore::devicetwin
