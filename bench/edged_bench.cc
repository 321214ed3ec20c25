// edged figures on the real containerd (hostNetwork busybox pods, image present):
//  1. pod insert (sent to metamanager on the bus) -> edged reports the pod Running, one pod at a
//     time, median and p90 over N pods;
//  2. 50 pods inserted at once -> all Running.
// usage: build/bench/edged_bench [N]   (as root, containerd on /run/containerd/containerd.sock)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "edged/edged_harness.h"

using namespace edgecore::testing;
using Clock = std::chrono::steady_clock;

namespace {

bool running(EdgedHarness& h, const std::string& ns, const std::string& name) {
  for (const auto& p : h.edged()->pods()) {
    if (p.ns == ns && p.name == name) {
      return p.phase == "Running";
    }
  }
  return false;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  if (!containerdAvailable()) {
    std::fprintf(stderr, "containerd socket %s missing\n", kContainerdSocket);
    return 1;
  }
  const int n = argc > 1 ? std::atoi(argv[1]) : 20;
  auto cri = edgecore::cri::CriClient::create({});
  if (!cri.ok()) {
    return 1;
  }
  removeLeftoversOfDeadTestRuns(**cri);
  const std::string ns = "edged-bench-" + uniqueSuffix();
  const std::string node = "bench-node";
  TempDir dir;
  int rc = 0;
  {
    edgecore::edged::EdgedOptions o;
    o.relist_period = std::chrono::seconds(1);  // production cadence
    EdgedHarness h(dir.path(), node, o, /*cloud_connected=*/true);
    // Warm-up: the first pod pays for connection set-up.
    (void)h.insert(makePod(ns, "warm", node, json::array({busyboxContainer("c", "sleep 3600")})));
    waitFor([&] { return h.edged() && running(h, ns, "warm"); }, 30s);

    std::vector<double> lat;
    for (int i = 0; i < n; ++i) {
      std::string name = "seq-" + std::to_string(i);
      json pod = makePod(ns, name, node, json::array({busyboxContainer("c", "sleep 3600")}));
      auto t0 = Clock::now();
      (void)h.insert(pod);
      while (!running(h, ns, name)) {
        if (Clock::now() - t0 > 30s) {
          std::fprintf(stderr, "pod %s not Running after 30 s\n", name.c_str());
          rc = 1;
          break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
      lat.push_back(ms(Clock::now() - t0));
    }
    std::sort(lat.begin(), lat.end());
    std::printf("insert -> Running, one at a time: n=%d median=%.1f ms p90=%.1f ms max=%.1f ms\n",
                n, lat[lat.size() / 2], lat[lat.size() * 9 / 10], lat.back());

    const int burst = 50;
    auto t0 = Clock::now();
    for (int i = 0; i < burst; ++i) {
      (void)h.insert(makePod(ns, "burst-" + std::to_string(i), node,
                             json::array({busyboxContainer("c", "sleep 3600")})));
    }
    bool all = waitFor(
        [&] {
          int r = 0;
          for (int i = 0; i < burst; ++i) {
            r += running(h, ns, "burst-" + std::to_string(i)) ? 1 : 0;
          }
          return r == burst;
        },
        60s);
    std::printf("%d pods inserted at once -> all Running: %.0f ms%s\n", burst,
                ms(Clock::now() - t0), all ? "" : " (NOT all running after 60 s)");
    rc = all ? rc : 1;
  }
  removeNamespacePods(**cri, ns);
  return rc;
}
