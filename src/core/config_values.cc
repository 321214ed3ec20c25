// Value helpers for edgecore.yaml: Go duration syntax, yaml.v2 key order and string quoting, deep
// equality of YAML trees. These reproduce observable behaviour of Go's time package and of
// gopkg.in/yaml.v2 (which sigs.k8s.io/yaml uses to print), written from their documented rules.

#include <cctype>
#include <cstdint>
#include <regex>
#include <string>

#include "config_schema.h"

namespace edgecore::core::config_internal {
namespace {

constexpr int64_t kNanosPerUnit[] = {
    1, 1'000, 1'000'000, 1'000'000'000, 60'000'000'000, 3'600'000'000'000};

// Unit suffix at the start of `s` -> index into kNanosPerUnit and its byte length.
bool matchUnit(std::string_view s, int* unit, size_t* len) {
  struct U {
    std::string_view name;
    int unit;
  };
  static constexpr U kUnits[] = {{"ns", 0}, {"us", 1}, {"\xC2\xB5s", 1}, {"\xCE\xBCs", 1},
                                 {"ms", 2}, {"s", 3},  {"m", 4},         {"h", 5}};
  for (const U& u : kUnits) {
    if (s.substr(0, u.name.size()) == u.name) {
      // "m" must not swallow the "m" of "ms".
      if (u.name == "m" && s.size() > 1 && s[1] == 's') {
        continue;
      }
      *unit = u.unit;
      *len = u.name.size();
      return true;
    }
  }
  return false;
}

// Go's fmtFrac: the fractional digits of v / 10^prec without trailing zeros, "." included.
std::string fracPart(uint64_t v, int prec, uint64_t* whole) {
  std::string digits;
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    uint64_t digit = v % 10;
    print = print || digit != 0;
    if (print) {
      digits.insert(digits.begin(), static_cast<char>('0' + digit));
    }
    v /= 10;
  }
  *whole = v;
  return print ? "." + digits : "";
}

bool isLetter(unsigned char c) { return std::isalpha(c) != 0 || c >= 0x80; }
bool isDigit(unsigned char c) { return c >= '0' && c <= '9'; }

// Scalars yaml.v2 reads back as something other than a string (resolve.go): null, booleans of
// YAML 1.1, numbers (with base prefixes and underscores), infinities, base-60 floats, timestamps.
bool resolvesToNonString(std::string_view s) {
  static const char* const kWords[] = {
      "",      "~",     "null",  "Null",  "NULL",  "y",     "Y",    "yes",  "Yes",   "YES",
      "n",     "N",     "no",    "No",    "NO",    "true",  "True", "TRUE", "false", "False",
      "FALSE", "on",    "On",    "ON",    "off",   "Off",   "OFF",  ".inf", ".Inf",  ".INF",
      "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",  "<<"};
  for (const char* w : kWords) {
    if (s == w) {
      return true;
    }
  }
  if (s.empty() || std::string_view("+-.0123456789").find(s[0]) == std::string_view::npos) {
    return false;
  }
  static const std::regex kNumber(
      "[-+]?(0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)|"
      "[-+]?([0-9][0-9_]*)?\\.?[0-9_]*([eE][-+]?[0-9]+)?|"
      "[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?|"
      "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?",
      std::regex::optimize);
  // The float alternative also matches "." and "+"; those are strings.
  if (s == "." || s == "+" || s == "-" || s == "+." || s == "-.") {
    return false;
  }
  return std::regex_match(s.begin(), s.end(), kNumber);
}

// libyaml's analysis of whether a scalar may be written plain in block context.
bool plainAllowed(std::string_view s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') {
    return false;
  }
  if (s.starts_with("---") || s.starts_with("...")) {
    return false;
  }
  static constexpr std::string_view kLeadingIndicators = ",[]{}#&*!|>'\"%@`";
  if (kLeadingIndicators.find(s.front()) != std::string_view::npos) {
    return false;
  }
  if ((s.front() == '-' || s.front() == '?' || s.front() == ':') &&
      (s.size() == 1 || s[1] == ' ')) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      return false;
    }
    if (c == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) {
      return false;
    }
    if (c == '#' && i > 0 && s[i - 1] == ' ') {
      return false;
    }
  }
  return true;
}

std::string doubleQuoted(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789ABCDEF";
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

}  // namespace

