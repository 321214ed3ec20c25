#pragma once

// KubeEdge's beehive message envelope (spec/cloud-protocol.md section 1), used both on the bus
// inside the process and, encoded as JSON, on the cloud link. Mirrors
// staging/src/github.com/kubeedge/beehive/pkg/core/model/message.go @ v1.20.0.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::core {

// Operation strings (spec 1.3).
namespace op {
inline constexpr std::string_view kInsert = "insert";
inline constexpr std::string_view kDelete = "delete";
inline constexpr std::string_view kQuery = "query";
inline constexpr std::string_view kUpdate = "update";
inline constexpr std::string_view kPatch = "patch";
inline constexpr std::string_view kUpload = "upload";
inline constexpr std::string_view kResponse = "response";
inline constexpr std::string_view kError = "error";
inline constexpr std::string_view kKeepalive = "keepalive";
inline constexpr std::string_view kConnect = "connect";
inline constexpr std::string_view kGet = "get";
}  // namespace op

// Module and group names on the bus and the wire (spec 1.4).
namespace names {
inline constexpr std::string_view kEdgeHubModule = "websocket";
inline constexpr std::string_view kHubGroup = "hub";
inline constexpr std::string_view kMetaManagerModule = "metamanager";
inline constexpr std::string_view kMetaGroup = "meta";
inline constexpr std::string_view kEdgedModule = "edged";
inline constexpr std::string_view kEdgedGroup = "edged";
inline constexpr std::string_view kTwinModule = "twin";
inline constexpr std::string_view kTwinGroup = "twin";
inline constexpr std::string_view kEventBusModule = "eventbus";
inline constexpr std::string_view kBusGroup = "bus";
inline constexpr std::string_view kServiceBusModule = "servicebus";
inline constexpr std::string_view kUserGroup = "user";
inline constexpr std::string_view kEdgeStreamModule = "edgestream";
inline constexpr std::string_view kEdgeStreamGroup = "edgestream";
// Message-level groups on the hub link.
inline constexpr std::string_view kResourceGroup = "resource";
inline constexpr std::string_view kFuncGroup = "func";
}  // namespace names

struct MessageHeader {
  std::string id;                // "msg_id", UUIDv4, always emitted
  std::string parent_id;         // "parent_msg_id", only on responses
  int64_t timestamp_ms = 0;      // "timestamp", milliseconds since the epoch, always emitted
  std::string resource_version;  // "resourceversion"
  bool sync = false;             // "sync", in-process only; never true on the wire
  std::string type;              // "type", in-process only

  friend bool operator==(const MessageHeader&, const MessageHeader&) = default;
};

struct MessageRoute {
  std::string source;
  std::string destination;
  std::string group;
  std::string operation;
  std::string resource;

  friend bool operator==(const MessageRoute&, const MessageRoute&) = default;
};

struct Message {
  MessageHeader header;
  MessageRoute route;
  // Any JSON value. null when there is no content. A string holds text (e.g. "OK", a patch body
  // whose text is JSON); an object is a structured document (spec 1.2).
  nlohmann::json content;

  friend bool operator==(const Message&, const Message&) = default;

  // A new message with a fresh UUIDv4 id and the current time (model.NewMessage + BuildRouter).
  static Message create(std::string_view source, std::string_view group, std::string_view operation,
                        std::string_view resource, nlohmann::json content = nullptr);

  // The reply to this message (model.NewRespByMessage): fresh id and timestamp, parent_id = this
  // id, route source/group/resource copied, operation "response", header type copied. The
  // destination is not copied (Go does not either).
  Message makeResponse(nlohmann::json content) const;
  // The error reply (model.NewErrorMessage): fresh id and timestamp, parent_id = this id, resource
  // copied, operation "error", content = the error text as a JSON string. Like Go, source and group
  // are left empty: the caller sets them (metamanager uses its own name and the request's group).
  Message makeError(std::string_view error_text) const;

  // The content as bytes the way Go's GetContentData() yields them: a string's raw text, else
  // the JSON encoding of the value (null -> "null").
  std::string contentData() const;
};

// Deepest nesting of arrays/objects decodeMessage accepts (Go's own decoder stops at 10000; a
// Kubernetes object never comes close, and every recursive walk downstream stays cheap).
inline constexpr int kMaxJsonDepth = 512;

// nlohmann::json::parse(text, nullptr, false) plus the nesting bound every later walk relies on
// (dump, copy, encodeJsonValue, YAML emit all recurse once per level): a discarded value for text
// that is not JSON or nests deeper than max_depth. Use it for any JSON text that comes from the
// network, the cloud or a file. Never throws (out of memory also gives a discarded value).
nlohmann::json parseJsonBounded(std::string_view text, int max_depth = kMaxJsonDepth);
// Whether the arrays/objects of `text` nest at most max_depth deep (a linear scan that skips
// strings; it does not check the rest of the syntax).
bool jsonNestingWithin(std::string_view text, int max_depth = kMaxJsonDepth);

// The JSON the Go side writes for this message: key order header, route, content; empty
// omitempty fields left out; strings escaped as Go's encoding/json does (Go 1.22+, the toolchain
// of KubeEdge v1.20). No trailing newline. Never throws, whatever the content holds.
std::string encodeMessage(const Message& msg);
// Go's json.Marshal of one value: object keys in byte order, "<" ">" "&" U+2028 U+2029 escaped,
// invalid UTF-8 replaced by \ufffd, floats formatted like Go's float64. Never throws.
std::string encodeJsonValue(const nlohmann::json& value);
// The same for a value built in the order Go writes a struct's fields: object keys in insertion
// order, everything else as above. Never throws.
std::string encodeOrderedJsonValue(const nlohmann::ordered_json& value);

// Message content that is JSON text already (typically encodeOrderedJsonValue, to
// keep a Go struct's field order, which a json object would sort). encodeMessage writes the text
// into the envelope verbatim and contentData() returns it as is; the text must be valid JSON (it
// is never parsed on the way out). Held as a binary value with subtype kRawJsonSubtype; a message
// decoded from the wire never holds one.
inline constexpr std::uint64_t kRawJsonSubtype = 0x6a736f6e;  // "json"
nlohmann::json rawJsonContent(std::string_view json_text);

// Parses a message as Go would: unknown keys ignored, missing keys and `null` take zero values,
// key names matched exactly or else ASCII case-insensitively, invalid UTF-8 and lone surrogate
// escapes in strings become U+FFFD. Fails with InvalidArgument on text that is not JSON, not an
// object, nested deeper than kMaxJsonDepth, or with a known key of the wrong JSON type (the
// message names the key). Never throws; safe on any input from the network.
Result<Message> decodeMessage(std::string_view json_text);

// Canonical lowercase UUIDv4 (36 chars), from a CSPRNG.
std::string newUuidV4();
// Milliseconds since the Unix epoch from the system clock.
int64_t nowUnixMillis();

}  // namespace edgecore::core
