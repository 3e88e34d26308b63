// nmlc_rt_dopri54.h -- adaptive explicit Runge-Kutta method of Dormand & Prince, order 5 with embedded
// order 4 error estimate (J. R. Dormand, P. J. Prince, "A family of embedded Runge-Kutta formulae",
// J. Comput. Appl. Math. 6 (1980) 19-26), with first-same-as-last (FSAL) reuse of the last stage and
// a PI step-size controller. One stepper object per neuron; it owns only fixed-size arrays.
//
// Typical use inside one simulation step of length h (threshold checked after every accepted sub-step):
//
//   double t = 0.0;
//   while (t < h) {
//     t = stepper.step(rhs, t, h, y, h_int, atol, rtol);
//     if (stepper.status() == nmlc_rt::StepStatus::failure) { /* report numerical instability */ }
//     if (y[V] >= V_peak) { y[V] = V_reset; y[W] += b; /* emit spike */ }   // the stepper notices the change
//   }
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <utility>

#include "nmlc_rt_common.h"

namespace nmlc_rt {

template <std::size_t N>
class Dopri54 {
 public:
  using State = std::array<double, N>;
  static_assert(N > 0, "Dopri54 needs at least one state variable");

  // Order of the propagated solution and of the embedded error estimate's lower-order partner.
  static constexpr int order = 5;

  Dopri54() noexcept = default;
  explicit Dopri54(const AdaptiveOptions& opt) noexcept : opt_(opt) {}

  // Forget the cached derivative (FSAL stage). Needed only when something other than (t, y) that the
  // right-hand side reads has changed, e.g. an input current; a changed t or y is detected automatically.
  void reset() noexcept { fsal_valid_ = false; }

  // One adaptive step: attempts steps from t, shrinking after failed error tests, until one is accepted,
  // never stepping past t_end. Updates y, returns the new time (exactly t_end when the step reaches it)
  // and leaves the suggested next step size in h_inout (pass h_inout <= 0 to let the stepper choose the
  // first one). f(t, y, dydt) with y const State& and dydt State&. atol/rtol are numbers or per-component
  // arrays. After the call, status() tells whether the step met the tolerance, was forced at the minimum
  // step, or failed on non-finite values (then y is unchanged and t_end is returned).
  template <class F, Tolerance<N> ATol, Tolerance<N> RTol>
  double step(F&& f, double t, double t_end, State& y, double& h_inout, const ATol& atol, const RTol& rtol);

  // One step of fixed size h without error control (for fixed-step use and for order tests). If err is
  // given, it receives the difference between the order-5 and the embedded order-4 solutions.
  template <class F>
  double step_fixed(F&& f, double t, double h, State& y, State* err = nullptr);

  StepStatus status() const noexcept { return status_; }
  const StepStats& stats() const noexcept { return stats_; }
  void clear_stats() noexcept { stats_ = StepStats{}; }
  const AdaptiveOptions& options() const noexcept { return opt_; }
  void set_options(const AdaptiveOptions& opt) noexcept { opt_ = opt; }

 private:
  // Butcher tableau (Dormand & Prince 1980, "RK5(4)7M").
  static constexpr double c2 = 1.0 / 5.0, c3 = 3.0 / 10.0, c4 = 4.0 / 5.0, c5 = 8.0 / 9.0;
  static constexpr double a21 = 1.0 / 5.0;
  static constexpr double a31 = 3.0 / 40.0, a32 = 9.0 / 40.0;
  static constexpr double a41 = 44.0 / 45.0, a42 = -56.0 / 15.0, a43 = 32.0 / 9.0;
  static constexpr double a51 = 19372.0 / 6561.0, a52 = -25360.0 / 2187.0, a53 = 64448.0 / 6561.0,
                          a54 = -212.0 / 729.0;
  static constexpr double a61 = 9017.0 / 3168.0, a62 = -355.0 / 33.0, a63 = 46732.0 / 5247.0, a64 = 49.0 / 176.0,
                          a65 = -5103.0 / 18656.0;
  // Fifth-order weights; they are also row 7 of the tableau, which is what makes the method FSAL.
  static constexpr double b1 = 35.0 / 384.0, b3 = 500.0 / 1113.0, b4 = 125.0 / 192.0, b5 = -2187.0 / 6784.0,
                          b6 = 11.0 / 84.0;
  // Differences fifth minus fourth-order weights (the fourth-order weights are
  // 5179/57600, 0, 7571/16695, 393/640, -92097/339200, 187/2100, 1/40).
  static constexpr double e1 = 71.0 / 57600.0, e3 = -71.0 / 16695.0, e4 = 71.0 / 1920.0,
                          e5 = -17253.0 / 339200.0, e6 = 22.0 / 525.0, e7 = -1.0 / 40.0;

