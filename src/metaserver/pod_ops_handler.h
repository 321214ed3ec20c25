#pragma once

// The node-local endpoints of spec local-apis.md 4.7 to 4.10, served from a MetaServer
// connection: pod logs (via CRI + edged's /containerLogs), exec (CRI ExecSync, or the runtime's
// streaming server reverse-proxied for SPDY/websocket upgrades), restart (CRI StopContainer),
// confirm-upgrade (the upgrade program with an argument vector) and device edit (a synchronous
// bus request to metamanager). meta_server.cc only calls matchLocalOp/serveLocalOp.

#include <spdlog/logger.h>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"
#include "edgecore/metaserver/local_ops.h"

namespace edgecore::metaserver {

enum class LocalOpKind { None, Logs, Exec, Restart, ConfirmUpgrade, DeviceUpdate, UnholdUpgrade };

struct LocalOpMatch {
  LocalOpKind kind = LocalOpKind::None;
  std::string ns;
  std::string name;
  std::string resource;  // UnholdUpgrade: "pods", "nodes" or what else was asked (then 400)
};

// Which local operation (if any) a request is, from the Kubernetes request info (dispatch table
// of spec 4.2). Pure.
LocalOpMatch matchLocalOp(std::string_view method, std::string_view target);

// Serves one local operation on `stream` (a connection's strand) and leaves the connection to be
// closed by the caller. `buffer` holds bytes already read past the request head (forwarded to
// the runtime for upgrades). Returns the HTTP status sent (101 for a proxied upgrade).
// Instantiated in pod_ops_handler.cc for boost::beast::tcp_stream and
// boost::beast::ssl_stream<boost::beast::tcp_stream> (requireAuthorization's HTTPS).
template <class Stream>
boost::asio::awaitable<int> serveLocalOp(
    const LocalOps& ops, const LocalOpMatch& match,
    boost::beast::http::request<boost::beast::http::string_body> req, Stream& stream,
    boost::beast::flat_buffer& buffer, std::shared_ptr<spdlog::logger> log);

// Checks the NodeUpgradeJobRequest fields before they become program arguments: ids and
// versions are [A-Za-z0-9._+-], the image a container reference. InvalidArgument names the field.
core::Status validateUpgradeField(std::string_view field, std::string_view value);

// What confirm-upgrade runs, read from the stored rows (spec 4.9; types.NodeUpgradeJobRequest and
// types.NodeTaskRequest of common/types/types.go @ v1.20.0).
struct UpgradeJob {
  std::string upgrade_id;
  std::string history_id;
  std::string version;
  std::string image;
  // From the NodeTaskRequest row when there is one (only logged, as v1.20 does).
  std::string task_id;
  std::string task_state;
};

// Validates every field of the NodeUpgradeJobRequest JSON (`job`) and of the NodeTaskRequest JSON
// (`task`, may be empty) before anything runs: UpgradeID/HistoryID/Version/Image as
// validateUpgradeField, Version a release ("v1.20.1"), UpgradeTool empty or "keadm", ImageDigest
// empty or "sha256:" + 64 hex digits, RequireConfirmation a boolean; the task's TaskID/Type/State
// plain words. Unknown keys are ignored (as Go's decoder does). InvalidArgument names the field.
core::Result<UpgradeJob> parseUpgradeRequest(std::string_view job, std::string_view task);

}  // namespace edgecore::metaserver
