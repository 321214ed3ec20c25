#include "config_edit.h"

#include <sys/stat.h>

#include <vector>

#include "crypto.h"
#include "edgecore/core/file.h"

namespace edgecore::edgehub {

namespace {

struct Line {
  std::string_view text;  // without the line ending
  std::string_view eol;   // "\n", "\r\n" or ""
};

std::vector<Line> splitLines(std::string_view s) {
  std::vector<Line> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    std::string_view line = s.substr(pos, nl == std::string_view::npos ? s.size() - pos : nl - pos);
    std::string_view eol = nl == std::string_view::npos ? "" : "\n";
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
      eol = "\r\n";
    }
    out.push_back({line, eol});
    pos = nl == std::string_view::npos ? s.size() : nl + 1;
  }
  return out;
}

size_t indentOf(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] == ' ') {
    ++i;
  }
  return i;
}

bool isBlankOrComment(std::string_view line) {
  size_t i = indentOf(line);
  return i == line.size() || line[i] == '#';
}

bool startsWithKey(std::string_view line, size_t indent, std::string_view key) {
  std::string_view rest = line.substr(indent);
  if (rest.substr(0, key.size()) != key) {
    return false;
  }
  rest.remove_prefix(key.size());
  size_t i = 0;
  while (i < rest.size() && rest[i] == ' ') {
    ++i;
  }
  return i < rest.size() && rest[i] == ':';
}

// The child block of the key at line `at` (indent `indent`): [first, end) and the child indent.
struct Block {
  size_t first = 0;
  size_t end = 0;
  size_t indent = 0;
};

std::optional<Block> childBlock(const std::vector<Line>& lines, size_t at, size_t indent) {
  Block b;
  b.first = at + 1;
  b.end = at + 1;
  bool found = false;
  for (size_t i = at + 1; i < lines.size(); ++i) {
    if (isBlankOrComment(lines[i].text)) {
      continue;
    }
    size_t ind = indentOf(lines[i].text);
    if (ind <= indent) {
      break;
    }
    if (!found) {
      b.indent = ind;
      found = true;
    }
    b.end = i + 1;
  }
  if (!found) {
    return std::nullopt;
  }
  return b;
}

std::optional<size_t> findKey(const std::vector<Line>& lines, const Block& block,
                              std::string_view key) {
  for (size_t i = block.first; i < block.end; ++i) {
    if (!isBlankOrComment(lines[i].text) && indentOf(lines[i].text) == block.indent &&
        startsWithKey(lines[i].text, block.indent, key)) {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> blankTokenInYaml(std::string_view yaml) {
  std::vector<Line> lines = splitLines(yaml);
  Block top{0, lines.size(), 0};
  auto modules = findKey(lines, top, "modules");
  if (!modules) {
    return std::nullopt;
  }
  auto modules_block = childBlock(lines, *modules, 0);
  if (!modules_block) {
    return std::nullopt;
  }
  auto hub = findKey(lines, *modules_block, "edgeHub");
  if (!hub) {
    return std::nullopt;
  }
  auto hub_block = childBlock(lines, *hub, modules_block->indent);
  if (!hub_block) {
    return std::nullopt;
  }
  auto token = findKey(lines, *hub_block, "token");
  if (!token) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(yaml.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == *token) {
      out.append(hub_block->indent, ' ');
      out += "token: \"\"";
    } else {
      out += lines[i].text;
    }
    out += lines[i].eol;
  }
  return out;
}

core::Status blankTokenInConfigFile(const std::string& path) {
  EC_ASSIGN_OR_RETURN(std::string text, core::readFile(path));
  auto edited = blankTokenInYaml(text);
  if (!edited || *edited == text) {
    return {};
  }
  struct stat st {};
  unsigned mode = 0644;
  if (::stat(path.c_str(), &st) == 0) {
    mode = st.st_mode & 07777;
  }
  return writeFileAtomic(path, *edited, mode);
}

}  // namespace edgecore::edgehub
