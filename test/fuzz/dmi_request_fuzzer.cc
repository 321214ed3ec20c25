// libFuzzer target for the DMI v1beta1 server side without gRPC (src/devicetwin/dmi_convert.cc):
// a mapper's MapperRegister / ReportDeviceStatus / ReportDeviceStates request as protobuf bytes,
// turned into our types the way DeviceManagerService does, then handled as the module does
// (TwinState::twinUpdate / stateUpdate for a member device); and Device / DeviceModel CRDs (JSON
// from the cloud) converted into the DMI messages of the MapperRegister answer and the mapper
// calls.
//
// Input layout: byte 0 = kind % 4: 0 MapperRegisterRequest, 1 ReportDeviceStatusRequest,
// 2 ReportDeviceStatesRequest (the rest is the serialized message); 3: the rest is a CRD as JSON
// text, converted both as a Device and as a DeviceModel.
// Checks: no crash, no sanitizer report, no exception; a refused request is InvalidArgument
// with a message (the gRPC code the mapper gets); an accepted one copies the fields it must and
// yields a JSON payload with the original's keys that TwinState handles into valid JSON
// answers; a CRD that converts gives a message that serializes and parses back equal.

#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "dmi_convert.h"
#include "edgecore/core/message.h"
#include "twin_state.h"

namespace {

namespace dt = edgecore::devicetwin;
namespace pb = ::v1beta1;
using edgecore::core::StatusCode;
using nlohmann::json;

constexpr int64_t kNow = 1714600000000;

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "dmi_request invariant broken: %s\n%.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void checkRefusal(const edgecore::core::Status& st) {
  if (st.code() != StatusCode::InvalidArgument || st.message().empty()) {
    fail("a refused request is not InvalidArgument with a message", st.toString());
  }
}

const json kSetup = json::parse(R"({
  "added_devices": [
    {"id": "default/dev-a", "name": "dev-a",
     "twin": {"temp": {"expected": {"value": "20"}, "expected_version": {"cloud": 1, "edge": 0},
                       "metadata": {"type": "int"}},
              "mode": {"actual": {"value": "auto"}, "actual_version": {"cloud": 1, "edge": 0}}}}
  ]})");

// The module's dmiReport: NotFound for a non-member, else the MQTT handling.
void handle(const dt::DeviceReport& r, bool states) {
  json payload = json::parse(r.payload, nullptr, false);
  if (!payload.is_object() || !payload.contains("event_id") || !payload.contains("timestamp") ||
      !payload.contains(states ? "State" : "twin")) {
    fail("a report payload without the original's keys", r.payload);
  }
  dt::TwinState state("node-1");
  (void)state.membershipUpdate(kSetup, false, kNow);
  if (state.find(r.id) == nullptr) {
    return;
  }
  dt::Effects fx =
      states ? state.stateUpdate(r.id, r.payload, kNow) : state.twinUpdate(r.id, r.payload, kNow);
  for (const auto& p : fx.publishes) {
    if (!json::accept(p.payload)) {
      fail("an answer to a mapper report is not JSON", p.payload);
    }
  }
  for (const auto& c : fx.cloud) {
    if (!json::accept(edgecore::core::encodeJsonValue(c.content))) {
      fail("a cloud report of a mapper report is not JSON", c.resource);
    }
  }
}

template <typename M>
void checkRoundTrip(const M& msg) {
  std::string wire;
  if (!msg.SerializeToString(&wire)) {
    fail("a converted message does not serialize", msg.DebugString());
  }
  M back;
  if (!back.ParseFromString(wire)) {
    fail("a converted message does not parse back", msg.DebugString());
  }
  std::string again;
  if (!back.SerializeToString(&again) || again.size() != wire.size()) {
    fail("a converted message changes on a round trip", msg.DebugString());
  }
}

void crd(std::string_view text) {
  json j = edgecore::core::parseJsonBounded(text);
  if (j.is_discarded()) {
    return;
  }
  pb::Device dev;
  auto st = dt::convertDevice(j, &dev);
  if (st.ok()) {
    checkRoundTrip(dev);
  } else if (st.code() != StatusCode::InvalidArgument) {
    fail("a device conversion failed with another code", st.toString());
  }
  pb::DeviceModel model;
  st = dt::convertModel(j, &model);
  if (st.ok()) {
    checkRoundTrip(model);
  } else if (st.code() != StatusCode::InvalidArgument) {
    fail("a model conversion failed with another code", st.toString());
  }
  pb::MapperRegisterResponse resp;
  std::vector<std::string> skipped;
  dt::fillRegisterResponse({j}, {j}, &resp, &skipped);
  if (static_cast<size_t>(resp.devicelist_size() + resp.modellist_size()) + skipped.size() != 2) {
    fail("the register answer lost a CRD", text);
  }
  checkRoundTrip(resp);
  (void)dt::removeDeviceRequest(j);
  (void)dt::removeModelRequest(j);
}

}  // namespace

// Protobuf logs every string field with invalid UTF-8 it refuses; that is expected here.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const int kind = data[0] % 4;
  const auto* body = data + 1;
  const int len = static_cast<int>(size - 1);
  switch (kind) {
    case 0: {
      pb::MapperRegisterRequest req;
      if (!req.ParseFromArray(body, len)) {
        return 0;  // gRPC answers INTERNAL before any of our code runs
      }
      auto rec = dt::mapperFromRegister(req);
      if (!rec.ok()) {
        checkRefusal(rec.status());
        if (!req.mapper().protocol().empty()) {
          fail("a mapper with a protocol was refused", rec.status().toString());
        }
        return 0;
      }
      if (rec->protocol.empty() || rec->name != req.mapper().name() ||
          rec->address != req.mapper().address()) {
        fail("the mapper record differs from the request", req.DebugString());
      }
      break;
    }
    case 1: {
      pb::ReportDeviceStatusRequest req;
      if (!req.ParseFromArray(body, len)) {
        return 0;
      }
      auto r = dt::twinReportFrom(req, kNow);
      if (!r.ok()) {
        checkRefusal(r.status());
        return 0;
      }
      if (r->id != req.devicenamespace() + "/" + req.devicename()) {
        fail("the device id differs from the request", r->id);
      }
      handle(*r, false);
      break;
    }
    case 2: {
      pb::ReportDeviceStatesRequest req;
      if (!req.ParseFromArray(body, len)) {
        return 0;
      }
      auto r = dt::statesReportFrom(req, kNow);
      if (!r.ok()) {
        checkRefusal(r.status());
        return 0;
      }
      handle(*r, true);
      break;
    }
    default:
      crd(std::string_view(reinterpret_cast<const char*>(body), size - 1));
      break;
  }
  return 0;
}
