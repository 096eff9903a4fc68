// The one place every configuration key is declared. `nosharing config` prints them in this
// order. A key's default fixes its type; string keys may list their allowed values.
#include "nosharing/core/config.h"

namespace nosharing {
namespace {

using Ints = std::vector<int64_t>;
using Doubles = std::vector<double>;
using Strings = std::vector<std::string>;

std::vector<ConfigKeySpec> make_schema() {
  const Strings kAutoBool = {"auto", "true", "false"};
  return {
      // --- model ---
      {"model.preset", std::string("fmnist-hypercolumn-topo"),
       "named starting point whose keys sit between the defaults and your config", {}},
      {"model.type", std::string("lcnet"),
       "model family: lcnet (locally connected classifier), mapformer (column transformer "
       "without weight sharing, seed 000), wlsc (sparse coding on a sheet, unlabelled patches) "
       "or resnet (a CIFAR ResNet with every conv unshared, Pogodin et al.)",
       {"lcnet", "mapformer", "wlsc", "resnet"}},
      {"model.sharing", std::string("none"),
       "none: every position owns its weights; conv: the weight-shared twin", {"none", "conv"}},
      {"model.channels", Ints{32, 64},
       "output channels of each locally connected layer (resnet: the width of each stage)", {}},
      {"model.blocks", int64_t{3}, "resnet: basic blocks per stage (6n + 2 layers)", {}},
      {"model.kernels", Ints{5, 3}, "kernel size of each layer (one value: all layers)", {}},
      {"model.strides", Ints{2, 2}, "stride of each layer (one value: all layers)", {}},
      {"model.paddings", Ints{},
       "zero padding of each layer (empty: kernel // 2; one value: all layers)", {}},
      {"model.norm", std::string("batch"),
       "normalisation after each layer: batch (per channel), batch_position (per channel and "
       "position, unshared too), none",
       {"batch", "batch_position", "none"}},
      {"model.hidden", Ints{},
       "widths of the fully connected hidden layers before the classifier (empty: none)", {}},
      {"model.lc_path", std::string("fast"),
       "implementation of the unshared layers (locally connected, and the mapformer's column "
       "linear layers): fast (CPU kernel) or reference (plain LibTorch unfold/transpose + bmm, "
       "the oracle; same results, slower)",
       {"fast", "reference"}},
      {"model.lc_init", std::string("independent"),
       "initial kernels of the locally connected layers: independent (a draw per position) or "
       "shared (one draw repeated at every position: the net starts as its conv twin; averaging "
       "P independent draws, as a first instant sleep does, shrinks a kernel by √P)",
       {"independent", "shared"}},
      {"model.dropout", 0.0, "dropout before each fully connected layer", {}},
      {"model.retina", std::string("none"),
       "lcnet: a fixed (not learned) stage before the first layer: none, or dog (each input "
       "channel filtered by a centre-surround difference of Gaussians, as retina and LGN do: "
       "the first layer sees local contrast, not brightness)",
       {"none", "dog"}},
      {"model.retina_sigmas", Doubles{1.0, 2.0},
       "model.retina = dog: [centre, surround] Gaussian σ in input pixels", {}},
      {"model.layout", std::string("column"),
       "sheet layout of each unshared layer's units: column (all channels at their position), "
       "hypercolumn (channels tiled as √C×√C blocks; C must be a square), retinotopic "
       "(positions scaled to model.sheet_extent, channels jittered inside their tile)",
       {"column", "hypercolumn", "retinotopic"}},
      {"model.jitter", 1.0,
       "retinotopic layout: channel offsets inside a position's tile, as a fraction of the "
       "tile side in [0, 1] (seeded by train.seed)", {}},
      {"model.sheet_extent", Doubles{},
       "retinotopic layout: physical side of each layer's sheet, e.g. mm (one value: all "
       "layers; empty: grid units)", {}},
      // --- mapformer (DESIGN §2, seed 000; nosharing/models/mapformer.h, docs/mapformer.md) ---
      {"model.patch", int64_t{4},
       "mapformer: patch side p in pixels; the grid of columns is (H/p)×(W/p)", {}},
      {"model.dim", int64_t{64}, "mapformer: channels D of every column", {}},
      {"model.depth", int64_t{4}, "mapformer: blocks (column attention + column MLP)", {}},
      {"model.mlp_ratio", 0.125,
       "mapformer: column MLP hidden width max(1, round(D · mlp_ratio)) per column", {}},
      {"model.embedding", std::string("unshared"),
       "mapformer: patch embedding, unshared (a linear map per column) or shared (one for all "
       "patches, a p×p stride-p convolution)",
       {"unshared", "shared"}},
      {"model.content_attn", true,
       "mapformer: content term q_i·x_j/√D of the column attention logits", {}},
      {"model.spatial_bias", true, "mapformer: learned spatial bias B_ij of the attention logits",
       {}},
      {"model.bias_init", std::string("zeros"),
       "mapformer: spatial bias initialisation, zeros (the seed) or gaussian "
       "(max(−d²/2σ², −8), σ = model.bias_sigma)",
       {"zeros", "gaussian"}},
      {"model.bias_sigma", 2.0, "mapformer: σ of the gaussian bias initialisation, grid units", {}},
      {"model.attn_dropout", 0.0, "mapformer: dropout on the attention maps in training", {}},
      {"model.drop_path", 0.0,
       "mapformer: stochastic depth rate of the last block (rising linearly from 0 at the "
       "first)", {}},
      {"model.layerwise", false,
       "mapformer: stop gradients between blocks (LoCo-style): each block learns from its own "
       "auxiliary losses, the last also from the classifier", {}},
      {"model.aux_wiring", 0.0,
       "mapformer: weight of the wiring cost of the attention maps, mean over blocks of "
       "mean_b (1/L) Σ_ij A_ij √(1 + d_ij²) (0: off)", {}},
      {"model.aux_infonce", 0.0,
       "mapformer: weight of the local InfoNCE on every block's output columns, mean over "
       "blocks (topography.anchors/negatives/sigma/tau; 0: off)", {}},
      {"model.aux_smoothness", 0.0,
       "mapformer: weight of the kernel smoothness of the column-owned weights (embedding, "
       "each block's MLP), mean over layers of (1 − S)/2, S the mean cosine of a channel's "
       "weights in adjacent columns (0: off)", {}},
      // --- wlsc (DESIGN §2; sparse coding on a sheet; docs/wlsc.md) ---
      {"wlsc.atoms", int64_t{256}, "dictionary size N, a perfect square (√N×√N sheet)", {}},
      {"wlsc.steps", int64_t{30}, "unrolled encoder steps T", {}},
      {"wlsc.encoder", std::string("ista"),
       "ista (step η = s/L, L = ‖A‖² + 2β·λ_max(Laplacian)), fista (ISTA with Nesterov's "
       "momentum, Beck & Teboulle 2009: the same fixed point, error O(1/T²) instead of O(1/T)) "
       "or lista (learned W_e, S, θ)",
       {"ista", "fista", "lista"}},
      {"wlsc.step_size", std::string("fixed"),
       "ISTA step scale s: fixed (wlsc.step_scale), learned (one exp(θ)), learned_per_step "
       "(one per step)",
       {"fixed", "learned", "learned_per_step"}},
      {"wlsc.step_scale", 1.0, "fixed ISTA step as a fraction of 1/L (≤ 1: guaranteed descent)",
       {}},
      {"wlsc.lambda", 0.1, "sparsity weight λ of λ‖x‖₁", {}},
      {"wlsc.beta", 0.0, "weight β of the Laplacian forms (0: plain sparse coding)", {}},
      {"wlsc.laplacian", Strings{},
       "Laplacian forms in the loss, any of atoms (Σ W_ij‖a_i − a_j‖²), codes "
       "(Σ W_ij (x_i − x_j)²), bipartite (Σ_j x_j‖y − a_j‖², needs wlsc.nonnegative)", {}},
      {"wlsc.nonnegative", false, "non-negative codes (one-sided soft threshold)", {}},
      {"wlsc.radius", 1.5, "sheet neighbourhood radius in grid units (1: 4, 1.5: 8 neighbours)",
       {}},
      {"wlsc.sigma", 1.0, "neighbour weight W_ij = exp(−d²/2σ²), grid units", {}},
      {"wlsc.gradient", std::string("unrolled"),
       "dictionary gradient: unrolled (through the encoder steps) or fixed_codes (codes as "
       "constants, classical sparse coding; ista only)",
       {"unrolled", "fixed_codes"}},
      {"wlsc.good_fit_r2", 0.8,
       "analysis: an atom fits a Gabor well if R² ≥ this (and its centre lies in the patch)", {}},
      // --- patches (wlsc's data: whitened patches of a flat image folder) ---
      {"patches.size", int64_t{12}, "patch side in pixels (after downsampling)", {}},
      {"patches.downsample", int64_t{2}, "box-average the greyscale images by this factor first",
       {}},
      {"patches.whitening", std::string("1/f"),
       "1/f (whole images, R(f) = f·exp(−(f/f0)⁴), Olshausen & Field), zca (on patches) or none",
       {"1/f", "zca", "none"}},
      {"patches.f0", 0.4, "1/f whitening roll-off in cycles per pixel", {}},
      {"patches.zca_epsilon", 0.01, "ZCA regulariser as a fraction of the mean eigenvalue", {}},
      {"patches.window_sigma", 0.0,
       "Gaussian window σ in pixels applied to every whitened patch, exp(−r²/2σ²) from the "
       "patch centre (0: no window)", {}},
      {"patches.contrast", std::string("global"),
       "contrast normalisation: global (E‖y‖² = 1 over training patches), patch "
       "(y/√(‖y‖² + 0.01), after global) or none",
       {"global", "patch", "none"}},
      {"patches.train", int64_t{50000}, "training patches (from the training images)", {}},
      {"patches.val", int64_t{5000},
       "validation patches (from the held-out images, data.val_fraction of them)", {}},
      // --- train ---
      {"train.epochs", int64_t{8}, "passes over the training split (the run stops at whichever of "
                                   "train.epochs and train.max_steps comes first)", {}},
      {"train.max_steps", int64_t{0}, "optimiser steps budget (0: no limit)", {}, 0},
      {"train.max_minutes", 0.0,
       "wall-clock budget of training in minutes, checked every step (0: no limit; a run cut "
       "by time is not reproducible step for step)", {}, 0},
      {"train.schedule_clock", std::string("steps"),
       "what the cosine schedule runs over: the step budget, or also the wall-clock budget "
       "train.max_minutes (whichever is further along; time-budgeted runs are not "
       "reproducible step for step)", {"steps", "time"}},
      {"train.batch_size", int64_t{128}, "distinct source images per optimiser step", {}},
      {"train.optimizer", std::string("sgd"), "optimiser", {"sgd", "adamw"}},
      {"train.lr", 0.05, "peak learning rate", {}},
      {"train.momentum", 0.9, "SGD momentum (AdamW: beta1)", {}},
      {"train.nesterov", true, "Nesterov momentum for SGD", {}},
      {"train.weight_decay", 5e-4,
       "weight decay (SGD: L2 added to the gradient; AdamW: decoupled)", {}},
      {"train.checkpoint_every", int64_t{0},
       "also write the checkpoint every n optimiser steps (0: at epoch ends, the end and "
       "Ctrl-C only)", {}, 0},
      {"train.checkpoint_minutes", 0.0,
       "also write the checkpoint every this many minutes of training (0: off)", {}, 0},
      {"train.fused_optimizer", true,
       "update each parameter in one pass (SGD, AdamW: the same formulas as LibTorch's, "
       "checkpoints interchangeable); false: LibTorch's own optimisers", {}},
      {"train.schedule", std::string("cosine"), "learning-rate schedule after warm-up",
       {"cosine", "step", "constant"}},
      {"train.warmup_steps", int64_t{100}, "linear warm-up from 0 to train.lr over these steps", {}, 0},
      {"train.step_epochs", int64_t{30}, "step schedule: multiply the rate by train.step_gamma "
                                         "every this many epochs", {}},
      {"train.step_gamma", 0.1, "step schedule: factor per step", {}},
      {"train.label_smoothing", 0.0, "label smoothing of the cross-entropy", {}},
      {"train.seed", int64_t{0}, "seed of initialisation, data order, split and augmentation", {}},
      {"train.threads", int64_t{0}, "compute threads (LibTorch and OpenBLAS; 0: all cores)", {}, 0},
      {"train.eval_every", int64_t{0},
       "evaluate every this many steps, besides every epoch end and the end (0: never extra)", {}, 0},
      {"train.log_every", int64_t{50}, "write a train line every this many steps", {}},
      {"train.eval_batch_size", int64_t{500}, "batch size of evaluation", {}},
      // --- data ---
      {"data.path", std::string("/usr/share/datasets/fashion-mnist"),
       "data folder; its format (IDX, CIFAR-10, CIFAR-100, image folders) is detected", {}},
      {"data.val_fraction", 0.1, "fraction of the training images held out for validation", {}},
      {"data.limit", int64_t{0}, "use only the first N training images (0: all), before the split",
       {}},
      {"data.threads", int64_t{2}, "background threads preparing batches", {}, 0},
      {"data.image_size", int64_t{32},
       "side length images of folder data are resized to (IDX and CIFAR keep their own)", {}},
      // --- augment ---
      {"augment.crop", std::string("auto"),
       "random crop after zero padding (auto: on for colour images such as CIFAR)", kAutoBool},
      {"augment.crop_padding", int64_t{4}, "padding of the random crop, in pixels", {}},
      {"augment.flip", std::string("auto"),
       "random horizontal flip (auto: on for colour images such as CIFAR)", kAutoBool},
      {"augment.max_shift", 0.0,
       "translation augmentation: random integer shifts in x and y up to round(max_shift · "
       "side) pixels, zero fill (a fraction of the image side in [0, 1); 0: off)", {}},
      {"augment.repetitions", int64_t{1},
       "copies of each source image in a batch, each augmented independently (a step "
       "processes train.batch_size × repetitions images)", {}},
      // --- distributed (data-parallel runs: docs/distributed.md, nosharing/train/communicator.h) ---
      {"distributed.timeout_seconds", 300.0,
       "data-parallel runs: longest wait for the rendezvous or any collective before the run "
       "stops with an error (a rank that died, stalled or never joined)", {}},
      {"distributed.bucket_mb", 25.0,
       "data-parallel runs: size of the gradient buckets all-reduced together, in MB", {}},
      {"distributed.overlap", true,
       "data-parallel runs: all-reduce each gradient bucket as soon as backward completes it "
       "(false: all buckets after backward)", {}},
      // --- analysis (DESIGN §5: `nosharing analyze`, and the end of `nosharing train`) ---
      {"analysis.dprime_threshold", 0.85,
       "category patches: regions where d′ exceeds this (All-TNN's 0.85)", {}},
      {"analysis.min_patch_area", int64_t{4},
       "category patches: smallest region counted, in sheet cells", {}},
      {"analysis.max_images", int64_t{2000},
       "validation images measured for category selectivity (0: all)", {}},
      {"analysis.orientations", int64_t{16}, "grating orientations in [0°, 180°) (≥ 8)", {}},
      {"analysis.phases", int64_t{4}, "grating phases (≥ 4)", {}},
      {"analysis.periods", Doubles{3.0, 5.0, 8.0, 12.0},
       "grating periods in input pixels (≥ 3 spatial frequencies)", {}},
      {"analysis.rf_units", int64_t{256},
       "units per layer whose receptive-field centre is measured (input gradients)", {}},
      {"analysis.pinwheel_sigma", 1.0,
       "Gaussian smoothing of orientation maps before pinwheel detection, in sheet cells", {}},
      {"analysis.min_periods", 2.0,
       "pinwheel density only when the map's shorter side spans this many column spacings Λ "
       "(pinwheels are counted at least ½ Λ inside the border)",
       {}},
      // --- sharing (DESIGN §3: dynamic weight sharing, Pogodin et al. 2021) ---
      {"sharing.mode", std::string("none"),
       "sleep phase on every unshared layer: none; instant (each kernel and bias replaced by "
       "its class mean); hebbian (lateral-inhibition relaxation towards the class mean)",
       {"none", "instant", "hebbian"}},
      {"sharing.every", int64_t{100}, "run the sleep phase every this many optimiser steps", {}},
      {"sharing.classes", std::string("all"),
       "positions that share: all; phase (equal y mod m and x mod m, m = k / gcd(k, stride): "
       "m² classes); local (sharing.group × sharing.group blocks)",
       {"all", "phase", "local"}},
      {"sharing.group", int64_t{2}, "side of the blocks of sharing.classes = local, in positions",
       {}},
      {"sharing.iters", int64_t{100}, "hebbian: iterations per sleep phase", {}},
      {"sharing.batch", int64_t{128}, "hebbian: N(0, 1) input patches per iteration", {}},
      {"sharing.eta", 0.1,
       "hebbian: rate η; the step uses η·B/(B + d), B = sharing.batch, d = fan-in, which "
       "stays stable at any fan-in", {}},
      {"sharing.gamma", 1e-5, "hebbian: pull γ towards the weights before the sleep phase", {}},
      {"sharing.gradient_scale", std::string("none"),
       "none; class_size: every unshared kernel's and bias's gradient times the number of "
       "positions in its sharing class (sharing.classes), so that under SGD the class mean moves "
       "as the twin's kernel would (the twin's gradient is the sum over positions); weight decay "
       "unscaled; applies with sharing.mode = none too",
       {"none", "class_size"}},
      // --- topography (DESIGN §4: a TopographicLoss on every unshared layer's sheet) ---
      {"topography.loss", std::string("none"),
       "topographic loss on every unshared layer: none, infonce (local InfoNCE on columns), "
       "kernel_smoothness (All-TNN), spatial_correlation (TDANN), topoloss (Deb et al.), "
       "wiring (wiring cost of the connection weights), lateral_interaction (Mexican hat: "
       "neighbours alike, units half a column spacing apart unlike)",
       {"none", "infonce", "kernel_smoothness", "spatial_correlation", "topoloss", "wiring",
        "lateral_interaction"}},
      {"topography.weight", -1.0,
       "weight of the loss on every layer (< 0: the loss's paper weight: kernel_smoothness "
       "10, spatial_correlation 0.25, topoloss 1; ours: infonce 0.1, wiring 1e-4, "
       "lateral_interaction 30)", {}},
      {"topography.layer_losses", Strings{},
       "per-layer losses overriding topography.loss, one per unshared layer in order (each a "
       "topography.loss name; none: no loss on that layer; empty: topography.loss everywhere)",
       {}},
      {"topography.layer_weights", Doubles{},
       "per-layer weights overriding topography.weight, one per unshared layer in order (0: "
       "no loss on that layer; empty: topography.weight everywhere, and where it is < 0 each "
       "layer's loss at its default weight)", {}},
      {"topography.every", int64_t{1},
       "apply the topographic losses on every n-th step only, weighted n times (lazy "
       "regularisation, Karras et al. 2020): the same mean gradient for 1/n of their cost", {}},
      {"topography.layer_start", Doubles{},
       "per-layer onset: the fraction of training before which that layer's loss is off, one "
       "per unshared layer in [0, 1) (of the steps; with train.schedule_clock = time of the "
       "steps or the time budget, whichever is further along); empty: every loss from the start",
       {}},
      {"topography.anchors", int64_t{256},
       "infonce: anchor columns sampled per step and layer (mapformer: per block)", {}},
      {"topography.negatives", int64_t{256},
       "infonce: negative columns (of other images) sampled per step and layer (mapformer: "
       "per block)", {}},
      {"topography.sigma", 2.0, "infonce (also the mapformer's): neighbour kernel width σ, in grid units", {}},
      {"topography.tau", 0.1, "infonce (also the mapformer's): temperature τ", {}},
      {"topography.radius", 3.0,
       "spatial_correlation: neighbourhood radius in sheet units (grid units for column, "
       "cells for hypercolumn, physical units for retinotopic)", {}},
      {"topography.units", int64_t{500},
       "spatial_correlation: at most this many units per neighbourhood", {}},
      {"topography.neighbourhoods", int64_t{1},
       "spatial_correlation: neighbourhoods averaged per step and layer", {}},
      {"topography.factor", 3.0, "topoloss: blur factor f (down- then up-sampling)", {}},
      {"topography.coverage", 0.0,
       "kernel_smoothness: weight γ of the coverage term γ·mean cos²(v_c, v_c') over the "
       "channel pairs of each position (continuity against coverage, Durbin & Mitchison "
       "1990): neighbours alike, but every position's channels different (0: off)", {}},
      {"topography.spacing", 12.0,
       "lateral_interaction: the column spacing Λ its difference of Gaussians selects, in "
       "sheet cells (> 2)", {}},
      {"topography.surround", 2.0,
       "lateral_interaction: surround width over centre width σi/σe (> 1)", {}},
      {"topography.field", std::string("kernels"),
       "lateral_interaction: what interacts: kernels (the normalised kernels) or orientation "
       "(each kernel's orientation vector from its power spectrum: Swindale's energy of the "
       "orientation map, which also asks for oriented kernels)",
       {"kernels", "orientation"}},
  };
}

}  // namespace

const std::vector<ConfigKeySpec>& config_schema() {
  static const std::vector<ConfigKeySpec> schema = make_schema();
  return schema;
}

const ConfigKeySpec* find_config_key(const std::string& key) {
  for (const auto& spec : config_schema()) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

}  // namespace nosharing
