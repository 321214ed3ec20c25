#include "ctl.h"

#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "edgecore/core/config.h"
#include "edgecore/core/host_port.h"
#include "edgecore/kubeprint/kubeprint.h"
#include "editor.h"
#include "http_client.h"
#include "join.h"
#include "node_env.h"
#include "node_tasks.h"
#include "printing.h"

namespace edgecore::keadm {
namespace {

using nlohmann::json;
constexpr const char* kDefaultConfig = "/etc/kubeedge/config/edgecore.yaml";
constexpr const char* kDeviceApi = "/apis/devices.kubeedge.io/v1beta1";

// An error already worded for the user.
struct CtlError {
  std::string message;
};

std::string yamlText(const nlohmann::json& j) {
  auto text = kubeprint::toYaml(j);
  if (!text.ok()) throw CtlError{"cannot print YAML: " + text.status().message()};
  return *text;
}

// "Error from server (NotFound): pods \"x\" not found" for a Kubernetes Status body.
std::string serverError(const HttpReply& reply) {
  json j = json::parse(reply.body, nullptr, false);
  if (j.is_object() && j.value("kind", "") == "Status") {
    return "Error from server (" + j.value("reason", "Unknown") + "): " + j.value("message", "");
  }
  std::string body = reply.body;
  while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) body.pop_back();
  return "MetaServer answered " + std::to_string(reply.status) + ": " + body;
}

class Ctl {
 public:
  explicit Ctl(std::string config_path) : config_path_(std::move(config_path)) {}

  void connect() {
    if (client_) return;
    auto env = loadEnv(config_path_);
    if (!env.ok()) throw CtlError{env.status().message()};
    env_ = *env;
    client_ = std::make_unique<HttpClient>(env_.endpoint);
  }

  HttpReply call(std::string_view method, const std::string& target, std::string_view body = {},
                 std::string_view content_type = {}) {
    connect();
    auto r = client_->request(method, target, body, content_type);
    if (!r.ok()) throw CtlError{r.status().message()};
    return std::move(*r);
  }

  json getJson(const std::string& target) {
    HttpReply reply = call("GET", target);
    if (reply.status != 200) throw CtlError{serverError(reply)};
    json j = json::parse(reply.body, nullptr, false);
    if (j.is_discarded()) throw CtlError{"MetaServer sent invalid JSON for " + target};
    return j;
  }

  // ---- listing helpers ----
  static std::string collectionPath(std::string_view api, std::string_view resource,
                                    const std::string& ns, bool all) {
    if (all) return std::string(api) + "/" + std::string(resource);
    return std::string(api) + "/namespaces/" + ns + "/" + std::string(resource);
  }

  // Named objects (per-name failures printed and skipped, foreign-node ones reported) or the
  // selected list, always only this node's.
  std::vector<json> fetch(std::string_view api, std::string_view resource, std::string_view what,
                          const std::vector<std::string>& names, const std::string& ns, bool all,
                          const std::string& selector) {
    std::vector<json> out;
    if (!names.empty()) {
      for (const auto& n : names) {
        HttpReply reply = call("GET", std::string(api) + "/namespaces/" + ns + "/" +
                                          std::string(resource) + "/" + urlEncode(n));
        if (reply.status != 200) {
          std::cerr << serverError(reply) << "\n";
          failed_ = true;
          continue;
        }
        json obj = json::parse(reply.body, nullptr, false);
        if (!obj.is_object()) continue;
        std::string node = obj["spec"].value("nodeName", "");
        if (node != env_.node_name) {
          std::cout << "can't to query " << what << ": \"" << n << "\" for node: \"" << node
                    << "\"\n";
          continue;
        }
        out.push_back(std::move(obj));
      }
      return out;
    }
    std::string target = collectionPath(api, resource, ns, all);
    if (!selector.empty()) target += "?labelSelector=" + urlEncode(selector);
    json list = getJson(target);
    for (auto& item : list.value("items", json::array())) {
      if (item.is_object() && item.contains("spec") &&
          item["spec"].value("nodeName", "") == env_.node_name) {
        out.push_back(std::move(item));
      }
    }
    return out;
  }

  static void printObjects(std::vector<json> objs, const std::string& format,
                           std::string_view api_version, std::string_view kind) {
    for (auto& o : objs) {
      if (!o.contains("apiVersion")) o["apiVersion"] = api_version;
      if (!o.contains("kind")) o["kind"] = kind;
    }
    json doc;
    if (objs.size() == 1) {
      doc = std::move(objs.front());
    } else {
      doc = {{"apiVersion", "v1"},
             {"kind", "List"},
             {"items", std::move(objs)},
             {"metadata", {{"resourceVersion", ""}, {"selfLink", ""}}}};
    }
    if (format == "json") {
      std::cout << doc.dump(4) << "\n";
    } else {
      std::cout << yamlText(doc);
    }
  }

