#include "nosharing/train/trainer.h"

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/core/json_file.h"
#include "nosharing/core/seed.h"
#include "nosharing/core/threads.h"
#include "nosharing/data/dataset.h"
#include "nosharing/train/objective.h"
#include "nosharing/train/optimizer.h"
#include "nosharing/train/progress_line.h"
#include "nosharing/train/run_directory.h"
#include "nosharing/train/schedule.h"

namespace nosharing {
namespace {

std::atomic<bool> g_interrupt_requested{false};

void on_interrupt(int) {
  g_interrupt_requested = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
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

Trainer::Trainer(const Config& config, const TrainOptions& options)
    : config_(config),
      options_(options),
      loop_(TrainLoopOptions::from_config(config)),
      one_process_(options.group == nullptr ? std::make_unique<ProcessGroup>() : nullptr),
      group_(options.group != nullptr ? options.group : one_process_.get()),
      quiet_(options.quiet || !group_->writer()),
      metrics_(options.run_dir + "/metrics.jsonl") {
  threads_ = set_compute_threads(loop_.threads);
  data_ = load_run_data(config);
  seed_torch(loop_.seed);
  model_ = build_model(config, data_.input_shape, data_.num_classes);
  optimizer_ = make_optimizer(config, model_->parameters());
  train_loader_ = make_train_loader(config, data_, group_->rank(), group_->world_size());
  if (data_.split.val.numel() > 0) {
    // Each rank evaluates a contiguous shard of the validation split; the shards' sums make
    // the whole split's numbers (ProcessGroup::combine_evaluation).
    val_loader_ = make_eval_loader(config, data_.train_set,
                                   group_->validation_shard(data_.split.val), data_.normalization);
  }

  steps_per_epoch_ = train_loader_->batches_per_epoch();
  total_steps_ = loop_.epochs * steps_per_epoch_;
  if (loop_.max_steps > 0) total_steps_ = std::min(total_steps_, loop_.max_steps);
  schedule_ = loop_.schedule;
  schedule_.total_steps = total_steps_;
  schedule_.steps_per_epoch = steps_per_epoch_;

  // A run killed before its first checkpoint starts again from step 0.
  const bool from_checkpoint =
      options_.resume && std::filesystem::is_regular_file(checkpoint_path(options_.run_dir));
  if (options_.resume && !from_checkpoint && group_->writer()) {
    std::fprintf(stderr,
                 "nosharing: note: %s has no checkpoint yet (the run stopped before its first); "
                 "training from the start\n",
                 options_.run_dir.c_str());
  }
  if (options_.resume && !options_.accept_changed_data) refuse_changed_data();
  if (from_checkpoint) state_ = load_checkpoint(options_.run_dir, *model_, optimizer_.get());
  if (options_.resume && group_->writer()) {
    truncate_metrics_after(metrics_.path(), state_.step);
  }
  if (!options_.resume && group_->writer()) write_run_files();
  group_->start(*model_, state_, loop_.seed, options_.resume);

  // Dynamic weight sharing (DESIGN §3): a sleep phase every sharing.every optimiser steps on
  // every unshared layer.
  sharing_ = SharingOptions::from_config(config);
  if (sharing_.mode != SharingMode::kNone) {
    sleeping_net_ = model_.get();
    if (sleeping_net_->unshared_layers().empty()) {
      throw_usage("sharing.mode = \"{}\": the model (model.type = {}, model.sharing = {}) has no "
                  "unshared layers to share",
                  config.get_string("sharing.mode"), config.get_string("model.type"),
                  config.get_string("model.sharing"));
    }
  }
  if (sharing_.gradient_scale == GradientScale::kClassSize) {
    gradient_scale_.emplace(*model_, sharing_);
  }
  // Topographic losses (DESIGN §4): loss = task_loss + Σ weight·L per layer, each L logged
  // as "topo/<layer>".
  topography_ = TopographicObjective::from_config(config, *model_);
}

// The data the run started on (provenance.json's data.checksum, since 2026-12-07).
void Trainer::refuse_changed_data() const {
  const std::string provenance_path = options_.run_dir + "/provenance.json";
  const nlohmann::json provenance = std::filesystem::is_regular_file(provenance_path)
                                        ? read_json_file(provenance_path)
                                        : nlohmann::json::object();
  const auto recorded = provenance.find("data");
  if (recorded == provenance.end() || !recorded->contains("checksum")) return;
  const std::string was = (*recorded)["checksum"].get<std::string>();
  const std::string now = dataset_checksum(data_.train_set);
  if (was != now) {
    throw_usage("data.path = {}: the data changed since the run started (checksum {}, "
                "provenance.json has {}); resume with --force to continue on it anyway",
                config_.get_string("data.path"), now, was);
  }
}

void Trainer::write_run_files() const {
  write_file_atomic(options_.run_dir + "/config.toml", config_.to_toml());
  const nlohmann::json data_info = {
      {"format", data_format_name(data_.train_set.format)},
      {"source", data_.train_set.source},
      {"checksum", dataset_checksum(data_.train_set)},
      {"channels", data_.input_shape.channels},
      {"height", data_.input_shape.height},
      {"width", data_.input_shape.width},
      {"classes", data_.num_classes},
      {"class_names", data_.train_set.class_names},
      {"train_images", data_.split.train.numel()},
      {"val_images", data_.split.val.numel()},
      {"normalization", {{"mean", data_.normalization.mean}, {"std", data_.normalization.std}}},
  };
  nlohmann::json extra = {{"data", data_info},
                          {"steps_per_epoch", steps_per_epoch_},
                          {"total_steps", total_steps_}};
  const nlohmann::json distributed = group_->provenance(config_);
  if (!distributed.is_null()) extra["distributed"] = distributed;
  write_json_atomic(options_.run_dir + "/provenance.json",
                    make_provenance(threads_, options_.command_line, extra));
}

double Trainer::training_progress(double clock) const {
  const double steps = static_cast<double>(state_.step) / static_cast<double>(total_steps_);
  return schedule_.clock == "time" ? std::max(steps, loop_.budget_fraction(clock)) : steps;
}

double Trainer::elapsed() const {
  return seconds_before_ + std::chrono::duration<double>(Clock::now() - start_).count();
}

void Trainer::log(const nlohmann::json& line) const {
  if (group_->writer()) metrics_.write(line);
}

void Trainer::checkpoint() {
  group_->before_checkpoint(*model_, state_);
  if (group_->writer()) save_checkpoint(options_.run_dir, *model_, optimizer_.get(), state_);
}

void Trainer::sleep_if_due() {
  if (sleeping_net_ == nullptr || state_.step % sharing_.every != 0) return;
  // Seeded by (train.seed, step): a resumed run sleeps bit-identically.
  for (const SleepRecord& r : run_sleep_phase(*sleeping_net_, sharing_, loop_.seed, state_.step)) {
    log({{"kind", "sleep"},
         {"step", state_.step},
         {"layer", r.layer},
         {"snr_before", r.before.squared},
         {"snr_after", r.after.squared},
         {"snr_abs_before", r.before.abs},
         {"snr_abs_after", r.after.abs}});
  }
  group_->after_sleep(*model_, state_.step);
}

void Trainer::evaluate(int64_t epoch_number) {
  if (!val_loader_) return;
  const auto eval_start = StepProfile::Clock::now();
  group_->before_evaluation(*model_, state_.step);
  last_eval_ = nosharing::evaluate(*model_, *val_loader_);
  group_->combine_evaluation(last_eval_, state_.step);
  last_eval_step_ = state_.step;
  profile_.add("evaluation", eval_start);
  state_.best_accuracy = std::max(state_.best_accuracy, last_eval_.accuracy);
  // Unlabelled models (own objective) have no accuracy: null.
  log({{"kind", "eval"},
       {"step", state_.step},
       {"epoch", epoch_number},
       {"split", "val"},
       {"loss", last_eval_.loss},
       {"accuracy", last_eval_.has_accuracy ? nlohmann::json(last_eval_.accuracy)
                                            : nlohmann::json(nullptr)},
       {"n", last_eval_.n},
       {"seconds", elapsed()}});
  if (quiet_) return;
  if (!last_eval_.has_accuracy) {
    std::printf("epoch %lld step %lld: val loss %.5f (%s)\n", static_cast<long long>(epoch_number),
                static_cast<long long>(state_.step), last_eval_.loss,
                format_duration(elapsed()).c_str());
  } else {
    std::printf("epoch %lld step %lld: val accuracy %.4f, loss %.4f (%s)\n",
                static_cast<long long>(epoch_number), static_cast<long long>(state_.step),
                last_eval_.accuracy, last_eval_.loss, format_duration(elapsed()).c_str());
  }
  std::fflush(stdout);
}

void Trainer::log_interval(int64_t epoch, double lr) {
  const double interval_seconds = interval_.seconds();
  interval_.combine(*group_, state_.step);
  log(interval_.line(state_.step, epoch + 1, lr, elapsed(), interval_seconds));
  if (options_.profile) log(profile_.line(state_.step, interval_.steps(), interval_seconds));
  profile_.clear();
  interval_.restart();
}

void Trainer::throw_non_finite(double loss, const ModelObjective& objective,
                               const std::vector<TopographicTermValue>& topographic_terms,
                               int64_t epoch) const {
  // The task loss, a model's own term ("aux/…") or a layer's topographic loss ("topo/…").
  std::string term = "the total";
  if (!std::isfinite(objective.task.item<double>())) {
    term = "task_loss";
  } else {
    for (const auto& [name, value] : objective.terms) {
      if (!std::isfinite(value.item<double>())) {
        term = name;
        break;
      }
    }
    for (const TopographicTermValue& t : topographic_terms) {
      if (term == "the total" && !std::isfinite(t.value.item<double>())) term = "topo/" + t.layer;
    }
  }
  throw_runtime("non-finite loss ({}, in {}) at step {} of epoch {}: lower train.lr (now {}) "
                "or check the data",
                loss, term, state_.step + 1, epoch + 1, loop_.lr);
}

TrainResult Trainer::run() {
  start_ = Clock::now();
  seconds_before_ = state_.seconds;
  last_checkpoint_clock_ = seconds_before_;
  TrainResult result;
  ProgressLine progress(!quiet_);
  model_->train();
  interval_.restart();
  bool out_of_time = false;
  const int64_t first_step = state_.step;
  int64_t images_this_session = 0;
  std::vector<TopographicTermValue> topo_terms;
  auto stop = [&](TrainStatus status) {
    progress.clear();
    result.status = status;
    result.state = state_;
    result.last_eval = last_eval_;
    return result;
  };

  for (int64_t epoch = state_.epoch; state_.step < total_steps_ && !out_of_time; ++epoch) {
    train_loader_->start_epoch(epoch, state_.batch_in_epoch);
    while (state_.step < total_steps_) {
      // --profile: each phase's wall time (the model's own auxiliary terms are in forward).
      auto phase_start = StepProfile::Clock::now();
      std::optional<Batch> batch = train_loader_->next();
      if (!batch) break;
      phase_start = profile_.add("data", phase_start);
      const double lr =
          learning_rate_at(state_.step, schedule_, loop_.budget_fraction(budget_clock()));
      set_learning_rate(*optimizer_, lr);
      clear_gradients(*optimizer_);
      group_->begin_backward(state_.step + 1);
      phase_start = profile_.add("optimizer", phase_start);
      // Cross-entropy for a classifier, the model's own objective for an unlabelled one, plus
      // the topographic losses.
      const ModelObjective objective = batch_objective(*model_, *batch, loop_.label_smoothing);
      torch::Tensor loss = objective.total;
      phase_start = profile_.add("forward", phase_start);
      // topography.every: on the other steps the topographic losses are skipped.
      const bool topography_due = topography_ && topography_->due(state_.step);
      topo_terms.clear();
      if (topography_due) {
        topography_->set_progress(training_progress(budget_clock()));
        loss = loss + topography_->compute(&topo_terms);
        phase_start = profile_.add("topography", phase_start);
      }
      double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value)) throw_non_finite(loss_value, objective, topo_terms, epoch);
      loss.backward();
      phase_start = profile_.add("backward", phase_start);
      const double blocked = group_->finish_backward();
      if (group_->world_size() > 1) {
        interval_.add_allreduce_seconds(blocked);
        phase_start = profile_.add("allreduce", phase_start);
      }
      // The losses of the weights alone add their gradient in place, after the allreduce.
      if (topography_due) {
        std::vector<TopographicTermValue> in_place_terms;
        loss_value += topography_->add_weight_gradients(&in_place_terms);
        topo_terms.insert(topo_terms.end(), in_place_terms.begin(), in_place_terms.end());
        if (!std::isfinite(loss_value)) throw_non_finite(loss_value, objective, topo_terms, epoch);
        phase_start = profile_.add("topography", phase_start);
      }
      if (gradient_scale_) gradient_scale_->apply();
      optimizer_->step();
      profile_.add("optimizer", phase_start);
      ++state_.step;
      state_.epoch = epoch;
      state_.batch_in_epoch = batch->index + 1;
      interval_.add_step(loss_value, objective.task.item<double>(), objective.terms, topo_terms,
                         batch->images.size(0));
      if (sleeping_net_ != nullptr) {
        phase_start = StepProfile::Clock::now();
        sleep_if_due();
        profile_.add("sleep", phase_start);
      }
      if (state_.step % loop_.log_every == 0 || state_.step == total_steps_) {
        log_interval(epoch, lr);
      }

      images_this_session += batch->images.size(0) * group_->world_size();
      const double session_seconds = std::chrono::duration<double>(Clock::now() - start_).count();
      const double seconds_per_step =
          session_seconds / std::max<int64_t>(1, state_.step - first_step);
      // ETA: of the steps left, or of the time budget when that ends first.
      double eta = seconds_per_step * static_cast<double>(total_steps_ - state_.step);
      if (loop_.max_minutes > 0) eta = std::min(eta, loop_.max_minutes * 60 - budget_clock());
      progress.update(fmt::format(
          "epoch {}/{} step {}/{} loss {:.4f} lr {:.4g} {:.0f} img/s ETA {}{}", epoch + 1,
          (total_steps_ + steps_per_epoch_ - 1) / steps_per_epoch_, state_.step, total_steps_,
          loss_value, lr, images_this_session / std::max(1e-9, session_seconds),
          format_duration(eta),
          loop_.max_minutes > 0 ? fmt::format(" (budget {:g} min)", loop_.max_minutes) : ""));
      if (loop_.eval_every > 0 && state_.step % loop_.eval_every == 0 &&
          state_.batch_in_epoch != steps_per_epoch_) {
        progress.clear();
        evaluate(epoch + 1);
      }
      // Ctrl-C on any rank stops every rank after the same step.
      const bool interrupted =
          group_
              ->agree(g_interrupt_requested || (options_.interrupt_after_step > 0 &&
                                                state_.step == options_.interrupt_after_step),
                      elapsed(), state_.step)
              .interrupted;
      if (interrupted) {
        progress.clear();
        state_.seconds = elapsed();
        checkpoint();
        return stop(TrainStatus::kInterrupted);
      }
      if (options_.abandon_after_step > 0 && state_.step == options_.abandon_after_step) {
        return stop(TrainStatus::kInterrupted);
      }
      // train.checkpoint_every / train.checkpoint_minutes bound what a kill loses within a
      // long epoch (the epoch's end writes one anyway).
      const bool checkpoint_due =
          (loop_.checkpoint_every > 0 && state_.step % loop_.checkpoint_every == 0) ||
          (loop_.checkpoint_minutes > 0 &&
           budget_clock() - last_checkpoint_clock_ >= loop_.checkpoint_minutes * 60);
      if (checkpoint_due && state_.batch_in_epoch != steps_per_epoch_) {
        progress.clear();
        state_.seconds = elapsed();
        const auto checkpoint_start = StepProfile::Clock::now();
        checkpoint();
        profile_.add("checkpoint", checkpoint_start);
        last_checkpoint_clock_ = budget_clock();
      }
      if (loop_.out_of_time(budget_clock())) {
        out_of_time = true;
        break;
      }
    }
    if (state_.batch_in_epoch >= steps_per_epoch_) {  // the epoch is complete
      state_.epoch = epoch + 1;
      state_.batch_in_epoch = 0;
      progress.clear();
      evaluate(epoch + 1);
      state_.seconds = elapsed();
      const auto checkpoint_start = StepProfile::Clock::now();
      checkpoint();
      profile_.add("checkpoint", checkpoint_start);
    }
  }
  progress.clear();
  if (last_eval_step_ != state_.step) {
    evaluate(state_.batch_in_epoch == 0 ? state_.epoch : state_.epoch + 1);
  }
  state_.seconds = elapsed();
  checkpoint();
  return stop(TrainStatus::kFinished);
}

TrainResult train_model(const Config& config, const TrainOptions& options) {
  return Trainer(config, options).run();
}

}  // namespace nosharing
