// The subcommands of `nosharing` (DESIGN §8). Each adds itself to the app and sets
// `run` to the function main calls after parsing; errors are thrown (UsageError → exit 2,
// anything else → exit 1) and main prints them as one line.
#pragma once

#include <CLI/CLI.hpp>

#include <exception>
#include <functional>
#include <string>

namespace nosharing::cli {

using CommandRun = std::function<int()>;

void add_train_command(CLI::App& app, CommandRun& run);
void add_eval_command(CLI::App& app, CommandRun& run);
void add_info_command(CLI::App& app, CommandRun& run);
void add_config_command(CLI::App& app, CommandRun& run);
void add_analyze_command(CLI::App& app, CommandRun& run);
void add_compare_command(CLI::App& app, CommandRun& run);
void add_measure_map_command(CLI::App& app, CommandRun& run);
void add_export_command(CLI::App& app, CommandRun& run);
void add_activations_command(CLI::App& app, CommandRun& run);
void add_rsa_command(CLI::App& app, CommandRun& run);

// Analyses a run into out_dir (empty: the run directory), prints the analysis.json path
// unless quiet, and returns the report's index.html path.
std::string analyze_and_report(const std::string& run_dir, const std::string& out_dir, bool quiet);

// An error as the one line the CLI prints: the first line of what(), without LibTorch's
// backtrace for a c10::Error.
std::string one_line_message(const std::exception& error);

// Joins argv into one line for provenance.json.
std::string command_line_of(int argc, char** argv);
extern std::string g_command_line;

}  // namespace nosharing::cli
