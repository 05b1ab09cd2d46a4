// ftmeta/train/default_policy.hpp: DefaultFineTune, the policy fine_tune runs unless told otherwise,
// and its two pipelines; copy it and change a line to make your own (docs/guide.md).
// ftmeta:pure
#pragma once

#include <ftmeta/optim/groups.hpp>
#include <ftmeta/optim/schedules.hpp>
#include <ftmeta/train/policy.hpp>
#include <ftmeta/transforms/compose.hpp>
#include <ftmeta/transforms/ops.hpp>

namespace ftmeta::train {

// [default_policy]
/// Training augmentation: a random crop of 35-100% of the image resized to the input side, a
/// horizontal flip, and the backbone's own normalization.
template <int Size, class Backbone>
struct FineTuneAugment : transforms::Compose<transforms::RandomResizedCrop<Size, Size, 0.35, 1.0>, transforms::HFlip,
                                             transforms::ToTensor, transforms::Normalize<Backbone>> {};
/// Evaluation (and prediction): the shorter side resized to the input side, a centre crop.
template <int Size, class Backbone>
struct FineTuneEvaluate : transforms::Compose<transforms::Resize<Size>, transforms::CenterCrop<Size>, transforms::ToTensor,
                                              transforms::Normalize<Backbone>> {};

/// The default: the head first on cached features of the frozen backbone (a linear probe for a
/// Linear head), then the whole network from that head with AdamW, the backbone at a tenth of the
/// head's rate, warmup then cosine (one cycle) over at least 300 steps and 3 passes, no weight decay on norms and
/// biases, label smoothing, the backbone's BatchNorm statistics frozen for small batches or data;
/// the final weights are kept (a small validation split is too noisy to pick an epoch by).
struct DefaultFineTune
    : FineTune<HeadFirst<Steps<1000>, Views<0>, optim::Lr<1e-3>, optim::WeightDecay<1e-4>>,
               optim::AdamW<optim::OneCycle<0, 0.1>,
                            optim::Group<optim::Weights<optim::BackbonePart>, optim::Lr<3e-4>, optim::WeightDecay<1e-2>>,
                            optim::Group<optim::NormAndBias<optim::BackbonePart>, optim::Lr<3e-4>, optim::WeightDecay<0>>,
                            optim::Group<optim::Weights<optim::HeadPart>, optim::Lr<3e-3>, optim::WeightDecay<1e-2>>,
                            optim::Group<optim::NormAndBias<optim::HeadPart>, optim::Lr<3e-3>, optim::WeightDecay<0>>>,
               AutoStatistics<32, 20000>, LabelSmoothing<0.1>, MinSteps<300>, MinEpochs<3>, BatchSize<32>, ChannelsLast, KeepFinal,
               Augment<FineTuneAugment>, Evaluate<FineTuneEvaluate>> {};
// [default_policy]

}  // namespace ftmeta::train
