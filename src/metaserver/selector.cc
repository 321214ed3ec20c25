#include "selector.h"

#include <algorithm>
#include <cctype>

namespace edgecore::metaserver {
namespace {

using core::invalidArgument;
using core::Result;
using core::Status;

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

// Label key: optional DNS-subdomain prefix + '/' + name of at most 63 characters.
Status validateKey(std::string_view key) {
  if (key.empty()) return invalidArgument("empty label key");
  std::string_view name = key;
  if (auto slash = key.find('/'); slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty() || prefix.size() > 253) {
      return invalidArgument("invalid label key \"" + std::string(key) + "\": bad prefix");
    }
    for (char c : prefix) {
      if (!(std::islower(static_cast<unsigned char>(c)) ||
            std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
        return invalidArgument("invalid label key \"" + std::string(key) + "\": bad prefix");
      }
    }
  }
  if (name.empty() || name.size() > 63 || !std::isalnum(static_cast<unsigned char>(name.front())) ||
      !std::isalnum(static_cast<unsigned char>(name.back())) ||
      !std::all_of(name.begin(), name.end(), isNameChar)) {
    return invalidArgument("invalid label key \"" + std::string(key) + "\"");
  }
  return {};
}

Status validateValue(std::string_view v) {
  if (v.empty()) return {};
  if (v.size() > 63 || !std::isalnum(static_cast<unsigned char>(v.front())) ||
      !std::isalnum(static_cast<unsigned char>(v.back())) ||
      !std::all_of(v.begin(), v.end(), isNameChar)) {
    return invalidArgument("invalid label value \"" + std::string(v) + "\"");
  }
  return {};
}

// A tiny tokenizer over the selector text.
class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}
  void skipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool done() {
    skipSpace();
    return pos_ >= s_.size();
  }
  char peek() {
    skipSpace();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  bool consume(std::string_view tok) {
    skipSpace();
    if (s_.substr(pos_, tok.size()) == tok) {
      pos_ += tok.size();
      return true;
    }
    return false;
  }
  // A run of characters that can be part of a key or value.
  std::string_view word() {
    skipSpace();
    size_t start = pos_;
    while (pos_ < s_.size() && (isNameChar(s_[pos_]) || s_[pos_] == '/')) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // "in"/"notin" must be a whole word followed by space or '('.
  bool keyword(std::string_view kw) {
    skipSpace();
    if (s_.substr(pos_, kw.size()) != kw) return false;
    size_t after = pos_ + kw.size();
    if (after < s_.size() && (isNameChar(s_[after]) || s_[after] == '/')) return false;
    pos_ = after;
    return true;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  LabelSelector sel;
  Lexer lx(text);
  if (lx.done()) return sel;
  while (true) {
    Requirement req;
    bool negated_exists = lx.consume("!");
    std::string_view key = lx.word();
    EC_RETURN_IF_ERROR(validateKey(key));
    req.key = std::string(key);
    if (negated_exists) {
      req.op = Op::DoesNotExist;
    } else if (lx.done() || lx.peek() == ',') {
      req.op = Op::Exists;
    } else if (lx.consume("==") || lx.consume("=")) {
      req.op = Op::Equals;
    } else if (lx.consume("!=")) {
      req.op = Op::NotEquals;
    } else if (lx.keyword("notin")) {
      req.op = Op::NotIn;
    } else if (lx.keyword("in")) {
      req.op = Op::In;
    } else {
      return invalidArgument("unable to parse requirement: found unexpected input after key \"" +
                             req.key + "\"");
    }
    if (req.op == Op::Equals || req.op == Op::NotEquals) {
      std::string_view v = lx.word();
      EC_RETURN_IF_ERROR(validateValue(v));
      req.values.emplace_back(v);
    } else if (req.op == Op::In || req.op == Op::NotIn) {
      if (!lx.consume("(")) {
        return invalidArgument("expected '(' after set operator for key \"" + req.key + "\"");
      }
      if (lx.peek() == ')') {
        return invalidArgument("for 'in', 'notin' operators, values set can't be empty");
      }
      while (true) {
        std::string_view v = lx.word();
        EC_RETURN_IF_ERROR(validateValue(v));
        req.values.emplace_back(v);
        if (lx.consume(")")) break;
        if (!lx.consume(",")) {
          return invalidArgument("expected ',' or ')' in value set of key \"" + req.key + "\"");
        }
      }
      std::sort(req.values.begin(), req.values.end());
    }
    sel.reqs_.push_back(std::move(req));
    if (lx.done()) break;
    if (!lx.consume(",")) {
      return invalidArgument("unable to parse requirement: expected ','");
    }
    if (lx.done()) return invalidArgument("unable to parse requirement: trailing ','");
  }
  std::sort(sel.reqs_.begin(), sel.reqs_.end(),
            [](const Requirement& a, const Requirement& b) { return a.key < b.key; });
  return sel;
}

bool LabelSelector::matches(const std::vector<std::pair<std::string, std::string>>& labels) const {
  for (const auto& r : reqs_) {
    auto it = std::lower_bound(labels.begin(), labels.end(), r.key,
                               [](const auto& kv, const std::string& k) { return kv.first < k; });
    const std::string* value = (it != labels.end() && it->first == r.key) ? &it->second : nullptr;
    bool ok = false;
    switch (r.op) {
      case Op::Exists:
        ok = value != nullptr;
        break;
      case Op::DoesNotExist:
        ok = value == nullptr;
        break;
      case Op::Equals:
      case Op::In:
        ok = value && std::binary_search(r.values.begin(), r.values.end(), *value);
        break;
      case Op::NotEquals:
      case Op::NotIn:
        ok = !value || !std::binary_search(r.values.begin(), r.values.end(), *value);
        break;
    }
    if (!ok) return false;
  }
  return true;
}

Result<FieldSelector> FieldSelector::parse(std::string_view text) {
  FieldSelector sel;
  size_t pos = 0;
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  };
  if (trim(text).empty()) return sel;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string_view term = trim(
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    pos = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
    Requirement req;
    size_t op_at;
    size_t op_len;
    if ((op_at = term.find("!=")) != std::string_view::npos) {
      req.negate = true;
      op_len = 2;
    } else if ((op_at = term.find("==")) != std::string_view::npos) {
      req.negate = false;
      op_len = 2;
    } else if ((op_at = term.find('=')) != std::string_view::npos) {
      req.negate = false;
      op_len = 1;
    } else {
      return invalidArgument("invalid selector: '" + std::string(text) + "'; can't understand '" +
                             std::string(term) + "'");
    }
    std::string_view field = trim(term.substr(0, op_at));
    req.value = std::string(trim(term.substr(op_at + op_len)));
    if (field == "metadata.name") {
      req.field = Field::Name;
    } else if (field == "metadata.namespace") {
      req.field = Field::Namespace;
    } else if (field == "spec.nodeName") {
      req.field = Field::NodeName;
    } else if (field == "status.phase") {
      req.field = Field::Phase;
    } else {
      return invalidArgument("field label not supported: " + std::string(field));
    }
    sel.reqs_.push_back(std::move(req));
  }
  return sel;
}

bool FieldSelector::matches(const metamanager::StoredObject& obj) const {
  for (const auto& r : reqs_) {
    const std::string* v = nullptr;
    switch (r.field) {
      case Field::Name:
        v = &obj.key.name;
        break;
      case Field::Namespace:
        v = &obj.key.ns;
        break;
      case Field::NodeName:
        v = &obj.node_name;
        break;
      case Field::Phase:
        v = &obj.phase;
        break;
    }
    if ((*v == r.value) == r.negate) return false;
  }
  return true;
}

const std::string* FieldSelector::pinnedName() const {
  for (const auto& r : reqs_) {
    if (r.field == Field::Name && !r.negate) return &r.value;
  }
  return nullptr;
}

Result<Selectors> parseSelectors(std::string_view label_text, std::string_view field_text) {
  Selectors s;
  EC_ASSIGN_OR_RETURN(s.labels, LabelSelector::parse(label_text));
  EC_ASSIGN_OR_RETURN(s.fields, FieldSelector::parse(field_text));
  return s;
}

}  // namespace edgecore::metaserver