  static void noResources(bool all, const std::string& ns) {
    if (all) {
      std::cout << "No resources found in all namespace.\n";
    } else {
      std::cout << "No resources found in " << ns << " namespace.\n";
    }
  }

  static void checkOutput(const std::string& output) {
    if (!output.empty() && output != "wide" && output != "json" && output != "yaml") {
      throw CtlError{"unable to match a printer suitable for the output format \"" + output +
                     "\", allowed formats are: json,yaml,wide"};
    }
  }

  // ---- commands ----
  int getPods(const std::vector<std::string>& names, const std::string& ns, bool all,
              const std::string& selector, const std::string& output) {
    checkOutput(output);
    auto pods = fetch("/api/v1", "pods", "pod", names, ns, all, selector);
    if (pods.empty()) {
      if (names.empty()) noResources(all, ns);
      return failed_ ? 1 : 0;
    }
    if (output == "json" || output == "yaml") {
      printObjects(std::move(pods), output, "v1", "Pod");
      return failed_ ? 1 : 0;
    }
    bool wide = output == "wide";
    auto now = std::chrono::system_clock::now();
    std::string text = all ? "NAMESPACE\t" : "";
    text += "NAME\tREADY\tSTATUS\tRESTARTS\tAGE";
    if (wide) text += "\tIP\tNODE\tNOMINATED NODE\tREADINESS GATES";
    text += "\n";
    for (const auto& p : pods) {
      auto cells = kubeprint::podCells(p, now);
      size_t n = wide ? cells.size() : 5;
      if (all) text += p["metadata"].value("namespace", "") + "\t";
      for (size_t i = 0; i < n; ++i) text += cells[i] + (i + 1 < n ? "\t" : "\n");
    }
    std::cout << tableText(text);
    return failed_ ? 1 : 0;
  }

  int getDevices(const std::vector<std::string>& names, const std::string& ns, bool all,
                 const std::string& selector, const std::string& output) {
    checkOutput(output);
    auto devices = fetch(kDeviceApi, "devices", "device", names, ns, all, selector);
    if (devices.empty()) {
      if (names.empty()) noResources(all, ns);
      return failed_ ? 1 : 0;
    }
    if (output == "json" || output == "yaml") {
      printObjects(std::move(devices), output, "devices.kubeedge.io/v1beta1", "Device");
      return failed_ ? 1 : 0;
    }
    auto now = std::chrono::system_clock::now();
    std::string text = all ? "NAMESPACE\tNAME\tAGE" : "NAME\tAGE";
    if (output == "wide") text += "\tPROTOCOL\tMODEL";
    text += "\n";
    for (const auto& d : devices) {
      const json& meta = d["metadata"];
      if (all) text += meta.value("namespace", "") + "\t";
      text += meta.value("name", "") + "\t" +
              kubeprint::ageSince(meta.value("creationTimestamp", ""), now);
      if (output == "wide") {
        const json& spec = d["spec"];
        std::string protocol;
        if (spec.contains("protocol") && spec["protocol"].is_object()) {
          protocol = spec["protocol"].value("protocolName", "");
        }
        std::string model;
        if (spec.contains("deviceModelRef") && spec["deviceModelRef"].is_object()) {
          model = spec["deviceModelRef"].value("name", "");
        }
        text += "\t" + (protocol.empty() ? "<none>" : protocol) + "\t" +
                (model.empty() ? "<none>" : model);
      }
      text += "\n";
    }
    std::cout << tableText(text);
    return failed_ ? 1 : 0;
  }

  std::vector<json> eventsFor(const json& obj) {
    const json& meta = obj["metadata"];
    std::string ns = meta.value("namespace", "");
    std::string target =
        ns.empty() ? std::string("/api/v1/events") : "/api/v1/namespaces/" + ns + "/events";
    HttpReply reply = call("GET", target);
    std::vector<json> out;
    if (reply.status != 200) return out;
    json list = json::parse(reply.body, nullptr, false);
    if (!list.is_object()) return out;
    std::string uid = meta.value("uid", "");
    for (auto& e : list.value("items", json::array())) {
      if (!e.is_object() || !e.contains("involvedObject")) continue;
      const json& io = e["involvedObject"];
      if (io.value("name", "") != meta.value("name", "")) continue;
      if (!uid.empty() && !io.value("uid", "").empty() && io.value("uid", "") != uid) continue;
      if (io.value("kind", "") != obj.value("kind", io.value("kind", ""))) continue;
      out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
      return a.value("lastTimestamp", "") < b.value("lastTimestamp", "");
    });
    return out;
  }

