#include "server/cri_log.h"

#include <cctype>
#include <ctime>
#include <deque>
#include <fstream>

#include "edgecore/core/time.h"

namespace edgecore::edged {

namespace {
bool digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}
}  // namespace

std::optional<CriLogLine> parseCriLogLine(std::string_view line) {
  CriLogLine l;
  size_t a = line.find(' ');
  if (a == std::string_view::npos) return std::nullopt;
  l.timestamp = line.substr(0, a);
  auto t = core::parseRfc3339Nanos(l.timestamp);
  if (!t.ok()) return std::nullopt;
  l.time_ns = *t;
  size_t b = line.find(' ', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  l.stream = line.substr(a + 1, b - a - 1);
  if (l.stream != "stdout" && l.stream != "stderr") return std::nullopt;
  size_t c = line.find(' ', b + 1);
  std::string_view tags = line.substr(b + 1, c == std::string_view::npos ? line.npos : c - b - 1);
  // Tags are ':'-separated; the first is P or F.
  std::string_view first = tags.substr(0, tags.find(':'));
  if (first == "P") {
    l.partial = true;
  } else if (first != "F") {
    return std::nullopt;
  }
  l.message = c == std::string_view::npos ? std::string_view() : line.substr(c + 1);
  return l;
}

Result<LogOptions> parseLogQuery(const std::multimap<std::string, std::string>& query,
                                 int64_t now_ns) {
  LogOptions o;
  auto get = [&](const char* k) -> std::optional<std::string> {
    auto it = query.find(k);
    if (it == query.end()) return std::nullopt;
    return it->second;
  };
  auto boolean = [&](const char* k, bool* out) -> Status {
    auto v = get(k);
    if (!v) return Status();
    if (*v == "true" || *v == "1" || v->empty() || *v == "True" || *v == "TRUE" || *v == "t" ||
        *v == "T") {
      *out = true;
    } else if (*v == "false" || *v == "0" || *v == "False" || *v == "FALSE" || *v == "f" ||
               *v == "F") {
      *out = false;
    } else {
      return core::invalidArgument(std::string(k) + ": invalid boolean \"" + *v + "\"");
    }
    return Status();
  };
  auto integer = [&](const char* k) -> Result<std::optional<int64_t>> {
    auto v = get(k);
    if (!v) return std::optional<int64_t>();
    std::string_view s = *v;
    bool neg = !s.empty() && s[0] == '-';
    if (neg) s.remove_prefix(1);
    if (!digits(s) || s.size() > 18) {
      return core::invalidArgument(std::string(k) + ": invalid integer \"" + *v + "\"");
    }
    int64_t n = 0;
    for (char c : s) n = n * 10 + (c - '0');
    return std::optional<int64_t>(neg ? -n : n);
  };
  EC_RETURN_IF_ERROR(boolean("follow", &o.follow));
  EC_RETURN_IF_ERROR(boolean("previous", &o.previous));
  EC_RETURN_IF_ERROR(boolean("timestamps", &o.timestamps));
  EC_ASSIGN_OR_RETURN(o.tail_lines, integer("tailLines"));
  EC_ASSIGN_OR_RETURN(o.limit_bytes, integer("limitBytes"));
  EC_ASSIGN_OR_RETURN(auto since_seconds, integer("sinceSeconds"));
  if (o.tail_lines && *o.tail_lines < 0) {
    return core::invalidArgument("tailLines: must be greater than or equal to 0");
  }
  if (o.limit_bytes && *o.limit_bytes < 1) {
    return core::invalidArgument("limitBytes: must be greater than 0");
  }
  auto since_time = get("sinceTime");
  if (since_seconds && since_time) {
    return core::invalidArgument("at most one of sinceTime or sinceSeconds may be specified");
  }
  if (since_seconds) {
    if (*since_seconds < 1) return core::invalidArgument("sinceSeconds: must be greater than 0");
    o.since_ns = now_ns - *since_seconds * 1000000000LL;
  }
  if (since_time) {
    auto t = core::parseRfc3339Nanos(*since_time);
    if (!t.ok()) return core::invalidArgument("sinceTime: " + t.status().message());
    o.since_ns = *t;
  }
  return o;
}

bool LogAssembler::feed(std::string_view raw, std::string* out) {
  auto l = parseCriLogLine(raw);
  if (!l) return false;
  auto& text = pending_[std::string(l->stream)];
  auto& ts = pending_ts_[std::string(l->stream)];
  if (text.empty() && ts.empty()) ts = std::string(l->timestamp);
  // Bound a runaway partial line (a writer that never ends it): flush at 1 MiB.
  text.append(l->message);
  if (l->partial && text.size() < (1u << 20)) {
    return false;
  }
  const int64_t first_ns = core::parseRfc3339Nanos(ts).valueOr(l->time_ns);
  std::string line = std::move(text);
  std::string stamp = std::move(ts);
  text.clear();
  ts.clear();
  if (opts_.since_ns && first_ns < *opts_.since_ns) return false;
  out->clear();
  if (opts_.timestamps) {
    *out = stamp + " ";
  }
  *out += line;
  *out += '\n';
  return true;
}

std::string renderLogs(std::string_view content, const LogOptions& opts) {
  LogAssembler as(opts);
  std::deque<std::string> lines;
  size_t pos = 0;
  std::string out_line;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) break;  // an unfinished last line is not yet a line
    if (as.feed(content.substr(pos, nl - pos), &out_line)) {
      lines.push_back(out_line);
      if (opts.tail_lines && static_cast<int64_t>(lines.size()) > *opts.tail_lines) {
        lines.pop_front();
      }
    }
    pos = nl + 1;
  }
  std::string out;
  for (auto& l : lines) {
    if (opts.limit_bytes && static_cast<int64_t>(out.size() + l.size()) > *opts.limit_bytes) {
      out.append(l, 0, static_cast<size_t>(*opts.limit_bytes) - out.size());
      break;
    }
    out += l;
  }
  return out;
}

Result<std::string> readLogFile(const std::string& path, size_t max_bytes, int64_t* end_offset) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return core::notFound("log file " + path + " not found");
  f.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(f.tellg());
  const size_t start = size > max_bytes ? size - max_bytes : 0;
  f.seekg(static_cast<std::streamoff>(start));
  std::string s(size - start, '\0');
  f.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<size_t>(f.gcount()));
  if (end_offset != nullptr) {
    *end_offset = static_cast<int64_t>(start + s.size());
  }
  if (start > 0) {
    size_t nl = s.find('\n');
    s.erase(0, nl == std::string::npos ? s.size() : nl + 1);
  }
  return s;
}

}  // namespace edgecore::edged
