// tests/onnx/onnx_export.cpp: export_onnx for every backbone, pooling and head layer, checked against
// LibTorch's logits on real photos by OpenCV DNN (here) and by ONNX Runtime and ONNX's Python checker
// (tests/python/onnx_check.py, run from here on the files this test writes).
#include <ftmeta.hpp>
#include <ftmeta/nn/onnx.hpp>

#include <catch2/catch.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

using namespace ftmeta::nn;
namespace fs = std::filesystem;
namespace tf = ftmeta::transforms;

namespace {

const fs::path out_dir = FTMETA_ONNX_TEST_DIR;

// A float32 tensor as .npy (C order, little-endian), for the Python side.
void save_npy(const fs::path& path, const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat32).contiguous();
  std::string shape = "(";
  for (auto d : c.sizes()) shape += std::to_string(d) + ",";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + "), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<std::uint16_t>(header.size());
  out.put(static_cast<char>(len & 0xff)).put(static_cast<char>(len >> 8));
  out << header;
  out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * 4));
}

// Real photos (Debian's mate-backgrounds), through the evaluation pipeline at Size.
template <int Size, class Stats>
torch::Tensor photos() {
  using Eval = tf::Compose<tf::Resize<Size>, tf::CenterCrop<Size>, tf::ToTensor, tf::Normalize<Stats>>;
  std::vector<torch::Tensor> v;
  ftmeta::Rng rng(0);
  for (const char* name : {"nature/LadyBird.jpg", "nature/Garden.jpg", "abstract/Elephants.jpg"}) {
    const auto path = fs::path("/usr/share/backgrounds/mate") / name;
    cv::Mat image = cv::imread(path.string(), cv::IMREAD_COLOR);
    if (image.empty()) throw std::runtime_error("cannot read " + path.string() + " (install mate-backgrounds)");
    v.push_back(tf::apply<Eval>(image, rng));
  }
  return torch::stack(v);
}

// Non-trivial BatchNorm statistics and affine parameters, so that folding them is tested.
void randomize_batch_norms(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(7);
  for (auto& b : m.named_buffers()) {
    if (b.key().ends_with("running_mean")) b.value().uniform_(-0.2, 0.2);
    if (b.key().ends_with("running_var")) b.value().uniform_(0.5, 2.0);
  }
  for (auto& p : m.named_parameters())
    if (p.key().find("bn") != std::string::npos || p.key().find("head.") == 0) {
      if (p.value().dim() == 1 && p.key().ends_with("weight")) p.value().uniform_(0.5, 1.5);
      if (p.value().dim() == 1 && p.key().ends_with("bias")) p.value().uniform_(-0.2, 0.2);
    }
}

double relative_error(const torch::Tensor& got, const torch::Tensor& want) {
  return (got - want).abs().max().item<double>() / std::max(want.abs().max().item<double>(), 1e-6);
}

std::vector<std::string> class_names(std::int64_t n) {
  std::vector<std::string> v;
  for (std::int64_t i = 0; i < n; ++i) v.push_back("class " + std::to_string(i));
  return v;
}

// OpenCV 4.6's DNN on the file; throws cv::Exception for what it cannot import or run.
torch::Tensor opencv_logits(const fs::path& file, const torch::Tensor& input) {
  cv::dnn::Net net = cv::dnn::readNetFromONNX(file.string());
  const int dims[4] = {int(input.size(0)), int(input.size(1)), int(input.size(2)), int(input.size(3))};
  auto in = input.contiguous();
  cv::Mat blob(4, dims, CV_32F, in.data_ptr());
  net.setInput(blob);
  cv::Mat out = net.forward();
  return torch::from_blob(out.ptr<float>(), {out.size[0], out.size[1]}, torch::kFloat32).clone();
}

