// A tiny DMI v1beta1 mapper for tests: serves DeviceMapperService on its own unix socket,
// registers with edgecore, and reports twin values and an "online" state for every device it
// was given, every --report-ms. Prints one line per event on stdout:
//   REGISTERED devices=<n> models=<m> | LISTED <ns>/<name> | RegisterDevice <ns>/<name> |
//   UpdateDevice <ns>/<name> [desired <prop>=<value>...] | RemoveDevice <ns>/<name> |
//   REGISTER_FAILED <code> <message> test_mapper --dmi SOCK --listen SOCK [--name N] [--protocol P]
//   [--report-ms MS]
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "dmi/v1beta1/api.grpc.pb.h"

namespace pb = ::v1beta1;

namespace {

std::atomic<bool> g_stop{false};
std::mutex g_mu;
std::map<std::string, std::pair<std::string, std::string>> g_devices;  // key -> (ns, name)

void say(const std::string& line) {
  std::lock_guard lock(g_mu);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void remember(const pb::Device& d) {
  std::lock_guard lock(g_mu);
  g_devices[d.namespace_() + "/" + d.name()] = {d.namespace_(), d.name()};
}

// " desired name=value ..." of the device's properties that carry a desired value ("" if none).
std::string desiredValues(const pb::Device& d) {
  std::string out;
  for (const auto& p : d.spec().properties()) {
    if (!p.desired().value().empty()) {
      out += (out.empty() ? " desired " : " ") + p.name() + "=" + p.desired().value();
    }
  }
  return out;
}

class Mapper final : public pb::DeviceMapperService::Service {
  grpc::Status RegisterDevice(grpc::ServerContext*, const pb::RegisterDeviceRequest* req,
                              pb::RegisterDeviceResponse* resp) override {
    remember(req->device());
    resp->set_devicename(req->device().name());
    resp->set_devicenamespace(req->device().namespace_());
    say("RegisterDevice " + req->device().namespace_() + "/" + req->device().name() +
        " protocol=" + req->device().spec().protocol().protocolname());
    return grpc::Status::OK;
  }
  grpc::Status UpdateDevice(grpc::ServerContext*, const pb::UpdateDeviceRequest* req,
                            pb::UpdateDeviceResponse*) override {
    remember(req->device());
    say("UpdateDevice " + req->device().namespace_() + "/" + req->device().name() +
        desiredValues(req->device()));
    return grpc::Status::OK;
  }
  grpc::Status RemoveDevice(grpc::ServerContext*, const pb::RemoveDeviceRequest* req,
                            pb::RemoveDeviceResponse*) override {
    {
      std::lock_guard lock(g_mu);
      g_devices.erase(req->devicenamespace() + "/" + req->devicename());
    }
    say("RemoveDevice " + req->devicenamespace() + "/" + req->devicename());
    return grpc::Status::OK;
  }
  grpc::Status CreateDeviceModel(grpc::ServerContext*, const pb::CreateDeviceModelRequest* req,
                                 pb::CreateDeviceModelResponse*) override {
    say("CreateDeviceModel " + req->model().namespace_() + "/" + req->model().name());
    return grpc::Status::OK;
  }
  grpc::Status UpdateDeviceModel(grpc::ServerContext*, const pb::UpdateDeviceModelRequest* req,
                                 pb::UpdateDeviceModelResponse*) override {
    say("UpdateDeviceModel " + req->model().namespace_() + "/" + req->model().name());
    return grpc::Status::OK;
  }
  grpc::Status RemoveDeviceModel(grpc::ServerContext*, const pb::RemoveDeviceModelRequest* req,
                                 pb::RemoveDeviceModelResponse*) override {
    say("RemoveDeviceModel " + req->modelnamespace() + "/" + req->modelname());
    return grpc::Status::OK;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string dmi, listen, name = "test-mapper", protocol = "test-protocol";
  int report_ms = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--dmi") {
      dmi = v;
    } else if (k == "--listen") {
      listen = v;
    } else if (k == "--name") {
      name = v;
    } else if (k == "--protocol") {
      protocol = v;
    } else if (k == "--report-ms") {
      report_ms = std::atoi(v.c_str());
    }
  }
  if (dmi.empty() || listen.empty()) {
    std::fprintf(stderr, "usage: test_mapper --dmi SOCK --listen SOCK [--name N] [--protocol P]\n");
    return 2;
  }
  signal(SIGTERM, [](int) { g_stop = true; });
  signal(SIGINT, [](int) { g_stop = true; });
  ::unlink(listen.c_str());
  Mapper service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + listen, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "cannot listen on %s\n", listen.c_str());
    return 1;
  }
  auto stub = pb::DeviceManagerService::NewStub(
      grpc::CreateChannel("unix:" + dmi, grpc::InsecureChannelCredentials()));
  pb::MapperRegisterRequest reg;
  reg.set_withdata(true);
  reg.mutable_mapper()->set_name(name);
  reg.mutable_mapper()->set_version("v1");
  reg.mutable_mapper()->set_api_version("v1beta1");
  reg.mutable_mapper()->set_protocol(protocol);
  reg.mutable_mapper()->set_address(listen);
  reg.mutable_mapper()->set_state("ok");
  pb::MapperRegisterResponse resp;
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    resp.Clear();
    grpc::Status st = stub->MapperRegister(&ctx, reg, &resp);
    if (st.ok()) {
      break;
    }
    if (st.error_code() != grpc::StatusCode::UNAVAILABLE || attempt > 50 || g_stop) {
      say("REGISTER_FAILED " + std::to_string(st.error_code()) + " " + st.error_message());
      server->Shutdown();
      return 1;
    }
    // edgecore's DMI socket is not up yet: retry at a fixed pace, as a mapper would.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (const auto& d : resp.devicelist()) {
    remember(d);
    say("LISTED " + d.namespace_() + "/" + d.name());
  }
  say("REGISTERED devices=" + std::to_string(resp.devicelist_size()) +
      " models=" + std::to_string(resp.modellist_size()));
  int64_t n = 0;
  std::map<std::string, bool> announced;
  while (!g_stop) {
    std::map<std::string, std::pair<std::string, std::string>> devices;
    {
      std::lock_guard lock(g_mu);
      devices = g_devices;
    }
    for (const auto& [key, nn] : devices) {
      if (!announced[key]) {
        pb::ReportDeviceStatesRequest sreq;
        sreq.set_devicenamespace(nn.first);
        sreq.set_devicename(nn.second);
        sreq.set_state("online");
        pb::ReportDeviceStatesResponse sresp;
        grpc::ClientContext sctx;
        if (stub->ReportDeviceStates(&sctx, sreq, &sresp).ok()) {
          announced[key] = true;
          say("STATE " + key);
        }
      }
      pb::ReportDeviceStatusRequest req;
      req.set_devicenamespace(nn.first);
      req.set_devicename(nn.second);
      auto* twin = req.mutable_reporteddevice()->add_twins();
      twin->set_propertyname("temperature");
      twin->mutable_reported()->set_value(std::to_string(20 + n % 10));
      twin->mutable_observeddesired()->set_value("");
      pb::ReportDeviceStatusResponse r;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      grpc::Status st = stub->ReportDeviceStatus(&ctx, req, &r);
      if (!st.ok() && n % 50 == 0) {
        say("REPORT_FAILED " + key + " " + st.error_message());
      }
    }
    ++n;
    std::this_thread::sleep_for(std::chrono::milliseconds(report_ms));  // the report period
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  return 0;
}
