// Node-local operations of spec 4.7-4.10. Mirrors KubeEdge v1.20's
// edge/pkg/metamanager/metaserver/handlerfactory/ext_handler.go (Logs, Exec, Restart,
// ConfirmUpgrade) and the storage functions behind them, with these deliberate differences:
// exec without a tty also reports stderr and the exit code (extra JSON keys the Go client
// ignores), logs forward `previous`/`sinceTime` too, the upgrade program runs with an argument
// vector after validating every field (no shell), and confirm answers JSON.

#include "pod_ops_handler.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <thread>

#include "edgecore/core/async/offload.h"
#include "edgecore/core/async/spawn.h"
#include "edgecore/core/bus.h"
#include "edgecore/core/message.h"
#include "edgecore/cri/cri_client.h"
#include "edgecore/metamanager/upgrade_records.h"
#include "pod_ops_values.h"
#include "request_info.h"
#include "unhold_upgrade.h"

extern char** environ;

namespace edgecore::metaserver {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using nlohmann::json;
constexpr auto kTuple = asio::as_tuple(use_awaitable);
constexpr size_t kMaxLogBytes = 64 * 1024 * 1024;
using Request = http::request<http::string_body>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// The TCP layer under a plain or TLS client stream: deadlines and the socket live there.
beast::tcp_stream& lowest(beast::tcp_stream& s) { return s; }
beast::tcp_stream& lowest(TlsStream& s) { return beast::get_lowest_layer(s); }

struct Query {
  std::map<std::string, std::string> first;
  std::vector<std::string> commands;
  std::string get(const std::string& k) const {
    auto it = first.find(k);
    return it == first.end() ? std::string() : it->second;
  }
};

Query parseQuery(std::string_view target) {
  Query q;
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return q;
  for (auto param : parsed->params()) {
    std::string key(param.key);
    std::string value = param.has_value ? std::string(param.value) : std::string();
    if (key == "command") q.commands.push_back(value);
    q.first.emplace(key, value);
  }
  return q;
}

template <class Stream>
awaitable<bool> writeResponse(Stream& stream, unsigned version, int code,
                              const std::string& content_type, const std::string& body) {
  http::response<http::string_body> res{static_cast<http::status>(code), version};
  res.set(http::field::content_type, content_type);
  res.keep_alive(false);
  res.body() = body;
  res.prepare_payload();
  lowest(stream).expires_after(std::chrono::seconds(60));
  auto [ec, n] = co_await http::async_write(stream, res, kTuple);
  co_return !ec;
}

// What a handler answers; `sent` when it already wrote to the client itself (streams, proxy).
// Handlers return this instead of awaiting writes with temporaries in the co_await expression
// (g++ 12 destroys such temporaries twice).
struct Outcome {
  int code = 200;
  std::string content_type = "application/json";
  std::string body;
  bool sent = false;
};

Outcome jsonOutcome(int code, const json& j) { return Outcome{code, "application/json", j.dump()}; }

Outcome textOutcome(int code, const std::string& text) {
  // Go's http.Error: text/plain, a trailing newline.
  return Outcome{code, "text/plain; charset=utf-8", text + "\n"};
}

Outcome sentOutcome(int code) {
  Outcome o;
  o.code = code;
  o.sent = true;
  return o;
}

// A Kubernetes Status, as kube-apiserver answers a request it refuses.
Outcome statusOutcome(int code, const char* reason, const std::string& msg) {
  return jsonOutcome(code, json{{"kind", "Status"},
                                {"apiVersion", "v1"},
                                {"metadata", json::object()},
                                {"status", "Failure"},
                                {"message", msg},
                                {"reason", reason},
                                {"code", code}});
}

// The query parameters of a log request that are passed on to edged.
constexpr const char* kForwardedLogParams[] = {
    "follow",     "previous",   "sinceSeconds",
    "sinceTime",  "timestamps", "tailLines",
    "limitBytes", "pretty",     "insecureSkipTLSVerifyBackend"};

// Values that become path segments of, or parameters in, the request sent to edged must not
// rewrite it (pod_ops_values.h): a 400 Status before anything is looked up or sent.
std::optional<Outcome> rejectUnsafeValues(const LocalOpMatch& m, const Query& q,
                                          bool forwarded_params) {
  core::Status st = checkPathSegment("namespace", m.ns);
  if (st.ok()) st = checkPathSegment("pod name", m.name);
  if (st.ok() && !q.get("container").empty()) {  // empty: the runtime's first container
    st = checkPathSegment("query parameter container", q.get("container"));
  }
  if (forwarded_params) {
    for (const char* k : kForwardedLogParams) {
      if (!st.ok()) break;
      st = checkNoControlBytes(std::string("query parameter ") + k, q.get(k));
    }
  }
  if (st.ok()) return std::nullopt;
  return statusOutcome(400, "BadRequest", st.message());
}

// ListContainers with the pod's labels (spec 4.7), newest first.
core::Result<std::vector<runtimeapi::Container>> podContainers(cri::CriClient& client,
                                                               const std::string& ns,
                                                               const std::string& pod) {
  runtimeapi::ContainerFilter filter;
  (*filter.mutable_label_selector())["io.kubernetes.pod.name"] = pod;
  (*filter.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns;
  auto list = client.listContainers(filter);
  if (!list.ok()) return list.status();
  std::stable_sort(list->begin(), list->end(),
                   [](const runtimeapi::Container& a, const runtimeapi::Container& b) {
                     bool ar = a.state() == runtimeapi::CONTAINER_RUNNING;
                     bool br = b.state() == runtimeapi::CONTAINER_RUNNING;
                     if (ar != br) return ar;
                     return a.created_at() > b.created_at();
                   });
  return list;
}

// The container to act on: by name (a running instance first), else the only one.
core::Result<runtimeapi::Container> pickContainer(
    const std::vector<runtimeapi::Container>& containers, const std::string& name,
    const std::string& ns, const std::string& pod, bool require_single) {
  if (containers.empty()) {
    return core::notFound("not found pod:\"/" + ns + "/" + pod + "\"");
  }
  if (!name.empty()) {
    for (const auto& c : containers) {
      if (c.metadata().name() == name) return c;
    }
    return core::notFound("container " + name + " is not valid for pod " + pod);
  }
  if (require_single) {
    for (const auto& c : containers) {
      if (c.metadata().name() != containers.front().metadata().name()) {
        return core::invalidArgument("more than one container in pod:\"/" + ns + "/" + pod +
                                     "\": choose one with -c");
      }
    }
  }
  return containers.front();
}

// ---------------------------------------------------------------- logs
template <class Stream>
awaitable<Outcome> serveLogs(const LocalOps& ops, const LocalOpMatch& m, const Request& req,
                             Stream& stream, const std::shared_ptr<spdlog::logger>& log) {
  unsigned version = req.version();
  Query q = parseQuery(req.target());
  if (auto bad = rejectUnsafeValues(m, q, true)) co_return *bad;
  std::string cri_error = "edged is disabled";
  auto client = ops.edged_enabled ? criClient(ops, cri_error) : nullptr;
  if (!client) {
    if (log) log->warn("pod logs unavailable pod={} ns={} err={}", m.name, m.ns, cri_error);
    co_return textOutcome(500, "Failed to get logs from edged");
  }
  std::string ns = m.ns;
  std::string pod = m.name;
  auto list_fn = [client, ns, pod] { return podContainers(*client, ns, pod); };
  auto list_op = core::offload(*ops.blocking, std::move(list_fn));
  auto containers = co_await std::move(list_op);
  std::string container = q.get("container");
  if (!containers.ok() || containers->empty()) {
    if (log) {
      log->warn("pod logs: no containers pod={} ns={} err={}", pod, ns,
                containers.ok() ? "none" : containers.status().message());
    }
    co_return textOutcome(500, "Failed to get logs from edged");
  }
  if (container.empty()) container = containers->front().metadata().name();

  // Checked above; the runtime's default container name is encoded like the rest.
  std::string target = "//containerLogs/" + percentEncode(ns) + "/" + percentEncode(pod) + "/" +
                       percentEncode(container);
  std::string params;
  for (const char* k : kForwardedLogParams) {
    std::string v = q.get(k);
    if (v.empty()) continue;
    params += (params.empty() ? "?" : "&") + std::string(k) + "=";
    for (unsigned char c : v) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == ':') {
        params += static_cast<char>(c);
      } else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", c);
        params += hex;
      }
    }
  }
  target += params;
  bool follow = q.get("follow") == "true";

  // GET from edged.
  auto ex = co_await asio::this_coro::executor;
  // Shared with the client watcher below, which may finish after this coroutine.
  auto upstream_ptr = std::make_shared<beast::tcp_stream>(ex);
  beast::tcp_stream& upstream = *upstream_ptr;
  tcp::resolver resolver(ex);
  std::string host = ops.edged_address == "0.0.0.0" || ops.edged_address.empty()
                         ? std::string("127.0.0.1")
                         : ops.edged_address;
  std::string port = std::to_string(ops.edged_port);
  auto [rec, results] = co_await resolver.async_resolve(host, port, kTuple);
  if (rec) co_return textOutcome(500, "Failed to get logs from edged");
  upstream.expires_after(std::chrono::seconds(60));
  auto [cec, ep] = co_await upstream.async_connect(results, kTuple);
  if (cec) {
    if (log) log->warn("pod logs: edged unreachable addr={}:{} err={}", host, port, cec.message());
    co_return textOutcome(500, "Failed to get logs from edged");
  }
  http::request<http::empty_body> up{http::verb::get, target, 11};
  up.set(http::field::host, host + ":" + port);
  up.keep_alive(false);
  auto [wec, wn] = co_await http::async_write(upstream, up, kTuple);
  if (wec) co_return textOutcome(500, "Failed to get logs from edged");
  beast::flat_buffer ubuf;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  upstream.expires_after(std::chrono::seconds(60));
  auto [hec, hn] = co_await http::async_read_header(upstream, ubuf, parser, kTuple);
  if (hec) co_return textOutcome(500, "Failed to get logs from edged");
  int code = static_cast<int>(parser.get().result_int());
  if (code != 200) {
    co_return textOutcome(500, "Unexpected status code from edged: " + std::to_string(code));
  }

  char chunk[16 * 1024];
  if (!follow) {
    std::string text;
    json errors = json::array();
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof(chunk);
      upstream.expires_after(std::chrono::seconds(60));
      auto [ec, n] = co_await http::async_read(upstream, ubuf, parser, kTuple);
      size_t got = sizeof(chunk) - parser.get().body().size;
      if (text.size() + got > kMaxLogBytes) {
        errors.push_back("log output truncated at 64 MiB; use --tail or --limit-bytes");
        break;
      }
      text.append(chunk, got);
      if (ec == http::error::need_buffer) continue;
      if (ec == http::error::end_of_stream || ec == asio::error::eof) break;
      if (ec) {
        errors.push_back("failed to read logs with err:" + ec.message() + "\n");
        break;
      }
    }
    json out = json::object();
    out["logMessages"] = json::array({text});
    if (!errors.empty()) out["errMessages"] = errors;
    co_return jsonOutcome(200, out);
  }

  // Follow: chunked text/plain, each upstream piece written as it arrives.
  http::response<http::empty_body> res{http::status::ok, version};
  res.set(http::field::content_type, "text/plain");
  res.chunked(true);
  res.keep_alive(false);
  http::response_serializer<http::empty_body> sr{res};
  lowest(stream).expires_after(std::chrono::seconds(60));
  auto [shec, shn] = co_await http::async_write_header(stream, sr, kTuple);
  if (shec) co_return sentOutcome(200);
  // A client that goes away must end the upstream read too: watch the client socket.
  auto gone = std::make_shared<bool>(false);
  // Reads one byte at most: a log client never sends, so any completion means it left (or we
  // shut the socket down below, which ends this read before the connection goes away). TLS reads
  // go through the TLS layer (no deadline: started after expires_never, later expires_after
  // calls for writes do not reach it).
  if constexpr (std::is_same_v<Stream, TlsStream>) lowest(stream).expires_never();
  auto watch = [&stream, upstream_ptr, gone]() -> awaitable<void> {
    char tmp[1];
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      co_await stream.async_read_some(asio::buffer(tmp), kTuple);
    } else {
      co_await stream.socket().async_read_some(asio::buffer(tmp), kTuple);
    }
    *gone = true;
    beast::error_code ignored;
    upstream_ptr->socket().close(ignored);
  };
  core::spawnLogged(ex, std::move(watch), log, "pod logs client watch");
  bool& client_gone = *gone;
  while (!parser.is_done() && !client_gone) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof(chunk);
    upstream.expires_never();
    auto [ec, n] = co_await http::async_read_some(upstream, ubuf, parser, kTuple);
    size_t got = sizeof(chunk) - parser.get().body().size;
    if (got > 0) {
      lowest(stream).expires_after(std::chrono::seconds(60));
      auto c = http::make_chunk(asio::buffer(chunk, got));
      auto [cwec, cwn] = co_await asio::async_write(stream, c, kTuple);
      if (cwec) break;
    }
    if (ec == http::error::need_buffer) continue;
    if (ec) break;
  }
  if (!client_gone) {
    auto last = http::make_chunk_last();
    lowest(stream).expires_after(std::chrono::seconds(10));
    co_await asio::async_write(stream, last, kTuple);
  }
  beast::error_code ignored;
  upstream.socket().close(ignored);
  lowest(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return sentOutcome(200);
}

