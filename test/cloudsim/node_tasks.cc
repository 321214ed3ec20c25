#include "node_tasks.h"

#include "cloudsim.h"

namespace edgecore::cloudsim {
namespace {

constexpr std::string_view kApi = "operations.kubeedge.io/v1alpha2/";

}  // namespace

nlohmann::json NodeTaskReport::toJson() const {
  return {{"type", type}, {"job", job}, {"node", node}, {"body", body}, {"msg_id", msg_id}};
}

core::Result<core::Message> nodeTaskMessage(std::string_view type, std::string_view job,
                                            std::string_view node, std::string_view action,
                                            const nlohmann::json& spec) {
  for (std::string_view part : {type, job, node, action}) {
    if (part.empty() || part.find('/') != std::string_view::npos) {
      return core::invalidArgument(
          "node task type, job, node and action must be non-empty "
          "and hold no '/'");
    }
  }
  std::string resource =
      std::string(kApi) + std::string(type) + "/" + std::string(job) + "/node/" + std::string(node);
  return core::Message::create("taskmanager", "taskmanager", action, resource, spec);
}

std::vector<NodeTaskReport> nodeTaskReports(const std::vector<core::Message>& received,
                                            std::string_view job) {
  std::vector<NodeTaskReport> out;
  for (const core::Message& m : received) {
    if (m.route.operation != "UpdateNodeActionStatus" ||
        m.route.resource.rfind(std::string(kApi), 0) != 0) {
      continue;
    }
    // <type>/<job>/node/<node> after the API version.
    std::string rest = m.route.resource.substr(kApi.size());
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      size_t slash = rest.find('/', start);
      parts.push_back(rest.substr(start, slash == std::string::npos ? slash : slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    if (parts.size() != 4 || parts[2] != "node") continue;
    if (!job.empty() && parts[1] != job) continue;
    nlohmann::json body = core::parseJsonBounded(m.contentData());
    if (!body.is_object()) body = nullptr;
    out.push_back({parts[0], parts[1], parts[3], std::move(body), m.header.id});
  }
  return out;
}

core::Result<std::string> CloudSim::sendNodeTask(std::string_view type, std::string_view job,
                                                 std::string_view action,
                                                 const nlohmann::json& spec, std::string node) {
  std::string target = node.empty() ? options().node_name : node;
  EC_ASSIGN_OR_RETURN(core::Message msg, nodeTaskMessage(type, job, target, action, spec));
  // CloudHub sends node tasks once, without waiting for an ACK (noAckRequired).
  return send(std::move(msg), Reliability::Unreliable, std::move(node));
}

std::vector<NodeTaskReport> CloudSim::nodeTaskReports(std::string_view job) const {
  return cloudsim::nodeTaskReports(received(), job);
}

}  // namespace edgecore::cloudsim
