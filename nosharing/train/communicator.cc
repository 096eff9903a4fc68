#include "nosharing/train/communicator.h"

#include <c10/util/Logging.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "nosharing/core/error.h"

namespace nosharing {
namespace {

using Clock = std::chrono::steady_clock;

std::string first_line(std::string text) {
  const auto end = text.find('\n');
  if (end != std::string::npos) text.resize(end);
  return text;
}

// The reason of an exception from c10d or Gloo, on one line, without Gloo's
// "[./gloo/transport/tcp/pair.cc:589] " source prefix.
std::string reason_of(const std::exception& error) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  std::string text = first_line(c10_error ? c10_error->what_without_backtrace() : error.what());
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find("] ");
    if (close != std::string::npos && text.find(".cc:") < close) text = text.substr(close + 2);
  }
  return text;
}

double seconds_of(std::chrono::milliseconds timeout) { return timeout.count() / 1000.0; }

// c10d logs through glog while it retries connections ("The client socket has timed out
// …"); our error line says it once. Silences glog below FATAL while any instance lives.
class QuietC10dLogging {
 public:
  QuietC10dLogging() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (count_++ == 0) {
      saved_ = FLAGS_minloglevel;
      FLAGS_minloglevel = google::GLOG_FATAL;
    }
  }
  ~QuietC10dLogging() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--count_ == 0) FLAGS_minloglevel = saved_;
  }

 private:
  static inline std::mutex mutex_;
  static inline int count_ = 0;
  static inline int saved_ = 0;
};

// Strict integer parsing of an environment variable in [lo, hi].
int parse_env_int(const char* name, const std::string& text, int64_t lo, int64_t hi,
                  const std::string& range) {
  int64_t value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end || value < lo || value > hi) {
    throw_usage("environment variable {} = \"{}\": expected an integer in {}", name, text, range);
  }
  return static_cast<int>(value);
}

// Resolves host; throws a UsageError naming MASTER_ADDR if it cannot. Returns whether every
// address it resolves to is a loopback address.
bool resolve_master(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int status = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (status != 0 || found == nullptr) {
    throw_usage("environment variable MASTER_ADDR = \"{}\": cannot resolve the host name ({})",
                host, ::gai_strerror(status));
  }
  bool loopback = true;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      loopback = loopback && (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (a->ai_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      loopback = loopback && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    } else {
      loopback = false;
    }
  }
  ::freeaddrinfo(found);
  return loopback;
}

std::shared_ptr<::gloo::transport::Device> make_device(bool loopback) {
  const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
  try {
    if (interface != nullptr && *interface != '\0') {
      return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
    }
    if (loopback) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
    return c10d::ProcessGroupGloo::createDefaultDevice();
  } catch (const std::exception& error) {
    if (interface != nullptr && *interface != '\0') {
      throw_usage("environment variable GLOO_SOCKET_IFNAME = \"{}\": {}", interface,
                  reason_of(error));
    }
    throw_runtime(
        "cannot open a Gloo TCP device on this host: {} (set GLOO_SOCKET_IFNAME to "
        "the network interface to use)",
        reason_of(error));
  }
}

std::string rank_key(int rank) { return "nosharing/rank/" + std::to_string(rank); }