  int describe(bool pods, const std::vector<std::string>& names, const std::string& ns, bool all,
               const std::string& selector, bool show_events) {
    auto objs = pods ? fetch("/api/v1", "pods", "pod", names, ns, all, selector)
                     : fetch(kDeviceApi, "devices", "device", names, ns, all, selector);
    if (objs.empty()) {
      if (names.empty()) noResources(all, ns);
      return failed_ ? 1 : 0;
    }
    auto now = std::chrono::system_clock::now();
    // Device ids are known on this node only (edged's checkpoint), not through MetaServer.
    const std::string checkpoint = pods ? readDeviceCheckpoint(env_.device_checkpoint) : "";
    bool first = true;
    for (auto& o : objs) {
      if (!o.contains("kind")) o["kind"] = pods ? "Pod" : "Device";
      if (!o.contains("apiVersion")) o["apiVersion"] = pods ? "v1" : "devices.kubeedge.io/v1beta1";
      std::vector<json> events = show_events ? eventsFor(o) : std::vector<json>{};
      if (!first) std::cout << "\n\n";
      first = false;
      json devices;
      if (!checkpoint.empty()) {
        auto meta = o.find("metadata");
        if (meta != o.end() && meta->is_object() && meta->contains("uid") &&
            (*meta)["uid"].is_string()) {
          devices = podDevicesFromCheckpoint(checkpoint, (*meta)["uid"].get<std::string>());
        }
      }
      std::cout << (pods ? describePod(o, events, show_events, now, devices)
                         : describeGeneric(o, events, show_events, now));
    }
    return failed_ ? 1 : 0;
  }

  int restart(const std::vector<std::string>& names, const std::string& ns) {
    if (names.empty()) throw CtlError{"no pod specified for reboot"};
    json body = names;
    HttpReply reply =
        call("POST", "/api/v1/namespaces/" + ns + "/pods/restart", body.dump(), "application/json");
    if (reply.status != 200) {
      throw CtlError{"pod restart failed with status code: " + std::to_string(reply.status)};
    }
    json j = json::parse(reply.body, nullptr, false);
    if (!j.is_object()) throw CtlError{"pod restart: MetaServer sent an invalid answer"};
    for (const auto& m : j.value("LogMessages", json::array())) {
      std::cout << m.get<std::string>() << "\n";
    }
    bool errors = false;
    for (const auto& m : j.value("errMessages", json::array())) {
      std::cerr << m.get<std::string>() << "\n";
      errors = true;
    }
    return errors ? 1 : 0;
  }

  struct LogOptions {
    std::string ns = "default";
    std::string container;
    bool follow = false;
    bool previous = false;
    std::string since_second = "0";
    std::string since_time;
    bool timestamps = false;
    std::string tail = "-1";
    std::string limit_bytes = "-1";
    bool insecure = false;
  };

  int logs(const std::vector<std::string>& args, const LogOptions& o) {
    if (args.empty()) throw CtlError{"no pod specified for logs"};
    if (args.size() > 1)
      throw CtlError{"logs takes one pod name, got " + std::to_string(args.size())};
    std::string q;
    auto add = [&q](const char* k, const std::string& v) {
      q += (q.empty() ? "?" : "&") + std::string(k) + "=" + urlEncode(v);
    };
    if (!o.container.empty()) add("container", o.container);
    if (o.follow) add("follow", "true");
    if (o.previous) add("previous", "true");
    if (o.since_second != "0") add("sinceSeconds", sinceSeconds(o.since_second));
    if (!o.since_time.empty()) add("sinceTime", o.since_time);
    if (o.timestamps) add("timestamps", "true");
    if (o.tail != "-1") add("tailLines", o.tail);
    if (o.limit_bytes != "-1") add("limitBytes", o.limit_bytes);
    if (o.insecure) add("insecureSkipTLSVerifyBackend", "true");
    std::string target = "/api/v1/namespaces/" + o.ns + "/pods/" + urlEncode(args[0]) + "/log" + q;
    if (o.follow) {
      connect();
      auto r = client_->stream("GET", target, [](std::string_view data) {
        std::fwrite(data.data(), 1, data.size(), stdout);
        std::fflush(stdout);
      });
      if (!r.ok()) throw CtlError{r.status().message()};
      if (r->status != 200)
        throw CtlError{"failed to get logs for pod " + args[0] + ": " + serverError(*r)};
      return 0;
    }
    HttpReply reply = call("GET", target);
    if (reply.status != 200) {
      throw CtlError{"failed to get logs for pod " + args[0] + ": " + serverError(reply)};
    }
    json j = json::parse(reply.body, nullptr, false);
    if (!j.is_object()) throw CtlError{"logs: MetaServer sent an invalid answer"};
    for (const auto& m : j.value("logMessages", json::array())) {
      std::cout << m.get<std::string>();
    }
    std::cout.flush();
    bool errors = false;
    for (const auto& m : j.value("errMessages", json::array())) {
      std::cerr << m.get<std::string>() << "\n";
      errors = true;
    }
    return errors ? 1 : 0;
  }