// Exports Spec with random weights (Lite0: ImageNet weights), BatchNorm statistics made non-trivial,
// at input Size; writes NAME.onnx, NAME.input.npy, NAME.logits.npy for the Python check.
template <class Spec, int Size>
std::pair<torch::Tensor, torch::Tensor> export_case(const std::string& name, std::int64_t classes, bool fold = true,
                                                    bool clip = false) {
  torch::manual_seed(1);
  Classifier<Spec> net(classes);
  if constexpr (std::is_same_v<typename Spec::backbone, backbones::EfficientNetLite0>) net->load_pretrained_backbone();
  randomize_batch_norms(*net);
  net->eval();
  const auto input = photos<Size, typename Spec::backbone>();
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = net->forward(input);
  }
  OnnxExportOptions options;
  options.class_names = class_names(classes);
  options.model_name = name;
  options.fold_batch_norm = fold;
  options.clip_relu6 = clip;
  options.preprocessing = onnx_preprocessing<tf::Compose<tf::Resize<Size>, tf::CenterCrop<Size>, tf::ToTensor,
                                                         tf::Normalize<typename Spec::backbone>>>();
  fs::create_directories(out_dir);
  export_onnx(net, out_dir / (name + ".onnx"), options);
  save_npy(out_dir / (name + ".input.npy"), input);
  save_npy(out_dir / (name + ".logits.npy"), logits);
  return {input, logits};
}

struct Lite0Blog : Model<backbones::EfficientNetLite0, AvgPool,
                         Head<BatchNorm1d, Dropout<0.5>, Linear<512>, BatchNorm1d, ELU, Dropout<0.5>, Linear<Classes>>> {};
struct R18Max : Model<backbones::ResNet18, MaxPool, Head<Linear<Classes>>> {};
struct R34ConcatLn : Model<backbones::ResNet34, ConcatPool, Head<LayerNorm, GELU, Dropout<0.2>, Linear<Classes>>> {};
struct R50Mlp : Model<backbones::ResNet50, AvgPool,
                      Head<BatchNorm1d, ReLU, Dropout<0.3>, Linear<64>, BatchNorm1d, ELU, Linear<Classes>>> {};
struct R18AvgGelu : Model<backbones::ResNet18, AvgPool, Head<Linear<64>, GELU, Dropout<0.5>, Linear<Classes>>> {};
struct MbV2Concat : Model<backbones::MobileNetV2, ConcatPool, Head<Dropout<0.1>, Linear<256>, ReLU, BatchNorm1d, Linear<Classes>>> {};

// What OpenCV 4.6's DNN cannot run, and why (each is checked to fail still: a fix upstream shows here).
const std::map<std::string, std::string> opencv_cannot = {
    {"r34_concat_layernorm_gelu", "OpenCV 4.6's ONNX importer has no LayerNormalization (added in 4.8)"},
    {"mbv2_concat_mlp_clip", "OpenCV 4.6 reads Clip only with attribute bounds (opset < 11); the default ReLU6 form avoids Clip"},
};

}  // namespace

TEST_CASE("export_onnx: every backbone, pooling and head layer against LibTorch, in OpenCV DNN and ONNX Runtime", "[onnx]") {
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> cases;  // input, LibTorch's logits
  cases["lite0_avg_blog"] = export_case<Lite0Blog, 224>("lite0_avg_blog", 10);
  cases["r18_max_linear"] = export_case<R18Max, 224>("r18_max_linear", 5);
  cases["r18_max_linear_bn_kept"] = export_case<R18Max, 224>("r18_max_linear_bn_kept", 5, /*fold=*/false);
  cases["r18_avg_gelu"] = export_case<R18AvgGelu, 128>("r18_avg_gelu", 6);
  cases["r34_concat_layernorm_gelu"] = export_case<R34ConcatLn, 160>("r34_concat_layernorm_gelu", 7);
  cases["r50_avg_mlp"] = export_case<R50Mlp, 224>("r50_avg_mlp", 12);
  cases["mbv2_concat_mlp"] = export_case<MbV2Concat, 224>("mbv2_concat_mlp", 3);
  cases["mbv2_concat_mlp_clip"] = export_case<MbV2Concat, 224>("mbv2_concat_mlp_clip", 3, true, /*clip=*/true);

  // OpenCV DNN (C++), within 1e-4 relative of LibTorch, except the families listed with a reason.
  for (const auto& [name, io] : cases) {
    INFO("OpenCV DNN on " << name);
    const auto& [input, want] = io;
    if (opencv_cannot.count(name)) {
      CHECK_THROWS(opencv_logits(out_dir / (name + ".onnx"), input));
      continue;
    }
    const auto got = opencv_logits(out_dir / (name + ".onnx"), input);
    REQUIRE(got.sizes() == want.sizes());
    CHECK(relative_error(got, want) <= 1e-4);
  }

  // ONNX Runtime and onnx.checker (full check with shape inference), from the Python packages.
  std::string cmd = std::string(FTMETA_PYTHON) + " " + FTMETA_SOURCE_DIR + "/tests/python/onnx_check.py " + out_dir.string();
  for (const auto& [name, io] : cases) cmd += " " + name;
  CHECK(std::system(cmd.c_str()) == 0);
}

