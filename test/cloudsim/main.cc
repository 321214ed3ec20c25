// cloudsim: command line around CloudSim (init a PKI, serve it, list the control API).

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "cloudsim.h"
#include "pki.h"

namespace {

std::atomic<bool> g_stop{false};
void onSignal(int) { g_stop = true; }

constexpr const char* kFooter = R"(
Pointing edgecore at cloudsim (edgecore.yaml, modules.edgeHub):
  websocket.server: 127.0.0.1:<ws-port>          # e.g. 127.0.0.1:10000
  httpServer: https://127.0.0.1:<https-port>      # e.g. https://127.0.0.1:10002
  token: <contents of DIR/token>                  # printed by `cloudsim init`
  tlsCaFile / tlsCertFile / tlsPrivateKeyFile: paths in an empty directory; edgecore fetches
      the CA (GET /ca.crt) and its certificate (GET /edge.crt) with the token.
  modules.edged.hostnameOverride must equal the --node given to `cloudsim init`.

Control API (serve --control-port, 127.0.0.1 only; JSON answers):
  GET  /status                      ports, sessions, connected nodes, pending ids, counters
  GET  /records?since=SEQ&ev=EV     recorded events (ev: recv send resend ack violation ...)
  GET  /acks                        upstream ACK count per downstream msg_id
  GET  /token?ttl=SECONDS           a fresh bootstrap token
  POST /send?reliable=auto|yes|no&node=N      body: a message JSON (header/route/content)
  POST /manifest?op=insert|update|delete&reliable=auto|yes|no   body: manifest, JSON or YAML
  POST /raw?binary=0|1&repeat=N&node=N   body: bytes sent as ONE websocket frame, N times over
                                    (bad-input testing: not JSON, huge, binary, wrong types)
  GET  /objects | PUT /objects (body: manifest) | DELETE /objects/<type>/<ns>/<name>
  POST /drop                        close every session's TCP connection (no close frame)
  POST /silent?on=1|0               half-open: stop reading and writing, keep sockets open
  POST /refuse?on=1|0               accept and immediately close new TCP connections
Example:
  curl -s localhost:10005/status
  curl -s -XPOST --data-binary @cm.yaml 'localhost:10005/manifest?op=insert'
)";

}  // namespace

