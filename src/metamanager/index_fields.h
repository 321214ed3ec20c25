#pragma once

// A light, single-pass read of a stored object's JSON that only picks out the fields the index
// keeps (StoredObject's selector fields), so opening a store costs a scan per object instead of
// building a whole DOM. It accepts only input it fully understands: anything unusual (escapes in
// a field it keeps, surrogate escapes, exponents, duplicate keys it cares about, deep nesting, a
// byte order mark...) makes it give up, and the caller then parses with nlohmann as before, so
// results never differ from the full parse.

#include <string_view>

#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metamanager {

enum class ScanResult {
  Scanned,         // valid JSON object with metadata.name; the fields in *out are final
  NeedsFullParse,  // not decided here: parse fully (which also reports any error)
};

// Fills uid, creation_timestamp, labels (sorted by key), node_name and phase of *out.
ScanResult scanIndexFields(std::string_view json, StoredObject* out);

}  // namespace edgecore::metamanager