TEST_CASE("export_onnx and read_onnx_info: bad input gets one line naming the file or the option field", "[onnx]") {
  fs::create_directories(out_dir);
  torch::manual_seed(1);
  Classifier<R18Max> net(4);
  net->eval();
  OnnxExportOptions options;
  options.preprocessing.crop_height = options.preprocessing.crop_width = 32;
  options.class_names = class_names(3);
  CHECK_THROWS_WITH(export_onnx(net, out_dir / "bad.onnx", options),
                    "ftmeta: export_onnx: options.class_names has 3 names, the model 4 classes");
  options.class_names = class_names(4);
  options.opset = 13;
  CHECK_THROWS_WITH(export_onnx(net, out_dir / "bad.onnx", options), Catch::Contains("options.opset 13: use 17 to"));
  options.opset = 17;
  options.preprocessing.crop_height = 0;
  CHECK_THROWS_WITH(export_onnx(net, out_dir / "bad.onnx", options), Catch::Contains("options.preprocessing.crop_height"));
  CHECK_FALSE(fs::exists(out_dir / "bad.onnx"));

  // The metadata round-trips; a file that is not ONNX, or ONNX without ftmeta's keys, is a FileError.
  options.preprocessing = onnx_preprocessing<tf::Compose<tf::Resize<40>, tf::CenterCrop<32>, tf::ToTensor, tf::Normalize<>>>();
  options.model_name = "tiny";
  export_onnx(net, out_dir / "tiny.onnx", options);
  const auto info = read_onnx_info(out_dir / "tiny.onnx");
  CHECK(info.class_names == options.class_names);
  CHECK(info.model == R18Max::describe());
  CHECK(info.model_name == "tiny");
  CHECK(info.preprocessing.resize == 40);
  CHECK(info.preprocessing.crop_height == 32);
  CHECK(info.preprocessing.crop_width == 32);
  CHECK(info.preprocessing.mean == std::array<double, 3>{0.485, 0.456, 0.406});
  CHECK(info.preprocessing.std == std::array<double, 3>{0.229, 0.224, 0.225});

  std::ofstream(out_dir / "text.onnx") << "this is not a model\n";
  CHECK_THROWS_WITH(read_onnx_info(out_dir / "text.onnx"), Catch::Contains("text.onnx: not an ONNX model"));
  CHECK_THROWS_WITH(read_onnx_info(out_dir / "absent.onnx"), Catch::Contains("absent.onnx: no such file"));
  auto proto = read_onnx_model(out_dir / "tiny.onnx");
  proto.clear_metadata_props();
  {
    std::ofstream out(out_dir / "plain.onnx", std::ios::binary);
    proto.SerializeToOstream(&out);
  }
  CHECK_THROWS_WITH(read_onnx_info(out_dir / "plain.onnx"),
                    Catch::Contains("plain.onnx: an ONNX model without ftmeta's metadata (no ftmeta.format in metadata_props)"));
}
