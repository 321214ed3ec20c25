#include "index_fields.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace edgecore::metamanager {
namespace {

// Deeper input is left to the full parse (which allows up to core::kMaxJsonDepth).
constexpr int kMaxScanDepth = 256;
// Longer numbers (and any exponent) are left to the full parse, which rejects non-finite ones.
constexpr size_t kMaxNumberChars = 64;

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Bytes a string may hold as they are: printable ASCII except the quote and the backslash.
constexpr std::array<bool, 256> kPlainByte = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x80; ++c) {
    table[static_cast<size_t>(c)] = c != '"' && c != '\\';
  }
  return table;
}();

int hexValue(char c) {
  if (isDigit(c)) {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool inRange(const char* p, unsigned char lo, unsigned char hi) {
  auto c = static_cast<unsigned char>(*p);
  return c >= lo && c <= hi;
}

// Length of the well-formed UTF-8 sequence at p (RFC 3629, as nlohmann checks it), 0 if none.
size_t utf8Length(const char* p, const char* end) {
  auto lead = static_cast<unsigned char>(*p);
  size_t n = lead >= 0xC2 && lead <= 0xDF   ? 2
             : lead >= 0xE0 && lead <= 0xEF ? 3
             : lead >= 0xF0 && lead <= 0xF4 ? 4
                                            : 0;
  if (n == 0 || static_cast<size_t>(end - p) < n) {
    return 0;
  }
  // The second byte's range depends on the lead (no overlongs, surrogates or > U+10FFFF).
  unsigned char lo = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80;
  unsigned char hi = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
  if (!inRange(p + 1, lo, hi)) {
    return 0;
  }
  for (size_t i = 2; i < n; ++i) {
    if (!inRange(p + i, 0x80, 0xBF)) {
      return 0;
    }
  }
  return n;
}

// Validating cursor over the text. Every method returns false both on invalid JSON and on valid
// JSON it leaves to the full parse; the caller does not need to tell the two apart.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  void skipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) {
      ++p_;
    }
  }
  bool next(char c) {
    skipSpace();
    return p_ != end_ && *p_ == c;
  }
  bool atEnd() {
    skipSpace();
    return p_ == end_;
  }

  // The string at the cursor; *plain is false when it holds escapes (its bytes are then raw).
  bool string(std::string_view* out, bool* plain) {
    if (!next('"')) {
      return false;
    }
    const char* start = ++p_;
    bool escaped = false;
    while (true) {
      while (p_ != end_ && kPlainByte[static_cast<unsigned char>(*p_)]) {
        ++p_;  // the common case, one table look-up per byte
      }
      if (p_ == end_ || *p_ == '"') {
        break;
      }
      auto c = static_cast<unsigned char>(*p_);
      if (c < 0x20) {
        return false;
      }
      if (c == '\\') {
        escaped = true;
        if (!escape()) {
          return false;
        }
      } else {
        size_t n = utf8Length(p_, end_);
        if (n == 0) {
          return false;
        }
        p_ += n;
      }
    }
    if (p_ == end_) {
      return false;
    }
    *out = std::string_view(start, static_cast<size_t>(p_ - start));
    *plain = !escaped;
    ++p_;
    return true;
  }

  // Members of the object at the cursor, which is at nesting `depth`; member(key, plain_key)
  // must consume the value.
  template <typename Member>
  bool object(int depth, Member&& member) {
    if (depth > kMaxScanDepth || !next('{')) {
      return false;
    }
    ++p_;
    if (next('}')) {
      ++p_;
      return true;
    }
    while (true) {
      std::string_view key;
      bool plain = false;
      if (!string(&key, &plain) || !next(':')) {
        return false;
      }
      ++p_;
      if (!member(key, plain)) {
        return false;
      }
      if (next(',')) {
        ++p_;
      } else if (next('}')) {
        ++p_;
        return true;
      } else {
        return false;
      }
    }
  }

  // Skips the value at the cursor; containers it opens are at `depth` + 1.
  bool skipValue(int depth) {
    skipSpace();
    if (p_ == end_) {
      return false;
    }
    switch (*p_) {
      case '{':
        return object(depth + 1,
                      [this, depth](std::string_view, bool) { return skipValue(depth + 1); });
      case '[':
        return array(depth + 1);
      case '"': {
        std::string_view s;
        bool plain = false;
        return string(&s, &plain);
      }
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

 private:
  bool escape() {  // at the backslash
    if (end_ - p_ < 2) {
      return false;
    }
    char c = p_[1];
    p_ += 2;
    if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
        c == 't') {
      return true;
    }
    if (c != 'u' || end_ - p_ < 4) {
      return false;
    }
    int code = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hexValue(p_[i]);
      if (h < 0) {
        return false;
      }
      code = code * 16 + h;
    }
    p_ += 4;
    return code < 0xD800 || code > 0xDFFF;  // surrogate pairs: the full parse checks them
  }

  bool array(int depth) {
    if (depth > kMaxScanDepth) {
      return false;
    }
    ++p_;  // '['
    if (next(']')) {
      ++p_;
      return true;
    }
    while (true) {
      if (!skipValue(depth)) {
        return false;
      }
      if (next(',')) {
        ++p_;
      } else if (next(']')) {
        ++p_;
        return true;
      } else {
        return false;
      }
    }
  }

  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) {
      return false;
    }
    p_ += word.size();
    return true;
  }

  bool number() {
    const char* start = p_;
    if (p_ != end_ && *p_ == '-') {
      ++p_;
    }
    if (p_ == end_ || !isDigit(*p_)) {
      return false;
    }
    if (*p_++ != '0') {
      while (p_ != end_ && isDigit(*p_)) {
        ++p_;
      }
    }
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || !isDigit(*p_)) {
        return false;
      }
      while (p_ != end_ && isDigit(*p_)) {
        ++p_;
      }
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      return false;
    }
    return static_cast<size_t>(p_ - start) <= kMaxNumberChars;
  }

  const char* p_;
  const char* end_;
};

