#pragma once

// Which downstream messages the cloud tracks for an ACK, and how metamanager reads resource
// strings. Pure functions, no I/O.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "edgecore/core/message.h"

namespace edgecore::metamanager {

// The resource split metamanager applies (spec local-apis 1.2): 2 tokens -> type = token 1;
// 3 tokens -> type = token 1, id = token 2; any other count -> empty type. The key is always the
// whole string. One exception, deliberate: the literal "k8s/ca.crt" keeps its whole string as
// type, so it matches the remote-query list (Go's split yields "ca.crt" there, which makes that
// list entry unreachable; see edge/pkg/metamanager/process.go parseResource @ v1.20.0).
struct MetaResource {
  std::string key;
  std::string type;
  std::string id;
};
MetaResource splitMetaResource(std::string_view resource);

// True when the cloud does not wait for an ACK of this downstream message, so metamanager sends
// none. Mirrors cloud/pkg/cloudhub/dispatcher/message_dispatcher.go noAckRequired @ v1.20.0, read
// on the edge side: the resource is already trimmed of "node/<id>/", and a Go `error` content
// arrives as JSON, recognised here by its "ErrStatus" key. Every other downstream message is
// ACKed, resourceVersion or not (an ACK the cloud does not track is ignored; a missing one costs
// a resend every 5 s).
bool noAckRequired(const core::Message& msg);

// A cloud answer that reports a failure (spec cloud-protocol 4.9): {"ErrStatus": ...}.
bool isErrorStatusContent(const nlohmann::json& content);

// The CSI volume operations metamanager hands to edged synchronously.
bool isVolumeOperation(std::string_view operation);

// Resource types answered by the cloud while connected (process.go requireRemoteQuery).
bool requiresRemoteQuery(std::string_view type);

}  // namespace edgecore::metamanager