std::optional<GoDuration> parseGoDuration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    return GoDuration{0};
  }
  if (s.empty()) {
    return std::nullopt;
  }
  __int128 total = 0;
  while (!s.empty()) {
    if (!isDigit(s[0]) && s[0] != '.') {
      return std::nullopt;
    }
    __int128 whole = 0;
    size_t i = 0;
    bool any_digit = false;
    while (i < s.size() && isDigit(s[i])) {
      whole = whole * 10 + (s[i] - '0');
      if (whole > (__int128{1} << 63)) {
        return std::nullopt;
      }
      any_digit = true;
      ++i;
    }
    __int128 frac = 0;
    __int128 scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && isDigit(s[i])) {
        if (scale < 1'000'000'000'000'000'000LL) {
          frac = frac * 10 + (s[i] - '0');
          scale *= 10;
        }
        any_digit = true;
        ++i;
      }
    }
    if (!any_digit) {
      return std::nullopt;
    }
    int unit = 0;
    size_t unit_len = 0;
    if (!matchUnit(s.substr(i), &unit, &unit_len)) {
      return std::nullopt;  // missing or unknown unit
    }
    __int128 per = kNanosPerUnit[unit];
    total += whole * per + frac * per / scale;
    if (total > (__int128{1} << 63)) {
      return std::nullopt;
    }
    s.remove_prefix(i + unit_len);
  }
  if (!negative && total == (__int128{1} << 63)) {
    return std::nullopt;
  }
  int64_t ns = static_cast<int64_t>(negative ? -total : total);
  return GoDuration{ns};
}

std::string formatGoDuration(GoDuration d) {
  int64_t ns = d.count();
  if (ns == 0) {
    return "0s";
  }
  bool negative = ns < 0;
  uint64_t u = negative ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  std::string out;
  if (u < 1'000'000'000ULL) {
    uint64_t whole = 0;
    if (u < 1'000ULL) {
      out = std::to_string(u) + "ns";
    } else if (u < 1'000'000ULL) {
      std::string frac = fracPart(u, 3, &whole);
      out = std::to_string(whole) + frac + "\xC2\xB5s";
    } else {
      std::string frac = fracPart(u, 6, &whole);
      out = std::to_string(whole) + frac + "ms";
    }
  } else {
    uint64_t secs = 0;
    std::string frac = fracPart(u, 9, &secs);
    out = std::to_string(secs % 60) + frac + "s";
    uint64_t mins = secs / 60;
    if (mins > 0) {
      out = std::to_string(mins % 60) + "m" + out;
      uint64_t hours = mins / 60;
      if (hours > 0) {
        out = std::to_string(hours) + "h" + out;
      }
    }
  }
  return negative ? "-" + out : out;
}

bool yamlV2KeyLess(std::string_view a, std::string_view b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    unsigned char ca = static_cast<unsigned char>(a[i]);
    unsigned char cb = static_cast<unsigned char>(b[i]);
    if (ca == cb) {
      continue;
    }
    bool la = isLetter(ca);
    bool lb = isLetter(cb);
    if (la && lb) {
      return ca < cb;
    }
    if (la || lb) {
      return lb;  // non-letters sort before letters
    }
    // Both non-letters: compare the digit runs starting here as numbers.
    uint64_t na = 0;
    uint64_t nb = 0;
    if (ca == '0' || cb == '0') {
      // A digit run that started earlier with non-zero digits makes both numbers non-zero.
      for (size_t j = i; j-- > 0 && isDigit(static_cast<unsigned char>(a[j]));) {
        if (a[j] != '0') {
          na = nb = 1;
          break;
        }
      }
    }
    size_t ia = i;
    size_t ib = i;
    for (; ia < a.size() && isDigit(static_cast<unsigned char>(a[ia])); ++ia) {
      na = na * 10 + static_cast<uint64_t>(a[ia] - '0');
    }
    for (; ib < b.size() && isDigit(static_cast<unsigned char>(b[ib])); ++ib) {
      nb = nb * 10 + static_cast<uint64_t>(b[ib] - '0');
    }
    if (na != nb) {
      return na < nb;
    }
    if (ia != ib) {
      return ia < ib;
    }
    return ca < cb;
  }
  return a.size() < b.size();
}

std::string yamlV2String(std::string_view s) {
  if (resolvesToNonString(s) || s.find('\n') != std::string_view::npos) {
    // yaml.v2 writes multi-line strings as literal blocks; we double-quote them (UNSURE, unused
    // by any default).
    return doubleQuoted(s);
  }
  if (plainAllowed(s)) {
    return std::string(s);
  }
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') {
      out += '\'';
    }
  }
  return out + "'";
}

bool yamlDeepEqual(const YAML::Node& a, const YAML::Node& b) {
  bool a_null = !a.IsDefined() || a.IsNull();
  bool b_null = !b.IsDefined() || b.IsNull();
  if (a_null || b_null) {
    return a_null == b_null;
  }
  if (a.Type() != b.Type()) {
    return false;
  }
  if (a.IsScalar()) {
    return a.Scalar() == b.Scalar();
  }
  if (a.size() != b.size()) {
    return false;
  }
  if (a.IsSequence()) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (!yamlDeepEqual(a[i], b[i])) {
        return false;
      }
    }
    return true;
  }
  for (const auto& kv : a) {
    const YAML::Node& bv = b[kv.first.Scalar()];
    if (!bv.IsDefined() || !yamlDeepEqual(kv.second, bv)) {
      return false;
    }
  }
  return true;
}

}  // namespace edgecore::core::config_internal
