// ftmeta/distributed/env.hpp: the launch settings torchrun gives a worker (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), parsed and checked.
// ftmeta:pure
#pragma once

#include <ftmeta/core/error.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

namespace ftmeta::distributed {

/// Where this process sits in a data-parallel group, as torchrun describes it. The defaults are a
/// single process (rank 0 of 1), so a binary started without a launcher runs alone.
struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  /// torchrun's agent already serves the TCP store (TORCHELASTIC_USE_AGENT_STORE=True): rank 0
  /// connects to it as a client instead of listening.
  bool agent_store = false;
  /// How long rendezvous and each collective may wait for a peer (FTMETA_DIST_TIMEOUT, seconds).
  std::chrono::milliseconds timeout{std::chrono::seconds(300)};

  constexpr bool distributed() const { return world_size > 1; }
};

namespace detail {
inline long long env_integer(std::string_view name, const char* text, long long lo, long long hi) {
  const std::string_view s(text);
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size())
    throw UsageError("distributed: " + std::string(name) + "='" + std::string(s) + "' is not an integer");
  if (v < lo || v > hi)
    throw UsageError("distributed: " + std::string(name) + "=" + std::string(s) + " is not in [" + std::to_string(lo) +
                     ", " + std::to_string(hi) + "]");
  return v;
}
}  // namespace detail

/// Reads the launch settings through `get` (a getenv: the value, or nullptr when unset). WORLD_SIZE
/// unset or 1 means a single process and nothing else is required; with WORLD_SIZE > 1, RANK,
/// MASTER_ADDR and MASTER_PORT must be set; LOCAL_RANK defaults to RANK. A malformed or
/// inconsistent value is a UsageError naming the variable and its value.
///
///   auto env = ftmeta::distributed::parse_launch_env([](const char* k) { return std::getenv(k); });
inline LaunchEnv parse_launch_env(const std::function<const char*(const char*)>& get) {
  LaunchEnv e;
  const auto value = [&](const char* k) -> const char* {
    const char* v = get(k);
    return v && *v ? v : nullptr;
  };
  if (const char* t = value("FTMETA_DIST_TIMEOUT"))
    e.timeout = std::chrono::seconds(detail::env_integer("FTMETA_DIST_TIMEOUT", t, 1, 86400));
  const char* ws = value("WORLD_SIZE");
  if (!ws) {
    if (const char* r = value("RANK"); r && std::string_view(r) != "0")
      throw UsageError(std::string("distributed: RANK=") + r + " is set but WORLD_SIZE is not; set both (torchrun does)");
    return e;
  }
  e.world_size = static_cast<int>(detail::env_integer("WORLD_SIZE", ws, 1, 1 << 20));
  if (const char* r = value("RANK"))
    e.rank = static_cast<int>(detail::env_integer("RANK", r, 0, e.world_size - 1));
  else if (e.world_size > 1)
    throw UsageError("distributed: WORLD_SIZE=" + std::string(ws) + " but RANK is not set; launch with torchrun or set RANK");
  e.local_rank = e.rank;
  if (const char* l = value("LOCAL_RANK")) e.local_rank = static_cast<int>(detail::env_integer("LOCAL_RANK", l, 0, e.world_size - 1));
  if (!e.distributed()) return e;
  const char* addr = value("MASTER_ADDR");
  const char* port = value("MASTER_PORT");
  if (!addr) throw UsageError("distributed: WORLD_SIZE=" + std::string(ws) + " but MASTER_ADDR is not set (the rank-0 host)");
  if (!port) throw UsageError("distributed: WORLD_SIZE=" + std::string(ws) + " but MASTER_PORT is not set (a free TCP port on MASTER_ADDR)");
  e.master_addr = addr;
  e.master_port = static_cast<int>(detail::env_integer("MASTER_PORT", port, 1, 65535));
  if (const char* a = value("TORCHELASTIC_USE_AGENT_STORE")) e.agent_store = std::string_view(a) == "True" || std::string_view(a) == "1";
  return e;
}

/// The launch settings of this process, from its environment.
inline LaunchEnv launch_env() {
  return parse_launch_env([](const char* k) -> const char* { return std::getenv(k); });
}

}  // namespace ftmeta::distributed
