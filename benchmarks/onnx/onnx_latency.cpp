// benchmarks/onnx/onnx_latency.cpp: per-image CPU latency of one forward pass of a finetune checkpoint,
// in LibTorch (the checkpoint) or in OpenCV DNN (its export_onnx file), at a batch size and a thread
// count. One line of results; benchmarks/run_onnx_latency.sh runs the grid and writes the table.
#include "../../examples/recipe.hpp"

#include <opencv2/dnn.hpp>

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <vector>

namespace {

const std::vector<ftmeta::app::Flag> flags = {
    {"runtime", true, "libtorch or opencv"},
    {"checkpoint", true, "finetune's best.pt (libtorch; also gives the input size)"},
    {"onnx", true, "its export (opencv)"},
    {"batch", true, "images per forward pass (default 1)"},
    {"threads", true, "threads (default 1)"},
    {"iters", true, "timed forward passes (default 20); the median is reported"},
    {"help", false, "print this help"},
};

template <class F>
double median_ms(int iters, F&& f) {
  for (int i = 0; i < 3; ++i) f();  // warm up
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

int run(int argc, char** argv) {
  ftmeta::app::Args args(argc, argv, flags);
  const std::string runtime = args.get("runtime", "libtorch");
  const auto batch = args.get_int("batch", 1, 1, 1024);
  const auto threads = static_cast<int>(args.get_int("threads", 1, 1, 1024));
  const int iters = static_cast<int>(args.get_int("iters", 20, 1, 100000));
  const auto info = ftmeta::train::read_checkpoint_info(args.get("checkpoint"));
  const auto size = info.image_size;
  torch::manual_seed(0);
  const auto input = torch::randn({batch, 3, size, size});
  double ms = 0;
  if (runtime == "libtorch") {
    at::set_num_threads(threads);
    ms = example::with_model(info.model, [&]<class Net>() {  // the blog's Net or the default's DefaultNet
      ftmeta::nn::Classifier<Net> model(static_cast<std::int64_t>(info.class_names.size()));
      ftmeta::train::load_checkpoint(args.get("checkpoint"), *model, Net::describe());
      model->eval();
      torch::NoGradGuard no_grad;
      return median_ms(iters, [&] { (void)model->forward(input); });
    });
  } else if (runtime == "opencv") {
    cv::setNumThreads(threads);
    auto net = cv::dnn::readNetFromONNX(args.get("onnx"));
    const int dims[4] = {int(batch), 3, int(size), int(size)};
    cv::Mat blob(4, dims, CV_32F, input.data_ptr());
    ms = median_ms(iters, [&] {
      net.setInput(blob);
      (void)net.forward();
    });
  } else {
    throw ftmeta::UsageError("--runtime " + runtime + ": use libtorch or opencv");
  }
  std::cout << "runtime=" << runtime << " batch=" << batch << " threads=" << threads << " size=" << size
            << " ms_per_batch=" << ms << " ms_per_image=" << ms / double(batch) << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "onnx_latency: " << e.what() << std::endl;
    return 1;
  }
}
