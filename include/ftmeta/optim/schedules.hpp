// ftmeta/optim/schedules.hpp: learning-rate schedules as types, with the arithmetic of
// torch.optim.lr_scheduler (same settings, same trajectory, step by step).
// ftmeta:pure
#pragma once

#include <ftmeta/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <cstdio>
#include <string>
#include <type_traits>

namespace ftmeta::optim {

/// What a schedule advances on: one optimizer step (a batch, or N batches when accumulating) or one epoch.
enum class Unit { epoch, step };

/// What ReduceOnPlateau watches after each epoch.
struct Observed {
  double val_loss = 0;
  double val_accuracy = 0;
};

/// Every schedule is a type with `unit`, `describe()` and a nested `Run`: `Run(base_lr, horizon)`
/// starts at the lr of step 0 (as a PyTorch scheduler right after construction), `lr()` is the current
/// value, `step(observed)` advances one unit (as `scheduler.step()`). `horizon` is the length of the
/// phase in the schedule's unit; schedules declared with a length of 0 use it.
namespace detail {
inline std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
inline std::int64_t length_or(std::int64_t declared, std::int64_t horizon, const char* who) {
  if (declared > 0) return declared;
  if (horizon <= 0)
    throw UsageError(std::string("ftmeta: ") + who +
                     ": declared with length 0 (the phase's length), but the length is unknown here; give the length in the type "
                     "or train from a loader with batches_per_epoch()");
  return horizon;
}
}  // namespace detail

/// The group's lr throughout.
struct Constant {
  static constexpr Unit unit = Unit::epoch;
  static std::string describe() { return "constant"; }
  struct Run {
    double base;
    Run(double b, std::int64_t) : base(b) {}
    double lr() const { return base; }
    void step(const Observed& = {}) {}
  };
};

/// lr * Gamma^(t / StepSize), as StepLR.
template <std::int64_t StepSize, double Gamma = 0.1>
struct Step {
  static_assert(StepSize > 0, "ftmeta: Step<StepSize, Gamma>: StepSize must be positive");
  static_assert(Gamma > 0, "ftmeta: Step<StepSize, Gamma>: Gamma must be positive");
  static constexpr Unit unit = Unit::epoch;
  static std::string describe() { return "step(every " + std::to_string(StepSize) + ", gamma " + detail::num(Gamma) + ")"; }
  struct Run {
    double base, current;
    std::int64_t t = 0;
    Run(double b, std::int64_t) : base(b), current(b) {}
    double lr() const { return current; }
    void step(const Observed& = {}) {
      ++t;
      if (t % StepSize == 0) current *= Gamma;  // PyTorch's chainable form
    }
  };
};

/// lr * Gamma^(milestones passed), as MultiStepLR: `MultiStep<0.1, 30, 60>`.
template <double Gamma, std::int64_t... Milestones>
struct MultiStep {
  static_assert(sizeof...(Milestones) > 0, "ftmeta: MultiStep<Gamma, Milestones...>: give at least one milestone");
  static_assert(((Milestones > 0) && ...), "ftmeta: MultiStep<Gamma, Milestones...>: milestones must be positive");
  static constexpr Unit unit = Unit::epoch;
  static std::string describe() {
    std::string s = "multistep(gamma " + detail::num(Gamma) + ", at";
    ((s += " " + std::to_string(Milestones)), ...);
    return s + ")";
  }
  struct Run {
    double base, current;
    std::int64_t t = 0;
    Run(double b, std::int64_t) : base(b), current(b) {}
    double lr() const { return current; }
    void step(const Observed& = {}) {
      ++t;
      const int hits = (0 + ... + int(Milestones == t));  // a repeated milestone decays twice, as in PyTorch
      for (int i = 0; i < hits; ++i) current *= Gamma;
    }
  };
};

/// lr * Gamma^t, as ExponentialLR.
template <double Gamma>
struct Exponential {
  static_assert(Gamma > 0, "ftmeta: Exponential<Gamma>: Gamma must be positive");
  static constexpr Unit unit = Unit::epoch;
  static std::string describe() { return "exponential(gamma " + detail::num(Gamma) + ")"; }
  struct Run {
    double current;
    Run(double b, std::int64_t) : current(b) {}
    double lr() const { return current; }
    void step(const Observed& = {}) { current *= Gamma; }
  };
};

/// Cosine from lr to EtaMin over TMax units, as CosineAnnealingLR (TMax 0: the phase's length).
template <std::int64_t TMax = 0, double EtaMin = 0.0>
struct CosineAnnealing {
  static_assert(TMax >= 0, "ftmeta: CosineAnnealing<TMax, EtaMin>: TMax must be >= 0 (0: the phase's length)");
  static_assert(EtaMin >= 0, "ftmeta: CosineAnnealing<TMax, EtaMin>: EtaMin must be >= 0");
  static constexpr Unit unit = Unit::epoch;
  static std::string describe() {
    return "cosine(T_max " + (TMax ? std::to_string(TMax) : std::string("phase")) + ", eta_min " + detail::num(EtaMin) + ")";
  }
  struct Run {
    double base;
    std::int64_t t_max, t = 0;
    Run(double b, std::int64_t horizon) : base(b), t_max(detail::length_or(TMax, horizon, "CosineAnnealing<TMax>")) {}
    double lr() const {
      return EtaMin + (base - EtaMin) * (1 + std::cos(std::numbers::pi * static_cast<double>(t) / static_cast<double>(t_max))) / 2;
    }
    void step(const Observed& = {}) { ++t; }
  };
};

/// Linear warmup from StartFactor * lr to lr over K units, then `Then` (restarted at K), as
/// SequentialLR([LinearLR(start_factor, 1.0, K), Then], milestones=[K]).
template <std::int64_t K, class Then, double StartFactor = 1.0 / 3>
struct LinearWarmup {
  static_assert(K > 0, "ftmeta: LinearWarmup<K, Then>: K must be positive");
  static_assert(requires { Then::unit; typename Then::Run; },
                "ftmeta: LinearWarmup<K, Then>: Then must be a schedule such as CosineAnnealing<>");
  static_assert(StartFactor > 0 && StartFactor <= 1, "ftmeta: LinearWarmup<K, Then, StartFactor>: StartFactor must be in (0, 1]");
  static constexpr Unit unit = Then::unit;
  static std::string describe() {
    return "linear warmup(" + std::to_string(K) + ", from " + detail::num(StartFactor) + ") then " + Then::describe();
  }
  struct Run {
    double base;
    std::int64_t t = 0;
    typename Then::Run then;  // in its state of step 0 until the warmup ends
    Run(double b, std::int64_t horizon) : base(b), then(b, horizon > 0 ? std::max<std::int64_t>(horizon - K, 1) : 0) {}
    double lr() const {
      if (t >= K) return then.lr();
      return base * (StartFactor + (1.0 - StartFactor) * static_cast<double>(t) / static_cast<double>(K));
    }
    void step(const Observed& o = {}) {
      if (t++ >= K) then.step(o);
    }
  };
};

/// One cycle, as OneCycleLR with cycle_momentum=False and cosine annealing: from lr / DivFactor up
/// to lr (the group's lr is the maximum) over PctStart of TotalSteps, then down to
/// lr / DivFactor / FinalDivFactor. TotalSteps 0: the phase's length. Steps per batch.
template <std::int64_t TotalSteps = 0, double PctStart = 0.3, double DivFactor = 25.0, double FinalDivFactor = 1e4,
          bool ThreePhase = false>
struct OneCycle {
  static_assert(TotalSteps >= 0, "ftmeta: OneCycle<TotalSteps, ...>: TotalSteps must be >= 0 (0: the phase's length)");
  static_assert(PctStart > 0 && PctStart < 1, "ftmeta: OneCycle<TotalSteps, PctStart>: PctStart must be in (0, 1)");
  static constexpr Unit unit = Unit::step;
  static std::string describe() {
    return "one-cycle(" + (TotalSteps ? std::to_string(TotalSteps) : std::string("phase")) + " steps, pct_start " +
           detail::num(PctStart) + ", div " + detail::num(DivFactor) + ", final div " + detail::num(FinalDivFactor) +
           (ThreePhase ? ", three-phase" : "") + ")";
  }
  struct Run {
    double max_lr, initial_lr, min_lr;
    std::int64_t total, t = 0;
    Run(double b, std::int64_t horizon)
        : max_lr(b), initial_lr(b / DivFactor), min_lr(b / DivFactor / FinalDivFactor),
          total(detail::length_or(TotalSteps, horizon, "OneCycle<TotalSteps>")) {}
    static double anneal(double start, double end, double pct) { return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1); }
    double lr() const {
      const double n = static_cast<double>(total), s = static_cast<double>(t);
      struct P { double end; double from, to; };
      const P three[3] = {{PctStart * n - 1, initial_lr, max_lr}, {2 * PctStart * n - 2, max_lr, initial_lr}, {n - 1, initial_lr, min_lr}};
      const P two[2] = {{PctStart * n - 1, initial_lr, max_lr}, {n - 1, max_lr, min_lr}};
      const P* phases = ThreePhase ? three : two;
      const int count = ThreePhase ? 3 : 2;
      double start = 0;
      for (int i = 0; i < count; ++i) {
        if (s <= phases[i].end || i == count - 1) {
          // A phase shorter than one step (PctStart * TotalSteps < 1) is at its end at once: 0/0 would be NaN.
          const double span = phases[i].end - start;
          return anneal(phases[i].from, phases[i].to, span > 0 ? (s - start) / span : 1.0);
        }
        start = phases[i].end;
      }
      return min_lr;
    }
    void step(const Observed& = {}) {
      if (++t > total)
        throw UsageError("ftmeta: OneCycle: stepped " + std::to_string(t) + " times, past its total of " + std::to_string(total) +
                         " steps; give OneCycle<0> (the phase's length) or a larger TotalSteps");
    }
  };
};