  // "90", "5s", "2m", "3h" -> seconds (the original forwards the text as is; a kubelet wants a
  // number, so we convert durations).
  static std::string sinceSeconds(const std::string& text) {
    if (text.empty()) return text;
    int64_t total = 0;
    int64_t cur = 0;
    bool digits = false;
    for (char c : text) {
      if (std::isdigit(static_cast<unsigned char>(c))) {
        cur = cur * 10 + (c - '0');
        digits = true;
        continue;
      }
      if (!digits) throw CtlError{"invalid --since-second \"" + text + "\": want 30, 5s, 2m or 3h"};
      if (c == 's') {
        total += cur;
      } else if (c == 'm') {
        total += cur * 60;
      } else if (c == 'h') {
        total += cur * 3600;
      } else {
        throw CtlError{"invalid --since-second \"" + text + "\": want 30, 5s, 2m or 3h"};
      }
      cur = 0;
      digits = false;
    }
    total += cur;
    return std::to_string(total);
  }

  struct ExecOptions {
    std::string ns = "default";
    std::string container;
    bool stdin_open = false;
    bool tty = false;
  };

  int exec(const std::vector<std::string>& args, const ExecOptions& o) {
    if (args.empty()) throw CtlError{"no pod specified for exec"};
    if (args.size() < 2) {
      throw CtlError{"you must specify at least one command for the container: keadm ctl exec " +
                     args[0] + " -- <command> [args...]"};
    }
    std::string q;
    auto add = [&q](const char* k, const std::string& v) {
      q += (q.empty() ? "?" : "&") + std::string(k) + "=" + urlEncode(v);
    };
    if (!o.container.empty()) add("container", o.container);
    for (size_t i = 1; i < args.size(); ++i) add("command", args[i]);
    std::string base = "/api/v1/namespaces/" + o.ns + "/pods/" + urlEncode(args[0]) + "/exec";
    if (o.tty || o.stdin_open) {
      if (o.stdin_open) add("stdin", "true");
      add("stdout", "true");
      if (o.tty) {
        add("tty", "true");
      } else {
        add("stderr", "true");
      }
      return interactive(base + q, o);
    }
    add("stdout", "true");
    add("stderr", "true");
    HttpReply reply = call("POST", base + q);
    if (reply.status != 200) {
      throw CtlError{"failed to exec command in pod " + args[0] + ": " + serverError(reply)};
    }
    json j = json::parse(reply.body, nullptr, false);
    if (!j.is_object()) throw CtlError{"exec: MetaServer sent an invalid answer"};
    for (const auto& m : j.value("runOutMessages", json::array()))
      std::cout << m.get<std::string>();
    std::cout.flush();
    for (const auto& m : j.value("runErrMessages", json::array()))
      std::cerr << m.get<std::string>();
    bool errors = false;
    for (const auto& m : j.value("errMessages", json::array())) {
      std::cerr << m.get<std::string>() << "\n";
      errors = true;
    }
    if (errors) return 1;
    if (j.contains("exitCode") && j["exitCode"].is_number_integer()) {
      return j["exitCode"].get<int>();
    }
    return 0;
  }

