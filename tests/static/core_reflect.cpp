// Static tests of core/reflect.hpp: one definition per field (name, type, default, doc, range, choices) is all a
// struct declares, and the names, flags, ranges and choices are compile-time facts of it.
#include <ftmeta/core/reflect.hpp>

#include <boost/hana/length.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace {

using namespace ftmeta::reflect;

enum class Mode { fast, careful };

struct Options {
  std::int64_t epochs = 2;
  double ema_decay = 0;
  bool pretrained = true;
  Mode mode = Mode::fast;
  std::optional<double> label_smoothing;
  std::string name = "run";

  static constexpr auto fields() {
    return boost::hana::make_tuple(
        field("epochs", &Options::epochs, "epochs to train", Range{0, 1000}),
        field("ema_decay", &Options::ema_decay, "weight average decay", Range{0, 0.999}).as_flag("ema"),
        field("pretrained", &Options::pretrained, "start from pretrained weights"),
        field("mode", &Options::mode, "how", {choice("fast", Mode::fast), choice("careful", Mode::careful)}),
        field("label_smoothing", &Options::label_smoothing, "epsilon", Range{0, 0.999}),
        field("name", &Options::name, "a name"));
  }
};

static_assert(Reflected<Options>);
static_assert(!Reflected<int>);
static_assert(decltype(boost::hana::length(fields_of<Options>()))::value == 6);

constexpr auto f = fields_of<Options>();
// Names, members and types as declared.
static_assert(boost::hana::at_c<0>(f).name == "epochs" && boost::hana::at_c<0>(f).member == &Options::epochs);
static_assert(std::is_same_v<std::remove_cvref_t<decltype(boost::hana::at_c<4>(f))>::type, std::optional<double>>);
// Ranges and choices.
static_assert(boost::hana::at_c<0>(f).range.lo == 0 && boost::hana::at_c<0>(f).range.hi == 1000);
static_assert(boost::hana::at_c<3>(f).choices.size() == 2 && boost::hana::at_c<3>(f).choices[1].first == "careful" &&
              boost::hana::at_c<3>(f).choices[1].second == Mode::careful);
// The command-line names: dashes for underscores, or the flag given.
static_assert(flag_name(boost::hana::at_c<4>(f)) == "label-smoothing");
static_assert(flag_name(boost::hana::at_c<1>(f)) == "ema");
// The defaults are the members' initializers.
static_assert(Options{}.*boost::hana::at_c<0>(f).member == 2 && Options{}.*boost::hana::at_c<2>(f).member);
// A field refers to its own struct's member of its own type.
static_assert(std::is_same_v<std::remove_cvref_t<decltype(boost::hana::at_c<2>(f))>::owner, Options>);

}  // namespace
