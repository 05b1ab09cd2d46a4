// Unit tests of the bilinear warp of the geometric stage (kernels/warp.hpp): its vector copies against
// its scalar loop.
#include <ftmeta/transforms.hpp>

#include <catch2/catch.hpp>
#include <opencv2/core.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_transforms_warp {

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX2__)
TEST_CASE("warp: the AVX2 and AVX-512 rows are the scalar loop's bits, edges and clamped neighbours included", "[transforms][warp]") {
  using namespace ftmeta::transforms::detail;
  if (!cpu_has_avx2_fma()) {
    WARN("skipped: this CPU has no AVX2");
    return;
  }
  cv::Mat image(61, 83, CV_8UC3);
  cv::RNG rng(7);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  const FusedMultiplyAdd fma;
  int rows = 0, wide_rows = 0;
  // Rotations by up to ~12 degrees and scales 0.6-1.6 whose rows run off every edge: clamped columns and
  // rows, the last bytes of the image (where the vector loop hands groups to the scalar one).
  for (int k = 0; k < 40; ++k) {
    const float a = float(rng.uniform(0.6, 1.6)), d = float(rng.uniform(-0.2, 0.2));
    for (int y = 0; y < 70; y += 3) {
      const double u = rng.uniform(-6.0, 10.0), v = y * 0.9 - 4 + rng.uniform(-2.0, 2.0);
      const int ou = int(std::floor(u)), ov = int(std::floor(v));
      const float u0 = float(u - ou), v0 = float(v - ov);
      std::vector<float> fast(3 * 96), slow(3 * 96);
      warp_row_avx2(image, ou, u0, a, ov, v0, d, 0, 96, fast.data(), fast.data() + 96, fast.data() + 192);
      warp_pixels(image, ou, u0, a, ov, v0, d, 0, 96, slow.data(), slow.data() + 96, slow.data() + 192, fma);
      REQUIRE(fast == slow);
      ++rows;
      if (cpu_has_avx512()) {  // 16 a step, a 0-15 pixel tail (x1 - x0 = 89 - 3) and uint8 output too
        std::vector<float> wide(3 * 96), narrow(3 * 96);
        warp_row_avx512(image, ou, u0, a, ov, v0, d, 3, 89, wide.data(), wide.data() + 96, wide.data() + 192);
        warp_pixels(image, ou, u0, a, ov, v0, d, 3, 89, narrow.data(), narrow.data() + 96, narrow.data() + 192, fma);
        REQUIRE(wide == narrow);
        std::vector<std::uint8_t> bytes(3 * 96), bytes_slow(3 * 96);
        warp_row_avx512(image, ou, u0, a, ov, v0, d, 0, 96, bytes.data(), bytes.data() + 96, bytes.data() + 192);
        warp_pixels(image, ou, u0, a, ov, v0, d, 0, 96, bytes_slow.data(), bytes_slow.data() + 96, bytes_slow.data() + 192, fma);
        REQUIRE(bytes == bytes_slow);
        ++wide_rows;
      }
    }
  }
  CHECK(rows == 40 * 24);
  if (cpu_has_avx512()) CHECK(wide_rows == rows);
  else WARN("the AVX-512 copy not checked: this CPU has no AVX-512");
}
#endif

}  // namespace unit_transforms_warp
