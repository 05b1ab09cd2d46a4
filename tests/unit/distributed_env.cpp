// Tests of torchrun's environment parsing (distributed/env.hpp) and of the sharding rule the
// data-parallel equivalence relies on (data::DistributedSampler over uneven sizes).
#include <ftmeta/data/sampler.hpp>
#include <ftmeta/distributed/env.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_distributed_env {

using namespace ftmeta::distributed;
using Catch::Matchers::Contains;

namespace {
LaunchEnv parse(std::map<std::string, std::string> vars) {
  return parse_launch_env([vars = std::move(vars)](const char* k) -> const char* {
    auto it = vars.find(k);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}
const std::map<std::string, std::string> two = {
    {"WORLD_SIZE", "2"}, {"RANK", "1"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29511"}};
std::map<std::string, std::string> with(std::string k, std::string v) {
  auto m = two;
  m[k] = v;
  return m;
}
std::map<std::string, std::string> without(const std::string& k) {
  auto m = two;
  m.erase(k);
  return m;
}
}  // namespace

TEST_CASE("distributed: no launcher variables mean one process", "[distributed][env]") {
  const auto e = parse({});
  CHECK(e.rank == 0);
  CHECK(e.world_size == 1);
  CHECK_FALSE(e.distributed());
  const auto one = parse({{"WORLD_SIZE", "1"}, {"RANK", "0"}});  // torchrun --nproc-per-node 1
  CHECK_FALSE(one.distributed());
  CHECK(parse({{"WORLD_SIZE", ""}}).world_size == 1);  // empty counts as unset
}

TEST_CASE("distributed: torchrun's variables are read", "[distributed][env]") {
  auto e = parse(two);
  CHECK(e.rank == 1);
  CHECK(e.world_size == 2);
  CHECK(e.local_rank == 1);
  CHECK(e.master_addr == "127.0.0.1");
  CHECK(e.master_port == 29511);
  CHECK(e.distributed());
  CHECK_FALSE(e.agent_store);
  CHECK(parse(with("TORCHELASTIC_USE_AGENT_STORE", "True")).agent_store);
  CHECK(parse(without("LOCAL_RANK")).local_rank == 1);  // defaults to RANK
  CHECK(parse(with("FTMETA_DIST_TIMEOUT", "7")).timeout == std::chrono::seconds(7));
}

TEST_CASE("distributed: malformed or missing variables name themselves", "[distributed][env]") {
  CHECK_THROWS_AS(parse(with("RANK", "x")), ftmeta::UsageError);
  CHECK_THROWS_WITH(parse(with("RANK", "one")), Contains("RANK='one' is not an integer"));
  CHECK_THROWS_WITH(parse(with("RANK", "2")), Contains("RANK=2 is not in [0, 1]"));
  CHECK_THROWS_WITH(parse(with("RANK", "-1")), Contains("RANK=-1"));
  CHECK_THROWS_WITH(parse(with("WORLD_SIZE", "0")), Contains("WORLD_SIZE=0"));
  CHECK_THROWS_WITH(parse(with("WORLD_SIZE", "2x")), Contains("WORLD_SIZE='2x'"));
  CHECK_THROWS_WITH(parse(with("MASTER_PORT", "70000")), Contains("MASTER_PORT=70000 is not in [1, 65535]"));
  CHECK_THROWS_WITH(parse(with("LOCAL_RANK", "5")), Contains("LOCAL_RANK=5"));
  CHECK_THROWS_WITH(parse(with("FTMETA_DIST_TIMEOUT", "0")), Contains("FTMETA_DIST_TIMEOUT=0"));
  CHECK_THROWS_WITH(parse(without("RANK")), Contains("RANK is not set"));
  CHECK_THROWS_WITH(parse(without("MASTER_ADDR")), Contains("MASTER_ADDR is not set"));
  CHECK_THROWS_WITH(parse(without("MASTER_PORT")), Contains("MASTER_PORT is not set"));
  CHECK_THROWS_WITH(parse({{"RANK", "1"}}), Contains("WORLD_SIZE is not"));
}

TEST_CASE("distributed: shards are equal, cover every sample, and overlap only by the padding",
          "[distributed][sampler]") {
  for (std::int64_t n : {1, 2, 7, 10, 13, 101})
    for (int w : {2, 3, 4, 8}) {
      INFO("n=" << n << " world=" << w);
      std::vector<std::vector<std::int64_t>> shards;
      std::multiset<std::int64_t> seen;
      for (int r = 0; r < w; ++r) {
        shards.push_back(ftmeta::data::DistributedSampler{.rank = r, .world_size = w}(n, 9, 4));
        seen.insert(shards.back().begin(), shards.back().end());
      }
      const auto per = (n + w - 1) / w;
      for (const auto& s : shards) CHECK(static_cast<std::int64_t>(s.size()) == per);
      std::set<std::int64_t> distinct(seen.begin(), seen.end());
      CHECK(static_cast<std::int64_t>(distinct.size()) == n);                 // every sample
      CHECK(static_cast<std::int64_t>(seen.size()) - n == per * w - n);       // duplicates = padding only
      // with drop_last: disjoint
      std::set<std::int64_t> dropped;
      std::size_t total = 0;
      for (int r = 0; r < w; ++r) {
        auto s = ftmeta::data::DistributedSampler{.rank = r, .world_size = w, .drop_last = true}(n, 9, 4);
        CHECK(static_cast<std::int64_t>(s.size()) == n / w);
        total += s.size();
        dropped.insert(s.begin(), s.end());
      }
      CHECK(dropped.size() == total);
    }
}

TEST_CASE("distributed: the ranks' k-th local batches together are the k-th global batch", "[distributed][sampler]") {
  // What makes W processes with batch B/W equal one process with batch B (tests/distributed/).
  const std::int64_t n = 96, global = 12;
  for (int w : {2, 3, 4}) {
    const auto order = ftmeta::data::epoch_permutation(n, 3, 1);
    const std::int64_t local = global / w;
    for (std::int64_t k = 0; k < n / global; ++k) {
      std::set<std::int64_t> united;
      for (int r = 0; r < w; ++r) {
        const auto s = ftmeta::data::DistributedSampler{.rank = r, .world_size = w}(n, 3, 1);
        united.insert(s.begin() + k * local, s.begin() + (k + 1) * local);
      }
      const std::set<std::int64_t> expect(order.begin() + k * global, order.begin() + (k + 1) * global);
      CHECK(united == expect);
    }
  }
}

}  // namespace unit_distributed_env
