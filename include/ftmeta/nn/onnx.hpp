// ftmeta/nn/onnx.hpp: export_onnx, which writes a Classifier as an eval-mode ONNX file (BatchNorm
// folded, dropout removed, dynamic batch, class names and preprocessing in metadata_props) and
// checks it with ONNX's own checker. Needs the ONNX library (target ftmeta::onnx).
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/type_list.hpp>
#include <ftmeta/nn/model.hpp>
#include <ftmeta/nn/onnx_emitters.hpp>
#include <ftmeta/nn/onnx_emitters_timm.hpp>
#include <ftmeta/nn/onnx_graph.hpp>
#include <ftmeta/nn/onnx_metadata.hpp>
#include <ftmeta/transforms/ops.hpp>

// <sys/mman.h> (through torch) defines MAP_TYPE, a name ONNX's parser.h declares as an enumerator.
#pragma push_macro("MAP_TYPE")
#undef MAP_TYPE
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#pragma pop_macro("MAP_TYPE")
#include <onnx/onnx_pb.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ftmeta::nn {

/// What export_onnx writes besides the weights.
struct OnnxExportOptions {
  std::vector<std::string> class_names;  ///< one per output (the checkpoint's class map); required
  std::string model_name;                ///< default: the backbone's name
  OnnxPreprocessing preprocessing;       ///< crop_height/crop_width: the input size (required)
  std::int64_t opset = 17;               ///< ONNX opset of the default domain (17 or newer)
  bool fold_batch_norm = true;           ///< BatchNorm into the convolutions (else BatchNormalization nodes)
  /// ReLU6 as one Clip node with input bounds (opset 11+ form; OpenCV 4.6 cannot read it), else
  /// Relu(x) - Relu(x - 6), which every runtime reads.
  bool clip_relu6 = false;
  /// 0: a dynamic batch axis. N: input and output fixed at N images, for runtimes that cannot
  /// broadcast across a dynamic batch (OpenCV 4.6 with the squeeze-excitation of MobileNetV3 and
  /// EfficientNet-B0: docs/onnx.md).
  std::int64_t batch = 0;
};

namespace detail {
template <class Op>
struct onnx_pre_step {
  static void apply(OnnxPreprocessing&) {}
};
template <int H, int W>
struct onnx_pre_step<transforms::Resize<H, W>> {
  static void apply(OnnxPreprocessing& p) {
    static_assert(W == 0, "ftmeta: onnx_preprocessing<P>: only Resize<S> (the shorter side) is described in the metadata");
    p.resize = H;
  }
};
template <int H, int W>
struct onnx_pre_step<transforms::CenterCrop<H, W>> {
  static void apply(OnnxPreprocessing& p) { p.crop_height = H, p.crop_width = W; }
};
template <class Stats>
struct onnx_pre_step<transforms::Normalize<Stats>> {
  static void apply(OnnxPreprocessing& p) {
    for (int c = 0; c < 3; ++c) p.mean[c] = Stats::mean[c], p.std[c] = Stats::std[c];
  }
};
template <class... Ops>
OnnxPreprocessing onnx_preprocessing_of(meta::TypeList<Ops...>) {
  OnnxPreprocessing p;
  p.mean = {0, 0, 0};
  p.std = {1, 1, 1};
  (onnx_pre_step<Ops>::apply(p), ...);
  return p;
}
}  // namespace detail

/// The preprocessing an evaluation pipeline `Resize<S>, CenterCrop<H, W>, ToTensor, Normalize<Stats>`
/// (a Compose or a struct deriving from one) performs, as export_onnx records it.
///   options.preprocessing = onnx_preprocessing<EvalAug<224>>();
template <class Pipeline>
OnnxPreprocessing onnx_preprocessing() {
  return detail::onnx_preprocessing_of(typename Pipeline::ops{});
}

namespace detail {
template <class Spec, class... Ls, std::size_t... Is>
OnnxValue emit_head(OnnxGraph& g, HeadModuleImpl<typename Spec::head>& head, OnnxValue x, meta::TypeList<Ls...>, std::index_sequence<Is...>) {
  ((g.scope = "head." + std::to_string(Is),
    x = onnx_emitter<Ls>::emit(g, OnnxGraph::child<torch::nn::Module>(head, std::to_string(Is)), x)),
   ...);
  return x;
}
}  // namespace detail

