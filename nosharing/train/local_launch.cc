#include "nosharing/train/local_launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "nosharing/core/error.h"

extern char** environ;

namespace nosharing {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<int> g_interrupts{0};   // SIGINTs received
std::atomic<int> g_termination{0};  // SIGTERM or SIGHUP received (the signal)

void on_interrupt(int) { ++g_interrupts; }
void on_termination(int signal) { g_termination = signal; }

// Installs the launcher's handlers for its lifetime and restores the previous ones.
class LauncherSignals {
 public:
  LauncherSignals() {
    g_interrupts = 0;
    g_termination = 0;
    install(SIGINT, on_interrupt, &old_int_);
    install(SIGTERM, on_termination, &old_term_);
    install(SIGHUP, on_termination, &old_hup_);
  }
  ~LauncherSignals() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGHUP, &old_hup_, nullptr);
  }

 private:
  static void install(int signal, void (*handler)(int), struct sigaction* old) {
    struct sigaction action {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    ::sigaction(signal, &action, old);
  }
  struct sigaction old_int_ {
  }, old_term_{}, old_hup_{};
};

struct Worker {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  int status = 0;  // waitpid status once it ended
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status),
                       ::strsignal(WTERMSIG(status)));
  }
  return "stopped";
}

// Forks and execs one worker. Everything the child touches is prepared before fork: after
// it, only async-signal-safe calls (the parent may run other threads).
pid_t spawn(const std::string& executable, std::vector<std::string>& argv_strings,
            std::vector<std::string>& env_strings) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(executable.c_str()));
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0)
    throw_runtime("--nproc: cannot start a worker: fork failed ({})", std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);  // Ctrl-C in the terminal reaches the launcher only
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the launcher died before prctl
    ::execve(argv[0], argv.data(), envp.data());
    static const char message[] = "nosharing: --nproc: cannot execute the worker binary\n";
    [[maybe_unused]] const auto written = ::write(STDERR_FILENO, message, sizeof(message) - 1);
    ::_exit(127);
  }
  return pid;
}

// Reaps every worker that ended; returns how many are still running.
int reap(std::vector<Worker>& workers, std::vector<Worker*>* ended) {
  int running = 0;
  for (Worker& w : workers) {
    if (!w.running) continue;
    int status = 0;
    const pid_t r = ::waitpid(w.pid, &status, WNOHANG);
    if (r == w.pid) {
      w.running = false;
      w.status = status;
      if (ended) ended->push_back(&w);
    } else {
      ++running;
    }
  }
  return running;
}

void signal_all(std::vector<Worker>& workers, int signal) {
  for (const Worker& w : workers) {
    if (w.running) ::kill(w.pid, signal);
  }
}

// SIGTERM to the running workers, SIGKILL to those still running after `grace`.
void stop_all(std::vector<Worker>& workers, std::chrono::milliseconds grace) {
  signal_all(workers, SIGTERM);
  const auto deadline = Clock::now() + grace;
  while (reap(workers, nullptr) > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  signal_all(workers, SIGKILL);
  while (reap(workers, nullptr) > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

}  // namespace

int pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    throw_runtime("--nproc: cannot open a socket to find a free port ({})", std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(fd);
    throw_runtime("--nproc: cannot find a free port on 127.0.0.1 ({})", std::strerror(error));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

int run_local_workers(const LocalLaunchOptions& options) {
  if (options.nproc < 1) throw_usage("--nproc {}: expected ≥ 1", options.nproc);
  const int port = options.master_port > 0 ? options.master_port : pick_free_port();
  static const char* const kOwnVariables[] = {
      "RANK=", "WORLD_SIZE=", "LOCAL_RANK=", "LOCAL_WORLD_SIZE=", "MASTER_ADDR=", "MASTER_PORT="};
  std::vector<std::string> base_env;
  for (char** e = environ; *e != nullptr; ++e) {
    bool own = false;
    for (const char* prefix : kOwnVariables)
      own = own || std::strncmp(*e, prefix, std::strlen(prefix)) == 0;
    if (!own) base_env.emplace_back(*e);
  }

  LauncherSignals signals;
  std::vector<Worker> workers(static_cast<size_t>(options.nproc));
  std::vector<std::string> arguments = options.arguments;
  for (int r = 0; r < options.nproc; ++r) {
    std::vector<std::string> env = base_env;
    env.push_back("RANK=" + std::to_string(r));
    env.push_back("LOCAL_RANK=" + std::to_string(r));
    env.push_back("WORLD_SIZE=" + std::to_string(options.nproc));
    env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(options.nproc));
    env.push_back("MASTER_ADDR=127.0.0.1");
    env.push_back("MASTER_PORT=" + std::to_string(port));
    for (const auto& extra : options.environment) env.push_back(extra);
    Worker& w = workers[static_cast<size_t>(r)];
    w.rank = r;
    try {
      w.pid = spawn(options.executable, arguments, env);
    } catch (...) {
      stop_all(workers, options.grace);
      throw;
    }
    w.running = true;
  }

  int interrupts_forwarded = 0;
  bool any_interrupted = false;
  bool terminated = false;
  for (;;) {
    std::vector<Worker*> ended;
    const int running = reap(workers, &ended);
    // Of the workers that ended together, one killed by a signal is the cause and the others'
    // errors its consequence: report it first.
    std::stable_sort(ended.begin(), ended.end(), [](const Worker* a, const Worker* b) {
      return WIFSIGNALED(a->status) && !WIFSIGNALED(b->status);
    });
    for (const Worker* w : ended) {
      const bool clean = WIFEXITED(w->status) && WEXITSTATUS(w->status) == 0;
      // A worker interrupted (by a forwarded Ctrl-C, or a SIGINT of its own: the ranks agree
      // to stop after the same step) checkpoints and exits 130; after a second Ctrl-C the
      // workers were killed.
      const bool interrupted =
          (WIFEXITED(w->status) && WEXITSTATUS(w->status) == 130) || interrupts_forwarded > 1;
      if (interrupted) any_interrupted = true;
      if (clean || interrupted || terminated) continue;
      // One worker failed: the others cannot go on without it.
      const int others = running;
      stop_all(workers, options.grace);
      const std::string message = fmt::format(
          "--nproc {}: worker rank {} (pid {}) {}; stopped the other {} worker{}", options.nproc,
          w->rank, w->pid, describe_status(w->status), others, others == 1 ? "" : "s");
      if (WIFEXITED(w->status) && WEXITSTATUS(w->status) == 2) throw UsageError(message);
      throw RuntimeError(message);
    }
    if (running == 0) break;
    const int interrupts = g_interrupts.load();
    if (interrupts > interrupts_forwarded) {
      if (interrupts_forwarded == 0) {
        signal_all(workers, SIGINT);  // every worker checkpoints after the same step
      } else {
        signal_all(workers, SIGKILL);  // a second Ctrl-C: stop now
      }
      interrupts_forwarded = interrupts;
    }
    if (g_termination.load() != 0 && !terminated) {
      terminated = true;
      stop_all(workers, options.grace);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (terminated) return 128 + g_termination.load();
  if (interrupts_forwarded > 0 || any_interrupted) return 130;
  return 0;
}

}  // namespace nosharing
