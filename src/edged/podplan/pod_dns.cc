// The pod's DNS configuration (kubelet network/dns/dns.go GetPodDNS): dnsPolicy, clusterDNS,
// the host's resolv.conf and spec.dnsConfig merged. Called by buildPodPlan (pod_plan.cc) for the
// sandbox config.

#include <algorithm>
#include <fstream>
#include <sstream>

#include "podplan/plan_util.h"

namespace edgecore::edged::plan {

namespace {

struct HostResolv {
  std::vector<std::string> servers, searches, options;
};

HostResolv readResolvConf(const std::string& path) {
  HostResolv r;
  if (path.empty()) {
    return r;
  }
  std::ifstream f(path);
  std::string line;
  size_t lines = 0;
  while (std::getline(f, line) && ++lines < 10000) {
    auto hash = line.find_first_of("#;");
    if (hash != std::string::npos) {
      line.resize(hash);
    }
    std::istringstream ss(line);
    std::string key;
    ss >> key;
    std::vector<std::string> fields;
    for (std::string w; ss >> w;) {
      fields.push_back(w);
    }
    if (key == "nameserver" && !fields.empty()) {
      r.servers.push_back(fields[0]);
    } else if (key == "search") {
      r.searches.clear();
      for (auto& s : fields) {
        if (s != ".") r.searches.push_back(s);
      }
    } else if (key == "domain" && !fields.empty()) {
      r.searches = {fields[0]};
    } else if (key == "options") {
      r.options.insert(r.options.end(), fields.begin(), fields.end());
    }
  }
  return r;
}

void appendUnique(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& s : from) {
    if (std::find(to.begin(), to.end(), s) == to.end()) {
      to.push_back(s);
    }
  }
}

// Options merge by name ("ndots:5" overrides "ndots:1"), dnsConfig.options last.
void mergeOptions(std::vector<std::string>& opts, const std::vector<std::string>& extra) {
  for (const auto& o : extra) {
    const std::string name = o.substr(0, o.find(':'));
    auto it = std::find_if(opts.begin(), opts.end(),
                           [&](const std::string& x) { return x.substr(0, x.find(':')) == name; });
    if (it != opts.end()) {
      *it = o;
    } else {
      opts.push_back(o);
    }
  }
}

}  // namespace

Result<DnsConfig> podDns(const json& spec, const std::string& ns, bool host_network,
                         const PlanInputs& in) {
  EC_ASSIGN_OR_RETURN(auto policy, getString(spec, "dnsPolicy", "spec", "ClusterFirst"));
  enum class Kind { Cluster, Host, None } kind;
  if (policy == "None") {
    kind = Kind::None;
  } else if (policy == "Default") {
    kind = Kind::Host;
  } else if (policy == "ClusterFirstWithHostNet") {
    kind = Kind::Cluster;
  } else if (policy == "ClusterFirst") {
    kind = host_network ? Kind::Host : Kind::Cluster;
  } else {
    return planStatus(kReasonInvalidPodSpec,
                      "spec.dnsPolicy: unsupported value \"" + policy + "\"");
  }
  if (kind == Kind::Cluster && in.cluster_dns.empty()) {
    kind = Kind::Host;  // kubelet: "MissingClusterDNS", falls back to the host's resolv.conf
  }
  DnsConfig d;
  if (kind != Kind::None) {
    HostResolv host = readResolvConf(in.resolv_conf);
    if (kind == Kind::Host) {
      d.servers = host.servers;
      d.searches = host.searches;
      d.options = host.options;
    } else {
      d.servers = in.cluster_dns;
      d.searches = {ns + ".svc." + in.cluster_domain, "svc." + in.cluster_domain,
                    in.cluster_domain};
      appendUnique(d.searches, host.searches);
      d.options = {"ndots:5"};
    }
  }
  if (const json* cfg = child(spec, "dnsConfig")) {
    EC_ASSIGN_OR_RETURN(auto servers, getStringList(*cfg, "nameservers", "spec.dnsConfig"));
    EC_ASSIGN_OR_RETURN(auto searches, getStringList(*cfg, "searches", "spec.dnsConfig"));
    appendUnique(d.servers, servers);
    appendUnique(d.searches, searches);
    EC_ASSIGN_OR_RETURN(auto opts, getArray(*cfg, "options", "spec.dnsConfig"));
    std::vector<std::string> extra;
    for (const json* o : opts) {
      EC_ASSIGN_OR_RETURN(auto name, getString(*o, "name", "spec.dnsConfig.options"));
      EC_ASSIGN_OR_RETURN(auto value, getString(*o, "value", "spec.dnsConfig.options"));
      if (!name.empty()) {
        extra.push_back(value.empty() ? name : name + ":" + value);
      }
    }
    mergeOptions(d.options, extra);
  }
  // Resolver limits the kubelet enforces (MaxDNSSearchPaths 32, 3 nameservers).
  if (d.searches.size() > 32) d.searches.resize(32);
  if (d.servers.size() > 3) d.servers.resize(3);
  return d;
}

}  // namespace edgecore::edged::plan
