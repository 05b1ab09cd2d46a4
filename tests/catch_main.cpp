// The Catch2 runner of ftmeta_unit; kept apart so the test files stay quick to rebuild.
// Tests run with one torch thread: CTest runs two at once on this 2-core machine, and torch's
// OpenMP threads would otherwise fight over the cores. FTMETA_TEST_THREADS=N overrides it.
#define CATCH_CONFIG_RUNNER
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

#include <cstdlib>

int main(int argc, char* argv[]) {
  const char* threads = std::getenv("FTMETA_TEST_THREADS");
  at::set_num_threads(threads && *threads ? std::atoi(threads) : 1);
  return Catch::Session().run(argc, argv);
}
