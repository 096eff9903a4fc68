#include "nosharing/train/trainer.h"

#include <torch/nn/functional/loss.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>

#include <unistd.h>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/core/process_usage.h"
#include "nosharing/core/seed.h"
#include "nosharing/core/threads.h"
#include "nosharing/data/dataset.h"
#include "nosharing/models/lcnet.h"
#include "nosharing/sharing/dynamic_sharing.h"
#include "nosharing/train/distributed.h"
#include "nosharing/train/metrics_log.h"
#include "nosharing/train/objective.h"
#include "nosharing/train/optimizer.h"
#include "nosharing/train/progress_line.h"
#include "nosharing/train/run_data.h"
#include "nosharing/train/run_directory.h"
#include "nosharing/train/schedule.h"
#include "nosharing/train/step_profile.h"
#include "nosharing/train/topographic_objective.h"

namespace nosharing {
namespace {

std::atomic<bool> g_interrupt_requested{false};

void on_interrupt(int) {
  g_interrupt_requested = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

using Clock = std::chrono::steady_clock;

// Stream identifier in derive_seed of each rank's generator in data-parallel runs: "rank".
constexpr uint64_t kRankStream = 0x72616e6bULL;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}m{:02}s", s / 60, s % 60);
}

}  // namespace

void install_interrupt_handler() {
  g_interrupt_requested = false;
  std::signal(SIGINT, on_interrupt);
}