// ---------------------------------------------------------------- exec
bool isUpgrade(const Request& req) {
  std::string conn(req[http::field::connection]);
  for (auto& c : conn) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return !req[http::field::upgrade].empty() && conn.find("upgrade") != std::string::npos;
}

// Pipes bytes one way until that side closes. `From`/`To` are a socket or the client's TLS
// stream.
tcp::socket& rawSocket(tcp::socket& s) { return s; }
tcp::socket& rawSocket(TlsStream& s) { return beast::get_lowest_layer(s).socket(); }

template <class From, class To>
awaitable<void> pump(From& from, To& to) {
  char buf[16 * 1024];
  while (true) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), kTuple);
    if (n > 0) {
      auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf, n), kTuple);
      if (wec) break;
    }
    if (ec) break;
  }
  beast::error_code ignored;
  rawSocket(to).shutdown(tcp::socket::shutdown_send, ignored);
}

template <class Stream>
awaitable<Outcome> proxyUpgrade(Request req, const std::string& url, Stream& stream,
                                beast::flat_buffer& buffer,
                                const std::shared_ptr<spdlog::logger>& log) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || parsed->host().empty()) {
    co_return jsonOutcome(200, json{{"errMessages", json::array({"bad stream URL from runtime"})}});
  }
  std::string host = std::string(parsed->encoded_host());
  std::string port = parsed->has_port() ? std::string(parsed->port()) : "80";
  std::string path = std::string(parsed->encoded_path());
  if (path.empty()) path = "/";
  if (parsed->has_query()) path += "?" + std::string(parsed->encoded_query());

  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, results] = co_await resolver.async_resolve(host, port, kTuple);
  tcp::socket upstream(ex);
  beast::error_code cec = rec;
  if (!rec) {
    auto [ec, ep] = co_await asio::async_connect(upstream, results, kTuple);
    cec = ec;
  }
  if (cec) {
    if (log) log->warn("exec stream connect failed url={} err={}", url, cec.message());
    co_return jsonOutcome(
        200, json{{"errMessages", json::array({"cannot reach the runtime's streaming server: " +
                                               cec.message()})}});
  }
  // The client's own upgrade request, re-targeted at the runtime (k8s UpgradeAwareHandler).
  req.target(path);
  req.set(http::field::host, host + ":" + port);
  req.body().clear();
  req.erase(http::field::content_length);
  http::request_serializer<http::string_body> sr{req};
  auto [wec, wn] = co_await http::async_write_header(upstream, sr, kTuple);
  if (wec) co_return sentOutcome(502);
  if (buffer.size() > 0) {
    auto [bec, bn] = co_await asio::async_write(upstream, buffer.data(), kTuple);
    buffer.consume(buffer.size());
    if (bec) co_return sentOutcome(502);
  }
  lowest(stream).expires_never();
  // The client side: its raw socket for plain HTTP, the TLS stream otherwise.
  auto& client = [&]() -> auto& {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return stream;
    } else {
      return stream.socket();
    }
  }
  ();
  // Both directions; the session ends when both have finished.
  auto done = std::make_shared<int>(0);
  asio::steady_timer finished(ex, std::chrono::steady_clock::time_point::max());
  auto run = [&](auto& a, auto& b) {
    asio::co_spawn(ex, pump(a, b), [done, &finished](std::exception_ptr) {
      if (++*done == 2) finished.cancel();
    });
  };
  run(client, upstream);
  run(upstream, client);
  co_await finished.async_wait(kTuple);
  beast::error_code ignored;
  upstream.close(ignored);
  co_return sentOutcome(101);
}

