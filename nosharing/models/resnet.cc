#include "nosharing/models/resnet.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "nosharing/core/error.h"

namespace nosharing {

ResNetOptions ResNetOptions::from_config(const Config& config, const InputShape& input,
                                         int64_t num_classes) {
  ResNetOptions o(input, num_classes);
  o.widths(config.get_int_list("model.channels"));
  o.blocks(config.get_int("model.blocks"));
  if (o.widths().empty()) throw_usage("model.channels = []: expected one width per stage");
  for (int64_t w : o.widths()) {
    if (w < 1) {
      throw_usage("model.channels = [{}]: a stage of width {}; expected >= 1",
                  fmt::join(o.widths(), ", "), w);
    }
  }
  if (o.blocks() < 1) throw_usage("model.blocks = {}: expected >= 1", o.blocks());
  o.sharing(config.get_string("model.sharing") == "conv" ? LcNetSharing::kConv
                                                          : LcNetSharing::kNone);
  o.reference_kernels(config.get_string("model.lc_path") == "reference");
  return o;
}

ResNetImpl::ResNetImpl(ResNetOptions options) : options_(std::move(options)) {
  const InputShape& input = options_.input();
  int64_t height = input.height, width = input.width;
  const int64_t stages = static_cast<int64_t>(options_.widths().size());
  int64_t channels = options_.widths()[0];
  stem_ = make_unit("conv1", input.channels, channels, 3, 1, height, width);
  for (int64_t s = 0; s < stages; ++s) {
    const int64_t out = options_.widths()[static_cast<size_t>(s)];
    for (int64_t b = 0; b < options_.blocks(); ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      const std::string prefix = fmt::format("s{}b{}", s + 1, b + 1);
      TORCH_CHECK(height >= 2 || stride == 1, "resnet: input ", input.height, "×", input.width,
                  " is too small for ", stages, " stages");
      Block block;
      block.first = make_unit(prefix + "_conv1", channels, out, 3, stride, height, width);
      const int64_t next_height = (height - 1) / stride + 1, next_width = (width - 1) / stride + 1;
      block.second = make_unit(prefix + "_conv2", out, out, 3, 1, next_height, next_width);
      block.projection = stride != 1 || channels != out;
      if (block.projection) {
        block.shortcut = make_unit(prefix + "_shortcut", channels, out, 1, stride, height, width);
      }
      blocks_.push_back(std::move(block));
      channels = out;
      height = next_height;
      width = next_width;
    }
  }
  fc_ = register_module("fc", torch::nn::Linear(channels, options_.num_classes()));
}

std::vector<const ResNetImpl::ConvUnit*> ResNetImpl::units() const {
  std::vector<const ConvUnit*> out = {&stem_};
  for (const Block& block : blocks_) {
    out.push_back(&block.first);
    out.push_back(&block.second);
    if (block.projection) out.push_back(&block.shortcut);
  }
  return out;
}

ResNetImpl::ConvUnit ResNetImpl::make_unit(const std::string& name, int64_t in_channels,
                                           int64_t out_channels, int64_t kernel, int64_t stride,
                                           int64_t side_height, int64_t side_width) {
  ConvUnit unit;
  unit.name = name;
  const int64_t padding = kernel / 2;
  if (options_.sharing() == LcNetSharing::kNone) {
    unit.lc = register_module(
        name, LocallyConnected2d(LocallyConnected2dOptions(in_channels, out_channels, kernel,
                                                           side_height, side_width)
                                     .stride(stride)
                                     .padding(padding)
                                     .bias(false)
                                     .reference(options_.reference_kernels())));
  } else {
    unit.conv = register_module(
        name, torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, kernel)
                                    .stride(stride)
                                    .padding(padding)
                                    .bias(false)));
  }
  unit.norm = register_module(name + "_bn", torch::nn::BatchNorm2d(out_channels));
  return unit;
}

torch::Tensor ResNetImpl::apply(ConvUnit& unit, const torch::Tensor& x) {
  return unit.norm->forward(unit.lc ? unit.lc->forward(x) : unit.conv->forward(x));
}

torch::Tensor ResNetImpl::forward(torch::Tensor images) {
  check_input_images(images, options_.input(), "resnet");
  torch::Tensor x = torch::relu(apply(stem_, images));
  for (Block& block : blocks_) {
    const torch::Tensor y = apply(block.second, torch::relu(apply(block.first, x)));
    x = torch::relu(y + (block.projection ? apply(block.shortcut, x) : x));
  }
  return fc_->forward(x.mean({2, 3}));
}

std::vector<std::pair<std::string, LocallyConnected2d>> ResNetImpl::unshared_layers() const {
  std::vector<std::pair<std::string, LocallyConnected2d>> out;
  for (const ConvUnit* unit : units()) {
    if (unit->lc) out.emplace_back(unit->name, unit->lc);
  }
  return out;
}

std::vector<std::pair<std::string, torch::nn::Conv2d>> ResNetImpl::conv_layers() const {
  std::vector<std::pair<std::string, torch::nn::Conv2d>> out;
  for (const ConvUnit* unit : units()) {
    if (unit->conv) out.emplace_back(unit->name, unit->conv);
  }
  return out;
}

}  // namespace nosharing
