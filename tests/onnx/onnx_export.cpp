// tests/onnx/onnx_export.cpp: export_onnx for every backbone, pooling and head layer, checked against
// LibTorch's logits on real photos by OpenCV DNN (here) and by ONNX Runtime and ONNX's Python checker
// (tests/python/onnx_check.py, run from here on the files this test writes).
#include <ftmeta.hpp>
#include <ftmeta/nn/onnx.hpp>
#include <ftmeta/nn/registry.hpp>

#include <catch2/catch.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
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

// Non-trivial affine parameters (BatchNorm, LayerNorm, ConvNeXt's layer scale, 1e-6 at
// initialization, and ViT's class token), and BatchNorm statistics measured on the photos
// themselves (one train-mode pass, cumulative average), then moved off them a little, as a trained
// network's are. With random weights alone the deep MobileNets' activations vanish and every photo
// gives the same logits, which would check the head's bias and nothing else.
template <class Net>
void randomize_norms(Net& net, const torch::Tensor& input) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(7);
  for (auto& p : net->named_parameters()) {
    const auto& k = p.key();
    if (k.ends_with(".gamma")) p.value().uniform_(0.5, 1.5);
    if (k.ends_with("cls_token")) p.value().normal_(0.0, 0.5);
    if (k.find("bn") != std::string::npos || k.find("norm") != std::string::npos || k.find("head.") == 0) {
      if (p.value().dim() == 1 && k.ends_with("weight")) p.value().uniform_(0.5, 1.5);
      if (p.value().dim() == 1 && k.ends_with("bias")) p.value().uniform_(-0.2, 0.2);
    }
  }
  for (auto& m : net->modules()) {
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get())) bn->options.momentum(std::nullopt), bn->reset_running_stats();
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm1dImpl*>(m.get())) bn->options.momentum(std::nullopt), bn->reset_running_stats();
  }
  net->train();
  net->forward(input);
  net->eval();
  for (auto& b : net->named_buffers()) {
    if (b.key().ends_with("running_var")) b.value().mul_(torch::empty_like(b.value()).uniform_(0.7, 1.4));
    // A head's BatchNorm1d measured on 3 photos: a channel that (almost) only one photo lights has a
    // variance near 0, and dividing by sqrt(eps) would make float rounding the whole signal. A
    // network trained on many images has no such channel, so the variance gets a floor.
    if (b.key().starts_with("head.") && b.key().ends_with("running_var")) b.value().clamp_min_(1e-2);
    if (b.key().ends_with("running_mean")) {
      const auto var = net->named_buffers()[b.key().substr(0, b.key().size() - 4) + "var"];
      b.value().add_(torch::empty_like(b.value()).uniform_(-0.1, 0.1) * var.sqrt());
    }
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
                                                    bool clip = false, std::int64_t batch = 0) {
  torch::manual_seed(1);
  Classifier<Spec> net(classes);
  if constexpr (std::is_same_v<typename Spec::backbone, backbones::EfficientNetLite0>) net->load_pretrained_backbone();
  const auto input = photos<Size, typename Spec::backbone>();
  randomize_norms(net, input);
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = net->forward(input);
  }
  // Not vacuous: the photos' logits differ (by more than 1% of the largest), so the backbone counts.
  CHECK((logits - logits.mean(0)).abs().max().item<double>() > 0.01 * logits.abs().max().item<double>());
  OnnxExportOptions options;
  options.class_names = class_names(classes);
  options.model_name = name;
  options.fold_batch_norm = fold;
  options.clip_relu6 = clip;
  options.batch = batch;
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
// timm's backbones, each with another pooling and head.
struct Mv3SmallConcatBlog : Model<backbones::MobileNetV3Small, ConcatPool,
                                  Head<BatchNorm1d, Dropout<0.5>, Linear<512>, BatchNorm1d, ELU, Dropout<0.5>, Linear<Classes>>> {};
