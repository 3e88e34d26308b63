// nmlc_rt_rosenbrock.h -- adaptive linearly implicit (Rosenbrock) method for stiff systems: RODAS3,
// a 4-stage, order-3, L-stable and stiffly accurate method with an embedded order-2 solution
// (Sandu, Verwer, Blom, Spee, Carmichael & Potra, "Benchmarking stiff ODE solvers for atmospheric
// chemistry problems II: Rosenbrock solvers", Atmos. Environ. 31 (1997) 3459-3472).
//
// Written in the "transformed" form of Hairer & Wanner II, IV.7 (eq. 7.4'), which needs one analytic
// Jacobian J = df/dy and one LU factorisation of (1/(h*gamma) I - J) per attempted step, and three
// evaluations of f per step:
//   (I/(h gamma) - J) u_i = f(t + alpha_i h, y + sum_j a_ij u_j) + sum_j (c_ij / h) u_j + h gamma_i df/dt
//   y_new = y + sum_i m_i u_i,   error estimate = u_4.
//
// Usage (per neuron object, inside the simulation-step loop):
//   t = stepper.step(rhs, jac, t, h, y, h_int, atol, rtol);
// with rhs(t, y, dydt) and jac(t, y, J) (J row-major, J[i*N+j] = d f_i / d y_j). If the right-hand side
// depends explicitly on t, give jac the signature jac(t, y, J, dfdt) and fill dfdt = df/dt as well;
// with the three-argument form the system is treated as autonomous within a step.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <type_traits>

#include "nmlc_rt_common.h"
#include "nmlc_rt_dense.h"

namespace nmlc_rt {

template <std::size_t N>
class Rodas3 {
 public:
  using State = std::array<double, N>;
  using Jacobian = Matrix<N>;
  static_assert(N > 0, "Rodas3 needs at least one state variable");

  static constexpr int order = 3;

  Rodas3() noexcept = default;
  explicit Rodas3(const AdaptiveOptions& opt) noexcept : opt_(opt) {}

  // Kept for interface symmetry with Dopri54: this method caches nothing that depends on the rhs.
  void reset() noexcept {}

  // One adaptive step from t towards t_end (same contract as Dopri54::step, plus the Jacobian callable).
  template <class F, class JacF, Tolerance<N> ATol, Tolerance<N> RTol>
  double step(F&& f, JacF&& jac, double t, double t_end, State& y, double& h_inout, const ATol& atol,
              const RTol& rtol);

  // One step of fixed size h (no error control); err, if given, receives the embedded error estimate.
  // Returns t + h; if (I/(h gamma) - J) is singular or not finite, y is left unchanged, status() becomes
  // failure and t is returned.
  template <class F, class JacF>
  double step_fixed(F&& f, JacF&& jac, double t, double h, State& y, State* err = nullptr);

  StepStatus status() const noexcept { return status_; }
  const StepStats& stats() const noexcept { return stats_; }
  void clear_stats() noexcept { stats_ = StepStats{}; }
  const AdaptiveOptions& options() const noexcept { return opt_; }
  void set_options(const AdaptiveOptions& opt) noexcept { opt_ = opt; }

 private:
  // RODAS3 coefficients in the transformed form (gamma_ii = 1/2 for all stages).
  static constexpr double gamma = 0.5;
  static constexpr double gamma1 = 0.5, gamma2 = 1.5;  // gamma_i = sum_j gamma_ij; gamma3 = gamma4 = 0
  static constexpr double a31 = 2.0;                   // a21 = 0, so stage 2 reuses f(t, y)
  static constexpr double a41 = 2.0, a43 = 1.0;        // alpha_3 = alpha_4 = 1
  static constexpr double c21 = 4.0;
  static constexpr double c31 = 1.0, c32 = -1.0;
  static constexpr double c41 = 1.0, c42 = -1.0, c43 = -8.0 / 3.0;
  static constexpr double m1 = 2.0, m3 = 1.0, m4 = 1.0;  // m2 = 0; stage 4's argument plus u4 is y_new

  template <class JacF>
  void eval_jacobian(JacF& jac, double t, const State& y) {
    if constexpr (std::is_invocable_v<JacF&, double, const State&, Jacobian&, State&>) {
      jac(t, y, J_, dfdt_);
    } else {
      static_assert(std::is_invocable_v<JacF&, double, const State&, Jacobian&>,
                    "jac must be callable as jac(t, y, J) or jac(t, y, J, dfdt)");
      jac(t, y, J_);
      dfdt_.fill(0.0);
    }
    ++stats_.jac_evals;
  }

  // Factorises (I/(h gamma) - J_) into lu_/piv_; false if singular or not finite.
  bool factor(double h) {
    const double d = 1.0 / (h * gamma);
    for (std::size_t i = 0; i < N * N; ++i) lu_[i] = -J_[i];
    for (std::size_t i = 0; i < N; ++i) lu_[i * N + i] += d;
    ++stats_.lu_decomps;
    return lu_factor<N>(lu_, piv_);
  }

