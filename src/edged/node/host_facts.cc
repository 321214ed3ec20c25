// readHostFacts: the host data the kubelet gets from cadvisor and its own readers, from /proc,
// /sys, /etc, uname(2), statvfs(3) and getifaddrs(3).

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "node/node_status.h"

namespace edgecore::edged {
namespace {

std::string readFirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line;
}

int64_t meminfoBytes(const std::string& key) {
  std::ifstream f("/proc/meminfo");
  std::string k;
  int64_t v = 0;
  std::string unit;
  while (f >> k >> v) {
    std::getline(f, unit);
    if (k == key + ":") {
      return v * 1024;
    }
  }
  return 0;
}

std::string goArch(const std::string& machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64" || machine == "arm64") return "arm64";
  if (machine.rfind("armv", 0) == 0) return "arm";
  if (machine == "i686" || machine == "i386") return "386";
  if (machine == "ppc64le") return "ppc64le";
  if (machine == "s390x") return "s390x";
  if (machine == "riscv64") return "riscv64";
  return machine;
}

}  // namespace

HostFacts readHostFacts(const std::string& root_directory) {
  HostFacts f;
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  f.cpu_milli = std::max<long>(cpus, 1) * 1000;
  f.memory_bytes = meminfoBytes("MemTotal");
  f.memory_available_bytes = meminfoBytes("MemAvailable");

  std::filesystem::path p = root_directory.empty() ? "/" : root_directory;
  std::error_code ec;
  while (!std::filesystem::exists(p, ec) && p.has_parent_path() && p != p.parent_path()) {
    p = p.parent_path();
  }
  struct statvfs vfs {};
  if (::statvfs(p.c_str(), &vfs) == 0) {
    f.fs_capacity_bytes = static_cast<int64_t>(vfs.f_blocks) * static_cast<int64_t>(vfs.f_frsize);
    f.fs_available_bytes = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
    f.fs_inodes = static_cast<int64_t>(vfs.f_files);
    f.fs_inodes_free = static_cast<int64_t>(vfs.f_ffree);
  }
  f.pid_max = std::atoll(readFirstLine("/proc/sys/kernel/pid_max").c_str());
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string n = e.path().filename().string();
    if (!n.empty() && std::all_of(n.begin(), n.end(), ::isdigit)) ++f.pids_running;
  }
  for (const auto& e : std::filesystem::directory_iterator("/sys/kernel/mm/hugepages", ec)) {
    // hugepages-2048kB -> hugepages-2Mi
    const std::string n = e.path().filename().string();
    if (n.rfind("hugepages-", 0) != 0 || n.size() < 13) continue;
    const int64_t kb = std::atoll(n.substr(10).c_str());
    const int64_t count = std::atoll(readFirstLine(e.path().string() + "/nr_hugepages").c_str());
    if (kb <= 0) continue;
    f.hugepages["hugepages-" + formatBinaryQuantity(kb * 1024)] = kb * 1024 * count;
  }

  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) {
    f.hostname = host;
    std::transform(f.hostname.begin(), f.hostname.end(), f.hostname.begin(), ::tolower);
  }
  struct ifaddrs* ifs = nullptr;
  if (::getifaddrs(&ifs) == 0) {
    for (auto* i = ifs; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
      if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
      char buf[INET_ADDRSTRLEN];
      auto* sin = reinterpret_cast<struct sockaddr_in*>(i->ifa_addr);
      if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) f.ips.push_back(buf);
    }
    ::freeifaddrs(ifs);
  }
  f.machine_id = readFirstLine("/etc/machine-id");
  if (f.machine_id.empty()) f.machine_id = readFirstLine("/var/lib/dbus/machine-id");
  f.system_uuid = readFirstLine("/sys/class/dmi/id/product_uuid");
  f.boot_id = readFirstLine("/proc/sys/kernel/random/boot_id");
  struct utsname u {};
  if (::uname(&u) == 0) {
    f.kernel_version = u.release;
    f.architecture = goArch(u.machine);
  }
  std::ifstream os("/etc/os-release");
  for (std::string line; std::getline(os, line);) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
      f.os_image = v;
    }
  }
  return f;
}

}  // namespace edgecore::edged