  int interactive(const std::string& target, const ExecOptions& o) {
    connect();
    struct RawMode {
      bool active = false;
      termios saved{};
      ~RawMode() {
        if (active) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
      }
    } raw;
    bool tty = o.tty && ::isatty(STDIN_FILENO);
    if (o.tty && !tty) {
      std::cerr << "Unable to use a TTY - input is not a terminal or the right kind of file\n";
    }
    if (tty && ::tcgetattr(STDIN_FILENO, &raw.saved) == 0) {
      termios t = raw.saved;
      ::cfmakeraw(&t);
      if (::tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) raw.active = true;
    }
    ExecIo io;
    io.tty = o.tty;
    io.stdin_open = o.stdin_open;
    io.terminal_size = [](uint16_t* cols, uint16_t* rows) {
      winsize ws{};
      if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return false;
      *cols = ws.ws_col;
      *rows = ws.ws_row;
      return true;
    };
    auto r = client_->execWebsocket(target, io);
    if (raw.active) {
      ::tcsetattr(STDIN_FILENO, TCSANOW, &raw.saved);
      raw.active = false;
    }
    if (!r.ok()) throw CtlError{r.status().message()};
    return *r;
  }

  int editDevice(const std::vector<std::string>& names, const std::string& ns) {
    if (names.empty()) throw CtlError{"no device specified: keadm ctl edit device <name>"};
    if (names.size() > 1) throw CtlError{"too many args, edit one device at once"};
    connect();
    json device =
        getJson(std::string(kDeviceApi) + "/namespaces/" + ns + "/devices/" + urlEncode(names[0]));
    std::string node = device["spec"].value("nodeName", "");
    if (node != env_.node_name) {
      throw CtlError{"can't query device: \"" + names[0] + "\" for node: \"" + node + "\""};
    }
    device["apiVersion"] = "devices.kubeedge.io/v1beta1";
    device["kind"] = "Device";
    std::string original = yamlText(device);
    char path[] = "/tmp/keadm-edit-XXXXXX.yaml";
    int fd = ::mkstemps(path, 5);
    if (fd < 0) throw CtlError{"cannot create a temporary file for the editor"};
    std::string header =
        "# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
        "# and an empty file will abort the edit. The change is sent to the device's mapper\n"
        "# through DeviceTwin; it is not sent to the cloud.\n#\n";
    std::string text = header + original;
    if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      ::close(fd);
      throw CtlError{std::string("cannot write ") + path};
    }
    ::close(fd);
    if (auto st = runEditor(path); !st.ok()) throw CtlError{st.message()};
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string edited = stripComments(ss.str());
    if (edited == stripComments(original)) {
      ::unlink(path);
      std::cerr << "Edit cancelled, no changes made.\n";
      throw CtlError{"no changes made"};
    }
    if (edited.find_first_not_of(" \n\t") == std::string::npos) {
      ::unlink(path);
      throw CtlError{"Edit cancelled, saved file was empty."};
    }
    json updated;
    try {
      updated = yamlToJson(YAML::Load(edited));
    } catch (const std::exception& e) {
      throw CtlError{std::string("the edited file is not valid YAML: ") + e.what() +
                     " (your changes are kept in " + path + ")"};
    }
    if (!updated.is_object()) {
      throw CtlError{std::string("the edited file is not a Device object (kept in ") + path + ")"};
    }
    HttpReply reply = call(
        "PUT", std::string(kDeviceApi) + "/namespaces/" + ns + "/devices/" + urlEncode(names[0]),
        updated.dump(), "application/json");
    if (reply.status != 200) {
      throw CtlError{serverError(reply) + " (your changes are kept in " + path + ")"};
    }
    ::unlink(path);
    std::cout << "device.devices.kubeedge.io/" << names[0] << " edited\n";
    return 0;
  }

  int confirm(const std::vector<std::string>& args) {
    if (args.empty()) throw CtlError{"no specified node name for confirm upgrade"};
    HttpReply reply = call("POST", "/api/v1/taskupgrade/confirm-upgrade");
    if (reply.status != 200) {
      std::string body = reply.body;
      while (!body.empty() && body.back() == '\n') body.pop_back();
      throw CtlError{"node upgrade confirm failed with status code: " +
                     std::to_string(reply.status) + (body.empty() ? "" : ": " + body)};
    }
    // v1.20's MetaServer answers an empty body on success; ours and v1.23's send JSON.
    json j = json::parse(reply.body.empty() ? "{}" : reply.body, nullptr, false);
    if (!j.is_object()) throw CtlError{"confirm: MetaServer sent an invalid answer"};
    for (const auto& m : j.value("logMessages", json::array())) {
      std::cout << m.get<std::string>() << "\n";
    }
    bool errors = false;
    for (const auto& m : j.value("errMessages", json::array())) {
      std::cerr << m.get<std::string>() << "\n";
      errors = true;
    }
    return errors ? 1 : 0;
  }

  // KubeEdge v1.22 `unhold-upgrade <pod|node> [<name>]`: edged applies the pod updates it held
  // for the pod (or for every held pod of the node; default: this node).
  int unholdUpgrade(const std::vector<std::string>& args, const std::string& ns) {
    const std::string type = args.empty() ? "" : args[0];
    std::string name = args.size() > 1 ? args[1] : "";
    std::string resource = "pods";
    if (type == "pod") {
      if (name.empty()) throw CtlError{"pod name is required"};
      name = ns + "/" + name;
    } else if (type == "node") {
      resource = "nodes";
      if (name.empty()) {
        connect();  // the node name is modules.edged.hostnameOverride
        name = env_.node_name;
      }
    } else {
      throw CtlError{"unknown resource type: " + type};
    }
    HttpReply reply = call("POST", "/api/v1/" + resource + "/unhold-upgrade", name, "text/plain");
    if (reply.status != 200) {
      std::string body = reply.body;
      while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) body.pop_back();
      throw CtlError{"failed to unhold " + resource + " upgrade, status code: " +
                     std::to_string(reply.status) + ", message: " + body};
    }
    std::cout << "unhold-upgrade sent for " << type << " " << name << "\n";
    return 0;
  }

 private:
  std::string config_path_;
  Env env_;
  std::unique_ptr<HttpClient> client_;
  bool failed_ = false;
};

