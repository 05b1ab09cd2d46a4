// Builds a small ftmeta model from the installed headers and runs one forward pass.
#include <ftmeta.hpp>

#include <iostream>

struct ConsumerHead : ftmeta::nn::Head<ftmeta::nn::Dropout<0.2>, ftmeta::nn::Linear<ftmeta::nn::Classes>> {};
struct ConsumerNet : ftmeta::nn::Model<ftmeta::nn::backbones::EfficientNetLite0, ftmeta::nn::AvgPool, ConsumerHead> {};

int main() {
  ftmeta::nn::Classifier<ConsumerNet> net(3);
  net->eval();
  auto logits = net->forward(torch::rand({2, 3, 32, 32}));
  if (logits.size(0) != 2 || logits.size(1) != 3) return 1;
  std::cout << "consumer ok: " << ConsumerNet::describe() << "\n";
  return 0;
}