template <class Stream>
awaitable<Outcome> serveExec(const LocalOps& ops, const LocalOpMatch& m, Request req,
                             Stream& stream, beast::flat_buffer& buffer,
                             const std::shared_ptr<spdlog::logger>& log) {
  Query q = parseQuery(req.target());
  if (auto bad = rejectUnsafeValues(m, q, false)) co_return *bad;
  auto fail = [](const std::string& msg) {
    return jsonOutcome(200, json{{"errMessages", json::array({msg})}});
  };
  if (q.commands.empty()) {
    co_return fail("You must specify at least one command for the container");
  }
  std::string cri_error;
  auto client = criClient(ops, cri_error);
  if (!client) co_return fail(cri_error);
  std::string ns = m.ns;
  std::string pod = m.name;
  auto list_fn = [client, ns, pod] { return podContainers(*client, ns, pod); };
  auto list_op = core::offload(*ops.blocking, std::move(list_fn));
  auto containers = co_await std::move(list_op);
  if (!containers.ok()) {
    co_return fail("failed to list containers: " + containers.status().message());
  }
  auto picked = pickContainer(*containers, q.get("container"), ns, pod, true);
  if (!picked.ok()) co_return fail(picked.status().message());
  std::string id = picked->id();
  std::vector<std::string> cmd = q.commands;
  bool tty = q.get("tty") == "true";

  if (!isUpgrade(req)) {
    if (tty) {
      co_return fail("an interactive exec (tty) needs an upgrade request (SPDY/3.1 or websocket)");
    }
    auto timeout = ops.exec_sync_timeout.count();
    auto exec_fn = [client, id, cmd, timeout] { return client->execSync(id, cmd, timeout); };
    auto exec_op = core::offload(*ops.blocking, std::move(exec_fn));
    auto r = co_await std::move(exec_op);
    if (!r.ok()) co_return fail("exec failed: " + r.status().message());
    json out = json::object();
    if (!r->stdout().empty()) out["runOutMessages"] = json::array({r->stdout()});
    if (!r->stderr().empty()) out["runErrMessages"] = json::array({r->stderr()});
    out["exitCode"] = r->exit_code();
    co_return jsonOutcome(200, out);
  }
  runtimeapi::ExecRequest er;
  er.set_container_id(id);
  for (const auto& c : cmd) er.add_cmd(c);
  er.set_tty(tty);
  er.set_stdin(q.get("stdin") == "true");
  er.set_stdout(q.get("stdout") == "true" || tty);
  er.set_stderr(!tty && q.get("stderr") == "true");
  auto url_fn = [client, er] { return client->exec(er); };
  auto url_op = core::offload(*ops.blocking, std::move(url_fn));
  auto url = co_await std::move(url_op);
  if (!url.ok()) co_return fail("exec failed: " + url.status().message());
  if (log) log->info("exec stream pod={} ns={} tty={}", pod, ns, tty);
  std::string u = *url;
  auto proxy_op = proxyUpgrade(std::move(req), u, stream, buffer, log);
  co_return co_await std::move(proxy_op);
}

