#include "preflight.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "edgecore/core/digest.h"
#include "edgecore/core/host_port.h"
#include "edgecore/cri/cri_client.h"
#include "http_client.h"

namespace edgecore::keadm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
constexpr auto kConnectTimeout = 5s;

struct AddrList {
  addrinfo* head = nullptr;
  ~AddrList() {
    if (head != nullptr) {
      freeaddrinfo(head);
    }
  }
};

std::string resolve(const std::string& host, int port, bool passive, AddrList& out) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints,
                       &out.head);
  return rc == 0 ? std::string() : std::string("cannot resolve ") + host + ": " + gai_strerror(rc);
}

std::string hostPortText(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// The one CRI client the checks share.
core::Result<cri::CriClientPtr> criClient(const std::string& endpoint) {
  cri::CriClientOptions o;
  o.runtime_endpoint = endpoint;
  o.status_timeout = kConnectTimeout;
  return cri::CriClient::create(o);
}

void checkRuntime(const JoinOptions& o, const core::EdgedConfig& edged, PreflightResult& r) {
  const std::string& endpoint = edged.container_runtime_endpoint;
  auto client = criClient(endpoint);
  if (!client.ok()) {
    r.failures.push_back("container runtime: " + client.status().message() +
                         "; pass --remote-runtime-endpoint unix:///run/containerd/containerd.sock");
    return;
  }
  auto version = (*client)->version();
  if (!version.ok()) {
    r.failures.push_back("container runtime: no CRI runtime answers at " + endpoint + " (" +
                         version.status().message() +
                         "); start containerd (systemctl start containerd) or point "
                         "--remote-runtime-endpoint at its socket");
    return;
  }
  auto info = (*client)->statusInfo();
  std::optional<std::string> driver;
  if (info.ok()) {
    auto it = info->find("config");
    if (it != info->end()) {
      driver = cgroupDriverFromCriInfo(it->second);
    }
  }
  if (!driver) {
    r.warnings.push_back("cannot tell the cgroup driver of " + version->runtime_name() + " " +
                         version->runtime_version() + "; make sure it uses " + o.cgroup_driver +
                         " (--cgroupdriver)");
    return;
  }
  if (*driver != edged.cgroup_driver) {
    bool systemd = *driver == "systemd";
    r.failures.push_back("cgroup driver: " + version->runtime_name() + " uses " + *driver +
                         " (SystemdCgroup = " + (systemd ? "true" : "false") +
                         " in /etc/containerd/config.toml) but edgecore would use " +
                         edged.cgroup_driver + "; pass --cgroupdriver " + *driver +
                         " or change containerd's SystemdCgroup and restart it");
  }
}

void checkPort(const std::string& what, const std::string& host, int port, PreflightResult& r) {
  if (port <= 0) {
    return;
  }
  std::string why = portInUse(host, port);
  if (!why.empty()) {
    r.failures.push_back("port " + std::to_string(port) + " (" + what + "): " + why +
                         "; stop what listens there (ss -ltnp 'sport = :" + std::to_string(port) +
                         "') or change the port with --set");
  }
}

// A token is <64 hex>.<jwt header>.<jwt payload>.<jwt signature>, as edgehub's bootstrap
// (src/edgehub/crypto.cc parseBootstrapToken) reads it.
std::string tokenFormatError(const std::string& token) {
  size_t dot = token.find('.');
  std::string hash = token.substr(0, dot);
  bool hex = hash.size() == 64;
  for (char c : hash) {
    hex = hex && std::isxdigit(static_cast<unsigned char>(c));
  }
  size_t parts = 1;
  for (char c : token) {
    parts += c == '.' ? 1 : 0;
  }
  if (!hex || parts != 4) {
    return "--token: malformed, expected <sha256 of the CA>.<jwt> as printed by `keadm gettoken` "
           "on the cloud";
  }
  return {};
}

void checkCloud(const JoinOptions& o, const JoinedConfig& joined, PreflightResult& r) {
  const auto& hub = joined.config.modules.edge_hub;
  const auto& transport = hub.quic.enable ? hub.quic : hub.websocket;
  auto hub_addr = core::parseHostPort(transport.server);
  std::string https = hub.http_server;
  auto cert_addr = core::parseHostPort(https.rfind("https://", 0) == 0 ? https.substr(8) : https);
  bool reachable = true;
  for (auto [what, addr] :
       {std::pair{"CloudHub", &hub_addr}, std::pair{"certificate", &cert_addr}}) {
    if (!addr->ok()) {
      r.failures.push_back(std::string(what) + " address: " + addr->status().message());
      reachable = false;
      continue;
    }
    std::string why = tcpConnectError((*addr)->host, (*addr)->port, kConnectTimeout);
    if (!why.empty()) {
      r.failures.push_back("CloudCore: cannot connect to the " + std::string(what) + " port " +
                           (*addr)->authority() + " (" + why + "); check --cloudcore-ipport" +
                           (std::string(what) == "certificate" ? " and --certport" : "") +
                           ", that cloudcore runs and that no firewall blocks the port");
      reachable = false;
    }
  }
  if (o.token.empty()) {
    if (!std::filesystem::exists(hub.tls_cert_file)) {
      r.failures.push_back("--token is required for a new node (no certificate at " +
                           hub.tls_cert_file + "); get one on the cloud with `keadm gettoken`");
    }
    return;
  }
  std::string format = tokenFormatError(o.token);
  if (!format.empty()) {
    r.failures.push_back(format);
    return;
  }
  if (!reachable || !cert_addr.ok()) {
    return;
  }
  Endpoint ep;
  ep.host = cert_addr->host;
  ep.port = cert_addr->port;
  ep.tls = true;
  ep.insecure_skip_verify = true;
  ep.peer_name = "CloudCore's certificate server";
  HttpClient client(ep, kConnectTimeout);
  auto reply = client.request("GET", "/ca.crt");
  if (!reply.ok() || reply->status != 200) {
    r.failures.push_back(
        "CloudCore: cannot fetch the CA from https://" + cert_addr->authority() + "/ca.crt (" +
        (reply.ok() ? "HTTP " + std::to_string(reply->status) : reply.status().message()) +
        "); check --certport");
    return;
  }
  std::string want = o.token.substr(0, 64);
  for (auto& c : want) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (core::sha256Hex(reply->body) != want) {
    r.failures.push_back(
        "--token: its CA hash does not match the CA CloudCore at " + cert_addr->authority() +
        " serves; the token is for another cloud or the CA was renewed: get a fresh one with "
        "`keadm gettoken` on the cloud");
  }
}

// Why the config directory cannot be made or written: the nearest existing ancestor must be a
// writable directory (not root: permission denied; a file in the way).
std::string notWritable(fs::path dir) {
  std::error_code ec;
  fs::path at = dir;
  while (!at.empty() && !fs::exists(at, ec)) {
    at = at.parent_path();
  }
  if (at.empty()) {
    at = ".";
  }
  if (!fs::is_directory(at, ec)) {
    return "cannot create " + dir.string() + ": " + at.string() + " is not a directory";
  }
  if (::access(at.c_str(), W_OK | X_OK) != 0) {
    return "cannot write " + at.string() + " (" + std::strerror(errno) +
           "); run keadm join as root (sudo keadm join ...)";
  }
  return {};
}

}  // namespace

