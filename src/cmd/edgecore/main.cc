// Wiring only; replaced by the daemon entry point as the foundation lands.
#include <cstdio>

#include "edgecore/core/version.h"

int main() {
  std::printf("edgecore %s\n", edgecore::core::kVersion);
  return 0;
}
