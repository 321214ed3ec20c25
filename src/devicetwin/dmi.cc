// DMI v1beta1 over gRPC (spec/local-apis.md 7.4): the only translation unit that includes gRPC.
// Mirrors edge/pkg/devicetwin/dmiserver and dtcommon.ConvertDevice @ v1.20.0.
#include "dmi.h"

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
#include "dmi_convert.h"
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
    auto record = mapperFromRegister(*req);
    if (!record.ok()) {
      return toGrpc(record.status());
    }
    MapperRecord rec = std::move(record).value();
    bool with_data = req->withdata();
    using Lists = std::pair<std::vector<json>, std::vector<json>>;
    auto fn = handlers_.register_mapper;  // copied: the posted task must not touch `this`
    auto result = onStrand<Result<Lists>>([fn, rec, with_data] { return fn(rec, with_data); });
    if (!result.ok()) {
      return toGrpc(result.status());
    }
    std::vector<std::string> skipped;
    fillRegisterResponse(result->first, result->second, resp, &skipped);
    for (const std::string& why : skipped) {
      log_->warn("CRD not listed to mapper mapper={} err=\"{}\"", rec.name, why);
    }
    return grpc::Status::OK;
  }

  grpc::Status ReportDeviceStatus(grpc::ServerContext*, const pb::ReportDeviceStatusRequest* req,
                                  pb::ReportDeviceStatusResponse*) override {
    if (!limiter_.take()) {
      return {grpc::StatusCode::RESOURCE_EXHAUSTED,
              "fail to report device status because of too many request"};
    }
    auto report = twinReportFrom(*req, core::nowUnixMillis());
    if (!report.ok()) {
      return toGrpc(report.status());
    }
    std::string id = std::move(report->id);
    std::string text = std::move(report->payload);
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
    auto report = statesReportFrom(*req, core::nowUnixMillis());
    if (!report.ok()) {
      return toGrpc(report.status());
    }
    std::string id = std::move(report->id);
    std::string text = std::move(report->payload);
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
      pb::RemoveDeviceRequest req = removeDeviceRequest(object);
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
      pb::RemoveDeviceModelRequest req = removeModelRequest(object);
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