std::optional<std::string> cgroupDriverFromCriInfo(const std::string& config_json) {
  auto j = nlohmann::json::parse(config_json, nullptr, false);
  if (!j.is_object() || !j["containerd"].is_object()) {
    return std::nullopt;
  }
  const auto& ctd = j["containerd"];
  std::string name = ctd.value("defaultRuntimeName", "runc");
  if (!ctd.contains("runtimes") || !ctd["runtimes"].is_object() ||
      !ctd["runtimes"].contains(name)) {
    return std::nullopt;
  }
  const auto& rt = ctd["runtimes"][name];
  // runc v2 defaults to cgroupfs when SystemdCgroup is absent.
  if (!rt.contains("options") || !rt["options"].is_object()) {
    return std::string("cgroupfs");
  }
  const auto& opts = rt["options"];
  auto it = opts.find("SystemdCgroup");
  if (it == opts.end()) {
    return std::string("cgroupfs");
  }
  if (!it->is_boolean()) {
    return std::nullopt;
  }
  return std::string(it->get<bool>() ? "systemd" : "cgroupfs");
}

std::string portInUse(const std::string& host, int port) {
  AddrList addrs;
  std::string err = resolve(host == "0.0.0.0" ? "" : host, port, true, addrs);
  if (!err.empty()) {
    return err;
  }
  for (addrinfo* a = addrs.head; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      continue;
    }
    int one = 1;
    // SO_REUSEADDR as the servers set it, so a port in TIME_WAIT does not count as taken.
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int rc = ::bind(fd, a->ai_addr, a->ai_addrlen);
    int e = errno;
    ::close(fd);
    if (rc != 0) {
      return e == EADDRINUSE ? hostPortText(host, port) + " is already in use"
                             : "cannot bind " + hostPortText(host, port) + ": " + std::strerror(e);
    }
  }
  return {};
}

std::string tcpConnectError(const std::string& host, int port, std::chrono::milliseconds timeout) {
  AddrList addrs;
  std::string err = resolve(host, port, false, addrs);
  if (!err.empty()) {
    return err;
  }
  std::string last = "no address";
  for (addrinfo* a = addrs.head; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (rc == 0) {
        ::close(fd);
        last = "timed out after " + std::to_string(timeout.count() / 1000) + " s";
        continue;
      }
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      errno = so_error;
      rc = so_error == 0 ? 0 : -1;
    }
    int e = errno;
    ::close(fd);
    if (rc == 0) {
      return {};
    }
    last = std::strerror(e);
  }
  return last;
}

PreflightResult runPreflight(const JoinOptions& o, const JoinedConfig& joined) {
  PreflightResult r;
  std::string unwritable = notWritable(fs::path(o.config_path).parent_path());
  if (!unwritable.empty()) {
    r.failures.push_back(unwritable);
  }
  const auto& m = joined.config.modules;
  if (m.edged.enable) {
    checkRuntime(o, m.edged, r);
    checkPort("edged server, tailoredKubeletConfig.readOnlyPort",
              m.edged.address.empty() ? "127.0.0.1" : m.edged.address, m.edged.read_only_port, r);
  }
  if (m.meta_manager.meta_server.enable) {
    auto hp = core::parseHostPort(m.meta_manager.meta_server.server);
    if (hp.ok()) {
      checkPort("MetaServer, metaManager.metaServer.server", hp->host, hp->port, r);
    }
  }
  if (m.service_bus.enable) {
    checkPort("serviceBus", m.service_bus.server, static_cast<int>(m.service_bus.port), r);
  }
  checkCloud(o, joined, r);
  if (o.with_mqtt && !tcpConnectError("127.0.0.1", 1883, 1s).empty()) {
    r.warnings.push_back(
        "--with-mqtt: edgecore-cpp does not start a broker and none answers on 127.0.0.1:1883; "
        "install one (apt install mosquitto) for eventBus and deviceTwin");
  }
  return r;
}

}  // namespace edgecore::keadm
