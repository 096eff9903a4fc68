// nosharing compare RUN RUN... [--out DIR] [--json]
// Reads several run directories side by side (a sweep, e.g. of a loss weight) into
// compare.json and index.html; prints the page's path last.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "nosharing/report/compare_page.h"
#include "nosharing/report/run_comparison.h"
#include "nosharing/run_analysis/compare_runs.h"

namespace nosharing::cli {
namespace {

struct CompareArgs {
  std::vector<std::string> runs;
  std::string out = "compare";
  bool json = false;
};

int run_compare(const CompareArgs& args) {
  const RunComparison comparison = compare_runs(args.runs);
  const ComparisonFiles files = write_comparison(args.out, comparison);
  // --json: stdout is the JSON document alone, so it can be piped; the page is beside it.
  if (args.json) {
    std::printf("%s\n", comparison_to_json(comparison).dump(2).c_str());
    return 0;
  }
  for (const ComparedRun& run : comparison.runs) {
    if (!run.analysed) {
      std::printf("%s was not analysed (nosharing analyze --run %s)\n", run.dir.c_str(),
                  run.dir.c_str());
    }
  }
  if (!comparison.model_or_data_keys.empty()) {
    std::printf("runs of different models or data\n");
  }
  std::printf("comparison %s\n%s\n", files.json.c_str(), files.index.c_str());
  return 0;
}

}  // namespace

void add_compare_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* sub = app.add_subcommand(
      "compare", "compare several runs (e.g. a sweep): compare.json and compare/index.html");
  // Not ->required(): with fewer than two runs compare_runs names what was expected.
  sub->add_option("runs", args->runs, "run directories (two or more)");
  sub->add_option("--out", args->out, "folder for compare.json and index.html (default: compare)");
  sub->add_flag("--json", args->json, "print compare.json instead of the summary");
  sub->callback([args, &run] { run = [args] { return run_compare(*args); }; });
}

}  // namespace nosharing::cli