  // The four stages of one step of size h from (t, y), given f0 = f(t, y), J_ and dfdt_ at (t, y) and
  // a factorised lu_. Writes the order-3 solution to y1 and the error estimate to err.
  template <class F>
  void stages(F& f, double t, double h, const State& y, const State& f0, State& y1, State& err) {
    State u1, u2, u3, u4, tmp, fi;
    const double ih = 1.0 / h;
    for (std::size_t i = 0; i < N; ++i) u1[i] = f0[i] + h * gamma1 * dfdt_[i];
    lu_solve<N>(lu_, piv_, u1);
    for (std::size_t i = 0; i < N; ++i) u2[i] = f0[i] + (c21 * ih) * u1[i] + h * gamma2 * dfdt_[i];
    lu_solve<N>(lu_, piv_, u2);
    for (std::size_t i = 0; i < N; ++i) tmp[i] = y[i] + a31 * u1[i];
    f(t + h, static_cast<const State&>(tmp), fi);
    for (std::size_t i = 0; i < N; ++i) u3[i] = fi[i] + ih * (c31 * u1[i] + c32 * u2[i]);
    lu_solve<N>(lu_, piv_, u3);
    for (std::size_t i = 0; i < N; ++i) tmp[i] = y[i] + a41 * u1[i] + a43 * u3[i];
    f(t + h, static_cast<const State&>(tmp), fi);
    for (std::size_t i = 0; i < N; ++i) u4[i] = fi[i] + ih * (c41 * u1[i] + c42 * u2[i] + c43 * u3[i]);
    lu_solve<N>(lu_, piv_, u4);
    for (std::size_t i = 0; i < N; ++i) {
      y1[i] = y[i] + m1 * u1[i] + m3 * u3[i] + m4 * u4[i];
      err[i] = u4[i];
    }
    stats_.rhs_evals += 2;
  }

  static bool finite_matrix(const Jacobian& A) noexcept {
    double s = 0.0;
    for (std::size_t i = 0; i < N * N; ++i) s += A[i] * 0.0;
    return s == 0.0;
  }

  Jacobian J_{};
  Jacobian lu_{};
  std::array<std::size_t, N> piv_{};
  State dfdt_{};
  StepStatus status_ = StepStatus::ok;
  StepStats stats_{};
  AdaptiveOptions opt_{};
};

template <std::size_t N>
template <class F, class JacF, Tolerance<N> ATol, Tolerance<N> RTol>
double Rodas3<N>::step(F&& f, JacF&& jac, double t, double t_end, State& y, double& h_inout, const ATol& atol,
                       const RTol& rtol) {
  status_ = StepStatus::ok;
  if (!(t < t_end)) return t;
  auto fail = [&]() {
    status_ = StepStatus::failure;
    ++stats_.failures;
    return t_end;
  };
  if (!detail::all_finite<N>(y)) return fail();

  State f0;
  f(t, static_cast<const State&>(y), f0);
  ++stats_.rhs_evals;
  // The Jacobian depends only on (t, y), so it is evaluated once and reused by every retry below.
  eval_jacobian(jac, t, y);
  if (!detail::all_finite<N>(f0) || !finite_matrix(J_) || !detail::all_finite<N>(dfdt_)) return fail();

  const double span = t_end - t;
  const double h_min = detail::effective_h_min(opt_.h_min, t, t_end);
  double h = h_inout;
  if (!(h > 0.0) || !std::isfinite(h)) {
    h = detail::initial_step<N>(f, t, span, y, f0, atol, rtol, order, opt_.h_max, stats_.rhs_evals);
  }
  h = std::max(std::min(h, opt_.h_max), h_min);

  State y1, err_vec;
  bool rejected_before = false;
  for (;;) {
    const bool last = h * 1.01 >= span;
    const double h_try = last ? span : h;

    bool finite = factor(h_try);
    if (finite) {
      stages(f, t, h_try, y, f0, y1, err_vec);
      finite = detail::all_finite<N>(y1) && detail::all_finite<N>(err_vec);
    }
    if (!finite) {
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
    // The estimate is O(h^3) (order-3 minus order-2 solution), hence the exponent 1/3.
    const double fac = std::clamp(opt_.safety * std::pow(err, -1.0 / 3.0), opt_.fac_min, opt_.fac_max);
    if (err <= 1.0 || h_try <= h_min) {
      if (err > 1.0) {
        status_ = StepStatus::forced;
        ++stats_.forced;
      }
      double h_new = h_try * fac;
      if (rejected_before) h_new = std::min(h_new, h_try);
      if (last && h_try < h && h_new >= h_try) h_new = std::max(h_new, h);
      y = y1;
      h_inout = std::min(h_new, opt_.h_max);
      ++stats_.accepted;
      return last ? t_end : t + h_try;
    }
    ++stats_.rejected;
    rejected_before = true;
    // err > 1 here, so fac < safety < 1 and the loop shrinks h at every rejection.
    h = std::max(h_try * fac, h_min);
  }
}

template <std::size_t N>
template <class F, class JacF>
double Rodas3<N>::step_fixed(F&& f, JacF&& jac, double t, double h, State& y, State* err) {
  status_ = StepStatus::ok;
  State f0, y1, err_vec;
  f(t, static_cast<const State&>(y), f0);
  ++stats_.rhs_evals;
  eval_jacobian(jac, t, y);
  if (!factor(h)) {
    status_ = StepStatus::failure;
    ++stats_.failures;
    return t;
  }
  stages(f, t, h, y, f0, y1, err_vec);
  y = y1;
  ++stats_.accepted;
  if (err != nullptr) *err = err_vec;
  return t + h;
}

// The runtime's default stiff solver.
template <std::size_t N>
using Rosenbrock = Rodas3<N>;

}  // namespace nmlc_rt