/// The ONNX model of `model` in eval mode (whatever mode the module is in), checked by ONNX's
/// checker. UsageError naming the option field for options that do not fit the model.
template <ModelSpec Spec>
onnx::ModelProto build_onnx_model(ClassifierImpl<Spec>& model, const OnnxExportOptions& options) {
  static_assert(OnnxExportable<typename Spec::backbone>,
                "ftmeta: export_onnx: the backbone has no ONNX emitter; specialize ftmeta::nn::onnx_emitter<YourBackbone> (nn/onnx_graph.hpp)");
  static_assert(OnnxExportable<typename Spec::pool>, "ftmeta: export_onnx: the pooling has no ONNX emitter");
  const auto& p = options.preprocessing;
  if (static_cast<std::int64_t>(options.class_names.size()) != model.num_classes())
    throw UsageError("ftmeta: export_onnx: options.class_names has " + std::to_string(options.class_names.size()) +
                     " names, the model " + std::to_string(model.num_classes()) + " classes");
  if (p.crop_height < 1 || p.crop_width < 1)
    throw UsageError("ftmeta: export_onnx: options.preprocessing.crop_height and crop_width (the input size) must be set");
  std::int64_t in_channels = p.channels;
  if constexpr (requires { Spec::backbone::stem_weight; }) {
    const std::string stem(Spec::backbone::stem_weight);  // "conv1.weight": the stem convolution's key
    in_channels = OnnxGraph::child<torch::nn::Conv2dImpl>(*model.backbone(), stem.substr(0, stem.rfind('.'))).options.in_channels();
  }
  if (p.channels != in_channels)
    throw UsageError("ftmeta: export_onnx: options.preprocessing.channels is " + std::to_string(p.channels) + ", the model takes " +
                     std::to_string(in_channels));
  if (options.batch < 0) throw UsageError("ftmeta: export_onnx: options.batch is " + std::to_string(options.batch) + "; use 0 (dynamic) or N > 0");
  const auto max_opset = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at(onnx::ONNX_DOMAIN).second;
  if (options.opset < 17 || options.opset > max_opset)
    throw UsageError("ftmeta: export_onnx: options.opset " + std::to_string(options.opset) + ": use 17 to " +
                     std::to_string(max_opset) + " (the ONNX library's newest)");

  onnx::ModelProto proto;
  proto.set_ir_version(8);
  proto.set_producer_name("ftmeta");
  proto.set_producer_version("0.1");
  proto.set_doc_string(Spec::describe());
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(options.opset);
  auto* graph = proto.mutable_graph();
  graph->set_name(options.model_name.empty() ? std::string(Spec::backbone::name) : options.model_name);

  const auto declare = [&](onnx::ValueInfoProto* v, const OnnxValue& value) {
    v->set_name(value.name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (auto d : value.shape) {
      auto* dim = t->mutable_shape()->add_dim();
      if (d < 0 && options.batch > 0) dim->set_dim_value(options.batch);
      else if (d < 0) dim->set_dim_param("batch");
      else dim->set_dim_value(d);
    }
  };
  OnnxValue x{"images", {-1, in_channels, p.crop_height, p.crop_width}};
  declare(graph->add_input(), x);

  torch::NoGradGuard no_grad;
  OnnxGraph g(*graph, options.fold_batch_norm);
  g.clip_relu6 = options.clip_relu6;
  g.scope = "backbone";
  x = onnx_emitter<typename Spec::backbone>::emit(g, *model.backbone(), x);
  g.scope = "pool";
  x = onnx_emitter<typename Spec::pool>::emit(g, *model.backbone(), x);
  using Layers = typename Spec::head::layers;
  x = detail::emit_head<Spec>(g, *model.head(), x, Layers{}, std::make_index_sequence<meta::size_v<Layers>>{});
  // The logits get their public name (an Identity when the last layer's output is named otherwise).
  auto& out = g.node("Identity", {x.name}, "logits");
  declare(graph->add_output(), {out.output(0), {-1, model.num_classes()}});

  OnnxModelInfo info;
  info.class_names = options.class_names;
  info.model = Spec::describe();
  info.model_name = graph->name();
  info.preprocessing = p;
  info.output_name = out.output(0);
  write_onnx_metadata(proto, info);
  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {
    throw Error(std::string("ftmeta: export_onnx: ONNX's checker rejects the exported model: ") + e.what());
  }
  return proto;
}

/// Writes `model` as an ONNX file (atomically: a temporary file renamed into place) after ONNX's
/// checker accepted it. The file's metadata_props hold the class names, the model and the
/// preprocessing (read them back with read_onnx_info).
///   ftmeta::nn::export_onnx(*net, "model.onnx", {.class_names = names, .preprocessing = onnx_preprocessing<EvalAug<224>>()});
template <ModelSpec Spec>
void export_onnx(ClassifierImpl<Spec>& model, const std::filesystem::path& path, const OnnxExportOptions& options) {
  const auto proto = build_onnx_model(model, options);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  const auto tmp = path.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !proto.SerializeToOstream(&out) || !out.flush())
      throw FileError("ftmeta: export_onnx: cannot write " + path.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw FileError("ftmeta: export_onnx: cannot write " + path.string() + ": " + ec.message());
  }
}
template <ModelSpec Spec>
void export_onnx(Classifier<Spec>& model, const std::filesystem::path& path, const OnnxExportOptions& options) {
  export_onnx(*model, path, options);
}

}  // namespace ftmeta::nn