  // PI controller exponents (Hairer & Wanner's DOPRI5 choice: beta = 0.04, alpha = 1/5 - 0.75 beta).
  static constexpr double beta_ = 0.04;
  static constexpr double alpha_ = 0.2 - 0.75 * beta_;

  template <class F>
  void ensure_k1(F& f, double t, const State& y) {
    // The cached last stage equals f(t, y) only if neither t nor y changed since the step that made it.
    if (fsal_valid_ && t == t_fsal_ && y == y_fsal_) return;
    f(t, static_cast<const State&>(y), k1_);
    ++stats_.rhs_evals;
    fsal_valid_ = false;
  }

  // The six new stages of one step of size h from (t, y) with k1_ = f(t, y): writes the 5th-order
  // solution to y1, f(t+h, y1) to k7 and the local error estimate to err.
  template <class F>
  void attempt(F& f, double t, double h, const State& y, State& y1, State& k7, State& err) {
    State k2, k3, k4, k5, k6, tmp;
    const State& k1 = k1_;
    for (std::size_t i = 0; i < N; ++i) tmp[i] = y[i] + h * (a21 * k1[i]);
    f(t + c2 * h, static_cast<const State&>(tmp), k2);
    for (std::size_t i = 0; i < N; ++i) tmp[i] = y[i] + h * (a31 * k1[i] + a32 * k2[i]);
    f(t + c3 * h, static_cast<const State&>(tmp), k3);
    for (std::size_t i = 0; i < N; ++i) tmp[i] = y[i] + h * (a41 * k1[i] + a42 * k2[i] + a43 * k3[i]);
    f(t + c4 * h, static_cast<const State&>(tmp), k4);
    for (std::size_t i = 0; i < N; ++i)
      tmp[i] = y[i] + h * (a51 * k1[i] + a52 * k2[i] + a53 * k3[i] + a54 * k4[i]);
    f(t + c5 * h, static_cast<const State&>(tmp), k5);
    for (std::size_t i = 0; i < N; ++i)
      tmp[i] = y[i] + h * (a61 * k1[i] + a62 * k2[i] + a63 * k3[i] + a64 * k4[i] + a65 * k5[i]);
    f(t + h, static_cast<const State&>(tmp), k6);
    for (std::size_t i = 0; i < N; ++i)
      y1[i] = y[i] + h * (b1 * k1[i] + b3 * k3[i] + b4 * k4[i] + b5 * k5[i] + b6 * k6[i]);
    f(t + h, static_cast<const State&>(y1), k7);
    for (std::size_t i = 0; i < N; ++i)
      err[i] = h * (e1 * k1[i] + e3 * k3[i] + e4 * k4[i] + e5 * k5[i] + e6 * k6[i] + e7 * k7[i]);
    stats_.rhs_evals += 6;
  }