// ---------------------------------------------------------------- restart
awaitable<Outcome> serveRestart(const LocalOps& ops, const LocalOpMatch& m, const Request& req,

                                const std::shared_ptr<spdlog::logger>& log) {
  json names = core::parseJsonBounded(req.body());
  if (!names.is_array()) {
    co_return textOutcome(500, "the request body must be a JSON array of pod names");
  }
  std::vector<std::string> pods;
  for (const auto& n : names) {
    if (!n.is_string()) {
      co_return textOutcome(500, "the request body must be a JSON array of pod names");
    }
    pods.push_back(n.get<std::string>());
  }
  json errors = json::array();
  json logs = json::array();
  std::string cri_error;
  auto client = criClient(ops, cri_error);
  if (!client) {
    for (const auto& p : pods)
      errors.push_back("failed to list containers: " + cri_error + " (pod " + p + ")");
  } else {
    std::string ns = m.ns;
    int64_t timeout = ops.restart_stop_timeout_seconds;
    auto stop_fn = [client, ns, pods, timeout] {
      std::pair<std::vector<std::string>, std::vector<std::string>> out;  // logs, errors
      for (const auto& pod : pods) {
        auto containers = podContainers(*client, ns, pod);
        if (!containers.ok()) {
          out.second.push_back("failed to list containers: " + containers.status().message());
          continue;
        }
        if (containers->empty()) {
          out.second.push_back("not found pod:\"/" + ns + "/" + pod + "\"");
          continue;
        }
        bool ok = true;
        for (const auto& c : *containers) {
          auto st = client->stopContainer(c.id(), timeout);
          if (!st.ok() && st.code() != core::StatusCode::NotFound) {
            out.second.push_back("failed to stop container " + c.metadata().name() +
                                 " for pod \"/" + ns + "/" + pod + "\" with err:" + st.message());
            ok = false;
          }
        }
        if (ok) out.first.push_back("the pod \"" + ns + "/" + pod + "\" restart successful");
      }
      return out;
    };
    auto stop_op = core::offload(*ops.blocking, std::move(stop_fn));
    auto result = co_await std::move(stop_op);
    for (auto& l : result.first) logs.push_back(l);
    for (auto& e : result.second) errors.push_back(e);
  }
  if (log) log->info("pods restarted ns={} pods={} errors={}", m.ns, pods.size(), errors.size());
  json out = json::object();
  if (!errors.empty()) out["errMessages"] = errors;
  if (!logs.empty()) out["LogMessages"] = logs;
  co_return jsonOutcome(200, out);
}

