#pragma once

// Label selectors (full Kubernetes syntax: k=v, k==v, k!=v, k in (a,b), k notin (a,b), k, !k)
// and the field selectors MetaServer indexes (metadata.name, metadata.namespace, spec.nodeName,
// status.phase with =, ==, !=). Matching reads StoredObject's pre-extracted fields only.

#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"
#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metaserver {

class LabelSelector {
 public:
  enum class Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;  // sorted
  };

  // InvalidArgument with a readable message on a syntax error or an invalid key/value.
  static core::Result<LabelSelector> parse(std::string_view text);

  bool empty() const { return reqs_.empty(); }
  // `labels` sorted by key (StoredObject::labels).
  bool matches(const std::vector<std::pair<std::string, std::string>>& labels) const;
  const std::vector<Requirement>& requirements() const { return reqs_; }

 private:
  std::vector<Requirement> reqs_;
};

class FieldSelector {
 public:
  enum class Field { Name, Namespace, NodeName, Phase };
  struct Requirement {
    Field field;
    bool negate;
    std::string value;
  };

  // InvalidArgument for bad syntax or a field we do not index.
  static core::Result<FieldSelector> parse(std::string_view text);

  bool empty() const { return reqs_.empty(); }
  bool matches(const metamanager::StoredObject& obj) const;
  // The name a "metadata.name=x" term pins, if any (lets GET-like shortcuts apply).
  const std::string* pinnedName() const;

 private:
  std::vector<Requirement> reqs_;
};

// Both selectors of a list/watch request.
struct Selectors {
  LabelSelector labels;
  FieldSelector fields;
  bool empty() const { return labels.empty() && fields.empty(); }
  bool matches(const metamanager::StoredObject& obj) const {
    return labels.matches(obj.labels) && fields.matches(obj);
  }
};

core::Result<Selectors> parseSelectors(std::string_view label_text, std::string_view field_text);

}  // namespace edgecore::metaserver
