#include "edgecore/core/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

namespace edgecore::core {

std::string formatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string escapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void appendMetricFamily(std::string& out, std::string_view name, std::string_view help,
                        MetricType type, double value) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += type == MetricType::Counter ? " counter\n" : " gauge\n";
  out += name;
  out += ' ';
  out += formatMetricValue(value);
  out += '\n';
}

MetricsRegistry::Registration::Registration(Registration&& other) noexcept
    : owner_(std::move(other.owner_)), id_(other.id_) {
  other.id_ = 0;
}

MetricsRegistry::Registration& MetricsRegistry::Registration::operator=(
    Registration&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = std::move(other.owner_);
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

void MetricsRegistry::Registration::reset() {
  if (id_ == 0) {
    return;
  }
  if (auto owner = owner_.lock()) {
    (*owner)->remove(id_);
  }
  id_ = 0;
  owner_.reset();
}

void MetricsRegistry::add(std::string name, std::string help, MetricType type, Labels labels,
                          ValueFn fn) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = families_.try_emplace(std::move(name));
  if (inserted) {
    it->second.help = std::move(help);
    it->second.type = type;
  }
  it->second.samples.push_back(Sample{std::move(labels), std::move(fn)});
}

void MetricsRegistry::addCollector(Collector collector) {
  std::lock_guard lock(mu_);
  collectors_.emplace(next_id_++, std::move(collector));
}

MetricsRegistry::Registration MetricsRegistry::addScopedCollector(Collector collector) {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  collectors_.emplace(id, std::move(collector));
  return Registration(self_, id);
}

void MetricsRegistry::remove(uint64_t id) {
  std::lock_guard lock(mu_);
  collectors_.erase(id);
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    out += "# HELP " + name + " " + fam.help + "\n";
    out += "# TYPE " + name + (fam.type == MetricType::Counter ? " counter\n" : " gauge\n");
    for (const auto& s : fam.samples) {
      out += name;
      if (!s.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < s.labels.size(); ++i) {
          if (i) out += ',';
          out += s.labels[i].first + "=\"" + escapeLabelValue(s.labels[i].second) + "\"";
        }
        out += '}';
      }
      out += ' ';
      out += formatMetricValue(s.fn ? s.fn() : 0.0);
      out += '\n';
    }
  }
  for (const auto& [id, c] : collectors_) {
    c(out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

namespace {

// Resident set size from /proc/self/statm (pages), 0 when unreadable.
double residentBytes() {
  std::ifstream in("/proc/self/statm");
  long long size = 0;
  long long resident = 0;
  if (!(in >> size >> resident)) {
    return 0;
  }
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double openFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return 0;
  }
  double n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') {
      ++n;
    }
  }
  closedir(dir);
  return n - 1;  // the directory stream's own descriptor
}

// utime + stime from /proc/self/stat (fields 14 and 15, after the parenthesised command).
double cpuSeconds() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream fields(text.substr(close + 1));
  std::string skip;
  for (int i = 3; i <= 13; ++i) {
    fields >> skip;
  }
  double utime = 0;
  double stime = 0;
  if (!(fields >> utime >> stime)) {
    return 0;
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

void addProcessMetrics(MetricsRegistry& registry) {
  const auto started = std::chrono::steady_clock::now();
  const double start_unix =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  registry.addGauge("edgecore_uptime_seconds", "Seconds since edgecore started.", [started] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  });
  registry.addGauge("process_start_time_seconds",
                    "Start time of the process since the Unix epoch in seconds.",
                    [start_unix] { return start_unix; });
  registry.addGauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                    [] { return residentBytes(); });
  registry.addGauge("process_open_fds", "Number of open file descriptors.",
                    [] { return openFds(); });
  registry.addCounter("process_cpu_seconds_total", "Total user and system CPU time in seconds.",
                      [] { return cpuSeconds(); });
}

}  // namespace edgecore::core