// ---------------------------------------------------------------- device edit
awaitable<Outcome> serveDeviceUpdate(const LocalOps& ops, const LocalOpMatch& m, const Request& req,
                                     const std::shared_ptr<spdlog::logger>& log) {
  auto status = [](int code, const char* reason, const std::string& msg) {
    json j = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
              {"status", "Failure"}, {"message", msg},     {"reason", reason},
              {"code", code}};
    return jsonOutcome(code, j);
  };
  json device = core::parseJsonBounded(req.body());
  if (!device.is_object()) co_return status(400, "BadRequest", "the body is not a Device");
  device["apiVersion"] = "devices.kubeedge.io/v1beta1";
  device["kind"] = "Device";
  if (!device.contains("metadata") || !device["metadata"].is_object()) {
    device["metadata"] = json::object();
  }
  std::string body_name = device["metadata"].value("name", "");
  if (!body_name.empty() && body_name != m.name) {
    co_return status(
        400, "BadRequest",
        "the name in the body (" + body_name + ") does not match the URL (" + m.name + ")");
  }
  device["metadata"]["name"] = m.name;
  device["metadata"]["namespace"] = m.ns;
  if (!ops.bus) co_return status(503, "ServiceUnavailable", "metamanager is not running");
  std::string rv = device["metadata"].value("resourceVersion", "");
  core::Message msg =
      core::Message::create(core::names::kMetaManagerModule, core::names::kTwinGroup, "update",
                            m.ns + "/device/updated", device);
  msg.header.resource_version = rv;
  auto op =
      ops.bus->request(core::names::kMetaManagerModule, std::move(msg), std::chrono::minutes(1));
  auto reply = co_await std::move(op);
  if (!reply.ok()) {
    co_return status(500, "InternalError",
                     "device update not applied: " + reply.status().message());
  }
  if (reply->route.operation == "error") {
    co_return status(500, "InternalError", "device update not applied: " + reply->contentData());
  }
  if (log) log->info("device edited device={} ns={}", m.name, m.ns);
  co_return Outcome{200, "application/json", "OK"};
}

