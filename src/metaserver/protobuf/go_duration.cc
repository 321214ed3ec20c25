#include "go_duration.h"

#include <array>
#include <cmath>
#include <utility>

namespace edgecore::metaserver::protobuf {
namespace {

constexpr std::array<std::pair<std::string_view, double>, 8> kUnits = {{
    {"ns", 1.0},
    {"us", 1e3},
    {"\xC2\xB5s", 1e3},  // U+00B5 micro sign
    {"\xCE\xBCs", 1e3},  // U+03BC Greek mu
    {"ms", 1e6},
    {"s", 1e9},
    {"m", 60e9},
    {"h", 3600e9},
}};

}  // namespace

core::Result<int64_t> parseGoDuration(std::string_view text) {
  core::Status bad = core::invalidArgument("time: invalid duration \"" + std::string(text) + "\"");
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return int64_t{0};
  if (s.empty()) return bad;
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return bad;
    std::string number(s.substr(0, i));
    if (number == "." || number.find('.') != number.rfind('.')) return bad;
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') ++u;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    double scale = 0;
    for (const auto& [name, value] : kUnits) {
      if (name == unit) scale = value;
    }
    if (scale == 0) return bad;  // missing or unknown unit
    total += std::stod(number) * scale;
    if (total > 9.2e18) return bad;
  }
  auto nanos = static_cast<int64_t>(std::llround(total));
  return negative ? -nanos : nanos;
}

std::string formatGoDuration(int64_t nanos) {
  if (nanos == 0) return "0s";
  std::string sign = nanos < 0 ? "-" : "";
  // |INT64_MIN| does not fit; Go prints it too, but no Kubernetes field gets near it.
  uint64_t n = nanos < 0 ? static_cast<uint64_t>(-(nanos + 1)) + 1 : static_cast<uint64_t>(nanos);
  // "1.5ms": below one second, the largest unit that keeps an integer part.
  auto fraction = [](uint64_t v, uint64_t unit) {
    std::string out = std::to_string(v / unit);
    uint64_t rest = v % unit;
    if (rest != 0) {
      std::string digits = std::to_string(rest + unit).substr(1);  // zero-padded to the unit
      while (!digits.empty() && digits.back() == '0') digits.pop_back();
      out += "." + digits;
    }
    return out;
  };
  if (n < 1'000) return sign + std::to_string(n) + "ns";
  if (n < 1'000'000) return sign + fraction(n, 1'000) + "\xC2\xB5s";
  if (n < 1'000'000'000) return sign + fraction(n, 1'000'000) + "ms";
  uint64_t hours = n / 3'600'000'000'000ULL;
  n %= 3'600'000'000'000ULL;
  uint64_t minutes = n / 60'000'000'000ULL;
  n %= 60'000'000'000ULL;
  std::string out = sign;
  if (hours) out += std::to_string(hours) + "h";
  if (hours || minutes) out += std::to_string(minutes) + "m";
  return out + fraction(n, 1'000'000'000) + "s";
}

}  // namespace edgecore::metaserver::protobuf
