// tests/support/ranks.hpp: run_ranks, a c10d process group of N ranks as threads of the test over one in-memory store.
// Test support only (not part of the library).
#pragma once

#include <ftmeta/distributed/env.hpp>
#include <ftmeta/distributed/process_group.hpp>

#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace ftmeta::test {

/// Runs fn(group) on `world` ranks, one thread each, over one HashStore; rethrows the first failure.
inline void run_ranks(int world, const std::function<void(distributed::ProcessGroup&)>& fn,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        distributed::LaunchEnv env;
        env.rank = r;
        env.world_size = world;
        env.timeout = timeout;
        auto group = distributed::ProcessGroup::over_store(store, env);
        fn(group);
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace ftmeta::test