// ---------------------------------------------------------------- confirm-upgrade
// Deletes the upgrade rows through the store's writer and waits until that is durable (we run on
// the blocking pool), so the answer comes after the rows are gone, as before.
core::Status deleteUpgradeRequests(metamanager::UpgradeRecords& records) {
  auto written = std::make_shared<std::promise<core::Status>>();
  auto done = written->get_future();
  EC_RETURN_IF_ERROR(
      records.deleteUpgradeRequests([written](core::Status st) { written->set_value(st); }));
  return done.get();
}

// Starts the upgrade program detached (its own session, output to the log file) without a
// shell. Returns once it has been spawned; a reaper thread collects it.
core::Status spawnUpgrade(const std::vector<std::string>& argv, const std::string& log_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return core::unavailable("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  std::thread([pid] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }).detach();
  return {};
}

awaitable<Outcome> serveConfirm(const LocalOps& ops, const std::shared_ptr<spdlog::logger>& log) {
  // v1alpha2 first (docs/node-tasks.md 2.1): taskmanager holds the NodeUpgradeJob waiting for
  // confirmation and runs it from BackUp. Names as in include/edgecore/taskmanager/module.h.
  if (ops.bus != nullptr) {
    core::Message ask = core::Message::create("metaserver", "taskmanager", "confirm-upgrade",
                                              "taskupgrade/confirm-upgrade");
    auto ask_op = ops.bus->request("taskmanager", std::move(ask), std::chrono::seconds(10));
    auto answer = co_await std::move(ask_op);
    if (answer.ok() && answer->content.is_object() && answer->content.value("started", false)) {
      std::string message = answer->content.value("message", "node upgrade confirmed");
      if (log) log->info("confirm upgrade {}", message);
      co_return jsonOutcome(200, json{{"logMessages", json::array({message})}});
    }
  }
  LocalOps copy = ops;
  auto confirm_fn = [copy]() -> core::Result<std::string> {
    if (copy.upgrade_records == nullptr) {
      return core::unavailable("no store holds the node upgrade requests");
    }
    EC_ASSIGN_OR_RETURN(metamanager::UpgradeRequestRows reqs,
                        copy.upgrade_records->readUpgradeRequests());
    if (reqs.job.empty()) return core::notFound("no node upgrade is waiting for confirmation");
    EC_ASSIGN_OR_RETURN(UpgradeJob job, parseUpgradeRequest(reqs.job, reqs.task));
    EC_RETURN_IF_ERROR(validateUpgradeField("fromVersion", copy.edgecore_version));
    std::string log_path = copy.upgrade_log;
    if (log_path.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      log_path = std::string(tmp && *tmp ? tmp : "/tmp") + "/keadm.log";
    }
    std::vector<std::string> argv = {copy.upgrade_program, "upgrade",       "edge",
                                     "--upgradeID",        job.upgrade_id,  "--historyID",
                                     job.history_id,       "--fromVersion", copy.edgecore_version,
                                     "--toVersion",        job.version,     "--config",
                                     copy.config_path,     "--image",       job.image};
    EC_RETURN_IF_ERROR(spawnUpgrade(argv, log_path));
    (void)deleteUpgradeRequests(*copy.upgrade_records);
    std::string done = "node upgrade to " + job.version + " started (upgradeID " + job.upgrade_id +
                       "), log in " + log_path;
    if (!job.task_id.empty() || !job.task_state.empty()) {
      done += "; task " + job.task_id + " was in state " + job.task_state;
    }
    return done;
  };
  auto confirm_op = core::offload(*ops.blocking, std::move(confirm_fn));
  auto result = co_await std::move(confirm_op);
  if (!result.ok()) {
    if (log) log->warn("confirm upgrade failed err={}", result.status().message());
    co_return textOutcome(500, "run upgrade command failed: " + result.status().message());
  }
  if (log) log->info("confirm upgrade {}", *result);
  co_return jsonOutcome(200, json{{"logMessages", json::array({*result})}});
}

bool upgradeChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         c == '+';
}

}  // namespace