TrainResult train_model(const Config& config, const TrainOptions& options) {
  const int64_t epochs = config.get_int("train.epochs");
  const int64_t max_steps = config.get_int("train.max_steps");
  const double max_minutes = config.get_double("train.max_minutes");
  const int64_t eval_every = config.get_int("train.eval_every");
  const int64_t log_every = std::max<int64_t>(1, config.get_int("train.log_every"));
  const double label_smoothing = config.get_double("train.label_smoothing");
  const int64_t checkpoint_every = config.get_int("train.checkpoint_every");
  const double checkpoint_minutes = config.get_double("train.checkpoint_minutes");
  if (checkpoint_every < 0) {
    throw_usage("train.checkpoint_every = {}: expected ≥ 0 (0: at epoch ends only)",
                checkpoint_every);
  }
  if (!(checkpoint_minutes >= 0)) {
    throw_usage("train.checkpoint_minutes = {}: expected ≥ 0 (0: off)", checkpoint_minutes);
  }
  if (epochs < 1) throw_usage("train.epochs = {}: expected ≥ 1", epochs);
  if (max_steps < 0) throw_usage("train.max_steps = {}: expected ≥ 0 (0: no limit)", max_steps);
  if (eval_every < 0) throw_usage("train.eval_every = {}: expected ≥ 0", eval_every);
  if (label_smoothing < 0 || label_smoothing >= 1) {
    throw_usage("train.label_smoothing = {}: expected a number in [0, 1)", label_smoothing);
  }
  // Data parallelism (distributed.h): `comm` is null in a one-process run, whose path is
  // unchanged. Only rank 0 (the writer) writes the run directory and prints.
  Communicator* comm = options.communicator != nullptr && options.communicator->world_size() > 1
                           ? options.communicator
                           : nullptr;
  const int rank = comm ? comm->rank() : 0;
  const int world = comm ? comm->world_size() : 1;
  const bool writer = rank == 0;
  const bool quiet = options.quiet || !writer;
  std::unique_ptr<GradientAllreduce> grad_sync;
  const DistributedOptions distributed_options =
      comm ? DistributedOptions::from_config(config) : DistributedOptions();
  const int threads = set_compute_threads(static_cast<int>(config.get_int("train.threads")));
  const uint64_t seed = static_cast<uint64_t>(config.get_int("train.seed"));

  RunData data = load_run_data(config);
  seed_torch(seed);
  Model model = build_model(config, data.input_shape, data.num_classes);
  auto optimizer = make_optimizer(config, model->parameters());
  auto train_loader = make_train_loader(config, data, rank, world);
  std::unique_ptr<BatchLoader> val_loader;
  if (data.split.val.numel() > 0) {
    // Each rank evaluates a contiguous shard of the validation split; the sums are
    // all-reduced (run_eval).
    torch::Tensor val = data.split.val;
    if (comm) {
      const auto [begin, end] = shard_range(val.numel(), rank, world);
      val = val.narrow(0, begin, end - begin);
    }
    val_loader = make_eval_loader(config, data.train_set, val, data.normalization);
  }

  const int64_t steps_per_epoch = train_loader->batches_per_epoch();
  int64_t total_steps = epochs * steps_per_epoch;
  if (max_steps > 0) total_steps = std::min(total_steps, max_steps);
  ScheduleOptions schedule;
  schedule.kind = config.get_string("train.schedule");
  schedule.peak_lr = config.get_double("train.lr");
  schedule.warmup_steps = std::max<int64_t>(0, config.get_int("train.warmup_steps"));
  schedule.total_steps = total_steps;
  schedule.steps_per_epoch = steps_per_epoch;
  schedule.step_epochs = config.get_int("train.step_epochs");
  schedule.step_gamma = config.get_double("train.step_gamma");
  schedule.clock = config.get_string("train.schedule_clock");
  if (schedule.clock == "time" && !(max_minutes > 0)) {
    throw_usage("train.schedule_clock = \"time\" needs a wall-clock budget: train.max_minutes = "
                "{}, expected > 0", max_minutes);
  }
  if (schedule.clock == "time" && schedule.kind == "step") {
    throw_usage("train.schedule_clock = \"time\" runs the cosine (or constant) schedule over "
                "the time budget; train.schedule = \"step\" counts epochs: use "
                "train.schedule_clock = \"steps\"");
  }

  const std::string& run_dir = options.run_dir;
  TrainerState state;
  // A run killed before its first checkpoint starts again from step 0.
  const bool from_checkpoint =
      options.resume && std::filesystem::is_regular_file(checkpoint_path(run_dir));
  if (options.resume && !from_checkpoint && writer) {
    std::fprintf(stderr,
                 "nosharing: note: %s has no checkpoint yet (the run stopped before its first); "
                 "training from the start\n",
                 run_dir.c_str());
  }
  if (options.resume && !options.accept_changed_data) {
    // The data the run started on (provenance.json's data.checksum, since 2026-12-07).
    const std::string provenance_path = run_dir + "/provenance.json";
    const nlohmann::json provenance = std::filesystem::is_regular_file(provenance_path)
                                          ? read_json_file(provenance_path)
                                          : nlohmann::json::object();
    const auto recorded = provenance.find("data");
    if (recorded != provenance.end() && recorded->contains("checksum")) {
      const std::string was = (*recorded)["checksum"].get<std::string>();
      const std::string now = dataset_checksum(data.train_set);
      if (was != now) {
        throw_usage("data.path = {}: the data changed since the run started (checksum {}, "
                    "provenance.json has {}); resume with --force to continue on it anyway",
                    config.get_string("data.path"), now, was);
      }
    }
  }
  if (from_checkpoint) {
    state = load_checkpoint(run_dir, *model, optimizer.get());
  }
  if (options.resume && writer) truncate_metrics_after(run_dir + "/metrics.jsonl", state.step);
  if (!options.resume && writer) {
    write_file_atomic(run_dir + "/config.toml", config.to_toml());
    nlohmann::json data_info = {
        {"format", data_format_name(data.train_set.format)},
        {"source", data.train_set.source},
        {"checksum", dataset_checksum(data.train_set)},
        {"channels", data.input_shape.channels},
        {"height", data.input_shape.height},
        {"width", data.input_shape.width},
        {"classes", data.num_classes},
        {"class_names", data.train_set.class_names},
        {"train_images", data.split.train.numel()},
        {"val_images", data.split.val.numel()},
        {"normalization", {{"mean", data.normalization.mean}, {"std", data.normalization.std}}},
    };
    nlohmann::json extra = {{"data", data_info},
                            {"steps_per_epoch", steps_per_epoch},
                            {"total_steps", total_steps}};
    if (comm) {
      // "threads" is per rank.
      extra["distributed"] = {{"world_size", world},
                              {"backend", "gloo"},
                              {"batch_per_rank", config.get_int("train.batch_size") / world}};
    }
    write_json_atomic(run_dir + "/provenance.json",
                      make_provenance(threads, options.command_line, extra));
  }
  const MetricsLog metrics(run_dir + "/metrics.jsonl");
  auto log_line = [&](const nlohmann::json& line) {
    if (writer) metrics.write(line);
  };
  if (comm) {
    // One model everywhere (on resume every rank read the same checkpoint already).
    broadcast_module(*comm, *model, "broadcasting the initial model from rank 0");
    // Each rank draws its own random stream (dropout, sampled topographic losses): resumed
    // from the checkpoint when it holds one per rank of this world size, otherwise derived
    // from (train.seed, rank, step).
    if (state.rank_rng_states.defined() && state.rank_rng_states.size(0) == world) {
      set_generator_state(state.rank_rng_states[rank]);
    } else {
      if (options.resume && writer) {
        std::fprintf(stderr,
                     "nosharing: note: resuming with WORLD_SIZE = %d, the checkpoint holds no "
                     "random state for that many ranks; the data order is unchanged, dropout and "
                     "sampled losses draw fresh random numbers\n",
                     world);
      }
      seed_torch(derive_seed(seed, kRankStream, static_cast<uint64_t>(rank),
                             static_cast<uint64_t>(state.step)));
    }
    grad_sync =
        std::make_unique<GradientAllreduce>(*comm, model->parameters(), distributed_options);
  }
  // The checkpoint of every rank's state, written by rank 0 (a collective in distributed runs:
  // every rank calls it at the same step).
  auto write_checkpoint = [&] {
    if (comm) {
      average_buffers(
          *comm, *model,
          fmt::format("averaging the buffers for the checkpoint of step {}", state.step));
      state.rank_rng_states = gather_generator_states(
          *comm,
          fmt::format("gathering the random states for the checkpoint of step {}", state.step));
    }
    if (writer) save_checkpoint(run_dir, *model, optimizer.get(), state);
  };

  // Dynamic weight sharing (DESIGN §3): a sleep phase every sharing.every optimiser steps on
  // every unshared layer.
  const SharingOptions sharing = SharingOptions::from_config(config);
  ModelImpl* sleeping_net = nullptr;
  if (sharing.mode != SharingMode::kNone) {
    sleeping_net = model.get();
    if (sleeping_net->unshared_layers().empty()) {
      throw_usage("sharing.mode = \"{}\": the model (model.type = {}, model.sharing = {}) has no "
                  "unshared layers to share",
                  config.get_string("sharing.mode"), config.get_string("model.type"),
                  config.get_string("model.sharing"));
    }
  }
  std::optional<ClassSizeGradientScale> gradient_scale;
  if (sharing.gradient_scale == GradientScale::kClassSize) gradient_scale.emplace(*model, sharing);
  auto sleep_if_due = [&] {
    if (sleeping_net == nullptr || state.step % sharing.every != 0) return;
    // Seeded by (train.seed, step): a resumed run sleeps bit-identically.
    for (const SleepRecord& r : run_sleep_phase(*sleeping_net, sharing, seed, state.step)) {
      log_line({{"kind", "sleep"},
                     {"step", state.step},
                     {"layer", r.layer},
                     {"snr_before", r.before.squared},
                     {"snr_after", r.after.squared},
                     {"snr_abs_before", r.before.abs},
                     {"snr_abs_after", r.after.abs}});
    }
    // Every rank ran the same phase on the same weights; rank 0's copy makes sure they stay
    // equal to the last bit.
    if (comm) {
      broadcast_parameters(*comm, *model,
                           fmt::format("broadcasting the weights after the sleep phase of step {}",
                                       state.step));
    }
  };

  // Topographic losses (DESIGN §4): loss = task_loss + Σ weight·L per layer, each L logged
  // as "topo/<layer>".
  const std::unique_ptr<TopographicObjective> topography =
      TopographicObjective::from_config(config, *model);
  std::vector<TopographicTermValue> topo_terms;

  const auto start = Clock::now();
  const double seconds_before = state.seconds;
  auto elapsed = [&] { return seconds_before + seconds_since(start); };
  // The clock of the time budget and the time-based schedule: rank 0's, synchronised after
  // every step in distributed runs so that every rank takes the same decisions.
  double synced_elapsed = seconds_before;
  double last_checkpoint_clock = seconds_before;
  auto budget_clock = [&] { return comm ? synced_elapsed : elapsed(); };
  int64_t last_eval_step = -1;
  TrainResult result;

  StepProfile profile;  // logged with --profile
  auto run_eval = [&](int64_t epoch_number) {
    if (!val_loader) return;
    const auto eval_start = StepProfile::Clock::now();
    if (comm) {
      average_buffers(
          *comm, *model,
          fmt::format("averaging the buffers before the evaluation of step {}", state.step));
    }
    result.last_eval = evaluate(*model, *val_loader);
    if (comm) {
      // Sums over the shards: the numbers of one process evaluating the whole split.
      EvalResult& r = result.last_eval;
      const double n = static_cast<double>(r.n);
      const std::vector<double> sums =
          comm->sum({r.loss * n, r.has_accuracy ? std::round(r.accuracy * n) : 0.0, n},
                    fmt::format("summing the evaluation of step {}", state.step));
      r.n = std::llround(sums[2]);
      r.loss = r.n > 0 ? sums[0] / sums[2] : 0.0;
      r.accuracy = r.n > 0 && r.has_accuracy ? sums[1] / sums[2] : 0.0;
    }
    last_eval_step = state.step;
    profile.add("evaluation", eval_start);
    state.best_accuracy = std::max(state.best_accuracy, result.last_eval.accuracy);
    // Unlabelled models (own objective) have no accuracy: null.
    log_line({{"kind", "eval"},
                   {"step", state.step},
                   {"epoch", epoch_number},
                   {"split", "val"},
                   {"loss", result.last_eval.loss},
                   {"accuracy", result.last_eval.has_accuracy
                                    ? nlohmann::json(result.last_eval.accuracy)
                                    : nlohmann::json(nullptr)},
                   {"n", result.last_eval.n},
                   {"seconds", elapsed()}});
    if (!quiet && !result.last_eval.has_accuracy) {
      std::printf("epoch %lld step %lld: val loss %.5f (%s)\n",
                  static_cast<long long>(epoch_number), static_cast<long long>(state.step),
                  result.last_eval.loss, format_duration(elapsed()).c_str());
      std::fflush(stdout);
    } else if (!quiet) {
      std::printf("epoch %lld step %lld: val accuracy %.4f, loss %.4f (%s)\n",
                  static_cast<long long>(epoch_number), static_cast<long long>(state.step),
                  result.last_eval.accuracy, result.last_eval.loss,
                  format_duration(elapsed()).c_str());
      std::fflush(stdout);
    }
  };

  ProgressLine progress(!quiet);
  model->train();
  double interval_loss = 0;
  double interval_task_loss = 0;
  // A model's own objective terms and the topographic losses ("topo/<layer>").
  std::map<std::string, double> interval_terms;
  std::map<std::string, int64_t> interval_term_steps;  // steps that computed a "topo/" term
  int64_t interval_steps = 0;
  int64_t interval_images = 0;  // batch_size × augment.repetitions per step (this rank's share)
  double interval_allreduce_seconds = 0;  // blocked on the gradient allreduce
  auto interval_start = Clock::now();
  int64_t interval_faults_start = minor_page_faults();
  bool out_of_time = false;
  const int64_t first_step = state.step;
  int64_t images_this_session = 0;

  for (int64_t epoch = state.epoch; state.step < total_steps && !out_of_time; ++epoch) {
    train_loader->start_epoch(epoch, state.batch_in_epoch);
    while (state.step < total_steps) {
      // --profile: each phase's wall time (the model's own auxiliary terms are in forward).
      auto phase_start = StepProfile::Clock::now();
      std::optional<Batch> batch = train_loader->next();
      if (!batch) break;
      phase_start = profile.add("data", phase_start);
      const double lr = learning_rate_at(
          state.step, schedule, max_minutes > 0 ? budget_clock() / (max_minutes * 60) : 0.0);
      set_learning_rate(*optimizer, lr);
      clear_gradients(*optimizer);
      if (grad_sync) grad_sync->begin_step(state.step + 1);
      phase_start = profile.add("optimizer", phase_start);
      // Cross-entropy for a classifier, the model's own objective for an unlabelled one, plus
      // the topographic losses.
      const ModelObjective objective = batch_objective(*model, *batch, label_smoothing);
      const torch::Tensor task_loss = objective.task;
      torch::Tensor loss = objective.total;
      phase_start = profile.add("forward", phase_start);
      // topography.every: on the other steps the topographic losses are skipped.
      const bool topography_due = topography && topography->due(state.step);
      topo_terms.clear();
      if (topography_due) {
        loss = loss + topography->compute(&topo_terms);
        phase_start = profile.add("topography", phase_start);
      }
      double loss_value = loss.item<double>();
      // Names the first non-finite term: the task loss, a model's own term ("aux/…") or a
      // layer's topographic loss ("topo/…").
      const auto check_finite = [&] {
        if (std::isfinite(loss_value)) return;
        std::string term = "the total";
        const double task = task_loss.item<double>();
        if (!std::isfinite(task)) {
          term = "task_loss";
        } else {
          for (const auto& [name, value] : objective.terms) {
            if (!std::isfinite(value.item<double>())) {
              term = name;
              break;
            }
          }
          for (const TopographicTermValue& t : topo_terms) {
            if (term == "the total" && !std::isfinite(t.value.item<double>())) {
              term = "topo/" + t.layer;
            }
          }
        }
        throw_runtime("non-finite loss ({}, in {}) at step {} of epoch {}: lower train.lr (now {}) "
                      "or check the data",
                      loss_value, term, state.step + 1, epoch + 1, config.get_double("train.lr"));
      };
      check_finite();
      loss.backward();
      phase_start = profile.add("backward", phase_start);
      if (grad_sync) {
        interval_allreduce_seconds += grad_sync->finish_step();
        phase_start = profile.add("allreduce", phase_start);
      }
      // The losses of the weights alone add their gradient in place, after the allreduce.
      if (topography_due) {
        std::vector<TopographicTermValue> in_place_terms;
        loss_value += topography->add_weight_gradients(&in_place_terms);
        check_finite();
        topo_terms.insert(topo_terms.end(), in_place_terms.begin(), in_place_terms.end());
        phase_start = profile.add("topography", phase_start);
      }
      if (gradient_scale) gradient_scale->apply();
      optimizer->step();
      profile.add("optimizer", phase_start);
      ++state.step;
      state.epoch = epoch;
      state.batch_in_epoch = batch->index + 1;
      interval_loss += loss_value;
      interval_task_loss += task_loss.item<double>();
      for (const auto& [name, term] : objective.terms) interval_terms[name] += term.item<double>();
      // Each "topo/<layer>" is the mean over the steps that computed it.
      for (const TopographicTermValue& term : topo_terms) {
        interval_terms["topo/" + term.layer] += term.value.item<double>();
        ++interval_term_steps["topo/" + term.layer];
      }
      ++interval_steps;
      interval_images += batch->images.size(0);
      if (sleeping_net != nullptr) {
        phase_start = StepProfile::Clock::now();
        sleep_if_due();
        profile.add("sleep", phase_start);
      }

      if (state.step % log_every == 0 || state.step == total_steps) {
        const double interval_seconds = seconds_since(interval_start);
        if (comm) {
          // Losses averaged over the ranks (each the mean over its share of the batch),
          // images summed.
          std::vector<double> sums = {interval_loss, interval_task_loss,
                                      static_cast<double>(interval_images)};
          for (const auto& [name, sum] : interval_terms) sums.push_back(sum);
          sums = comm->sum(sums, fmt::format("averaging the train metrics of step {}", state.step));
          interval_loss = sums[0] / world;
          interval_task_loss = sums[1] / world;
          interval_images = std::llround(sums[2]);
          size_t k = 3;
          for (auto& [name, sum] : interval_terms) sum = sums[k++] / world;
        }
        nlohmann::json line = {{"kind", "train"},
                               {"step", state.step},
                               {"epoch", epoch + 1},
                               {"loss", interval_loss / interval_steps},
                               {"task_loss", interval_task_loss / interval_steps},
                               {"lr", lr},
                               {"images_per_second",
                                interval_seconds > 0 ? interval_images / interval_seconds : 0.0},
                               {"seconds", elapsed()}};
        // Pages the kernel mapped afresh per step (rank 0's process; includes this
        // interval's data loading, evaluation and checkpoints), and the resident set.
        line["page_faults_per_step"] =
            static_cast<double>(minor_page_faults() - interval_faults_start) /
            static_cast<double>(interval_steps);
        line["rss_mb"] = resident_megabytes();
        for (const auto& [name, sum] : interval_terms) {
          const auto counted = interval_term_steps.find(name);
          line[name] = sum / (counted != interval_term_steps.end() ? counted->second : interval_steps);
        }
        if (comm) {
          // Rank 0's time blocked on the gradient allreduce: per step, and as a share of
          // the interval's wall time (communication hidden behind backward is not counted).
          line["allreduce_seconds"] = interval_allreduce_seconds / interval_steps;
          line["allreduce_share"] =
              interval_seconds > 0 ? interval_allreduce_seconds / interval_seconds : 0.0;
        }
        log_line(line);
        if (options.profile) log_line(profile.line(state.step, interval_steps, interval_seconds));
        profile.clear();
        interval_loss = 0;
        interval_task_loss = 0;
        interval_terms.clear();
        interval_term_steps.clear();
        interval_steps = 0;
        interval_images = 0;
        interval_allreduce_seconds = 0;
        interval_start = Clock::now();
        interval_faults_start = minor_page_faults();
      }
      images_this_session += batch->images.size(0) * world;
      const double session_seconds = seconds_since(start);
      const double seconds_per_step =
          session_seconds / std::max<int64_t>(1, state.step - first_step);
      // ETA: of the steps left, or of the time budget when that ends first.
      double eta = seconds_per_step * static_cast<double>(total_steps - state.step);
      if (max_minutes > 0) eta = std::min(eta, max_minutes * 60 - budget_clock());
      progress.update(fmt::format(
          "epoch {}/{} step {}/{} loss {:.4f} lr {:.4g} {:.0f} img/s ETA {}{}", epoch + 1,
          (total_steps + steps_per_epoch - 1) / steps_per_epoch, state.step, total_steps,
          loss_value, lr, images_this_session / std::max(1e-9, session_seconds),
          format_duration(eta), max_minutes > 0 ? fmt::format(" (budget {:g} min)", max_minutes) : ""));
      if (eval_every > 0 && state.step % eval_every == 0 && state.batch_in_epoch != steps_per_epoch) {
        progress.clear();
        run_eval(epoch + 1);
      }
      bool interrupted =
          g_interrupt_requested ||
          (options.interrupt_after_step > 0 && state.step == options.interrupt_after_step);
      if (comm) {
        // Ctrl-C on any rank stops every rank after the same step; rank 0's clock decides
        // the time budget and the time-based schedule.
        const std::vector<double> control =
            comm->sum({interrupted ? 1.0 : 0.0, writer ? elapsed() : 0.0},
                      fmt::format("synchronising the ranks after step {}", state.step));
        interrupted = control[0] > 0;
        synced_elapsed = control[1];
      }
      if (interrupted) {
        progress.clear();
        state.seconds = elapsed();
        write_checkpoint();
        result.status = TrainStatus::kInterrupted;
        result.state = state;
        return result;
      }
      if (options.abandon_after_step > 0 && state.step == options.abandon_after_step) {
        progress.clear();
        result.status = TrainStatus::kInterrupted;
        result.state = state;
        return result;
      }
      // train.checkpoint_every / train.checkpoint_minutes bound what a kill loses within a
      // long epoch (the epoch's end writes one anyway).
      const bool checkpoint_due =
          (checkpoint_every > 0 && state.step % checkpoint_every == 0) ||
          (checkpoint_minutes > 0 && budget_clock() - last_checkpoint_clock >= checkpoint_minutes * 60);
      if (checkpoint_due && state.batch_in_epoch != steps_per_epoch) {
        progress.clear();
        state.seconds = elapsed();
        const auto checkpoint_start = StepProfile::Clock::now();
        write_checkpoint();
        profile.add("checkpoint", checkpoint_start);
        last_checkpoint_clock = budget_clock();
      }
      if (max_minutes > 0 && budget_clock() >= max_minutes * 60) {
        out_of_time = true;
        break;
      }
    }
    if (state.batch_in_epoch >= steps_per_epoch) {  // the epoch is complete
      state.epoch = epoch + 1;
      state.batch_in_epoch = 0;
      progress.clear();
      run_eval(epoch + 1);
      state.seconds = elapsed();
      const auto checkpoint_start = StepProfile::Clock::now();
      write_checkpoint();
      profile.add("checkpoint", checkpoint_start);
    }
  }
  progress.clear();
  if (last_eval_step != state.step) {
    run_eval(state.batch_in_epoch == 0 ? state.epoch : state.epoch + 1);
  }
  state.seconds = elapsed();
  write_checkpoint();
  result.state = state;
  return result;
}

}  // namespace nosharing
