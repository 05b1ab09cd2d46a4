// Tests of core/reflect.hpp and ftmeta_app/cli.hpp at run time: a field's one definition parses its text (errors
// name the field, or the flag in a program), writes the run configuration as JSON, describes, and makes flags and
// --help; TrainOptions and FineTuneOptions are described so (train/run_config.hpp) and checkpoints record them.
#include <ftmeta/core/reflect.hpp>
#include <ftmeta/train/device.hpp>
#include <ftmeta/train/fine_tune.hpp>
#include <ftmeta/train/run_config.hpp>
#include <ftmeta_app/cli.hpp>

#include <catch2/catch.hpp>

#include <boost/hana/tuple.hpp>

#include <optional>
#include <string>
#include <vector>

namespace unit_core_reflect {

using namespace ftmeta;
using Catch::Matchers::Contains;

namespace {
enum class Mode { fast, careful };
struct Options {
  std::int64_t epochs = 2;
  double ema_decay = 0;
  bool pretrained = true;
  Mode mode = Mode::fast;
  std::optional<double> label_smoothing;
  std::string name = "run";
  static constexpr auto fields() {
    using namespace ftmeta::reflect;
    return boost::hana::make_tuple(field("epochs", &Options::epochs, "epochs to train", Range{0, 1000}),
                                   field("ema_decay", &Options::ema_decay, "decay", Range{0, 0.999}).as_flag("ema"),
                                   field("pretrained", &Options::pretrained, "pretrained weights"),
                                   field("mode", &Options::mode, "how", {choice("fast", Mode::fast), choice("careful", Mode::careful)}),
                                   field("label_smoothing", &Options::label_smoothing, "epsilon", Range{0, 0.999}),
                                   field("name", &Options::name, "a name"));
  }
};
app::Args args_of(std::vector<std::string> words, const std::vector<app::Flag>& flags) {
  std::vector<const char*> argv{"prog"};
  for (auto& w : words) argv.push_back(w.c_str());
  return app::Args(static_cast<int>(argv.size()), argv.data(), flags);
}
}  // namespace

TEST_CASE("reflect: JSON, describe and parsing from one definition per field", "[reflect]") {
  Options o;
  CHECK(reflect::to_json(o) ==
        R"({"epochs": 2, "ema_decay": 0, "pretrained": true, "mode": "fast", "label_smoothing": null, "name": "run"})");
  CHECK(reflect::describe(o) == "epochs 2, ema_decay 0, pretrained true, mode fast, label_smoothing unset, name run");
  const auto f = reflect::fields_of<Options>();
  CHECK_THROWS_WITH(reflect::parse_into(boost::hana::at_c<0>(f), o, "two"), "epochs: expected an integer, got 'two'");
  CHECK_THROWS_WITH(reflect::parse_into(boost::hana::at_c<0>(f), o, "1001"), "epochs: 1001 is out of range [0, 1000]");
  CHECK_THROWS_WITH(reflect::parse_into(boost::hana::at_c<3>(f), o, "slow"), "mode slow: expected fast or careful");
  reflect::parse_into(boost::hana::at_c<3>(f), o, "careful");
  reflect::parse_into(boost::hana::at_c<4>(f), o, "0.1");
  CHECK(o.mode == Mode::careful);
  CHECK(o.label_smoothing == 0.1);
  o.epochs = 5000;
  CHECK_THROWS_WITH(reflect::check(o), "epochs: 5000 is out of range [0, 1000]");
}

TEST_CASE("app: flags and --help from the fields; errors name the flag", "[reflect]") {
  Options o;
  const auto flags = app::flags_of(o);
  REQUIRE(flags.size() == 6);
  CHECK(flags[1].name == "ema");
  CHECK(flags[2].name == "no-pretrained");  // on by default: the flag turns it off
  CHECK_FALSE(flags[2].takes_value);
  CHECK(flags[4].name == "label-smoothing");
  CHECK_THAT(app::Args(1, nullptr, flags).help(), Contains("--mode VALUE\n      how: fast, careful (default fast)"));
  app::read_flags(args_of({"--epochs", "7", "--no-pretrained", "--mode", "careful", "--ema=0.5"}, flags), o);
  CHECK(o.epochs == 7);
  CHECK_FALSE(o.pretrained);
  CHECK(o.mode == Mode::careful);
  CHECK(o.ema_decay == 0.5);
  CHECK_THROWS_WITH(app::read_flags(args_of({"--ema", "1.5"}, flags), o), "--ema: 1.5 is out of range [0, 0.999]");
  CHECK_THROWS_WITH(app::read_flags(args_of({"--mode", "x"}, flags), o), "--mode x: expected fast or careful");
  CHECK_THROWS_WITH(app::with_flag("device", "device", [] { return train::resolve_device("tpu"); }),
                    "--device tpu: expected cpu, cuda or cuda:N");
}

TEST_CASE("run config: TrainOptions and FineTuneOptions as JSON, recorded in checkpoints", "[reflect]") {
  train::FineTuneOptions o;
  o.train.ema_decay = 0.9;
  o.train.precision = train::Precision::bf16;
  o.label_smoothing = 0.2;
  o.batch_norm = train::BatchNormMode::frozen;
  const auto json = train::run_config_json(o);
  CHECK_THAT(json, Contains(R"({"train": {"epochs": 0, "seed": 0, "out_dir": "", "pretrained": true)") &&
                       Contains(R"("precision": "bf16")") && Contains(R"("ema_decay": 0.9)") &&
                       Contains(R"("fine_tune": {"batch_size": 0, "label_smoothing": 0.2, "channels_last": null, "batch_norm": "frozen")"));
  // The trainer records it in every checkpoint.
  const auto dir = std::filesystem::temp_directory_path() / "ftmeta_run_config";
  std::filesystem::remove_all(dir);
  train::CheckpointInfo info;
  info.model = "m";
  info.run_config = json;
  torch::nn::Linear net(2, 2);
  std::filesystem::create_directories(dir);
  train::save_checkpoint(dir / "c.pt", *net, info);
  CHECK(train::read_checkpoint_info(dir / "c.pt").run_config == json);
}

}  // namespace unit_core_reflect
