// nosharing rsa A.npz B.(npz|npy) [--permutations N] [--seed S] [--json]
// Representational similarity analysis (analysis/rsa.h): each layer of A (an activations
// file, `nosharing activations`) as an RDM (1 − Pearson between stimuli), compared by
// Spearman's ρ with each layer of B (another activations file over the same stimuli) or with
// a given RDM (.npy [N, N], e.g. from brain recordings), with a permutation p-value.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "nosharing/analysis/rsa.h"
#include "nosharing/core/error.h"
#include "nosharing/core/json_number.h"
#include "nosharing/data/npy.h"
#include "nosharing/data/npz.h"

namespace nosharing::cli {
namespace rsa_command {  // named, not anonymous: the CLI compiles in unity batches

struct RsaArgs {
  std::string a, b;
  int64_t permutations = 1000;
  uint64_t seed = 0;
  bool json = false;
};

// The RDMs of an activations file, one per array, in the file's order.
NamedArrays activation_rdms(const std::string& path) {
  NamedArrays rdms;
  for (const auto& [name, values] : read_npz(path)) {
    if (values.dim() < 2) {
      throw_runtime("{}: array '{}' is {}; expected activations [stimuli, …]", path, name,
                    c10::str(values.sizes()));
    }
    rdms.emplace_back(name, dissimilarity_matrix(values));
  }
  if (rdms.empty()) throw_runtime("{}: no arrays in the file", path);
  return rdms;
}

int run_rsa(const RsaArgs& args) {
  namespace fs = std::filesystem;
  if (args.permutations < 0) {
    throw_usage("--permutations {}: expected a count ≥ 0", args.permutations);
  }
  const NamedArrays a = activation_rdms(args.a);
  const int64_t stimuli = a.front().second.size(0);
  for (const auto& [name, rdm] : a) {
    if (rdm.size(0) != stimuli) {
      throw_runtime("{}: '{}' has {} stimuli, '{}' {}", args.a, name, rdm.size(0), a.front().first,
                    stimuli);
    }
  }
  NamedArrays b;
  if (fs::path(args.b).extension() == ".npy") {
    const torch::Tensor rdm = read_npy(args.b);
    if (rdm.dim() != 2 || rdm.size(0) != stimuli || rdm.size(1) != stimuli) {
      throw_runtime("{}: an RDM of {}; expected [{}, {}] for the {} stimuli of {}", args.b,
                    c10::str(rdm.sizes()), stimuli, stimuli, stimuli, args.a);
    }
    b.emplace_back("rdm", rdm);
  } else {
    b = activation_rdms(args.b);
    for (const auto& [name, rdm] : b) {
      if (rdm.size(0) != stimuli) {
        throw_runtime("{}: '{}' has {} stimuli, {} has {}: compare responses to the same images",
                      args.b, name, rdm.size(0), args.a, stimuli);
      }
    }
  }
  nlohmann::json comparisons = nlohmann::json::array();
  for (const auto& [a_name, a_rdm] : a) {
    for (const auto& [b_name, b_rdm] : b) {
      const RdmComparison c = compare_rdms(a_rdm, b_rdm, args.permutations, args.seed);
      comparisons.push_back({{"a", a_name},
                             {"b", b_name},
                             {"spearman", json_number(c.spearman)},
                             {"p_value", json_number(c.p_value)}});
    }
  }
  if (args.json) {
    const nlohmann::json result = {{"a", args.a},
                                   {"b", args.b},
                                   {"stimuli", stimuli},
                                   {"permutations", args.permutations},
                                   {"seed", args.seed},
                                   {"comparisons", comparisons}};
    std::printf("%s\n", result.dump(2).c_str());
    return 0;
  }
  std::printf("Spearman ρ of the RDMs (1 − Pearson over %lld stimuli), permutation p (%lld)\n",
              static_cast<long long>(stimuli), static_cast<long long>(args.permutations));
  for (const auto& c : comparisons) {
    const auto number = [](const nlohmann::json& v, const char* format) {
      char text[32];
      if (v.is_null()) return std::string("nan");
      std::snprintf(text, sizeof text, format, v.get<double>());
      return std::string(text);
    };
    std::printf("%-10s %-10s ρ %s  p %s\n", c["a"].get<std::string>().c_str(),
                c["b"].get<std::string>().c_str(), number(c["spearman"], "%.4f").c_str(),
                number(c["p_value"], "%.4g").c_str());
  }
  return 0;
}

}  // namespace rsa_command

void add_rsa_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<rsa_command::RsaArgs>();
  CLI::App* sub = app.add_subcommand(
      "rsa", "compare representations: RDMs of activations (.npz) against another's or an RDM (.npy)");
  sub->add_option("a", args->a, "activations .npz (nosharing activations)")->required();
  sub->add_option("b", args->b, "activations .npz over the same stimuli, or an RDM .npy [N, N]")
      ->required();
  sub->add_option("--permutations", args->permutations, "relabelings for the p-value (default 1000)");
  sub->add_option("--seed", args->seed, "seed of the relabelings (default 0)");
  sub->add_flag("--json", args->json, "print JSON");
  sub->callback([args, &run] { run = [args] { return rsa_command::run_rsa(*args); }; });
}

}  // namespace nosharing::cli