int main(int argc, char** argv) {
  using edgecore::cloudsim::CloudSim;
  using edgecore::cloudsim::Options;

  CLI::App app{
      "cloudsim: a scripted stand-in for KubeEdge CloudCore's CloudHub (WebSocket) and\n"
      "certificate server (HTTPS), for testing edgecore from the outside."};
  app.footer(kFooter);
  app.require_subcommand(1);

  std::string dir;
  std::string node = "edge-1";
  std::string host = "127.0.0.1";
  long token_hours = 24;
  auto* init = app.add_subcommand(
      "init",
      "Create DIR with an ECDSA P-256 CA (ca.crt, ca.key), a server certificate for "
      "--host (server.crt, server.key) and a bootstrap token (DIR/token, also printed).");
  init->add_option("DIR", dir, "Directory to create or overwrite")->required();
  init->add_option("--node", node, "Edge node name (edged.hostnameOverride)")
      ->capture_default_str();
  init->add_option("--host", host,
                   "Address edgecore dials; becomes the server certificate's IP or DNS SAN")
      ->capture_default_str();
  init->add_option("--token-hours", token_hours, "Token lifetime in hours")->capture_default_str();

  Options opts;
  uint16_t ws_port = 10000, https_port = 10002, control_port = 10005, stream_port = 10004;
  bool no_stream = false;
  double keepalive_s = 30, resend_s = 5;
  bool no_control = false;
  bool lax_csr = false;
  auto* serve = app.add_subcommand(
      "serve",
      "Serve DIR (from init): CloudHub websocket, certificate server and the local "
      "control API, until SIGINT/SIGTERM.");
  serve->add_option("DIR", dir, "Directory written by init")->required();
  serve->add_option("--listen", opts.listen_host, "Address for the websocket and HTTPS ports")
      ->capture_default_str();
  serve->add_option("--ws-port", ws_port, "CloudHub websocket port (0 = ephemeral)")
      ->capture_default_str();
  serve->add_option("--https-port", https_port, "Certificate server port (0 = ephemeral)")
      ->capture_default_str();
  serve->add_option("--control-port", control_port, "Control API port on 127.0.0.1")
      ->capture_default_str();
  serve->add_flag("--no-control", no_control, "Do not start the control API");
  serve->add_option("--stream-port", stream_port, "CloudStream tunnel port (0 = ephemeral)")
      ->capture_default_str();
  serve->add_flag("--no-stream", no_stream, "Do not start the tunnel server");
  serve->add_option("--record", opts.record_file, "Append every event as JSON lines to FILE");
  serve
      ->add_option("--keepalive-timeout", keepalive_s,
                   "Seconds without a keepalive before the session is dropped")
      ->capture_default_str();
  serve
      ->add_option("--resend-interval", resend_s,
                   "Seconds between resends of an unacknowledged reliable message")
      ->capture_default_str();
  serve->add_option("--node", opts.node_name, "Node name (default: DIR/node from init)");
  serve->add_flag("--lax-csr", lax_csr,
                  "Sign CSRs whatever their subject (real CloudHub does); default is to refuse "
                  "(403) a subject other than CN=system:node:<node>, O=system:nodes");

  int64_t cert_seconds = 0;
  serve->add_option("--cert-seconds", cert_seconds,
                    "Lifetime of issued edge certificates in seconds (default 365 days); a few "
                    "seconds makes edgecore rotate its certificate at 70-90 % of that");
  serve->add_flag("--authorization", opts.authorization,
                  "Require the client certificate CN to be system:node:<node_id header> "
                  "(cloudHub.authorization.enable); off by default, as in CloudHub");

  int64_t sa_token_max_seconds = 0;
  serve->add_option("--sa-token-max-lifetime", sa_token_max_seconds,
                    "Cap on the lifetime of issued ServiceAccount tokens in seconds (0 = as "
                    "requested); a few seconds makes edged refresh them at 80 % of that");

  CLI11_PARSE(app, argc, argv);
  if (cert_seconds > 0) {
    opts.cert_validity = std::chrono::seconds(cert_seconds);
  }
  opts.sa_token_max_lifetime = std::chrono::seconds(std::max<int64_t>(0, sa_token_max_seconds));

  if (init->parsed()) {
    auto pki = edgecore::cloudsim::initPki(dir, node, host, std::chrono::hours(token_hours));
    if (!pki.ok()) {
      std::cerr << "cloudsim init: " << pki.status().toString() << "\n";
      return 2;
    }
    std::ifstream in(dir + "/token");
    std::string token;
    std::getline(in, token);
    std::cout << token << "\n";
    return 0;
  }

  auto pki = edgecore::cloudsim::loadPki(dir);
  if (!pki.ok()) {
    std::cerr << "cloudsim serve: " << pki.status().toString() << "\n";
    return 2;
  }
  if (serve->count("--node") == 0) {
    std::ifstream in(dir + "/node");
    std::string n;
    if (std::getline(in, n) && !n.empty()) {
      opts.node_name = n;
    }
  }
  opts.ws_port = ws_port;
  opts.https_port = https_port;
  if (!no_control) {
    opts.control_port = control_port;
  }
  if (!no_stream) {
    opts.stream_port = stream_port;
  }
  opts.keepalive_timeout = std::chrono::milliseconds(static_cast<long>(keepalive_s * 1000));
  opts.resend_interval = std::chrono::milliseconds(static_cast<long>(resend_s * 1000));
  opts.enforce_csr_subject = !lax_csr;
  auto sim = CloudSim::start(std::move(pki).value(), opts);
  if (!sim.ok()) {
    std::cerr << "cloudsim serve: " << sim.status().toString() << "\n";
    return 2;
  }
  std::cout << "cloudsim serving node=" << opts.node_name << " ws=" << (*sim)->wsPort()
            << " https=" << (*sim)->httpsPort() << " control=" << (*sim)->controlPort()
            << " stream=" << ((*sim)->stream() ? (*sim)->stream()->port() : 0) << std::endl;
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  while (!g_stop) {
    // Runs until a signal: the flag is all a handler may set, so it is polled.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  (*sim)->stop();
  auto c = (*sim)->counters();
  std::cout << "cloudsim stopped sessions=" << c.sessions_opened << " keepalives=" << c.keepalives
            << " acks=" << c.acks << " violations=" << c.violations << std::endl;
  return 0;
}
