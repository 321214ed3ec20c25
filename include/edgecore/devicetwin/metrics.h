#pragma once
// Device and mapper health for /metrics (beyond the original): devicetwin writes it, MetaServer's
// /metrics renders it through a collector (main.cc wires the two). Thread-safe, header-only, so
// MetaServer does not link devicetwin.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace edgecore::devicetwin {

class TwinMetrics {
 public:
  // Any thread.
  void setMapper(const std::string& name, const std::string& protocol, int64_t last_report_ms) {
    std::lock_guard lock(mu_);
    mappers_[name] = {protocol, last_report_ms};
  }
  void setDevices(uint64_t total, uint64_t online) {
    std::lock_guard lock(mu_);
    devices_ = total;
    online_ = online;
  }
  // Appends Prometheus text: mapper last report time and age, device counts. Any thread.
  void render(std::string& out, int64_t now_ms) const {
    std::lock_guard lock(mu_);
    out += "# HELP edgecore_devices Devices known to devicetwin.\n# TYPE edgecore_devices gauge\n";
    out += "edgecore_devices " + std::to_string(devices_) + "\n";
    out += "# HELP edgecore_devices_online Devices whose state is online.\n";
    out += "# TYPE edgecore_devices_online gauge\n";
    out += "edgecore_devices_online " + std::to_string(online_) + "\n";
    out += "# HELP edgecore_mapper_last_report_timestamp_seconds Last DMI call from the mapper.\n";
    out += "# TYPE edgecore_mapper_last_report_timestamp_seconds gauge\n";
    for (const auto& [name, m] : mappers_) {
      out += "edgecore_mapper_last_report_timestamp_seconds{mapper=\"" + escape(name) +
             "\",protocol=\"" + escape(m.protocol) + "\"} " +
             std::to_string(static_cast<double>(m.last_report_ms) / 1000.0) + "\n";
    }
    out += "# HELP edgecore_mapper_report_age_seconds Seconds since the mapper last reported.\n";
    out += "# TYPE edgecore_mapper_report_age_seconds gauge\n";
    for (const auto& [name, m] : mappers_) {
      out += "edgecore_mapper_report_age_seconds{mapper=\"" + escape(name) + "\",protocol=\"" +
             escape(m.protocol) + "\"} " +
             std::to_string(static_cast<double>(now_ms - m.last_report_ms) / 1000.0) + "\n";
    }
  }

 private:
  static std::string escape(const std::string& v) {
    std::string out;
    for (char c : v) {
      if (c == '\\' || c == '"') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    return out;
  }
  struct Mapper {
    std::string protocol;
    int64_t last_report_ms = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, Mapper> mappers_;
  uint64_t devices_ = 0;
  uint64_t online_ = 0;
};

}  // namespace edgecore::devicetwin
