// nmlc_rt_common.h -- shared pieces of the nmlc numeric runtime: step status, per-stepper
// statistics, adaptive-step options, tolerance access and the mixed absolute/relative error norm.
//
// Header-only, C++20, no dependencies beyond the standard library, no global mutable state.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace nmlc_rt {

// Outcome of the most recent call to an adaptive stepper's step().
enum class StepStatus : std::uint8_t {
  ok = 0,       // the step passed the error test
  forced = 1,   // the error test failed at the minimum step size; the step was taken anyway
  failure = 2,  // NaN/inf in the state or its derivative (or a singular implicit system at the
                // minimum step): y is left as it was at the call and t_end is returned, so a
                // `while (t < t_end)` sub-step loop always terminates
};

// Cumulative counters of one stepper object (clear with clear_stats()).
struct StepStats {
  std::uint64_t accepted = 0;    // accepted steps (including forced ones)
  std::uint64_t rejected = 0;    // rejected attempts (error test or non-finite trial)
  std::uint64_t rhs_evals = 0;   // calls of f
  std::uint64_t jac_evals = 0;   // calls of jac (implicit methods only)
  std::uint64_t lu_decomps = 0;  // LU factorisations (implicit methods only)
  std::uint64_t forced = 0;      // steps accepted at the minimum step despite a failed error test
  std::uint64_t failures = 0;    // step() calls that ended with StepStatus::failure
};

// Step-size control parameters of the adaptive steppers.
struct AdaptiveOptions {
  double h_min = 1e-12;  // absolute minimum step (model time units); raised automatically so t + h != t
  double h_max = std::numeric_limits<double>::infinity();
  double safety = 0.9;   // safety factor on the optimal step
  double fac_min = 0.2;  // smallest ratio h_new / h (also the shrink factor after a non-finite trial)
  double fac_max = 10.0; // largest ratio h_new / h
};

// A tolerance is either one number for all components or one number per component.
template <class T, std::size_t N>
concept Tolerance = std::is_arithmetic_v<std::remove_cvref_t<T>> ||
                    std::is_same_v<std::remove_cvref_t<T>, std::array<double, N>>;

namespace detail {

template <std::size_t N, class Tol>
constexpr double tol_at(const Tol& tol, std::size_t i) noexcept {
  if constexpr (std::is_arithmetic_v<std::remove_cvref_t<Tol>>) {
    (void)i;
    return static_cast<double>(tol);
  } else {
    return tol[i];
  }
}

template <std::size_t N>
inline bool all_finite(const std::array<double, N>& v) noexcept {
  // Summing and testing once is cheaper than N isfinite calls; any NaN or inf makes the sum non-finite
  // unless two infinities of opposite sign cancel into NaN, which is non-finite as well.
  double s = 0.0;
  for (std::size_t i = 0; i < N; ++i) s += v[i] * 0.0;
  return s == 0.0;
}

// Root-mean-square of err_i / (atol_i + rtol_i * max(|y0_i|, |y1_i|)) (Hairer, Norsett & Wanner I, II.4).
// A zero scale (atol = 0 on a zero component) is replaced by the smallest normal double, so a non-zero
// error there counts as a (finite or infinite) large error, never as NaN.
template <std::size_t N, class ATol, class RTol>
inline double error_norm(const std::array<double, N>& err, const std::array<double, N>& y0,
                         const std::array<double, N>& y1, const ATol& atol, const RTol& rtol) noexcept {
  double sum = 0.0;
  for (std::size_t i = 0; i < N; ++i) {
    double sc = tol_at<N>(atol, i) + tol_at<N>(rtol, i) * std::max(std::fabs(y0[i]), std::fabs(y1[i]));
    sc = std::max(sc, std::numeric_limits<double>::min());
    const double q = err[i] / sc;
    sum += q * q;
  }
  return std::sqrt(sum / static_cast<double>(N));
}

// Weighted RMS norm used by the initial step-size heuristic.
template <std::size_t N, class ATol, class RTol>
inline double scaled_rms(const std::array<double, N>& v, const std::array<double, N>& y, const ATol& atol,
                         const RTol& rtol) noexcept {
  double sum = 0.0;
  for (std::size_t i = 0; i < N; ++i) {
    double sc = tol_at<N>(atol, i) + tol_at<N>(rtol, i) * std::fabs(y[i]);
    sc = std::max(sc, std::numeric_limits<double>::min());
    const double q = v[i] / sc;
    sum += q * q;
  }
  return std::sqrt(sum / static_cast<double>(N));
}

// The minimum step actually used: the user's h_min, but never so small that t + h rounds to t.
inline double effective_h_min(double h_min, double t, double t_end) noexcept {
  const double ulp_floor = 64.0 * std::numeric_limits<double>::epsilon() * std::max(std::fabs(t), std::fabs(t_end));
  return std::max({h_min, ulp_floor, std::numeric_limits<double>::min()});
}

// Initial step-size guess for a method of order p (Hairer, Norsett & Wanner I, II.4, "starting step size"):
// balances the size of y, of f(y) and of an estimate of the second derivative. Costs one rhs evaluation.
template <std::size_t N, class F, class ATol, class RTol>
double initial_step(F& f, double t, double span, const std::array<double, N>& y, const std::array<double, N>& f0,
                    const ATol& atol, const RTol& rtol, int order, double h_max, std::uint64_t& rhs_evals) {
  const double d0 = scaled_rms<N>(y, y, atol, rtol);
  const double d1 = scaled_rms<N>(f0, y, atol, rtol);
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  h0 = std::min({h0, span, h_max});
  std::array<double, N> y1;
  std::array<double, N> f1;
  for (std::size_t i = 0; i < N; ++i) y1[i] = y[i] + h0 * f0[i];
  f(t + h0, static_cast<const std::array<double, N>&>(y1), f1);
  ++rhs_evals;
  for (std::size_t i = 0; i < N; ++i) f1[i] -= f0[i];
  const double d2 = scaled_rms<N>(f1, y, atol, rtol) / h0;
  const double dmax = std::max(d1, d2);
  const double h1 = (dmax <= 1e-15) ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / dmax, 1.0 / (order + 1));
  double h = std::min(100.0 * h0, h1);
  if (!std::isfinite(h) || !(h > 0.0)) h = h0;  // a non-finite trial derivative gives no information
  return std::min({h, span, h_max});
}

}  // namespace detail
}  // namespace nmlc_rt
