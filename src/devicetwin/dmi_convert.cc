// DMI v1beta1 messages <-> our types without gRPC (see dmi_convert.h).
#include "dmi_convert.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wrappers.pb.h>

namespace edgecore::devicetwin {
namespace pb = ::v1beta1;
using core::Result;
using core::Status;
using nlohmann::json;

namespace {

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

DeviceReport reportFor(const std::string& ns, const std::string& name, const json& payload) {
  DeviceReport r;
  r.id = ns + "/" + name;
  r.payload = payload.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

std::string metadataString(const json& crd, const char* key) {
  const json& v = at(at(crd, "metadata"), key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

}  // namespace

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

Result<MapperRecord> mapperFromRegister(const pb::MapperRegisterRequest& req) {
  const pb::MapperInfo& info = req.mapper();
  if (info.protocol().empty()) {
    return core::invalidArgument("fail to register mapper " + info.name() +
                                 " because the protocol is nil");
  }
  MapperRecord rec;
  rec.name = info.name();
  rec.version = info.version();
  rec.api_version = info.api_version();
  rec.protocol = info.protocol();
  rec.address = info.address();
  rec.state = info.state();
  return rec;
}

Result<DeviceReport> twinReportFrom(const pb::ReportDeviceStatusRequest& req, int64_t now_ms) {
  if (req.devicename().empty()) {
    return core::invalidArgument("ReportDeviceStatusRequest has no device name");
  }
  if (!req.has_reporteddevice() || req.reporteddevice().twins_size() == 0) {
    return core::invalidArgument("ReportDeviceStatusRequest does not have twin data");
  }
  json twins = json::object();
  for (const pb::Twin& t : req.reporteddevice().twins()) {
    if (t.propertyname().empty()) {
      continue;
    }
    json entry = json::object();
    entry["expected"] = {{"value", t.observeddesired().value()}};
    entry["actual"] = {{"value", t.reported().value()}};
    twins[t.propertyname()] = entry;
  }
  json payload = {{"event_id", ""}, {"timestamp", now_ms}, {"twin", twins}};
  return reportFor(req.devicenamespace(), req.devicename(), payload);
}

Result<DeviceReport> statesReportFrom(const pb::ReportDeviceStatesRequest& req, int64_t now_ms) {
  if (req.devicename().empty() || req.state().empty()) {
    return core::invalidArgument("ReportDeviceStatesRequest needs a device name and a state");
  }
  json payload = {{"event_id", ""}, {"timestamp", now_ms}, {"State", req.state()}};
  return reportFor(req.devicenamespace(), req.devicename(), payload);
}

void fillRegisterResponse(const std::vector<json>& devices, const std::vector<json>& models,
                          pb::MapperRegisterResponse* resp, std::vector<std::string>* skipped) {
  for (const json& d : devices) {
    pb::Device dev;
    Status st = convertDevice(d, &dev);
    if (!st.ok()) {
      if (skipped != nullptr) {
        skipped->push_back("device " + metadataString(d, "name") + ": " + st.message());
      }
      continue;
    }
    *resp->add_devicelist() = std::move(dev);
  }
  for (const json& m : models) {
    pb::DeviceModel model;
    Status st = convertModel(m, &model);
    if (!st.ok()) {
      if (skipped != nullptr) {
        skipped->push_back("model " + metadataString(m, "name") + ": " + st.message());
      }
      continue;
    }
    *resp->add_modellist() = std::move(model);
  }
}

pb::RemoveDeviceRequest removeDeviceRequest(const json& crd) {
  pb::RemoveDeviceRequest req;
  req.set_devicename(metadataString(crd, "name"));
  req.set_devicenamespace(metadataString(crd, "namespace"));
  return req;
}

pb::RemoveDeviceModelRequest removeModelRequest(const json& crd) {
  pb::RemoveDeviceModelRequest req;
  req.set_modelname(metadataString(crd, "name"));
  req.set_modelnamespace(metadataString(crd, "namespace"));
  return req;
}

}  // namespace edgecore::devicetwin
