// nosharing analyze --run RUN_DIR [--out DIR] [--quiet]
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "nosharing/run_analysis/analyze_run.h"

namespace nosharing::cli {
namespace {

struct AnalyzeArgs {
  std::string run;
  std::string out;
  bool quiet = false;
};

}  // namespace

std::string analyze_and_report(const std::string& run_dir, const std::string& out_dir, bool quiet) {
  const AnalyzeRunResult result = analyze_run(run_dir, out_dir);
  if (!quiet) std::printf("analysis %s\n", result.analysis_json.c_str());
  return result.report;
}

void add_analyze_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<AnalyzeArgs>();
  CLI::App* sub = app.add_subcommand(
      "analyze", "measure the maps of a trained run: analysis.json and report/index.html");
  sub->add_option("--run", args->run, "run directory")->required();
  sub->add_option("--out", args->out, "folder for analysis.json and report/ (default: the run)");
  sub->add_flag("--quiet", args->quiet, "print only the report path");
  sub->callback([args, &run] {
    run = [args] {
      const std::string report = analyze_and_report(args->run, args->out, args->quiet);
      std::printf("%s\n", report.c_str());
      return 0;
    };
  });
}

}  // namespace nosharing::cli