/// What ReduceOnPlateau watches: the validation loss (lower is better) or accuracy (higher is better).
struct ValLoss {
  static constexpr bool maximize = false;
  static constexpr const char* name = "val_loss";
  static double of(const Observed& o) { return o.val_loss; }
};
struct ValAccuracy {
  static constexpr bool maximize = true;
  static constexpr const char* name = "val_accuracy";
  static double of(const Observed& o) { return o.val_accuracy; }
};

/// Multiplies lr by Factor when the watched metric has not improved (relative Threshold) for more
/// than Patience epochs, then waits Cooldown epochs; never below MinLr. As ReduceLROnPlateau
/// (threshold_mode 'rel', eps 1e-8). Steps per epoch, after validation.
template <double Factor = 0.1, std::int64_t Patience = 10, class Monitor = ValLoss, double Threshold = 1e-4,
          std::int64_t Cooldown = 0, double MinLr = 0.0>
struct ReduceOnPlateau {
  static_assert(Factor > 0 && Factor < 1, "ftmeta: ReduceOnPlateau<Factor, ...>: Factor must be in (0, 1)");
  static_assert(Patience >= 0 && Cooldown >= 0, "ftmeta: ReduceOnPlateau<...>: Patience and Cooldown must be >= 0");
  static_assert(requires { Monitor::maximize; }, "ftmeta: ReduceOnPlateau<Factor, Patience, Monitor>: Monitor is ValLoss or ValAccuracy");
  static constexpr Unit unit = Unit::epoch;
  static constexpr bool watches = true;
  static std::string describe() {
    return std::string("reduce on plateau(") + Monitor::name + ", factor " + detail::num(Factor) + ", patience " +
           std::to_string(Patience) + ")";
  }
  struct Run {
    double current;
    double best = Monitor::maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    std::int64_t bad = 0, cooldown = 0;
    Run(double b, std::int64_t) : current(b) {}
    double lr() const { return current; }
    void step(const Observed& o = {}) {
      const double v = Monitor::of(o);
      const bool better = Monitor::maximize ? v > best * (1.0 + Threshold) : v < best * (1.0 - Threshold);
      if (better) {
        best = v;
        bad = 0;
      } else {
        ++bad;
      }
      if (cooldown > 0) {
        --cooldown;
        bad = 0;
      }
      if (bad > Patience) {
        const double next = std::max(current * Factor, MinLr);
        if (current - next > 1e-8) current = next;
        cooldown = Cooldown;
        bad = 0;
      }
    }
  };
};

