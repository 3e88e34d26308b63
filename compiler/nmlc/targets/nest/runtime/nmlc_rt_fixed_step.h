// nmlc_rt_fixed_step.h -- fixed-step explicit integrators: forward Euler (order 1) and the classic
// fourth-order Runge-Kutta method, for models whose definition is a fixed-step update. Stateless
// objects: a step only uses stack arrays, so one object may serve any number of neurons and threads.
#pragma once

#include <array>
#include <cstddef>

namespace nmlc_rt {
namespace detail {

// Shared driver for n equal sub-steps. Times are computed as t0 + k*dt rather than by repeated addition
// so rounding does not accumulate; n == 0 leaves y unchanged.
template <class S, class F>
double integrate_n(const S& stepper, F& f, double t0, double t1, std::size_t n, typename S::State& y) {
  if (n == 0) return t0;
  const double dt = (t1 - t0) / static_cast<double>(n);
  for (std::size_t k = 0; k < n; ++k) stepper.step(f, t0 + static_cast<double>(k) * dt, dt, y);
  return t1;
}

}  // namespace detail

template <std::size_t N>
class ForwardEuler {
 public:
  using State = std::array<double, N>;
  static constexpr int order = 1;

  // y <- y + h f(t, y); returns t + h.
  template <class F>
  double step(F&& f, double t, double h, State& y) const {
    State k;
    f(t, static_cast<const State&>(y), k);
    for (std::size_t i = 0; i < N; ++i) y[i] += h * k[i];
    return t + h;
  }

  // n equal steps from t0 to t1; returns t1 exactly.
  template <class F>
  double integrate(F&& f, double t0, double t1, std::size_t n, State& y) const {
    return detail::integrate_n(*this, f, t0, t1, n, y);
  }
};

template <std::size_t N>
class Rk4 {
 public:
  using State = std::array<double, N>;
  static constexpr int order = 4;

  // One classic Runge-Kutta step of size h; returns t + h.
  template <class F>
  double step(F&& f, double t, double h, State& y) const {
    State k1, k2, k3, k4, tmp;
    const double hh = 0.5 * h;
    f(t, static_cast<const State&>(y), k1);
    for (std::size_t i = 0; i < N; ++i) tmp[i] = y[i] + hh * k1[i];
    f(t + hh, static_cast<const State&>(tmp), k2);
    for (std::size_t i = 0; i < N; ++i) tmp[i] = y[i] + hh * k2[i];
    f(t + hh, static_cast<const State&>(tmp), k3);
    for (std::size_t i = 0; i < N; ++i) tmp[i] = y[i] + h * k3[i];
    f(t + h, static_cast<const State&>(tmp), k4);
    const double h6 = h / 6.0;
    for (std::size_t i = 0; i < N; ++i) y[i] += h6 * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i]);
    return t + h;
  }

  // n equal steps from t0 to t1; returns t1 exactly.
  template <class F>
  double integrate(F&& f, double t0, double t1, std::size_t n, State& y) const {
    return detail::integrate_n(*this, f, t0, t1, n, y);
  }
};
}  // namespace nmlc_rt
