// Kubernetes resource.Quantity parsing, exact integer arithmetic (no floating point), for the
// values the kubelet reads: Value() and MilliValue(), both rounding up
// (k8s.io/apimachinery/pkg/api/resource/quantity.go @ v1.20.0 vendor).

#include <cctype>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "podplan/pod_plan.h"

namespace edgecore::edged {
namespace {

using i128 = __int128;

// Parses q into sign * mantissa * 10^exp10 * 2^exp2.
struct Parsed {
  bool negative = false;
  i128 mantissa = 0;
  int exp10 = 0;
  int exp2 = 0;
};

Result<Parsed> parse(std::string_view q) {
  Parsed p;
  const std::string bad =
      "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  if (q.empty() || q.size() > 64) {
    return invalidArgument(bad);
  }
  size_t i = 0;
  if (q[i] == '+' || q[i] == '-') {
    p.negative = q[i] == '-';
    ++i;
  }
  bool digits = false;
  bool dot = false;
  int frac = 0;
  for (; i < q.size(); ++i) {
    const char c = q[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits = true;
      if (p.mantissa > (static_cast<i128>(1) << 100)) {
        return invalidArgument("quantity too large");
      }
      p.mantissa = p.mantissa * 10 + (c - '0');
      if (dot) {
        ++frac;
      }
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!digits) {
    return invalidArgument(bad);
  }
  p.exp10 = -frac;
  const std::string_view suffix = q.substr(i);
  if (suffix.empty()) {
    return p;
  }
  struct Suffix {
    std::string_view s;
    int e10;
    int e2;
  };
  static constexpr Suffix kSuffixes[] = {
      {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50},
      {"Ei", 0, 60}, {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},
      {"M", 6, 0},   {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},
  };
  for (const auto& s : kSuffixes) {
    if (suffix == s.s) {
      p.exp10 += s.e10;
      p.exp2 += s.e2;
      return p;
    }
  }
  if (suffix[0] == 'e' || suffix[0] == 'E') {
    std::string_view e = suffix.substr(1);
    bool neg = false;
    if (!e.empty() && (e[0] == '+' || e[0] == '-')) {
      neg = e[0] == '-';
      e.remove_prefix(1);
    }
    if (e.empty() || e.size() > 3) {
      return invalidArgument(bad);
    }
    int v = 0;
    for (char c : e) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        return invalidArgument(bad);
      }
      v = v * 10 + (c - '0');
    }
    p.exp10 += neg ? -v : v;
    return p;
  }
  return invalidArgument(bad);
}

// ceil(p * 10^scale10) as int64, saturating like the apimachinery int64 conversions would fail.
Result<int64_t> scaled(const Parsed& p, int scale10) {
  i128 num = p.mantissa;
  i128 den = 1;
  const i128 kCap = static_cast<i128>(1) << 120;
  for (int k = 0; k < p.exp2; ++k) {
    num *= 2;
    if (num > kCap) {
      return invalidArgument("quantity too large");
    }
  }
  int e = p.exp10 + scale10;
  for (; e > 0; --e) {
    num *= 10;
    if (num > kCap) {
      return invalidArgument("quantity too large");
    }
  }
  for (; e < 0; ++e) {
    den *= 10;
    if (den > kCap) {
      return static_cast<int64_t>(p.negative ? 0 : (num == 0 ? 0 : 1));
    }
  }
  i128 v = num / den;
  if (!p.negative && num % den != 0) {
    ++v;  // round up, away from zero for positive values
  }
  if (v > std::numeric_limits<int64_t>::max()) {
    return invalidArgument("quantity too large");
  }
  return static_cast<int64_t>(p.negative ? -v : v);
}

}  // namespace

Result<int64_t> parseQuantityMilli(std::string_view q) {
  EC_ASSIGN_OR_RETURN(Parsed p, parse(q));
  return scaled(p, 3);
}

Result<int64_t> parseQuantityValue(std::string_view q) {
  EC_ASSIGN_OR_RETURN(Parsed p, parse(q));
  return scaled(p, 0);
}

}  // namespace edgecore::edged
