// The edged HTTP server's routes over edged's state (see server_routes.h). Called once by
// EdgedModule::start(); the callbacks run on the server's connection strands.

#include "server_routes.h"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace edgecore::edged {

namespace asio = boost::asio;
using core::Result;

namespace {

// CRI Exec/Attach for the running container `id` (blocking; on the CRI pool).
Result<std::string> streamUrl(cri::CriClient& cri, const StreamRequest& req,
                              const std::string& id) {
  if (req.kind == StreamRequest::Kind::Exec) {
    runtimeapi::ExecRequest r;
    r.set_container_id(id);
    for (const auto& c : req.command) {
      r.add_cmd(c);
    }
    r.set_tty(req.tty);
    r.set_stdin(req.stdin_);
    r.set_stdout(req.stdout_);
    r.set_stderr(req.stderr_);
    return cri.exec(r);
  }
  runtimeapi::AttachRequest r;
  r.set_container_id(id);
  r.set_tty(req.tty);
  r.set_stdin(req.stdin_);
  r.set_stdout(req.stdout_);
  r.set_stderr(req.stderr_);
  return cri.attach(r);
}

}  // namespace

EdgedServerCallbacks makeServerRoutes(const std::shared_ptr<PodSnapshot>& snapshot,
                                      cri::CriClient* cri, std::shared_ptr<asio::thread_pool> pool,
                                      core::MetricsRegistrySharedPtr metrics) {
  EdgedServerCallbacks cb;
  std::weak_ptr<PodSnapshot> weak = snapshot;
  cb.pods = [weak]() -> std::string {
    if (auto s = weak.lock()) {
      return s->podListJson();
    }
    return PodSnapshot().podListJson();
  };
  cb.log_location = [weak](const std::string& ns, const std::string& pod,
                           const std::string& container, bool previous) -> Result<LogLocation> {
    auto s = weak.lock();
    if (!s) {
      return core::unavailable("edged is stopping");
    }
    return s->logLocation(ns, pod, container, previous);
  };
  cb.stream_url = [weak, cri, pool](const StreamRequest& req,
                                    std::function<void(Result<std::string>)> done) {
    auto s = weak.lock();
    if (!s) {
      done(core::unavailable("edged is stopping"));
      return;
    }
    std::string id = s->runningContainerId(req.ns, req.pod, req.container);
    if (id.empty()) {
      done(core::notFound("container \"" + req.container + "\" in pod \"" + req.pod +
                          "\" is not running"));
      return;
    }
    asio::post(*pool, [cri, req, id, done = std::move(done)] { done(streamUrl(*cri, req, id)); });
  };
  if (metrics) {
    // The agent's one registry: what MetaServer's /metrics shows, plus whatever modules
    // registered (edgestream, edgehub, devicetwin, process).
    cb.metrics = [registry = std::move(metrics)] { return registry->render(); };
  }
  return cb;
}

std::unique_ptr<EdgedServer> startEdgedServer(asio::io_context& ioc, const core::EdgedConfig& cfg,
                                              EdgedServerCallbacks routes, spdlog::logger& log) {
  EdgedServerOptions so;
  so.address = cfg.address.empty() ? "127.0.0.1" : cfg.address;
  so.port = static_cast<uint16_t>(std::clamp<int32_t>(cfg.read_only_port, 0, 65535));
  so.tls_cert_file = cfg.tls_cert_file;
  so.tls_private_key_file = cfg.tls_private_key_file;
  so.client_ca_file = cfg.client_ca_file;
  auto server = makeEdgedServer(ioc, so, std::move(routes));
  core::Status st = server->start();
  if (!st.ok()) {
    log.error("edged HTTP server not started address={} port={} err=\"{}\"", so.address, so.port,
              st.message());
    return nullptr;
  }
  log.info("edged HTTP server listening address={} port={} tls={}", so.address, server->port(),
           so.tls_cert_file.empty() ? "off" : "client-certificates");
  return server;
}

}  // namespace edgecore::edged
