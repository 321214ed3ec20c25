// libFuzzer target for MetaServer's requireAuthorization chain (src/metaserver/auth): one request's
// method, target, Authorization header and client certificate through AuthorizationChain over the
// real SQLite store (a temp file on tmpfs) holding a pod, its service account, RBAC objects and a
// ServiceAccountAccess; plus the key-file parser on the same bytes.
//
// Input layout: byte 0 = flags, then lines: method, target, Authorization, certificate CN,
// certificate O; the rest is PEM text for parsePublicKeysPem.
//   flags bit 0: a client certificate is present
//   flags bit 1: no key files, every token counts as one the node obtained (so the claims and
//                the store binding are reached with arbitrary payloads)
// Checks: no crash, no sanitizer report, no exception; a refusal is 400, 401 or 403 with a
// non-empty message; an allowed request names its user.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <string_view>

#include "auth/authorization_chain.h"
#include "auth/jws_verify.h"
#include "edgecore/core/clock.h"
#include "edgecore/metamanager/meta_store.h"
#include "metaserver/test_objects.h"

namespace {

namespace ms = edgecore::metaserver;
namespace mm = edgecore::metamanager;

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "metaserver_auth invariant broken: %s\n%.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

mm::WriteOp upsert(const mm::Gvr& gvr, std::string json_text) {
  mm::WriteOp op;
  op.kind = mm::WriteOp::Kind::UpsertObject;
  op.value = std::move(json_text);
  op.object_key = mm::ObjectKey{gvr, {}, {}};
  return op;
}

struct World {
  World() {
    dir = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                              : std::filesystem::temp_directory_path();
    dir /= "edgecore-fuzz-msauth-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    mm::SqliteStoreOptions opts;
    opts.path = (dir / "edgecore.db").string();
    auto opened = mm::openSqliteMetaStore(opts);
    if (!opened.ok()) fail("cannot open the store", opened.status().toString());
    store = std::move(*opened);
    std::vector<mm::WriteOp> ops;
    ops.push_back(upsert(edgecore::testing::kPods,
                         edgecore::testing::makePod(edgecore::testing::podNamed("web-0", 100))));
    ops.push_back(upsert(
        {"", "v1", "serviceaccounts"},
        R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"app","namespace":"default","uid":"u1"}})"));
    ops.push_back(upsert(
        {"rbac.authorization.k8s.io", "v1", "roles"},
        R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r","namespace":"default"},"rules":[{"apiGroups":[""],"resources":["pods","pods/log","*/exec"],"resourceNames":["web-0"],"verbs":["get","create"]}]})"));
    ops.push_back(upsert(
        {"rbac.authorization.k8s.io", "v1", "rolebindings"},
        R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"rb","namespace":"default"},"roleRef":{"kind":"Role","name":"r"},"subjects":[{"kind":"ServiceAccount","name":"app"},{"kind":"Group","name":"devs"},{"kind":"User"}]})"));
    ops.push_back(upsert(
        {"policy.kubeedge.io", "v1alpha1", "serviceaccountaccesses"},
        R"({"apiVersion":"policy.kubeedge.io/v1alpha1","kind":"ServiceAccountAccess","metadata":{"name":"app","namespace":"default"},"spec":{"serviceAccount":{"metadata":{"name":"app"}},"serviceAccountUid":"u1","accessClusterRoleBinding":[{"clusterRoleBinding":{"metadata":{"name":"c"},"roleRef":{"kind":"ClusterRole","name":"c"},"subjects":[{"kind":"ServiceAccount","name":"app","namespace":"default"}]},"rules":[{"nonResourceURLs":["/metrics*"],"verbs":["get"]}]}]}})"));
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    if (store->submit(std::move(ops), [done](edgecore::core::Status) { done->set_value(); }).ok()) {
      fut.wait();
    }
    clock = std::make_unique<edgecore::core::ManualClock>(
        std::chrono::system_clock::time_point(std::chrono::seconds(1714600000)));
    for (bool keyless : {false, true}) {
      ms::auth::AuthorizationChainOptions o;
      o.node_name = "edge-1";
      o.tokens.issuers = {"https://kubernetes.default.svc.cluster.local", ""};
      if (keyless) o.tokens.known_token = [](std::string_view) { return true; };
      chains[keyless] = std::make_unique<ms::auth::AuthorizationChain>(o, *store, *clock, nullptr);
    }
  }
  ~World() {
    chains[0].reset();
    chains[1].reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::filesystem::path dir;
  std::unique_ptr<mm::MetaStore> store;
  std::unique_ptr<edgecore::core::ManualClock> clock;
  std::unique_ptr<ms::auth::AuthorizationChain> chains[2];
};

std::string_view nextLine(std::string_view& rest) {
  size_t nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view method = nextLine(rest);
  std::string_view target = nextLine(rest);
  std::string_view authorization = nextLine(rest);
  ms::PeerCertificate cert;
  cert.common_name = std::string(nextLine(rest));
  cert.organizations.push_back(std::string(nextLine(rest)));

  ms::AuthRequest req;
  req.method = method;
  req.target = target;
  req.authorization = authorization;
  req.peer_certificate = (flags & 1) ? &cert : nullptr;
  ms::AuthDecision d = world.chains[(flags & 2) ? 1 : 0]->check(req);
  if (d.allowed) {
    if (d.user.empty()) fail("allowed without a user", target);
  } else {
    if (d.code != 400 && d.code != 401 && d.code != 403) fail("unexpected code", d.message);
    if (d.message.empty() || d.reason.empty()) fail("refusal without message", target);
  }
  (void)ms::auth::parsePublicKeysPem(rest);
  return 0;
}
