#include "edgecore/core/time.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <cctype>
#include <ctime>
#include <limits>

namespace edgecore::core {
namespace {

std::tm utc(WallTime t) { return fmt::gmtime(std::chrono::system_clock::to_time_t(t)); }

bool allDigits(std::string_view s) {
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return !s.empty();
}

int number(std::string_view s) {
  int v = 0;
  for (char c : s) {
    v = v * 10 + (c - '0');
  }
  return v;
}

Status invalidTime(std::string_view text, std::string_view what) {
  return invalidArgument("invalid RFC 3339 time \"" + std::string(text) +
                         "\": " + std::string(what));
}

}  // namespace

std::string formatRfc3339(WallTime t) { return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", utc(t)); }

std::string formatRfc3339Micro(WallTime t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  auto micros = ((us % 1000000) + 1000000) % 1000000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z", utc(t), micros);
}

std::string formatUtc(WallTime t, std::string_view pattern) {
  return fmt::format(fmt::runtime("{:" + std::string(pattern) + "}"), utc(t));
}

Result<int64_t> parseRfc3339Nanos(std::string_view s) {
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':' || !allDigits(s.substr(0, 4)) || !allDigits(s.substr(5, 2)) ||
      !allDigits(s.substr(8, 2)) || !allDigits(s.substr(11, 2)) || !allDigits(s.substr(14, 2)) ||
      !allDigits(s.substr(17, 2))) {
    return invalidTime(s, "expected 2006-01-02T15:04:05Z");
  }
  std::tm tm{};
  tm.tm_year = number(s.substr(0, 4)) - 1900;
  tm.tm_mon = number(s.substr(5, 2)) - 1;
  tm.tm_mday = number(s.substr(8, 2));
  tm.tm_hour = number(s.substr(11, 2));
  tm.tm_min = number(s.substr(14, 2));
  tm.tm_sec = number(s.substr(17, 2));
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return invalidTime(s, "field out of range");
  }
  size_t i = 19;
  int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (n < 9) {
        frac = frac * 10 + (s[i] - '0');
        ++n;
      }
      ++i;
    }
    if (n == 0) {
      return invalidTime(s, "empty fraction");
    }
    for (; n < 9; ++n) {
      frac *= 10;
    }
  }
  int64_t offset = 0;
  std::string_view zone = s.substr(i);
  if (zone == "Z" || zone == "z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':' &&
             allDigits(zone.substr(1, 2)) && allDigits(zone.substr(4, 2))) {
    offset = (number(zone.substr(1, 2)) * 3600 + number(zone.substr(4, 2)) * 60) *
             (zone[0] == '-' ? -1 : 1);
  } else {
    return invalidTime(s, "expected Z or +hh:mm after the seconds");
  }
  const int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset;
  // Nanoseconds since the epoch fit int64 only for 1677-09-21 .. 2262-04-11 (Go's UnixNano has
  // the same range); outside it the multiplication would overflow.
  constexpr int64_t kMaxSecs = std::numeric_limits<int64_t>::max() / 1000000000LL - 1;
  if (secs > kMaxSecs || secs < -kMaxSecs) {
    return invalidTime(s, "outside the nanosecond range 1678..2261");
  }
  return secs * 1000000000LL + frac;
}

Result<WallTime> parseRfc3339(std::string_view text) {
  EC_ASSIGN_OR_RETURN(int64_t ns, parseRfc3339Nanos(text));
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace edgecore::core