struct Mv3LargeMax : Model<backbones::MobileNetV3Large, MaxPool, Head<Linear<64>, ReLU, Linear<Classes>>> {};
struct EffB0MaxGelu : Model<backbones::EfficientNetB0, MaxPool, Head<Linear<64>, GELU, Dropout<0.2>, Linear<Classes>>> {};
struct ConvNeXtLn : Model<backbones::ConvNeXtTiny, AvgPool, Head<LayerNorm, Dropout<0.2>, Linear<Classes>>> {};
struct ViTBnElu : Model<backbones::ViTSmall16, ConcatPool, Head<BatchNorm1d, Linear<128>, ELU, Linear<Classes>>> {};

// What OpenCV 4.6's DNN cannot run: the case, the reason, and a piece of the error it gives (each
// is checked to fail still, with that error: a fix upstream shows here).
struct OpenCvCannot {
  std::string reason, error;
};
const std::string no_layer_norm = "OpenCV 4.6's ONNX importer has no LayerNormalization (OpenCV 4.8 has)";
const std::string no_se_broadcast =
    "OpenCV 4.6 cannot multiply a map by its squeeze-excitation gate ([N, C, H, W] x [N, C, 1, 1]) when the batch axis is "
    "dynamic; it can with a fixed batch (OnnxExportOptions::batch, the @3 cases)";
const std::map<std::string, OpenCvCannot> opencv_cannot = {
    {"r34_concat_layernorm_gelu", {no_layer_norm, "of type \"LayerNormalization\""}},
    {"convnext_avg_layernorm", {no_layer_norm, "of type \"LayerNormalization\""}},
    {"registry_convnext_tiny", {no_layer_norm, "of type \"LayerNormalization\""}},
    {"vit_concat_mlp_160", {no_layer_norm, "of type \"LayerNormalization\""}},
    {"registry_vit_small_patch16_224", {no_layer_norm, "of type \"LayerNormalization\""}},
    {"mv3s_concat_blog", {no_se_broadcast, "in function 'total'"}},
    {"mv3l_max_mlp_bn_kept", {no_se_broadcast, "in function 'total'"}},
    {"effb0_max_gelu", {no_se_broadcast, "in function 'total'"}},
    {"registry_mobilenetv3_small_100", {no_se_broadcast, "in function 'total'"}},
    {"registry_mobilenetv3_large_100", {no_se_broadcast, "in function 'total'"}},
    {"registry_efficientnet_b0", {no_se_broadcast, "in function 'total'"}},
    {"mbv2_concat_mlp_clip",
     {"OpenCV 4.6 reads Clip only with attribute bounds (opset < 11); the default ReLU6 form avoids Clip", "Clip"}},
};

// OpenCV DNN (C++) on every case: within 1e-4 relative of LibTorch, or, for those listed in
// opencv_cannot, the error listed there.
void check_opencv(const std::map<std::string, std::pair<torch::Tensor, torch::Tensor>>& cases) {
  for (const auto& [name, io] : cases) {
    INFO("OpenCV DNN on " << name);
    const auto& [input, want] = io;
    if (const auto it = opencv_cannot.find(name); it != opencv_cannot.end()) {
      CHECK_THROWS_WITH(opencv_logits(out_dir / (name + ".onnx"), input), Catch::Contains(it->second.error));
      continue;
    }
    torch::Tensor got;
    try {
      got = opencv_logits(out_dir / (name + ".onnx"), input);
    } catch (const cv::Exception& e) {
      FAIL_CHECK("OpenCV DNN cannot run " << name << ": " << e.what());
      continue;
    }
    REQUIRE(got.sizes() == want.sizes());
    CHECK(relative_error(got, want) <= 1e-4);
  }
}