/// Any schedule stepped once per optimizer step instead of once per epoch: `EveryStep<CosineAnnealing<>>`.
template <class S>
struct EveryStep : S {
  static_assert(!requires { S::watches; }, "ftmeta: EveryStep<S>: ReduceOnPlateau watches validation metrics and steps per epoch only");
  static constexpr Unit unit = Unit::step;
  static std::string describe() { return S::describe() + " per step"; }
};

template <class T>
struct is_schedule : std::bool_constant<requires {
  T::unit;
  typename T::Run;
  T::describe();
}> {};
template <class T>
inline constexpr bool is_schedule_v = is_schedule<T>::value;

/// A schedule's trajectory, type-erased: what the trainer holds per parameter group.
class ScheduleRun {
 public:
  virtual ~ScheduleRun() = default;
  virtual double lr() const = 0;
  virtual void step(const Observed& o) = 0;
  virtual Unit unit() const = 0;
};

template <class S>
class ScheduleRunOf final : public ScheduleRun {
 public:
  ScheduleRunOf(double base, std::int64_t horizon) : run_(base, horizon) {}
  double lr() const override { return run_.lr(); }
  void step(const Observed& o) override { run_.step(o); }
  Unit unit() const override { return S::unit; }

 private:
  typename S::Run run_;
};

}  // namespace ftmeta::optim
