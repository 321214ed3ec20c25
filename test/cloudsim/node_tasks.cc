#include "node_tasks.h"

#include <span>

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

nlohmann::json V1alpha1Answer::toJson() const {
  return {{"type", type}, {"task", task}, {"node", node}, {"body", body}, {"msg_id", msg_id}};
}

core::Result<core::Message> v1alpha1TaskMessage(std::string_view type, std::string_view task,
                                                std::string_view node, std::string_view state,
                                                const nlohmann::json& item,
                                                const std::vector<std::string>& check_items) {
  for (std::string_view part : {type, task, node}) {
    if (part.empty() || part.find('/') != std::string_view::npos) {
      return core::invalidArgument("task type, id and node must be non-empty and hold no '/'");
    }
  }
  // The cloud marshals the Go struct: keys are the field names, in this order.
  nlohmann::ordered_json req;
  req["TaskID"] = task;
  req["Type"] = type;
  req["State"] = state;
  if (state == "Checking") {
    req["Item"] = nlohmann::ordered_json{{"CheckItem", check_items}};
  } else {
    req["Item"] = item;
  }
  std::string resource = std::string(type) + "/" + std::string(task) + "/node/" + std::string(node);
  return core::Message::create("taskmanager", "taskmanager", type, resource,
                               core::rawJsonContent(req.dump()));
}

std::vector<V1alpha1Answer> v1alpha1Answers(const std::vector<core::Message>& received,
                                            std::string_view task) {
  std::vector<V1alpha1Answer> out;
  for (const core::Message& m : received) {
    const std::string& op = m.route.operation;
    if ((op != "upgrade" && op != "prepull") || m.route.resource.rfind("task/", 0) != 0) continue;
    // task/<id>/node/<node>: the cloud takes parts 1 and 3.
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      size_t slash = m.route.resource.find('/', start);
      parts.push_back(
          m.route.resource.substr(start, slash == std::string::npos ? slash : slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    if (parts.size() != 4 || parts[2] != "node") continue;
    if (!task.empty() && parts[1] != task) continue;
    nlohmann::json body = core::parseJsonBounded(m.contentData());
    if (!body.is_object()) body = nullptr;
    out.push_back({op, parts[1], parts[3], std::move(body), m.header.id});
  }
  return out;
}

std::optional<std::string> v1alpha1NextState(std::string_view type, std::string_view state,
                                             std::string_view event, std::string_view action) {
  struct Rule {
    std::string_view key, next;
  };
  static constexpr Rule kPrePull[] = {
      {"Init/Init/Success", "Checking"},      {"Init/Init/Failure", "Failed"},
      {"Init/TimeOut/Failure", "Failed"},     {"Checking/Check/Success", "Pulling"},
      {"Checking/Check/Failure", "Failed"},   {"Checking/TimeOut/Failure", "Failed"},
      {"Pulling/Pull/Success", "Successful"}, {"Pulling/Pull/Failure", "Failed"},
      {"Pulling/TimeOut/Failure", "Failed"}};
  static constexpr Rule kUpgrade[] = {
      {"Init/Init/Success", "Checking"},           {"Init/Init/Failure", "Failed"},
      {"Init/TimeOut/Failure", "Failed"},          {"Init/Upgrade/Success", "Successful"},
      {"Checking/Check/Success", "BackingUp"},     {"Checking/Check/Failure", "Failed"},
      {"Checking/TimeOut/Failure", "Failed"},      {"BackingUp/Backup/Success", "Upgrading"},
      {"BackingUp/Backup/Failure", "Failed"},      {"BackingUp/TimeOut/Failure", "Failed"},
      {"Upgrading/Upgrade/Success", "Successful"}, {"Upgrading/Upgrade/Failure", "Failed"},
      {"Upgrading/TimeOut/Failure", "Failed"},     {"RollingBack/Rollback/Failure", "Failed"},
      {"RollingBack/TimeOut/Failure", "Failed"},   {"RollingBack/Rollback/Success", "Failed"},
      {"Upgrading/Rollback/Failure", "Failed"},    {"Upgrading/Rollback/Success", "Failed"},
      {"Init/Rollback/Failure", "Failed"},         {"Init/Rollback/Success", "Failed"}};
  std::string key = std::string(state.empty() ? "Init" : state) + "/" + std::string(event) + "/" +
                    std::string(action);
  std::span<const Rule> rules =
      type == "prepull" ? std::span<const Rule>(kPrePull) : std::span<const Rule>(kUpgrade);
  for (const Rule& r : rules) {
    if (r.key == key) return std::string(r.next);
  }
  return std::nullopt;
}

bool v1alpha1Final(std::string_view state) { return state == "Successful" || state == "Failed"; }

core::Result<std::string> CloudSim::sendNodeTask(std::string_view type, std::string_view job,
                                                 std::string_view action,
                                                 const nlohmann::json& spec, std::string node) {
  std::string target = node.empty() ? options().node_name : node;
  EC_ASSIGN_OR_RETURN(core::Message msg, nodeTaskMessage(type, job, target, action, spec));
  // CloudHub sends node tasks once, without waiting for an ACK (noAckRequired).
  return send(std::move(msg), Reliability::Unreliable, std::move(node));
}

core::Result<std::string> CloudSim::sendV1alpha1Task(std::string_view type, std::string_view task,
                                                     std::string_view state,
                                                     const nlohmann::json& item,
                                                     const std::vector<std::string>& check_items,
                                                     std::string node) {
  std::string target = node.empty() ? options().node_name : node;
  EC_ASSIGN_OR_RETURN(core::Message msg,
                      v1alpha1TaskMessage(type, task, target, state, item, check_items));
  return send(std::move(msg), Reliability::Unreliable, std::move(node));
}

std::vector<V1alpha1Answer> CloudSim::v1alpha1Answers(std::string_view task) const {
  return cloudsim::v1alpha1Answers(received(), task);
}

std::vector<NodeTaskReport> CloudSim::nodeTaskReports(std::string_view job) const {
  return cloudsim::nodeTaskReports(received(), job);
}

}  // namespace edgecore::cloudsim