// ONNX Runtime and onnx.checker (full check with shape inference), from the Python packages.
bool onnx_runtime_agrees(const std::map<std::string, std::pair<torch::Tensor, torch::Tensor>>& cases) {
  std::string cmd = std::string(FTMETA_PYTHON) + " " + FTMETA_SOURCE_DIR + "/tests/python/onnx_check.py " + out_dir.string();
  for (const auto& [name, io] : cases) cmd += " " + name;
  return std::system(cmd.c_str()) == 0;
}

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
  cases["mv3s_concat_blog"] = export_case<Mv3SmallConcatBlog, 224>("mv3s_concat_blog", 10);
  cases["mv3l_max_mlp_bn_kept"] = export_case<Mv3LargeMax, 192>("mv3l_max_mlp_bn_kept", 5, /*fold=*/false);
  cases["effb0_max_gelu"] = export_case<EffB0MaxGelu, 160>("effb0_max_gelu", 6);
  cases["convnext_avg_layernorm"] = export_case<ConvNeXtLn, 160>("convnext_avg_layernorm", 7);
  cases["vit_concat_mlp_160"] = export_case<ViTBnElu, 160>("vit_concat_mlp_160", 4);  // position embeddings resampled to 10x10
  // A fixed batch (options.batch): what OpenCV 4.6 needs to run squeeze-excitation.
  cases["mv3s_concat_blog@3"] = export_case<Mv3SmallConcatBlog, 224>("mv3s_concat_blog@3", 10, true, false, 3);
  cases["mv3l_max_mlp@3"] = export_case<Mv3LargeMax, 192>("mv3l_max_mlp@3", 5, true, false, 3);
  cases["effb0_max_gelu@3"] = export_case<EffB0MaxGelu, 160>("effb0_max_gelu@3", 6, true, false, 3);
  check_opencv(cases);
  CHECK(onnx_runtime_agrees(cases));
}

namespace {
template <class B>
constexpr int input_size_of() {
  if constexpr (requires { B::input_size; }) return static_cast<int>(B::input_size);
  else return 224;
}
// Stands in for the ModelRegistry in add_builtin_models: collects each model it registers, with its
// compiled type, as an export case at its input size.
struct RegistryCases {
  std::vector<std::string> names, descriptions;
  std::vector<std::int64_t> sizes;
  std::vector<std::function<std::pair<torch::Tensor, torch::Tensor>()>> run;
  template <ModelSpec Spec>
  RegistryCases& add(std::string name) {
    constexpr int size = input_size_of<typename Spec::backbone>();
    names.push_back(name);
    descriptions.push_back(Spec::describe());
    sizes.push_back(size);
    run.push_back([name] { return export_case<Spec, size>("registry_" + name, 4); });
    return *this;
  }
};
}  // namespace

TEST_CASE("export_onnx: every model the registry builds exports, and the runtimes agree with LibTorch", "[onnx][registry]") {
  RegistryCases built;
  add_builtin_models(built);
  std::vector<std::string> in_registry;
  for (const auto& m : registry().models()) in_registry.push_back(m.name);
  REQUIRE(built.names == in_registry);  // registry() holds add_builtin_models' models: each is a case here
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> cases;
  for (std::size_t i = 0; i < built.names.size(); ++i) {
    INFO("registry model " << built.names[i]);
    const auto& entry = registry().find(built.names[i]);
    CHECK(entry.description == built.descriptions[i]);
    CHECK(entry.input_size == built.sizes[i]);
    cases["registry_" + built.names[i]] = built.run[i]();
  }
  check_opencv(cases);
  CHECK(onnx_runtime_agrees(cases));
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
  options.batch = -1;
  CHECK_THROWS_WITH(export_onnx(net, out_dir / "bad.onnx", options), Catch::Contains("options.batch is -1"));
  options.batch = 0;
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
  CHECK(info.batch == 0);  // dynamic
  options.batch = 2;
  export_onnx(net, out_dir / "tiny_batch2.onnx", options);
  CHECK(read_onnx_info(out_dir / "tiny_batch2.onnx").batch == 2);
  options.batch = 0;

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
