// tools/gpu_check/gpu_check.cpp: runs ftmeta's model and loop on CUDA with mixed precision, in one
// short command, and prints what it measured. Torch-only layers: it builds where OpenCV is absent.
//
//   gpu_check [--steps N] [--batch B] [--size S] [--precision fp16|bf16|fp32] [--device cuda|cpu]
#include <ftmeta/nn/model.hpp>
#include <ftmeta/optim/optimizer.hpp>
#include <ftmeta/train/amp.hpp>
#include <ftmeta/train/device.hpp>
#include <ftmeta_app/cli.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>

namespace {
using namespace ftmeta::nn;
using namespace ftmeta::optim;
struct CheckHead : Head<BatchNorm1d, Dropout<0.5>, Linear<512>, BatchNorm1d, ELU, Dropout<0.5>, Linear<Classes>> {};
struct CheckNet : Model<backbones::EfficientNetLite0, AvgPool, CheckHead> {};
struct CheckRecipe : Sgd<Momentum<0.9>, Group<BackbonePart, Lr<1e-2>>, Group<HeadPart, Lr<1e-2>>> {};

/// A learnable synthetic task: the class is which of four quadrants is brightest.
std::pair<torch::Tensor, torch::Tensor> batch(std::int64_t n, std::int64_t size, torch::Device device) {
  auto labels = torch::randint(0, 4, {n}, torch::kLong);
  auto images = torch::randn({n, 3, size, size}) * 0.5;
  const auto h = size / 2;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto q = labels[i].item<std::int64_t>();
    using torch::indexing::Slice;
    images.index({i, Slice(), Slice((q / 2) * h, (q / 2 + 1) * h), Slice((q % 2) * h, (q % 2 + 1) * h)}) += 1.5;
  }
  return {images.to(device), labels.to(device)};
}
}  // namespace

int main(int argc, char** argv) try {
  ftmeta::app::Args args(argc, argv, {{"steps", true, "training steps (default 60)"}, {"batch", true, "batch size (default 64)"},
                                       {"size", true, "input side (default 96)"}, {"precision", true, "fp16, bf16 or fp32 (default fp16 on CUDA)"},
                                       {"device", true, "cuda, cuda:N or cpu (default auto)"}});
  const auto device = ftmeta::train::resolve_device(args.get("device", "auto"));
  const auto steps = args.get_int("steps", 60, 2, 100000), n = args.get_int("batch", 64, 2, 4096), size = args.get_int("size", 96, 32, 1024);
  const auto precision = ftmeta::train::parse_precision(args.get("precision", device.is_cuda() ? "fp16" : "fp32"));
  std::cout << "gpu_check: torch " << TORCH_VERSION << ", device " << device << ", CUDA available " << torch::cuda::is_available()
            << ", devices " << static_cast<int>(torch::cuda::device_count()) << ", precision " << args.get("precision", device.is_cuda() ? "fp16" : "fp32")
            << std::endl;
  torch::manual_seed(0);
  Classifier<CheckNet> net(4);
  net->to(device);
  auto opt = make_optimizer<CheckRecipe>(*net);
  ftmeta::train::GradScaler scaler(device, precision == ftmeta::train::Precision::fp16);

  // Same weights, same input: CUDA fp32 and CPU logits agree (eval mode).
  if (device.is_cuda()) {
    net->eval();
    auto [x, y] = batch(8, size, torch::kCPU);
    torch::NoGradGuard no_grad;
    auto on_device = net->forward(x.to(device)).cpu();
    net->to(torch::kCPU);
    auto on_cpu = net->forward(x);
    net->to(device);
    const double diff = (on_device - on_cpu).abs().max().item<double>() / (on_cpu.abs().max().item<double>() + 1e-12);
    std::cout << "eval logits CUDA vs CPU: max relative difference " << diff << std::endl;
    if (diff > 1e-3) throw std::runtime_error("CUDA and CPU logits differ");
  }

  net->train();
  double first = 0, last = 0;
  std::int64_t skipped = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t s = 0; s < steps; ++s) {
    if (s == 2) {  // leave warm-up (cuDNN autotuning, allocations) out of the timing
      if (device.is_cuda()) torch::cuda::synchronize();
      t0 = std::chrono::steady_clock::now();
    }
    auto [x, y] = batch(n, size, device);
    opt->zero_grad();
    torch::Tensor loss;
    {
      ftmeta::train::AutocastScope autocast(device, precision);
      loss = torch::nn::functional::cross_entropy(net->forward(x), y);
    }
    scaler.scale(loss).backward();
    skipped += scaler.step(*opt) ? 0 : 1;
    scaler.update();
    const double v = loss.item<double>();
    if (!std::isfinite(v)) throw std::runtime_error("non-finite loss at step " + std::to_string(s));
    if (s < 5) first += v / 5;
    if (s >= steps - 5) last += v / 5;
  }
  if (device.is_cuda()) torch::cuda::synchronize();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << std::fixed << std::setprecision(4) << "loss: first 5 steps " << first << ", last 5 steps " << last << "; skipped steps "
            << skipped << "; loss scale " << scaler.get_scale() << std::setprecision(1) << "; " << (steps - 2) * n / secs
            << " images/s at " << size << "x" << size << std::endl;
  if (!(last < first)) throw std::runtime_error("the loss did not decrease");
  std::cout << "gpu_check: ok" << std::endl;
  return 0;
} catch (const std::exception& e) {
  std::cerr << "gpu_check: " << e.what() << std::endl;
  return 1;
}