// A field the index keeps: a string value without escapes is taken, any other type reads as
// empty (as the full parse's lookup does); a string with escapes goes to the full parse.
bool stringField(Scanner& s, int depth, std::string* out) {
  if (!s.next('"')) {
    out->clear();
    return s.skipValue(depth);
  }
  std::string_view value;
  bool plain = false;
  if (!s.string(&value, &plain) || !plain) {
    return false;
  }
  out->assign(value);
  return true;
}

// An object of which one string member is kept (spec.nodeName, status.phase).
bool oneField(Scanner& s, int depth, std::string_view field, std::string* out) {
  if (!s.next('{')) {
    return s.skipValue(depth);
  }
  bool seen = false;
  return s.object(depth + 1, [&](std::string_view key, bool plain) {
    if (!plain) {
      return false;
    }
    if (key == field) {
      if (seen) {
        return false;  // duplicate keys: the full parse knows which one wins
      }
      seen = true;
      return stringField(s, depth + 1, out);
    }
    return s.skipValue(depth + 1);
  });
}

bool labels(Scanner& s, int depth, StoredObject* out) {
  if (!s.next('{')) {
    return s.skipValue(depth);
  }
  std::vector<std::pair<std::string_view, std::optional<std::string_view>>> entries;
  bool ok = s.object(depth + 1, [&](std::string_view key, bool plain) {
    if (!plain) {
      return false;
    }
    if (!s.next('"')) {
      entries.emplace_back(key, std::nullopt);
      return s.skipValue(depth + 1);
    }
    std::string_view value;
    bool plain_value = false;
    if (!s.string(&value, &plain_value) || !plain_value) {
      return false;
    }
    entries.emplace_back(key, value);
    return true;
  });
  if (!ok) {
    return false;
  }
  // Sorted by key like the full parse's std::map; duplicate keys are left to it.
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0 && entries[i].first == entries[i - 1].first) {
      return false;
    }
    if (entries[i].second.has_value()) {
      out->labels.emplace_back(std::string(entries[i].first), std::string(*entries[i].second));
    }
  }
  return true;
}

bool metadata(Scanner& s, int depth, StoredObject* out, std::string* name) {
  bool seen[4] = {};  // name, uid, creationTimestamp, labels
  auto once = [&seen](int i) { return !std::exchange(seen[i], true); };
  return s.object(depth + 1, [&](std::string_view key, bool plain) {
    if (!plain) {
      return false;
    }
    if (key == "name") {
      return once(0) && stringField(s, depth + 1, name);
    }
    if (key == "uid") {
      return once(1) && stringField(s, depth + 1, &out->uid);
    }
    if (key == "creationTimestamp") {
      return once(2) && stringField(s, depth + 1, &out->creation_timestamp);
    }
    if (key == "labels") {
      return once(3) && labels(s, depth + 1, out);
    }
    return s.skipValue(depth + 1);
  });
}

}  // namespace

ScanResult scanIndexFields(std::string_view json, StoredObject* out) {
  Scanner s(json);
  StoredObject fields;
  std::string name;
  bool seen[3] = {};  // metadata, spec, status
  auto once = [&seen](int i) { return !std::exchange(seen[i], true); };
  bool ok = s.object(1, [&](std::string_view key, bool plain) {
    if (!plain) {
      return false;
    }
    if (key == "metadata") {
      // Not an object: the full parse reports it.
      return once(0) && s.next('{') && metadata(s, 1, &fields, &name);
    }
    if (key == "spec") {
      return once(1) && oneField(s, 1, "nodeName", &fields.node_name);
    }
    if (key == "status") {
      return once(2) && oneField(s, 1, "phase", &fields.phase);
    }
    return s.skipValue(1);
  });
  if (!ok || !s.atEnd() || name.empty()) {
    return ScanResult::NeedsFullParse;
  }
  out->uid = std::move(fields.uid);
  out->creation_timestamp = std::move(fields.creation_timestamp);
  out->labels = std::move(fields.labels);
  out->node_name = std::move(fields.node_name);
  out->phase = std::move(fields.phase);
  return ScanResult::Scanned;
}

}  // namespace edgecore::metamanager