struct ListFlags {
  std::string ns = "default";
  std::string selector;
  bool all = false;
  std::string output;
  bool show_events = true;
  int chunk_size = 500;
  std::vector<std::string> names;
};

void addListFlags(CLI::App* cmd, ListFlags& f, bool output, bool short_selector) {
  cmd->add_option("names", f.names, "Names of the objects (default: all of this node)");
  cmd->add_option("-n,--namespace", f.ns, "Namespace of the objects")->capture_default_str();
  cmd->add_option(short_selector ? "-l,--selector" : "--selector", f.selector,
                  "Selector (label query) to filter on, supports '=', '==', and '!=' "
                  "(e.g. -l key1=value1,key2=value2)");
  cmd->add_flag("-A,--all-namespaces", f.all,
                "List the objects across all namespaces (--namespace is ignored)");
  if (output) {
    cmd->add_option("-o,--output", f.output, "Output format: json|yaml|wide (default: a table)");
  } else {
    cmd->add_option("--show-events", f.show_events,
                    "Show the events stored on this node for the object (true|false)")
        ->capture_default_str();
    cmd->add_option("--chunk-size", f.chunk_size,
                    "Accepted for compatibility with keadm v1.20 (lists are read at once)")
        ->capture_default_str();
  }
}

constexpr const char* kCtlHelp =
    "Operate pods and devices on this edge node through the local MetaServer, without a cloud\n"
    "connection or a kubeconfig. Reads modules.metaManager.metaServer (address, TLS files when\n"
    "featureGates.requireAuthorization is on) and modules.edged.hostnameOverride (the node name)\n"
    "from the edgecore configuration file. Only the pods and devices of this node are shown.";

}  // namespace

