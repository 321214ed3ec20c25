#pragma once

// ServiceAccount tokens in metamanager's cache (spec local-apis 2.3, cloud-protocol 4.6): the
// `meta` key a TokenRequest is cached under, and whether a cached answer may still be served.
// Pure functions, any thread.
//
// The key is the one KubeEdge v1.20 computes (edge/pkg/metamanager/client/serviceaccount.go
// KeyFunc): Go's fmt "%q/%q/%#v/%#v/%#v" of the service account name, the namespace,
// spec.audiences, spec.expirationSeconds (0 when absent) and spec.boundObjectRef (the zero
// struct when absent). Reproduced byte for byte so a database written by the original is read
// by us and the other way round, e.g.
//   "default"/"kube-system"/[]string{"https://kubernetes.default.svc"}/3607/v1.BoundObjectReference{Kind:"Pod",
//   APIVersion:"v1", Name:"p", UID:"1234"}

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"
#include "edgecore/core/time.h"

namespace edgecore::metamanager {

// Go's strconv.Quote (what %q and %#v print for a string): double quotes, \a \b \f \n \r \t \v
// \\ \" escapes, \xNN for bytes that are not UTF-8 and for ASCII control bytes, \uNNNN for the
// non-printable code points below U+10000 we know of (C1 controls, U+00AD, U+2028/2029, U+FEFF
// and the other format characters Kubernetes names cannot hold anyway). Printable text, ASCII or
// not, is copied as is.
std::string goQuote(std::string_view s);

// The cache key of a TokenRequest for service account `name` in `ns` (see above).
// InvalidArgument when `token_request` is not an object or a spec field has the wrong type.
core::Result<std::string> serviceAccountTokenKey(std::string_view name, std::string_view ns,
                                                 const nlohmann::json& token_request);

// The key of a query "<ns>/serviceaccounttoken/<name>" carrying a TokenRequest as content.
core::Result<std::string> serviceAccountTokenKeyOf(std::string_view resource,
                                                   const nlohmann::json& token_request);

// status.expirationTimestamp of a TokenRequest; InvalidArgument when absent or unparsable, or
// when status.token is empty (nothing to serve).
core::Result<core::WallTime> tokenExpiry(const nlohmann::json& token_request);

}  // namespace edgecore::metamanager
