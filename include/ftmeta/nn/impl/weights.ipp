// ftmeta/nn/impl/weights.ipp: the definitions of weights.hpp's entry points (load_state_dict_file,
// load_into): included by that header when header-only, compiled once by src/ftmeta_core.cpp with
// FTMETA_SEPARATE_COMPILATION, so that a TU building a model does not compile the file readers.
#pragma once

#include <ftmeta/nn/weights.hpp>

namespace ftmeta::nn {

FTMETA_DECL StateDict load_state_dict_file(const std::filesystem::path& path) {
  const auto file = weights_file_in(path);
  std::ifstream in(file, std::ios::binary);
  if (!in) detail::weights_fail(file, "cannot be opened");
  char head[8] = {};
  in.read(head, sizeof head);
  const auto got = static_cast<std::size_t>(in.gcount());
  in.close();
  if (got >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return detail::load_zip(file);
  if (got >= 2 && static_cast<unsigned char>(head[0]) == 0x80 && static_cast<unsigned char>(head[1]) <= 5)
    return detail::load_legacy(file);
  if (detail::looks_like_safetensors(file)) return load_safetensors(file);
  detail::weights_fail(file, "is not a PyTorch weights file (neither a torch.save zip archive nor a legacy torch.save pickle)");
}

FTMETA_DECL LoadReport load_into(torch::nn::Module& module, const StateDict& state, const LoadOptions& options) {
  std::vector<std::pair<std::string, torch::Tensor>> targets;
  for (const auto& p : module.named_parameters(true)) targets.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(true)) targets.emplace_back(b.key(), b.value());
  std::unordered_map<std::string, std::size_t> target_at;
  for (std::size_t i = 0; i < targets.size(); ++i) target_at.emplace(targets[i].first, i);

  const bool strip = options.strip_module_prefix && !state.empty() &&
                     std::all_of(state.begin(), state.end(), [](const auto& e) { return e.first.starts_with("module."); });
  LoadReport report;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (destination, source)
  std::vector<bool> found(targets.size(), false);
  std::vector<std::string> mismatch(targets.size());
  std::string first_unexpected;
  for (const auto& [file_name, tensor] : state) {
    std::string name = strip ? file_name.substr(7) : file_name;
    for (const auto& [from, to] : options.rename_prefix)
      if (name.starts_with(from)) {
        name = to + name.substr(from.size());
        break;
      }
    if (detail::starts_with_any(name, options.skip_prefixes)) continue;
    auto it = target_at.find(name);
    if (it == target_at.end()) {
      report.unexpected.push_back(name);
      if (first_unexpected.empty()) first_unexpected = "'" + name + "' (not in the module)";
      continue;
    }
    if (found[it->second]) {
      report.unexpected.push_back(name + " (a second time, from '" + file_name + "')");
      if (first_unexpected.empty()) first_unexpected = "'" + name + "' (a second time)";
      continue;
    }
    found[it->second] = true;
    const auto& dst = targets[it->second].second;
    if (dst.sizes() != tensor.sizes()) {
      report.mismatched.push_back(name + ": file " + detail::shape_text(tensor) + ", module " + detail::shape_text(dst));
      mismatch[it->second] = "file " + detail::shape_text(tensor) + ", module " + detail::shape_text(dst);
      continue;
    }
    copies.emplace_back(dst, tensor);
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const bool missing = !found[i] && !detail::starts_with_any(targets[i].first, options.skip_prefixes);
    if (missing) report.missing.push_back(targets[i].first);
    if (report.first_offending.empty() && (missing || !mismatch[i].empty()))
      report.first_offending = "'" + targets[i].first + "' (" + (missing ? "missing from the file" : mismatch[i]) + ")";
  }
  if (report.first_offending.empty()) report.first_offending = first_unexpected;
  if (options.strict && !report.ok()) {  // one line: the first offending key, then the counts
    std::string all = report.describe();
    std::replace(all.begin(), all.end(), '\n', ';');
    throw WeightsError("the state dict does not fit the module, first at " + report.first_offending + "; " + all +
                       "; nothing was loaded (LoadOptions{.strict = false} loads what fits)");
  }
  torch::NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(src);
  report.loaded = copies.size();
  return report;
}

}  // namespace ftmeta::nn
