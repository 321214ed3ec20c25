#pragma once

// Test data of the config tests (test/data/config/).

#include <fstream>
#include <sstream>
#include <string>

namespace edgecore::testing {

// test/data/config/<name>.
inline std::string configDataPath(const std::string& name) {
  return std::string(EDGECORE_TEST_DATA_DIR) + "/config/" + name;
}

// The whole file; empty when it cannot be read.
inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace edgecore::testing
