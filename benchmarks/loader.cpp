// bench_loader: ready batches per second from an ImageFolder of JPEGs (decode + the classic 224
// training chain + collate into [B,3,224,224]), with 1 and 2 decoding threads, decoding the whole image,
// the region the chain reads, and that region at reduced scale. Prints "ftmeta_VARIANT_threads_N
// images_per_s" lines; benchmarks/run_loader.sh runs it beside benchmarks/loader.py
// (torchvision ImageFolder + DataLoader with 1 and 2 workers) on the same corpus.
// Usage: bench_loader CORPUS_DIR [EPOCHS (3)] [BATCH (32)] [THREADS... (1 2)]
#include <ftmeta/data.hpp>
#include <ftmeta/transforms.hpp>

#include <opencv2/core.hpp>

#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "timer.hpp"

namespace {
using ftmeta::bench::cpu_seconds;
using ftmeta::bench::wall_seconds;
using namespace ftmeta::transforms;

// The classic recipe, as benchmarks/loader.py writes it with torchvision.
struct Classic : Compose<RandomResizedCrop<224>, RandomHorizontalFlip<0.5>, RandomVerticalFlip<0.5>, RandomRotation<10>,
                         ColorJitter<0.05, 0.05, 0.05, 0.05>, ToTensor, Normalize<ImageNet>> {};
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_loader CORPUS_DIR [EPOCHS] [BATCH] [THREADS...]\n");
    return 2;
  }
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 3;
  const int batch = argc > 3 ? std::atoi(argv[3]) : 32;
  std::vector<int> threads;
  for (int i = 4; i < argc; ++i) threads.push_back(std::atoi(argv[i]));
  if (threads.empty()) threads = {1, 2};
  cv::setNumThreads(0);  // the loader's threads are the only parallelism
  at::set_num_threads(1);

  const auto folder = ftmeta::data::scan_image_folder(argv[1]);
  auto source = std::make_shared<ftmeta::data::FileSource>(folder.samples);
  std::printf("# corpus %s: %zu images, %lld classes; batch %d, %d timed epochs after one warm-up\n", argv[1],
              folder.samples.size(), static_cast<long long>(folder.classes.size()), batch, epochs);
  {  // where one thread's time goes: decoding alone, the chain alone (on decoded images)
    std::string why;
    std::vector<cv::Mat> decoded;
    const double t0 = wall_seconds();
    for (std::int64_t i = 0; i < source->size(); ++i) decoded.push_back(source->decode(i, why));
    const double t1 = wall_seconds();
    auto out = torch::empty({3, 224, 224});
    for (std::size_t i = 0; i < decoded.size(); ++i) {
      ftmeta::Rng rng = ftmeta::Rng::for_sample(1, 0, i);
      apply_into<Classic>(decoded[i], rng, out);
    }
    const double t2 = wall_seconds();
    const double n = static_cast<double>(decoded.size());
    std::printf("# one thread: decode %.2f ms/image, chain %.2f ms/image\n",
                (t1 - t0) * 1e3 / n, (t2 - t1) * 1e3 / n);
  }
  // Three ways to load: the whole image decoded, then the chain (make_loader + apply_into); only the region
  // the chain reads decoded (pipeline_loader, the default: the same pixels); and that region at 1/2 or 1/4
  // scale where the crop allows (pipeline_loader with decode_options_for<Classic>(): opt-in, other pixels).
  struct Variant {
    const char* name;
    std::function<std::unique_ptr<ftmeta::data::Loader>(const ftmeta::data::LoaderOptions&)> make;
  };
  const std::vector<Variant> variants = {
      {"whole",
       [&](const ftmeta::data::LoaderOptions& o) {
         return ftmeta::data::make_loader(
             source, [](const cv::Mat& m, ftmeta::Rng& r, torch::Tensor out) { apply_into<Classic>(m, r, out); },
             ftmeta::data::output_size_v<Classic>, o);
       }},
      {"region", [&](const ftmeta::data::LoaderOptions& o) { return ftmeta::data::pipeline_loader<Classic>(folder.samples, o); }},
      {"scaled",
       [&](ftmeta::data::LoaderOptions o) {
         o.decode = ftmeta::data::decode_options_for<Classic>();
         return ftmeta::data::pipeline_loader<Classic>(folder.samples, o);
       }},
  };
  for (const auto& v : variants)
    for (int t : threads) {
      auto loader = v.make({.batch_size = batch, .shuffle = true, .drop_last = true, .seed = 1, .num_workers = t, .prefetch = 2});
      double checksum = 0;
      for (auto& b : loader->epoch(0)) checksum += b.images[0][0][0][0].item<float>();  // warm-up
      std::int64_t images = 0;
      const double c0 = cpu_seconds();
      const double t0 = wall_seconds();
      for (int e = 1; e <= epochs; ++e)
        for (auto& b : loader->epoch(e)) {
          images += b.images.size(0);
          checksum += b.images[0][0][0][0].item<float>();
        }
      const double s = wall_seconds() - t0;
      const double cpu = cpu_seconds() - c0;
      std::printf("ftmeta_%s_threads_%d %.2f\n", v.name, t, static_cast<double>(images) / s);
      std::printf("ftmeta_%s_threads_%d_cpu %.2f\n", v.name, t, static_cast<double>(images) / cpu);
      std::printf("# ftmeta %s, %d threads: %lld images in %.2f s, %.2f CPU s (checksum %.3f, skipped %lld)\n", v.name, t,
                  static_cast<long long>(images), s, cpu, checksum, static_cast<long long>(loader->stats().skipped));
    }
  return 0;
}
