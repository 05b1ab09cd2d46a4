// Compile-only: the launch settings are pure (no torch), and their defaults are one process.
#include <ftmeta/distributed/env.hpp>

#include <type_traits>

namespace {
using ftmeta::distributed::LaunchEnv;
static_assert(!LaunchEnv{}.distributed(), "a process without launcher variables runs alone");
static_assert(LaunchEnv{.rank = 1, .world_size = 2}.distributed());
static_assert(LaunchEnv{}.master_port == 29500, "torchrun's default port");
static_assert(std::is_same_v<decltype(ftmeta::distributed::launch_env()), LaunchEnv>);
}  // namespace