core::Status validateUpgradeField(std::string_view field, std::string_view value) {
  auto bad = [&](const char* why) {
    return core::invalidArgument("NodeUpgradeJobRequest field " + std::string(field) + " \"" +
                                 std::string(value.substr(0, 80)) + "\" " + why);
  };
  if (value.empty()) return bad("is empty");
  if (value.size() > 255) return bad("is too long");
  if (value.front() == '-') return bad("starts with '-'");
  bool image = field == "Image";
  for (char c : value) {
    if (upgradeChar(c)) continue;
    if (image && (c == '/' || c == ':' || c == '@')) continue;
    return bad(image ? "is not a container image reference"
                     : "has characters outside [A-Za-z0-9._+-]");
  }
  return {};
}

core::Result<UpgradeJob> parseUpgradeRequest(std::string_view job_text,
                                             std::string_view task_text) {
  auto invalid = [](const std::string& what) {
    return core::invalidArgument("NodeUpgradeJobRequest " + what);
  };
  json job = core::parseJsonBounded(job_text);
  if (!job.is_object()) return invalid("is not a JSON object");
  auto text = [&](const json& obj, const char* key, std::string* out) -> core::Status {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return {};
    if (!it->is_string()) return invalid("field " + std::string(key) + " is not a string");
    *out = it->get<std::string>();
    return {};
  };
  UpgradeJob out;
  EC_RETURN_IF_ERROR(text(job, "UpgradeID", &out.upgrade_id));
  EC_RETURN_IF_ERROR(text(job, "HistoryID", &out.history_id));
  EC_RETURN_IF_ERROR(text(job, "Version", &out.version));
  EC_RETURN_IF_ERROR(text(job, "Image", &out.image));
  EC_RETURN_IF_ERROR(validateUpgradeField("UpgradeID", out.upgrade_id));
  EC_RETURN_IF_ERROR(validateUpgradeField("HistoryID", out.history_id));
  EC_RETURN_IF_ERROR(validateUpgradeField("Version", out.version));
  EC_RETURN_IF_ERROR(validateUpgradeField("Image", out.image));
  static const std::regex kRelease("v\\d{1,4}\\.\\d{1,4}\\.\\d{1,4}([-+][A-Za-z0-9.+-]*)?");
  if (!std::regex_match(out.version, kRelease)) {
    return invalid("field Version \"" + out.version + "\" is not a release such as v1.20.1");
  }
  std::string tool;
  EC_RETURN_IF_ERROR(text(job, "UpgradeTool", &tool));
  if (!tool.empty() && tool != "keadm") {
    return invalid("field UpgradeTool \"" + tool.substr(0, 80) + "\" is not keadm");
  }
  std::string digest;
  EC_RETURN_IF_ERROR(text(job, "ImageDigest", &digest));
  static const std::regex kDigest("sha256:[0-9a-f]{64}");
  if (!digest.empty() && !std::regex_match(digest, kDigest)) {
    return invalid("field ImageDigest \"" + digest.substr(0, 80) + "\" is not sha256:<64 hex>");
  }
  if (auto it = job.find("RequireConfirmation");
      it != job.end() && !it->is_null() && !it->is_boolean()) {
    return invalid("field RequireConfirmation is not a boolean");
  }
  if (task_text.empty()) return out;
  json task = core::parseJsonBounded(task_text);
  if (!task.is_object()) return core::invalidArgument("NodeTaskRequest is not a JSON object");
  std::string type;
  for (auto [key, dest] : {std::pair<const char*, std::string*>{"TaskID", &out.task_id},
                           {"Type", &type},
                           {"State", &out.task_state}}) {
    auto it = task.find(key);
    if (it == task.end() || it->is_null()) continue;
    if (!it->is_string()) {
      return core::invalidArgument("NodeTaskRequest field " + std::string(key) +
                                   " is not a string");
    }
    *dest = it->get<std::string>();
    if (dest->size() > 255 || !std::all_of(dest->begin(), dest->end(), upgradeChar)) {
      return core::invalidArgument("NodeTaskRequest field " + std::string(key) + " \"" +
                                   dest->substr(0, 80) +
                                   "\" has characters outside [A-Za-z0-9._+-]");
    }
  }
  return out;
}

