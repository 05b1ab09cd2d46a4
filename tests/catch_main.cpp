// The Catch2 runner of ftmeta_unit; kept apart so the test files stay quick to rebuild.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
