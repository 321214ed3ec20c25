// libFuzzer target for MetaServer's request handling without sockets (src/metaserver/
// api_handler.cc and what it calls: request_info, selectors, Accept negotiation, Table/YAML
// rendering, continue tokens, watch sessions) over the real SQLite store (a temp file on tmpfs)
// holding a few pods, a node and a configmap.
//
// Input layout: byte 0 = flags, then lines: method, target, Accept, Content-Type; the rest is the
// request body, which is also what the fake cloud answers when the request is forwarded.
//   flags bit 0: cloud link up (reads and writes are forwarded)
//   flags bit 1-2: the cloud's answer: 0 ok, 1 rejected (FailedPrecondition), 2/3 unavailable
//   flags bit 3: /readyz ready
//   flags bit 4: a watch sees a live change (a pod added, then removed)
// Checks: no crash, no sanitizer report, no exception; every status code is 2xx-5xx; every JSON
// answer we build (not the cloud's own bodies) is valid JSON; every watch line is a JSON event.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api_handler.h"
#include "edgecore/core/clock.h"
#include "edgecore/metamanager/meta_store.h"
#include "metaserver/test_objects.h"
#include "watch_hub.h"

namespace {

namespace ms = edgecore::metaserver;
namespace mm = edgecore::metamanager;
using nlohmann::json;

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "metaserver_request invariant broken: %s\n%.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

class FuzzForwarder final : public ms::CloudForwarder {
 public:
  bool connected = false;
  bool isConnected() const override { return connected; }
  void apply(ms::Application, ApplyCallback done) override {
    done(ms::ApplicationResult{edgecore::core::unavailable("fuzz"), 500, {}});
  }
};

// Submits `ops` and waits until the store committed them (the store applies in order).
void submitAndWait(mm::MetaStore& store, std::vector<mm::WriteOp> ops) {
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  auto st = store.submit(std::move(ops), [done](edgecore::core::Status) { done->set_value(); });
  if (st.ok()) {
    fut.wait();
  }
}

mm::WriteOp upsert(const mm::Gvr& gvr, std::string json_text) {
  mm::WriteOp op;
  op.kind = mm::WriteOp::Kind::UpsertObject;
  op.value = std::move(json_text);
  op.object_key = mm::ObjectKey{gvr, {}, {}};
  return op;
}

mm::WriteOp remove(mm::ObjectKey key) {
  mm::WriteOp op;
  op.kind = mm::WriteOp::Kind::DeleteObject;
  op.object_key = std::move(key);
  return op;
}

struct World {
  World() {
    dir = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                              : std::filesystem::temp_directory_path();
    dir /= "edgecore-fuzz-metaserver-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    mm::SqliteStoreOptions opts;
    opts.path = (dir / "edgecore.db").string();
    auto opened = mm::openSqliteMetaStore(opts);
    if (!opened.ok()) fail("cannot open the store", opened.status().toString());
    store = std::move(*opened);
    using edgecore::testing::podNamed;
    std::vector<mm::WriteOp> ops;
    for (int i = 0; i < 3; ++i) {
      auto p = podNamed("web-" + std::to_string(i), 100 + static_cast<uint64_t>(i));
      p.app = i == 2 ? "db" : "web";
      p.ns = i == 1 ? "kube-system" : "default";
      p.phase = i == 2 ? "Pending" : "Running";
      ops.push_back(upsert(edgecore::testing::kPods, edgecore::testing::makePod(p)));
    }
    ops.push_back(upsert(edgecore::testing::kNodes, edgecore::testing::makeNode("edge-1", true)));
    ops.push_back(upsert(edgecore::testing::kConfigMaps,
                         edgecore::testing::makeConfigMap("default", "app-config")));
    submitAndWait(*store, std::move(ops));
    clock = std::make_unique<edgecore::core::ManualClock>(
        std::chrono::system_clock::time_point(std::chrono::seconds(1714600000)));
    hub = std::make_unique<ms::WatchHub>(*store, 100);
    options.port = 0;
    handler = std::make_unique<ms::ApiHandler>(options, *store, forwarder, *clock);
  }
  ~World() {
    handler.reset();
    hub.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::filesystem::path dir;
  std::unique_ptr<mm::MetaStore> store;
  std::unique_ptr<edgecore::core::ManualClock> clock;
  std::unique_ptr<ms::WatchHub> hub;
  FuzzForwarder forwarder;
  ms::MetaServerOptions options;
  std::unique_ptr<ms::ApiHandler> handler;
};

std::string_view nextLine(std::string_view& rest) {
  size_t nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

void checkResponse(const ms::HttpResponse& r, bool ours) {
  if (r.code < 200 || r.code > 599) fail("status code out of range", std::to_string(r.code));
  if (ours && r.content_type == "application/json" && !json::accept(r.body)) {
    fail("a JSON answer is not JSON", r.body);
  }
}

void checkWatchLines(std::string_view out) {
  while (!out.empty()) {
    std::string_view line = nextLine(out);
    if (line.empty()) continue;
    json ev = json::parse(line, nullptr, false);
    if (!ev.is_object() || !ev.contains("type") || !ev.contains("object")) {
      fail("a watch line is not an event", line);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Lives for the process (libFuzzer exits without unwinding); only its files are removed.
  static World* world = [] {
    auto* w = new World();
    static std::string dir = w->dir.string();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    });
    return w;
  }();
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  ms::HttpRequest req;
  req.method = nextLine(rest);
  req.target = nextLine(rest);
  req.accept = nextLine(rest);
  req.content_type = nextLine(rest);
  req.body = rest;

  world->forwarder.connected = (flags & 1) != 0;
  ms::Routed routed = world->handler->route(req, (flags & 8) != 0);
  switch (routed.kind) {
    case ms::Routed::Kind::Respond:
      checkResponse(routed.response, true);
      break;
    case ms::Routed::Kind::Forward: {
      ms::ApplicationResult result;
      switch ((flags >> 1) & 3) {
        case 0:
          result.body = req.body;
          break;
        case 1:
          result.status = edgecore::core::failedPrecondition("rejected");
          result.http_code = 422;
          result.body = req.body;
          break;
        default:
          result.status = edgecore::core::unavailable("timeout");
          result.http_code = 500;
          break;
      }
      const bool was_cached = world->store->getObject(mm::ObjectKey{routed.info.gvr, routed.info.ns,
                                                                    routed.info.name}) != nullptr;
      ms::HttpResponse resp = world->handler->finishForward(routed, result);
      checkResponse(resp, false);
      if (routed.info.verb == "get" && result.status.ok() && !was_cached) {
        // finishForward cached the cloud's object: take it out again so runs stay independent.
        submitAndWait(*world->store,
                      {remove(mm::ObjectKey{routed.info.gvr, routed.info.ns, routed.info.name})});
      }
      break;
    }
    case ms::Routed::Kind::Watch: {
      ms::WatchSession session(routed.watch, *world->store, *world->hub, *world->clock, 64);
      checkWatchLines(session.start([] {}));
      if ((flags & 16) != 0 && !session.done()) {
        auto p = edgecore::testing::podNamed("live", world->store->revision() + 1);
        submitAndWait(*world->store,
                      {upsert(edgecore::testing::kPods, edgecore::testing::makePod(p))});
        checkWatchLines(session.drain());
        submitAndWait(*world->store,
                      {remove(mm::ObjectKey{edgecore::testing::kPods, p.ns, p.name})});
      }
      checkWatchLines(session.bookmark());
      break;
    }
  }
  return 0;
}