LocalOpMatch matchLocalOp(std::string_view method, std::string_view target) {
  LocalOpMatch m;
  auto info = parseRequestInfo(method, target);
  if (!info.ok() || !info->is_resource) return m;
  const auto& i = *info;
  m.ns = i.ns;
  m.name = i.name;
  bool core_pods = i.gvr.group.empty() && i.gvr.resource == "pods";
  if (core_pods && i.subresource == "log" && i.verb == "get" && !i.name.empty()) {
    m.kind = LocalOpKind::Logs;
  } else if (core_pods && i.subresource == "exec" && !i.name.empty() &&
             (i.verb == "create" || i.verb == "get")) {
    m.kind = LocalOpKind::Exec;
  } else if (core_pods && i.verb == "create" && i.name == "restart" && i.subresource.empty()) {
    m.kind = LocalOpKind::Restart;
  } else if (i.gvr.group.empty() && i.gvr.resource == "taskupgrade" && i.verb == "create" &&
             i.name == "confirm-upgrade") {
    m.kind = LocalOpKind::ConfirmUpgrade;
  } else if (i.gvr.group == "devices.kubeedge.io" && i.gvr.resource == "devices" &&
             i.verb == "update" && i.subresource.empty() && !i.name.empty()) {
    m.kind = LocalOpKind::DeviceUpdate;
  } else if (i.verb == "create" && i.name == "unhold-upgrade" && i.subresource.empty()) {
    m.kind = LocalOpKind::UnholdUpgrade;  // any resource, as KubeEdge v1.22 (others get 400)
    m.resource = i.gvr.resource;
  }
  return m;
}

template <class Stream>
awaitable<int> serveLocalOp(const LocalOps& ops, const LocalOpMatch& match, Request req,
                            Stream& stream, beast::flat_buffer& buffer,
                            std::shared_ptr<spdlog::logger> log) {
  unsigned version = req.version();
  Outcome out = textOutcome(404, "not found");
  switch (match.kind) {
    case LocalOpKind::Logs: {
      auto op = serveLogs(ops, match, req, stream, log);
      out = co_await std::move(op);
      break;
    }
    case LocalOpKind::Exec: {
      auto op = serveExec(ops, match, std::move(req), stream, buffer, log);
      out = co_await std::move(op);
      break;
    }
    case LocalOpKind::Restart: {
      auto op = serveRestart(ops, match, req, log);
      out = co_await std::move(op);
      break;
    }
    case LocalOpKind::ConfirmUpgrade: {
      auto op = serveConfirm(ops, log);
      out = co_await std::move(op);
      break;
    }
    case LocalOpKind::DeviceUpdate: {
      auto op = serveDeviceUpdate(ops, match, req, log);
      out = co_await std::move(op);
      break;
    }
    case LocalOpKind::UnholdUpgrade: {
      UnholdReply r = unholdUpgrade(match.resource, req.body(), ops.store, ops.bus);
      if (log) log->info("unhold-upgrade resource={} code={}", match.resource, r.code);
      out = Outcome{r.code, "text/plain; charset=utf-8", r.body};
      break;
    }
    case LocalOpKind::None:
      break;
  }
  if (!out.sent) {
    auto op = writeResponse(stream, version, out.code, out.content_type, out.body);
    co_await std::move(op);
  }
  co_return out.code;
}

template awaitable<int> serveLocalOp<beast::tcp_stream>(const LocalOps&, const LocalOpMatch&,
                                                        Request, beast::tcp_stream&,
                                                        beast::flat_buffer&,
                                                        std::shared_ptr<spdlog::logger>);
template awaitable<int> serveLocalOp<TlsStream>(const LocalOps&, const LocalOpMatch&, Request,
                                                TlsStream&, beast::flat_buffer&,
                                                std::shared_ptr<spdlog::logger>);

}  // namespace edgecore::metaserver