class PendingGlooReduce final : public PendingReduce {
 public:
  PendingGlooReduce(c10::intrusive_ptr<c10d::Work> work,
                    std::function<void(const std::exception&)> fail)
      : work_(std::move(work)), fail_(std::move(fail)) {}
  void wait() override {
    if (!work_) return;
    try {
      work_->wait();
    } catch (const std::exception& error) {
      work_.reset();
      fail_(error);
    }
    work_.reset();
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  std::function<void(const std::exception&)> fail_;
};

class GlooCommunicator final : public Communicator {
 public:
  // `where` describes the rendezvous in messages ("127.0.0.1:29500", "file /x/store").
  GlooCommunicator(c10::intrusive_ptr<c10d::Store> store, int rank, int world_size,
                   const DistributedOptions& options, bool loopback, const std::string& where)
      : store_(std::move(store)),
        rank_(rank),
        world_(world_size),
        timeout_(options.timeout),
        where_(where) {
    store_->setTimeout(timeout_);
    join();
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout_);
    gloo_options->devices.push_back(make_device(loopback));
    gloo_options->threads = 2;
    try {
      QuietC10dLogging quiet;
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, rank_, world_, gloo_options);
    } catch (const std::exception& error) {
      throw_runtime(
          "rank {} of {}: connecting to the other ranks (Gloo over TCP, rendezvous "
          "{}) failed: {}",
          rank_, world_, where_, reason_of(error));
    }
  }

  ~GlooCommunicator() override {
    // After a failed collective, Gloo's queued work would each wait out the timeout in the
    // process group's destructor before the error line is printed: leave the group to the
    // process's exit instead.
    if (broken_) (void)group_.release();
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::chrono::milliseconds timeout() const override { return timeout_; }

  void allreduce_sum(torch::Tensor tensor, const std::string& what) override {
    allreduce_sum_async(std::move(tensor), what)->wait();
  }

  std::unique_ptr<PendingReduce> allreduce_sum_async(torch::Tensor tensor,
                                                     const std::string& what) override {
    TORCH_CHECK(tensor.is_contiguous(), "allreduce of a non-contiguous tensor");
    std::vector<at::Tensor> tensors{std::move(tensor)};
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = group_->allreduce(tensors);
    } catch (const std::exception& error) {
      fail(what, error);
    }
    return std::make_unique<PendingGlooReduce>(
        std::move(work), [this, what](const std::exception& error) { fail(what, error); });
  }

  void broadcast(std::vector<torch::Tensor> tensors, int root, const std::string& what) override {
    // Gloo broadcasts one tensor per call: flatten each dtype's tensors into one buffer.
    std::map<c10::ScalarType, std::vector<torch::Tensor>> by_type;
    for (auto& t : tensors) by_type[t.scalar_type()].push_back(t);
    for (auto& [type, group] : by_type) {
      std::vector<torch::Tensor> flat_parts;
      for (const auto& t : group) flat_parts.push_back(t.detach().reshape(-1));
      std::vector<at::Tensor> buffer{torch::cat(flat_parts)};
      c10d::BroadcastOptions options;
      options.rootRank = root;
      try {
        group_->broadcast(buffer, options)->wait();
      } catch (const std::exception& error) {
        fail(what, error);
      }
      int64_t offset = 0;
      torch::NoGradGuard no_grad;
      for (auto& t : group) {
        t.detach().copy_(buffer[0].narrow(0, offset, t.numel()).view(t.sizes()));
        offset += t.numel();
      }
    }
  }

  std::string broadcast_text(const std::string& text, int root, const std::string& what) override {
    const std::string key = "nosharing/text/" + std::to_string(text_counter_++);
    try {
      if (rank_ == root) {
        store_->set(key, std::vector<uint8_t>(text.begin(), text.end()));
        return text;
      }
      const std::vector<uint8_t> value = store_->get(key);
      return std::string(value.begin(), value.end());
    } catch (const std::exception& error) {
      fail(what, error);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what, const std::exception& error) {
    broken_ = true;
    throw_runtime(
        "rank {} of {}: {} failed: {} (another rank stopped, stalled or cannot be "
        "reached; distributed.timeout_seconds = {})",
        rank_, world_, what, reason_of(error), seconds_of(timeout_));
  }

  // Every rank announces itself under its own key and waits until all have: a missing rank
  // is named, a duplicate RANK refused.
  void join() {
    const auto deadline = Clock::now() + timeout_;
    try {
      if (store_->add(rank_key(rank_), 1) > 1) {
        throw_usage(
            "environment variable RANK = {}: another process already joined the "
            "rendezvous {} as rank {}",
            rank_, where_, rank_);
      }
      store_->add("nosharing/joined", 1);
      while (store_->add("nosharing/joined", 0) < world_) {
        if (Clock::now() >= deadline) {
          std::vector<std::string> missing;
          for (int r = 0; r < world_; ++r) {
            if (!store_->check({rank_key(r)})) missing.push_back(std::to_string(r));
          }
          std::string list;
          for (size_t i = 0; i < missing.size(); ++i) list += (i ? ", " : "") + missing[i];
          throw_runtime(
              "rank {} of {}: rank{} {} never joined the rendezvous {} within "
              "distributed.timeout_seconds = {}",
              rank_, world_, missing.size() == 1 ? "" : "s", list, where_, seconds_of(timeout_));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    } catch (const UsageError&) {
      throw;
    } catch (const RuntimeError&) {
      throw;
    } catch (const std::exception& error) {
      throw_runtime("rank {} of {}: the rendezvous {} failed: {} (is rank 0 still running?)", rank_,
                    world_, where_, reason_of(error));
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  int rank_;
  int world_;
  std::chrono::milliseconds timeout_;
  std::string where_;
  int64_t text_counter_ = 0;
  bool broken_ = false;  // a collective failed
};

}  // namespace

DistributedEnv read_distributed_env(const EnvLookup& getenv) {
  auto lookup = [&getenv](const char* name) -> std::optional<std::string> {
    const char* value = getenv ? getenv(name) : std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
  DistributedEnv env;
  const auto rank = lookup("RANK");
  const auto world = lookup("WORLD_SIZE");
  if (!rank && !world) return env;
  if (!world) {
    throw_usage(
        "environment variable RANK = \"{}\" is set but WORLD_SIZE is not: set both "
        "(torchrun's variables) or neither",
        *rank);
  }
  if (!rank) {
    throw_usage(
        "environment variable WORLD_SIZE = \"{}\" is set but RANK is not: set both "
        "(torchrun's variables) or neither",
        *world);
  }
  constexpr int64_t kMaxWorld = 1 << 20;
  env.world_size = parse_env_int("WORLD_SIZE", *world, 1, kMaxWorld, "[1, 1048576]");
  env.rank = parse_env_int("RANK", *rank, 0, env.world_size - 1,
                           fmt::format("[0, WORLD_SIZE = {})", env.world_size));
  if (!env.distributed()) return env;
  if (const auto local = lookup("LOCAL_RANK")) {
    env.local_rank = parse_env_int("LOCAL_RANK", *local, 0, env.world_size - 1,
                                   fmt::format("[0, WORLD_SIZE = {})", env.world_size));
  }
  const auto addr = lookup("MASTER_ADDR");
  if (!addr) {
    throw_usage(
        "environment variable MASTER_ADDR is not set: a run of WORLD_SIZE = {} ranks "
        "needs the host name or address of rank 0",
        env.world_size);
  }
  env.master_addr = *addr;
  const auto port = lookup("MASTER_PORT");
  if (!port) {
    throw_usage(
        "environment variable MASTER_PORT is not set: a run of WORLD_SIZE = {} ranks "
        "needs the TCP port rank 0 listens on",
        env.world_size);
  }
  env.master_port = parse_env_int("MASTER_PORT", *port, 1, 65535, "[1, 65535]");
  return env;
}

DistributedOptions DistributedOptions::from_config(const Config& config) {
  DistributedOptions options;
  const double timeout = config.get_double("distributed.timeout_seconds");
  if (!(timeout > 0) || timeout > 1e7) {
    throw_usage("distributed.timeout_seconds = {}: expected a number of seconds > 0", timeout);
  }
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(std::ceil(timeout * 1000)));
  const double bucket_mb = config.get_double("distributed.bucket_mb");
  if (!(bucket_mb > 0) || bucket_mb > 1e6) {
    throw_usage("distributed.bucket_mb = {}: expected a size in MB > 0", bucket_mb);
  }
  options.bucket_bytes = std::max<int64_t>(1, static_cast<int64_t>(bucket_mb * (1 << 20)));
  options.overlap = config.get_bool("distributed.overlap");
  return options;
}

std::pair<int64_t, int64_t> shard_range(int64_t n, int rank, int world_size) {
  const int64_t base = n / world_size, extra = n % world_size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

std::unique_ptr<Communicator> Communicator::connect_tcp(const DistributedEnv& env,
                                                        const DistributedOptions& options) {
  TORCH_CHECK(env.distributed(), "connect_tcp needs WORLD_SIZE > 1");
  const bool loopback = resolve_master(env.master_addr, env.master_port);
  const std::string where =
      fmt::format("MASTER_ADDR:MASTER_PORT = {}:{}", env.master_addr, env.master_port);
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(env.master_port);
  store_options.isServer = env.rank == 0;
  store_options.numWorkers = static_cast<size_t>(env.world_size);
  store_options.waitWorkers = false;  // join() waits, and names a missing rank
  store_options.timeout = options.timeout;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    QuietC10dLogging quiet;
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
  } catch (const std::exception& error) {
    if (env.rank == 0) {
      throw_runtime(
          "rank 0 of {}: cannot serve the rendezvous on port {} and reach it at {}: "
          "{} (is the port in use, or MASTER_ADDR not this host?)",
          env.world_size, env.master_port, where, reason_of(error));
    }
    throw_runtime(
        "rank {} of {}: cannot reach the rendezvous at {} within "
        "distributed.timeout_seconds = {}: {} (is rank 0 running on that host?)",
        env.rank, env.world_size, where, seconds_of(options.timeout), reason_of(error));
  }
  return std::make_unique<GlooCommunicator>(std::move(store), env.rank, env.world_size, options,
                                            loopback, where);
}

std::unique_ptr<Communicator> Communicator::connect_file(const std::string& path, int rank,
                                                         int world_size,
                                                         const DistributedOptions& options) {
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::FileStore>(path, world_size);
  } catch (const std::exception& error) {
    throw_runtime("rank {} of {}: cannot open the rendezvous file {}: {}", rank, world_size, path,
                  reason_of(error));
  }
  return std::make_unique<GlooCommunicator>(std::move(store), rank, world_size, options, true,
                                            "file " + path);
}

std::vector<double> Communicator::sum(const std::vector<double>& values, const std::string& what) {
  torch::Tensor tensor = torch::tensor(values, torch::kFloat64);
  allreduce_sum(tensor, what);
  const double* data = tensor.data_ptr<double>();
  return std::vector<double>(data, data + values.size());
}

}  // namespace nosharing
