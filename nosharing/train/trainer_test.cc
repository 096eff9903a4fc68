#include "nosharing/train/trainer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "nosharing/core/error.h"
#include "nosharing/core/json_file.h"
#include "nosharing/models/model.h"
#include "nosharing/train/checkpoint.h"
#include "nosharing/train/metrics_log.h"
#include "nosharing/train/run_directory.h"
#include "nosharing/train/run_reader.h"
#include "nosharing/train/schedule.h"
#include "tests/run_test_util.h"
#include "tests/test_util.h"

namespace nosharing {
namespace trainer_test {  // named, not anonymous: the tests compile in unity batches

using testing::new_run;

Config tiny_config(const std::string& data) {
  Config config = Config::resolve(
      std::nullopt,
      {"data.path=" + data, "model.preset=fmnist-lc-topo", "model.channels=[4, 8]", "model.kernels=3", "model.hidden=[16]",
       "model.dropout=0.1", "train.batch_size=16", "train.epochs=3", "train.threads=1",
       "data.threads=2", "train.log_every=5", "augment.flip=true", "augment.crop=true",
       "augment.crop_padding=2"},
      preset_toml);
  return config;
}

std::vector<torch::Tensor> final_parameters(const std::string& run_dir) {
  const RunRecord run = read_run(run_dir);
  Model model = load_trained_model(run);
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  for (const auto& b : model->buffers()) out.push_back(b.detach().clone());
  return out;
}

// Every parameter and buffer of the two runs' final models is bitwise equal.
void expect_identical_final_weights(const std::string& run_a, const std::string& run_b) {
  const auto a = final_parameters(run_a);
  const auto b = final_parameters(run_b);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i;
}

// Interrupting a run (mid-epoch, with dropout, crops and flips drawing random numbers) and
// resuming it gives bit-identical final weights to an uninterrupted run.
TEST(TrainerTest, ResumeEqualsAnUninterruptedRun) {
  const std::string root = testing::make_temp_dir("resume");
  testing::write_idx_dataset(root + "/data", 200, 20, 12, 12, 4, 3);
  const Config config = tiny_config(root + "/data");

  TrainOptions whole = new_run(root + "/whole");
  const TrainResult uninterrupted = train_model(config, whole);
  ASSERT_EQ(uninterrupted.status, TrainStatus::kFinished);
  // 180 training images / 16 = 11 steps per epoch.
  EXPECT_EQ(uninterrupted.state.step, 33);

  TrainOptions parts = new_run(root + "/parts");
  parts.interrupt_after_step = 7;  // mid-epoch 1
  EXPECT_EQ(train_model(config, parts).status, TrainStatus::kInterrupted);
  parts.resume = true;
  parts.interrupt_after_step = 16;  // mid-epoch 2
  EXPECT_EQ(train_model(config, parts).status, TrainStatus::kInterrupted);
  parts.interrupt_after_step = 0;
  const TrainResult resumed = train_model(config, parts);
  ASSERT_EQ(resumed.status, TrainStatus::kFinished);
  EXPECT_EQ(resumed.state.step, 33);
  EXPECT_EQ(resumed.last_eval.accuracy, uninterrupted.last_eval.accuracy);

  expect_identical_final_weights(whole.run_dir, parts.run_dir);
}

// A killed run (no checkpoint at the kill, metrics lines written past the last one) resumes
// from train.checkpoint_every's last checkpoint to bit-identical weights and no duplicated
// metrics lines; killed before its first checkpoint, it starts again from step 0.
TEST(TrainerTest, KilledRunsResumeFromTheLastPeriodicCheckpoint) {
  const std::string root = testing::make_temp_dir("killed");
  testing::write_idx_dataset(root + "/data", 200, 20, 12, 12, 4, 3);
  Config config = tiny_config(root + "/data");
  config.apply_set("train.checkpoint_every=5");
  config.apply_set("train.log_every=1");
  TrainOptions whole = new_run(root + "/whole");
  ASSERT_EQ(train_model(config, whole).status, TrainStatus::kFinished);

  for (const int64_t kill_at : {int64_t{13}, int64_t{3}}) {  // after the step-10 checkpoint; before any
    SCOPED_TRACE(kill_at);
    TrainOptions killed = new_run(root + "/killed" + std::to_string(kill_at));
    killed.abandon_after_step = kill_at;
    EXPECT_EQ(train_model(config, killed).status, TrainStatus::kInterrupted);
    EXPECT_EQ(std::filesystem::is_regular_file(checkpoint_path(killed.run_dir)), kill_at > 5);
    killed.abandon_after_step = 0;
    killed.resume = true;
    const TrainResult resumed = train_model(config, killed);
    ASSERT_EQ(resumed.status, TrainStatus::kFinished);
    EXPECT_EQ(resumed.state.step, 33);
    expect_identical_final_weights(whole.run_dir, killed.run_dir);
    std::vector<int64_t> whole_steps, killed_steps;
    for (const auto& line : read_metrics(whole.run_dir + "/metrics.jsonl")) {
      if (line["kind"] == "train") whole_steps.push_back(line["step"]);
    }
    for (const auto& line : read_metrics(killed.run_dir + "/metrics.jsonl")) {
      if (line["kind"] == "train") killed_steps.push_back(line["step"]);
    }
    EXPECT_EQ(killed_steps, whole_steps);
  }
}

// provenance.json records the training data's checksum; a resume on changed data is refused
// with one line naming data.path, unless accepted (train --resume --force).
TEST(TrainerTest, ResumeRefusesDataThatChanged) {
  const std::string root = testing::make_temp_dir("changed");
  testing::write_idx_dataset(root + "/data", 200, 20, 12, 12, 4, 3);
  const Config config = tiny_config(root + "/data");
  TrainOptions options = new_run(root + "/run");
  options.interrupt_after_step = 4;
  ASSERT_EQ(train_model(config, options).status, TrainStatus::kInterrupted);
  const auto provenance = read_json_file(root + "/run/provenance.json");
  EXPECT_EQ(provenance["data"]["checksum"].get<std::string>().size(), 8u);

  testing::write_idx_dataset(root + "/data", 200, 20, 12, 12, 4, /*seed=*/4);  // other pixels
  options.interrupt_after_step = 0;
  options.resume = true;
  try {
    train_model(config, options);
    FAIL() << "no exception";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("data.path = " + root + "/data: the data changed"),
              std::string::npos)
        << error.what();
  }
  options.accept_changed_data = true;
  EXPECT_EQ(train_model(config, options).status, TrainStatus::kFinished);
}

// Sleep phases (hebbian, drawing random patches) and shifted repetitions survive
// interruption: resuming gives bit-identical weights, and every sleep writes one line per
// unshared layer.
TEST(TrainerTest, SleepPhasesAndShiftsResumeBitIdentically) {
  const std::string root = testing::make_temp_dir("sleep");
  testing::write_idx_dataset(root + "/data", 200, 20, 12, 12, 4, 3);
  Config config = tiny_config(root + "/data");
  config.apply_set("train.epochs=2");
  config.apply_set("sharing.mode=hebbian");
  config.apply_set("sharing.every=5");
  config.apply_set("sharing.iters=10");
  config.apply_set("sharing.batch=16");
  config.apply_set("augment.max_shift=0.2");
  config.apply_set("augment.repetitions=2");

  TrainOptions whole = new_run(root + "/whole");
  ASSERT_EQ(train_model(config, whole).state.step, 22);

  TrainOptions parts = new_run(root + "/parts");
  parts.interrupt_after_step = 10;  // right after a sleep phase
  EXPECT_EQ(train_model(config, parts).status, TrainStatus::kInterrupted);
  parts.resume = true;
  parts.interrupt_after_step = 0;
  EXPECT_EQ(train_model(config, parts).state.step, 22);
  expect_identical_final_weights(whole.run_dir, parts.run_dir);

  std::vector<std::pair<int64_t, std::string>> sleeps;
  int64_t train_lines = 0;
  for (const auto& line : read_metrics(whole.run_dir + "/metrics.jsonl")) {
    if (line["kind"] == "train") {
      ++train_lines;
      EXPECT_GT(line["images_per_second"].get<double>(), 0.0);
      EXPECT_GE(line["page_faults_per_step"].get<double>(), 0.0);
      EXPECT_GT(line["rss_mb"].get<double>(), 0.0);
    }
    if (line["kind"] != "sleep") continue;
    sleeps.emplace_back(line["step"].get<int64_t>(), line["layer"].get<std::string>());
    EXPECT_GT(line["snr_after"].get<double>(), line["snr_before"].get<double>()) << line.dump();
    EXPECT_TRUE(line.contains("snr_abs_after"));
  }
  EXPECT_GT(train_lines, 0);
  const std::vector<std::pair<int64_t, std::string>> expected = {
      {5, "lc1"}, {5, "lc2"}, {10, "lc1"}, {10, "lc2"}, {15, "lc1"}, {15, "lc2"},
      {20, "lc1"}, {20, "lc2"}};
  EXPECT_EQ(sleeps, expected);
}

// A response loss (spatial_correlation samples neighbourhoods from the global generator):
// every "train" line has topo/<layer> with loss = task_loss + Σ weight·topo, and an
// interrupted run resumes bit-identically.
TEST(TrainerTest, TopographicLossesAreLoggedPerLayerAndResumeBitIdentically) {
  const std::string root = testing::make_temp_dir("topo");
  testing::write_idx_dataset(root + "/data", 200, 20, 12, 12, 4, 3);
  Config config = tiny_config(root + "/data");
  config.apply_set("train.epochs=2");
  config.apply_set("model.channels=[4, 9]");
  config.apply_set("model.layout=hypercolumn");
  config.apply_set("topography.loss=spatial_correlation");
  config.apply_set("topography.units=20");

  TrainOptions whole = new_run(root + "/whole");
  ASSERT_EQ(train_model(config, whole).state.step, 22);
  TrainOptions parts = new_run(root + "/parts");
  parts.interrupt_after_step = 7;
  EXPECT_EQ(train_model(config, parts).status, TrainStatus::kInterrupted);
  parts.resume = true;
  parts.interrupt_after_step = 0;
  EXPECT_EQ(train_model(config, parts).state.step, 22);
  expect_identical_final_weights(whole.run_dir, parts.run_dir);

  int64_t train_lines = 0;
  for (const auto& line : read_metrics(whole.run_dir + "/metrics.jsonl")) {
    if (line["kind"] != "train") continue;
    ++train_lines;
    ASSERT_TRUE(line.contains("topo/lc1") && line.contains("topo/lc2")) << line.dump();
    const double topo = line["topo/lc1"].get<double>() + line["topo/lc2"].get<double>();
    EXPECT_GT(topo, 0.0);
    EXPECT_NEAR(line["loss"].get<double>(), line["task_loss"].get<double>() + 0.25 * topo, 1e-4)
        << line.dump();
  }
  EXPECT_GT(train_lines, 0);
}

// The Mapformer through the trainer on a tiny task (12×12 images, 4×4 patches → a 3×3
// grid): every "train" line carries aux/wiring and aux/infonce with loss = task_loss +
// Σ weight·aux, an interrupted run (drop path and InfoNCE sampling draw random numbers)
// resumes bit-identically, and it learns; layerwise training runs too.
TEST(TrainerTest, MapformerLogsAuxiliaryLossesResumesAndLearns) {
  const std::string root = testing::make_temp_dir("mapformer");
  testing::write_idx_dataset(root + "/data", 240, 24, 12, 12, 4, 7);
  Config config = Config::resolve(
      std::nullopt,
      {"data.path=" + root + "/data", "model.preset=mapformer-fmnist", "model.dim=16",
       "model.depth=2", "model.drop_path=0.1", "model.attn_dropout=0.1",
       "model.aux_wiring=0.05", "model.aux_infonce=0.1", "topography.anchors=64",
       "topography.negatives=64", "train.optimizer=adamw", "train.lr=0.005",
       "train.weight_decay=0.01", "train.warmup_steps=5", "train.batch_size=16",
       "train.epochs=4", "train.threads=1", "data.threads=2", "train.log_every=4"},
      preset_toml);
  TrainOptions whole = new_run(root + "/whole");
  const TrainResult result = train_model(config, whole);
  // 216 training images / 16 = 13 steps per epoch.
  ASSERT_EQ(result.state.step, 52);
  EXPECT_GE(result.last_eval.accuracy, 0.75);

  TrainOptions parts = new_run(root + "/parts");
  parts.interrupt_after_step = 9;
  EXPECT_EQ(train_model(config, parts).status, TrainStatus::kInterrupted);
  parts.resume = true;
  parts.interrupt_after_step = 0;
  EXPECT_EQ(train_model(config, parts).state.step, 52);
  expect_identical_final_weights(whole.run_dir, parts.run_dir);

  int64_t train_lines = 0;
  for (const auto& line : read_metrics(whole.run_dir + "/metrics.jsonl")) {
    if (line["kind"] != "train") continue;
    ++train_lines;
    ASSERT_TRUE(line.contains("aux/wiring") && line.contains("aux/infonce")) << line.dump();
    const double wiring = line["aux/wiring"].get<double>();
    const double infonce = line["aux/infonce"].get<double>();
    EXPECT_GE(wiring, 1.0);  // self-attention, the minimum, costs 1
    EXPECT_GT(infonce, 0.0);
    EXPECT_NEAR(line["loss"].get<double>(),
                line["task_loss"].get<double>() + 0.05 * wiring + 0.1 * infonce, 1e-4)
        << line.dump();
  }
  EXPECT_EQ(train_lines, 13);

  config.apply_set("model.layerwise=true");
  config.apply_set("train.epochs=1");
  TrainOptions layerwise = new_run(root + "/layerwise");
  const TrainResult layerwise_result = train_model(config, layerwise);
  EXPECT_EQ(layerwise_result.state.step, 13);
  EXPECT_GT(layerwise_result.last_eval.n, 0);
}

TEST(TrainerTest, SharingATwinIsAUsageError) {
  const std::string root = testing::make_temp_dir("sleep_twin");
  testing::write_idx_dataset(root + "/data", 60, 10, 12, 12, 4, 3);
  Config config = tiny_config(root + "/data");
  config.apply_set("model.sharing=conv");
  config.apply_set("sharing.mode=instant");
  TrainOptions options = new_run(root + "/run");
  EXPECT_THROW(train_model(config, options), UsageError);
}

TEST(TrainerTest, LearnsTheTinyTask) {
  const std::string root = testing::make_temp_dir("learn");
  testing::write_idx_dataset(root + "/data", 400, 40, 12, 12, 4, 5);
  Config config = tiny_config(root + "/data");
  config.apply_set("augment.crop=false");
  config.apply_set("augment.flip=false");
  TrainOptions options = new_run(root + "/run");
  const TrainResult result = train_model(config, options);
  EXPECT_GE(result.last_eval.accuracy, 0.9);
  EXPECT_EQ(result.last_eval.n, 40);
}

TEST(ScheduleTest, WarmupCosineAndStep) {
  ScheduleOptions options;
  options.peak_lr = 1.0;
  options.warmup_steps = 10;
  options.total_steps = 110;
  EXPECT_DOUBLE_EQ(learning_rate_at(0, options), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate_at(9, options), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(10, options), 1.0);
  EXPECT_NEAR(learning_rate_at(60, options), 0.5, 1e-12);
  EXPECT_NEAR(learning_rate_at(110, options), 0.0, 1e-12);
  options.kind = "step";
  options.steps_per_epoch = 10;
  options.step_epochs = 2;
  options.step_gamma = 0.5;
  EXPECT_DOUBLE_EQ(learning_rate_at(19, options), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(20, options), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate_at(45, options), 0.25);
  options.kind = "constant";
  EXPECT_DOUBLE_EQ(learning_rate_at(100, options), 1.0);
}

TEST(ScheduleTest, TimeClockAnnealsOverTheTimeBudgetToo) {
  ScheduleOptions options;
  options.peak_lr = 1.0;
  options.warmup_steps = 10;
  options.total_steps = 110;
  // The step clock ignores time.
  EXPECT_NEAR(learning_rate_at(10, options, 0.5), 1.0, 1e-12);
  options.clock = "time";
  // Whichever is further along: half the time budget used at the first post-warm-up step.
  EXPECT_NEAR(learning_rate_at(10, options, 0.5), 0.5, 1e-12);
  EXPECT_NEAR(learning_rate_at(60, options, 0.1), 0.5, 1e-12);
  EXPECT_NEAR(learning_rate_at(20, options, 1.0), 0.0, 1e-12);
  EXPECT_NEAR(learning_rate_at(20, options, 2.0), 0.0, 1e-12);
  // Warm-up stays counted in steps.
  EXPECT_DOUBLE_EQ(learning_rate_at(4, options, 0.9), 0.5);
}

TEST(TrainerTest, TimeClockNeedsATimeBudget) {
  const std::string root = testing::make_temp_dir("time_clock");
  testing::write_idx_dataset(root + "/data", 60, 10, 12, 12, 4, 3);
  Config config = tiny_config(root + "/data");
  config.apply_set("train.schedule_clock=time");
  TrainOptions options = new_run(root + "/run");
  EXPECT_THROW(train_model(config, options), UsageError);
}

TEST(RunDirectoryTest, ExistingDirectoryNeedsForce) {
  const std::string dir = testing::make_temp_dir("rundir") + "/run";
  create_run_directory(dir, false);
  testing::write_file(dir + "/x", "1");
  EXPECT_THROW(create_run_directory(dir, false), UsageError);
  create_run_directory(dir, true);
  EXPECT_FALSE(std::filesystem::exists(dir + "/x"));
}

}  // namespace trainer_test
}  // namespace nosharing
