// nosharing: train and analyse topographic vision networks without weight sharing.
#include <c10/util/Exception.h>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/commands.h"
#include "nosharing/core/error.h"
#include "nosharing/core/large_buffer_pool.h"
#include "nosharing/core/threads.h"

namespace nosharing::cli {

std::string g_command_line;

std::string command_line_of(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) line += (i ? " " : "") + std::string(argv[i]);
  return line;
}

std::string one_line_message(const std::exception& error) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
  std::string text = torch_error != nullptr ? torch_error->what_without_backtrace() : error.what();
  const auto end = text.find('\n');
  if (end != std::string::npos) text.resize(end);
  return text;
}

}  // namespace nosharing::cli

int main(int argc, char** argv) {
  using namespace nosharing;
  ensure_short_waiting(argv);
  // Large CPU tensors recycled, not mapped afresh every step (core/large_buffer_pool.h).
  install_cpu_allocator_from_environment();
  // A peer that died (a killed rank of a data-parallel run) must surface as a write error on
  // its socket, which the collective reports in one line, not as SIGPIPE silently killing this
  // process too (which also hid which rank failed first from the --nproc launcher).
  std::signal(SIGPIPE, SIG_IGN);
  cli::g_command_line = cli::command_line_of(argc, argv);
  CLI::App app{"nosharing: train and analyse topographic vision networks without weight sharing"};
  app.require_subcommand(1);
  cli::CommandRun run;
  cli::add_train_command(app, run);
  cli::add_eval_command(app, run);
  cli::add_info_command(app, run);
  cli::add_config_command(app, run);
  cli::add_analyze_command(app, run);
  cli::add_compare_command(app, run);
  cli::add_measure_map_command(app, run);
  cli::add_export_command(app, run);
  cli::add_activations_command(app, run);
  cli::add_rsa_command(app, run);
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) known = known || sub->check_name(argv[1]);
    if (!known) {
      std::fprintf(stderr,
                   "nosharing: unknown command '%s'; expected train, eval, analyze, compare, "
                   "measure-map, info or config\n",
                   argv[1]);
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "nosharing: %s (see nosharing --help)\n", cli::one_line_message(e).c_str());
    return 2;
  }
  try {
    return run();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "nosharing: %s\n", cli::one_line_message(e).c_str());
    return 2;
  } catch (const RuntimeError& e) {
    std::fprintf(stderr, "nosharing: %s\n", cli::one_line_message(e).c_str());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "nosharing: %s\n", cli::one_line_message(e).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nosharing: %s\n", cli::one_line_message(e).c_str());
    return 1;
  }
}