// Long on purpose: this is the command line's declaration (every subcommand, flag and help
// text), read top to bottom in the order `keadm --help` prints it.
int runKeadm(const std::vector<std::string>& all_args) {
  // `exec POD [flags] -- CMD...`: everything after "--" is the command, taken apart before
  // CLI11 sees it (its "--" handling does not reach a nested subcommand's positionals).
  std::vector<std::string> args = all_args;
  // `keadm edge upgrade|backup|rollback` (CHANGELOG-1.21's order) is `keadm upgrade edge`.
  if (args.size() >= 2 && args[0] == "edge" &&
      (args[1] == "upgrade" || args[1] == "backup" || args[1] == "rollback")) {
    std::swap(args[0], args[1]);
  }
  std::vector<std::string> exec_command;
  auto dashdash = std::find(args.begin(), args.end(), "--");
  if (dashdash != args.end() && std::find(args.begin(), dashdash, "exec") != dashdash) {
    exec_command.assign(dashdash + 1, args.end());
    args.erase(dashdash, args.end());
  }
  CLI::App app{
      "keadm: KubeEdge edge node administration (edgecore-cpp): join, reset, version, ctl, "
      "backup/upgrade/rollback edge and config-update.",
      "keadm"};
  app.require_subcommand(1);
  std::string config_path = kDefaultConfig;
  CLI::App* ctl = app.add_subcommand("ctl", "Commands operating on the data plane at edge");
  ctl->description(kCtlHelp);
  ctl->add_option("--config", config_path, "edgecore configuration file")->capture_default_str();
  ctl->require_subcommand(1);

  int rc = 0;
  addJoinCommand(app, rc);
  addResetCommand(app, rc);
  addVersionCommand(app, rc);
  addNodeTaskCommands(app, rc);
  addConfigUpdateCommand(app, rc);
  std::unique_ptr<Ctl> runner;
  auto with = [&](auto fn) {
    return [&, fn] {
      runner = std::make_unique<Ctl>(config_path);
      rc = fn(*runner);
    };
  };

  // get
  CLI::App* get = ctl->add_subcommand("get", "Display one or many resources of this node");
  get->require_subcommand(1);
  ListFlags get_pod;
  CLI::App* gp = get->add_subcommand("pod", "Get pods of this node (aliases: pods, po)");
  gp->alias("pods")->alias("po");
  addListFlags(gp, get_pod, true, true);
  gp->callback(with([&](Ctl& c) {
    return c.getPods(get_pod.names, get_pod.ns, get_pod.all, get_pod.selector, get_pod.output);
  }));
  ListFlags get_dev;
  CLI::App* gd = get->add_subcommand("device", "Get devices of this node (alias: devices)");
  gd->alias("devices");
  addListFlags(gd, get_dev, true, true);
  gd->callback(with([&](Ctl& c) {
    return c.getDevices(get_dev.names, get_dev.ns, get_dev.all, get_dev.selector, get_dev.output);
  }));

  // describe
  CLI::App* describe = ctl->add_subcommand("describe", "Show details of pods or devices");
  describe->require_subcommand(1);
  ListFlags desc_pod;
  CLI::App* dp = describe->add_subcommand(
      "pod",
      "Describe pods of this node: containers, state, probes, mounts, conditions, volumes, "
      "events (aliases: pods, po)");
  dp->alias("pods")->alias("po");
  addListFlags(dp, desc_pod, false, true);
  dp->callback(with([&](Ctl& c) {
    return c.describe(true, desc_pod.names, desc_pod.ns, desc_pod.all, desc_pod.selector,
                      desc_pod.show_events);
  }));
  ListFlags desc_dev;
  CLI::App* dd =
      describe->add_subcommand("device", "Describe devices of this node (alias: devices)");
  dd->alias("devices");
  addListFlags(dd, desc_dev, false, false);
  dd->callback(with([&](Ctl& c) {
    return c.describe(false, desc_dev.names, desc_dev.ns, desc_dev.all, desc_dev.selector,
                      desc_dev.show_events);
  }));

  // restart
  CLI::App* restart = ctl->add_subcommand("restart", "Restart pods of this node");
  restart->require_subcommand(1);
  std::vector<std::string> restart_names;
  std::string restart_ns = "default";
  CLI::App* rp = restart->add_subcommand(
      "pod",
      "Restart pods: every container is stopped and the runtime starts it again per the "
      "pod's restartPolicy (aliases: pods, po)");
  rp->alias("pods")->alias("po");
  rp->add_option("names", restart_names, "Pod names");
  rp->add_option("-n,--namespace", restart_ns, "Namespace of the pods")->capture_default_str();
  rp->callback(with([&](Ctl& c) { return c.restart(restart_names, restart_ns); }));

  // logs
  Ctl::LogOptions log_opts;
  std::vector<std::string> log_args;
  CLI::App* logs = ctl->add_subcommand("logs", "Print the logs of a container of a pod");
  logs->add_option("pod", log_args, "Pod name");
  logs->add_option("-n,--namespace", log_opts.ns, "Namespace of the pod")->capture_default_str();
  logs->add_option("-c,--container", log_opts.container,
                   "Container name (default: the pod's first container)");
  logs->add_flag("-f,--follow", log_opts.follow, "Stream the logs");
  logs->add_flag("-p,--previous", log_opts.previous,
                 "Logs of the previous instance of the container, if it exists");
  logs->add_option("--since-second", log_opts.since_second,
                   "Only logs newer than this many seconds (or a duration like 5s, 2m, 3h)")
      ->capture_default_str();
  logs->add_option("--since-time", log_opts.since_time, "Only logs after this RFC 3339 time");
  logs->add_flag("--timestamps", log_opts.timestamps, "Prefix each line with its timestamp");
  logs->add_option("--tail", log_opts.tail, "Number of recent lines to show (-1: all)")
      ->capture_default_str();
  logs->add_option("--limit-bytes", log_opts.limit_bytes, "Maximum bytes of logs (-1: no limit)")
      ->capture_default_str();
  logs->add_flag("--insecure-skip-tls-verify-backend", log_opts.insecure,
                 "Do not verify the serving certificate of the kubelet backend");
  logs->callback(with([&](Ctl& c) { return c.logs(log_args, log_opts); }));

  // exec
  Ctl::ExecOptions exec_opts;
  std::vector<std::string> exec_args;
  CLI::App* exec = ctl->add_subcommand("exec", "Execute a command in a container of a pod");
  exec->footer(
      "Usage: keadm ctl exec POD [-n NS] [-c CONTAINER] [-i] [-t] -- COMMAND [ARGS...]\n"
      "Without -t, stdout and stderr are printed apart and keadm exits with the command's exit\n"
      "code. With -it, an interactive session runs in this terminal (raw mode, resize).");
  exec->add_option("pod-and-command", exec_args, "Pod name, then -- and the command");
  exec->add_option("-n,--namespace", exec_opts.ns, "Namespace of the pod")->capture_default_str();
  exec->add_option("-c,--container", exec_opts.container,
                   "Container name (needed when the pod has more than one)");
  exec->add_flag("-i,--stdin", exec_opts.stdin_open, "Pass stdin to the container");
  exec->add_flag("-t,--tty", exec_opts.tty, "Stdin is a TTY");
  exec->callback(with([&](Ctl& c) {
    std::vector<std::string> argv = exec_args;
    argv.insert(argv.end(), exec_command.begin(), exec_command.end());
    return c.exec(argv, exec_opts);
  }));

  // edit
  CLI::App* edit = ctl->add_subcommand("edit", "Edit a resource of this node");
  edit->require_subcommand(1);
  std::vector<std::string> edit_names;
  std::string edit_ns = "default";
  std::string edit_output = "yaml";
  CLI::App* ed = edit->add_subcommand(
      "device",
      "Edit a device in $KUBE_EDITOR, $EDITOR or vi; the saved object goes to DeviceTwin and the "
      "device's mapper (alias: devices)");
  ed->alias("devices");
  ed->add_option("name", edit_names, "Device name");
  ed->add_option("-n,--namespace", edit_ns, "Namespace of the device")->capture_default_str();
  ed->add_option("-o,--output", edit_output, "Format of the edit buffer (only yaml)")
      ->capture_default_str()
      ->check(CLI::IsMember({"yaml"}));
  ed->callback(with([&](Ctl& c) { return c.editDevice(edit_names, edit_ns); }));

  // confirm
  std::vector<std::string> confirm_args;
  CLI::App* confirm = ctl->add_subcommand(
      "confirm", "Confirm the pending node upgrade (keadm ctl confirm <node name>)");
  confirm->add_option("node", confirm_args, "Node name (required, not used)");
  confirm->callback(with([&](Ctl& c) { return c.confirm(confirm_args); }));

  // unhold-upgrade
  std::vector<std::string> unhold_args;
  std::string unhold_ns = "default";
  CLI::App* unhold = ctl->add_subcommand(
      "unhold-upgrade",
      "Apply the pod updates edged holds for pods annotated edge.kubeedge.io/hold-upgrade: "
      "\"true\" (keadm ctl unhold-upgrade pod NAME [-n NS] | node [NAME])");
  unhold
      ->add_option("resource-type-and-name", unhold_args,
                   "pod NAME, or node [NAME] (default: modules.edged.hostnameOverride)")
      ->required()
      ->expected(1, 2);
  unhold->add_option("-n,--namespace", unhold_ns, "Namespace of the pod")->capture_default_str();
  unhold->callback(with([&](Ctl& c) { return c.unholdUpgrade(unhold_args, unhold_ns); }));

  // --config (and --help) work at any depth: `keadm ctl get pod --config x.yaml`.
  std::function<void(CLI::App*)> fall = [&fall](CLI::App* a) {
    for (CLI::App* sub : a->get_subcommands({})) {
      sub->fallthrough();
      fall(sub);
    }
  };
  fall(&app);

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const CLI::ParseError& e) {
    std::cerr << "Error: " << e.what() << "\nRun with --help for usage.\n";
    return 1;
  } catch (const CtlError& e) {
    std::cout.flush();
    std::cerr << "error: " << e.message << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  std::cout.flush();
  return rc == 0 ? 0 : (rc > 0 && rc < 256 ? rc : 1);
}

}  // namespace edgecore::keadm
