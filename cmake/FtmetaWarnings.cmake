# Warnings for ftmeta's own targets (tests, examples, benchmarks); never imposed on consumers.
add_library(ftmeta_warnings INTERFACE)
target_compile_options(ftmeta_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