  State k1_{};       // f(t_fsal_, y_fsal_) when fsal_valid_
  State y_fsal_{};   // state at the end of the last accepted step
  double t_fsal_ = 0.0;
  bool fsal_valid_ = false;
  double err_old_ = 1e-4;  // error of the previous accepted step (the controller's "I" memory)
  StepStatus status_ = StepStatus::ok;
  StepStats stats_{};
  AdaptiveOptions opt_{};
};

template <std::size_t N>
template <class F, Tolerance<N> ATol, Tolerance<N> RTol>
double Dopri54<N>::step(F&& f, double t, double t_end, State& y, double& h_inout, const ATol& atol,
                        const RTol& rtol) {
  status_ = StepStatus::ok;
  if (!(t < t_end)) return t;  // nothing to do (also stops a caller's loop if t is NaN)

  auto fail = [&]() {
    status_ = StepStatus::failure;
    ++stats_.failures;
    fsal_valid_ = false;
    return t_end;
  };
  if (!detail::all_finite<N>(y)) return fail();
  ensure_k1(f, t, y);
  if (!detail::all_finite<N>(k1_)) return fail();

  const double span = t_end - t;
  const double h_min = detail::effective_h_min(opt_.h_min, t, t_end);
  double h = h_inout;
  if (!(h > 0.0) || !std::isfinite(h)) {
    h = detail::initial_step<N>(f, t, span, y, k1_, atol, rtol, order, opt_.h_max, stats_.rhs_evals);
  }
  h = std::max(std::min(h, opt_.h_max), h_min);

  State y1, k7, err_vec;
  bool rejected_before = false;
  for (;;) {
    // Stretch a step that would end just short of t_end so no sliver step remains.
    const bool last = h * 1.01 >= span;
    const double h_try = last ? span : h;
    attempt(f, t, h_try, y, y1, k7, err_vec);

    if (!detail::all_finite<N>(y1) || !detail::all_finite<N>(err_vec)) {
      // Overflow or NaN in a trial: often a step too large for an exponential term; shrink and retry,
      // and give up once the minimum step itself fails, so this loop is bounded.
      ++stats_.rejected;
      if (h_try <= h_min) {
        h_inout = h_try;
        return fail();
      }
      h = std::max(h_try * opt_.fac_min, h_min);
      rejected_before = true;
      continue;
    }

    const double err = detail::error_norm<N>(err_vec, y, y1, atol, rtol);
    const double fac_err = std::pow(err, alpha_);  // err^alpha; err may be inf on a huge error, never NaN
    if (err <= 1.0 || h_try <= h_min) {
      if (err > 1.0) {
        status_ = StepStatus::forced;
        ++stats_.forced;
      }
      // PI controller: h_new = h * safety * err^-alpha * err_old^beta, growth limited to [fac_min, fac_max].
      double fac = fac_err / std::pow(err_old_, beta_) / opt_.safety;
      fac = std::clamp(fac, 1.0 / opt_.fac_max, 1.0 / opt_.fac_min);
      double h_new = h_try / fac;
      if (rejected_before) h_new = std::min(h_new, h_try);  // no growth right after a rejection
      if (last && h_try < h && h_new >= h_try) {
        // A final step shortened to hit t_end says little about larger steps: keep the earlier suggestion.
        h_new = std::max(h_new, h);
      }
      err_old_ = std::max(err, 1e-4);
      y = y1;
      k1_ = k7;
      const double t_new = last ? t_end : t + h_try;
      y_fsal_ = y;
      t_fsal_ = t_new;
      fsal_valid_ = true;
      h_inout = std::min(h_new, opt_.h_max);
      ++stats_.accepted;
      return t_new;
    }

    ++stats_.rejected;
    rejected_before = true;
    h = std::max(h_try / std::min(1.0 / opt_.fac_min, fac_err / opt_.safety), h_min);
  }
}

template <std::size_t N>
template <class F>
double Dopri54<N>::step_fixed(F&& f, double t, double h, State& y, State* err) {
  ensure_k1(f, t, y);
  State y1, k7, err_vec;
  attempt(f, t, h, y, y1, k7, err_vec);
  y = y1;
  k1_ = k7;
  y_fsal_ = y;
  t_fsal_ = t + h;
  fsal_valid_ = true;
  ++stats_.accepted;
  if (err != nullptr) *err = err_vec;
  return t + h;
}

}  // namespace nmlc_rt
