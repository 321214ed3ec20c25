// keadm: wiring only; the commands live in src/keadm/.

#include <string>
#include <vector>

#include "ctl.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return edgecore::keadm::runKeadm(args);
}
