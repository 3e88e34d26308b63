// nmlc_rt_expm.h -- matrix exponential of a small dense matrix by scaling and squaring with diagonal
// Pade approximants of degree 3, 5, 7, 9 or 13, for propagators computed once per parameter change.
//
// Algorithm: Al-Mohy & Higham, "A new scaling and squaring algorithm for the matrix exponential",
// SIAM J. Matrix Anal. Appl. 31 (2009) 970-989, Algorithm 5.1. It uses Higham's (2005) thresholds
// theta_m for the degree choice, but bounds the Pade error through ||A^k||^(1/k) instead of ||A||, and
// adds the correction ell(A, m) that guards against too few squarings, which avoids the over-scaling
// (and the accuracy loss in the squaring phase) of the 2005 algorithm on strongly non-normal matrices
// such as the triangular ones typical of synaptic-current propagators. For the small N of neuron
// models the 1-norms that the paper estimates are computed exactly (||A^k|| from explicit products,
// || |A|^p || from p vector-matrix products), which costs little and removes the estimator's randomness.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>

#include "nmlc_rt_dense.h"

namespace nmlc_rt {

// What expm did: the Pade degree (0 for the zero matrix), the number of squarings, and whether the
// result is finite (false for NaN/inf input or overflow, e.g. exp of a matrix with a huge eigenvalue).
struct ExpmInfo {
  int pade_degree = 0;
  int squarings = 0;
  bool ok = true;
};

namespace detail {

// Coefficients of the numerator p_m(x) = sum_j c_j x^j of the [m/m] Pade approximant of exp(x),
// normalised to c_0 = 1: c_j = (2m-j)! m! / ((2m)! j! (m-j)!), computed by the ratio recurrence.
template <int M>
constexpr std::array<double, M + 1> pade_coefficients() {
  std::array<double, M + 1> c{};
  c[0] = 1.0;
  for (int j = 0; j < M; ++j) c[j + 1] = c[j] * static_cast<double>(M - j) / static_cast<double>((2 * M - j) * (j + 1));
  return c;
}

// Leading coefficient of the Pade error series exp(x) - r_m(x) ~ c x^(2m+1): (m!)^2 / ((2m)! (2m+1)!).
constexpr double pade_error_coefficient(int m) {
  double c = 1.0;
  // prod_{k=1..m} k / (m + k) = m! m! / (2m)!, formed as a product of ratios so nothing overflows.
  for (int k = 1; k <= m; ++k) c *= static_cast<double>(k) / static_cast<double>(m + k);
  for (int k = 2; k <= 2 * m + 1; ++k) c /= static_cast<double>(k);
  return c;
}

// Higham's (2005) thresholds: r_m(2^-s A) has relative backward error <= unit roundoff when the
// relevant norm does not exceed theta_m.
inline constexpr double theta3 = 1.495585217958292e-2;
inline constexpr double theta5 = 2.539398330063230e-1;
inline constexpr double theta7 = 9.504178996162932e-1;
inline constexpr double theta9 = 2.097847961257068e0;
inline constexpr double theta13 = 5.371920351148152e0;

// log2 of || |A|^p ||_1 (-inf if it is zero), computed as the largest entry of 1^T |A|^p with the
// running vector rescaled each time so large norms and high powers cannot overflow.
template <std::size_t N>
double log2_norm1_abs_power(const Matrix<N>& A, int p) noexcept {
  std::array<double, N> v;
  v.fill(1.0);
  double log2_scale = 0.0;
  for (int k = 0; k < p; ++k) {
    std::array<double, N> w{};
    for (std::size_t i = 0; i < N; ++i) {
      for (std::size_t j = 0; j < N; ++j) w[j] += v[i] * std::fabs(A[i * N + j]);
    }
    double vmax = 0.0;
    for (std::size_t j = 0; j < N; ++j) vmax = std::max(vmax, w[j]);
    if (!(vmax > 0.0)) return -std::numeric_limits<double>::infinity();
    int e = 0;
    std::frexp(vmax, &e);
    for (std::size_t j = 0; j < N; ++j) v[j] = std::ldexp(w[j], -e);
    log2_scale += static_cast<double>(e);
  }
  double vmax = 0.0;
  for (std::size_t j = 0; j < N; ++j) vmax = std::max(vmax, v[j]);
  return log2_scale + std::log2(vmax);
}

// ell(A, m) of Al-Mohy & Higham: the number of extra squarings that keeps the relative forward error
// of the Pade approximant within unit roundoff, judged by |c_{2m+1}| || |A|^(2m+1) ||_1 / ||A||_1.
template <std::size_t N>
int ell(const Matrix<N>& A, int m, double norm_a) noexcept {
  const double l2 = log2_norm1_abs_power<N>(A, 2 * m + 1);
  if (!(l2 > -std::numeric_limits<double>::infinity())) return 0;
  const double log2_alpha = std::log2(pade_error_coefficient(m)) + l2 - std::log2(norm_a);
  const double u_log2 = -53.0;  // unit roundoff 2^-53
  const double e = std::ceil((log2_alpha - u_log2) / (2.0 * m));
  if (!(e > 0.0)) return 0;
  return static_cast<int>(std::min(e, 2000.0));
}

// U = A * (sum of odd terms), V = sum of even terms, for Pade degree m in {3,5,7,9} from precomputed
// even powers P[0] = A^2, P[1] = A^4, P[2] = A^6, P[3] = A^8.
template <std::size_t N, int M>
void pade_uv_low(const Matrix<N>& A, const Matrix<N>* const* P, Matrix<N>& U, Matrix<N>& V) noexcept {
  constexpr auto c = pade_coefficients<M>();
  Matrix<N> odd;
  set_identity<N>(odd);
  set_identity<N>(V);
  for (std::size_t i = 0; i < N * N; ++i) {
    odd[i] *= c[1];
    V[i] *= c[0];
  }
  for (int k = 1; 2 * k <= M; ++k) {
    const Matrix<N>& Pk = *P[k - 1];
    const double c_odd = c[2 * k + 1];
    const double c_even = c[2 * k];
    for (std::size_t i = 0; i < N * N; ++i) {
      odd[i] += c_odd * Pk[i];
      V[i] += c_even * Pk[i];
    }
  }
  matmul<N>(A, odd, U);
}

// Degree-13 U and V with Higham's evaluation scheme (6 products in total with A2, A4, A6).
template <std::size_t N>
void pade_uv_13(const Matrix<N>& A, const Matrix<N>& A2, const Matrix<N>& A4, const Matrix<N>& A6, Matrix<N>& U,
                Matrix<N>& V) noexcept {
  constexpr auto c = pade_coefficients<13>();
  Matrix<N> t1, t2;
  for (std::size_t i = 0; i < N * N; ++i) t1[i] = c[13] * A6[i] + c[11] * A4[i] + c[9] * A2[i];
  matmul<N>(A6, t1, t2);
  for (std::size_t i = 0; i < N * N; ++i) t2[i] += c[7] * A6[i] + c[5] * A4[i] + c[3] * A2[i];
  for (std::size_t i = 0; i < N; ++i) t2[i * N + i] += c[1];
  matmul<N>(A, t2, U);
  for (std::size_t i = 0; i < N * N; ++i) t1[i] = c[12] * A6[i] + c[10] * A4[i] + c[8] * A2[i];
  matmul<N>(A6, t1, V);
  for (std::size_t i = 0; i < N * N; ++i) V[i] += c[6] * A6[i] + c[4] * A4[i] + c[2] * A2[i];
  for (std::size_t i = 0; i < N; ++i) V[i * N + i] += c[0];
}

// Exact exp of a 2x2 upper triangular block [[l1, t], [0, l2]]: its (1,2) entry, t (e^l2 - e^l1)/(l2 - l1),
// written so neither cancellation (close eigenvalues) nor overflow of a single factor spoils it.
inline double triangular_superdiagonal(double l1, double l2, double t) noexcept {
  const double d = l2 - l1;
  if (d == 0.0) return t * std::exp(l1);
  if (std::fabs(d) < 1.0) {
    const double half = 0.5 * d;
    return t * std::exp(0.5 * (l1 + l2)) * (std::sinh(half) / half);
  }
  return t * (std::exp(l2) - std::exp(l1)) / d;
}

// For upper triangular T, overwrites the diagonal and first superdiagonal of E ~ exp(2^-j T) with their
// exactly computed values (Al-Mohy & Higham 2009, sec. 2): this stops the squaring phase from
// accumulating error in the entries that dominate propagators of triangular systems.
template <std::size_t N>
void fix_triangular(const Matrix<N>& T, int j, Matrix<N>& E) noexcept {
  for (std::size_t i = 0; i < N; ++i) E[i * N + i] = std::exp(std::ldexp(T[i * N + i], -j));
  for (std::size_t i = 0; i + 1 < N; ++i) {
    E[i * N + i + 1] = triangular_superdiagonal(std::ldexp(T[i * N + i], -j), std::ldexp(T[(i + 1) * N + i + 1], -j),
                                                std::ldexp(T[i * N + i + 1], -j));
  }
}

template <std::size_t N>
bool is_upper_triangular(const Matrix<N>& A) noexcept {
  for (std::size_t i = 1; i < N; ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (A[i * N + j] != 0.0) return false;
  return true;
}

template <std::size_t N>
void transpose(const Matrix<N>& A, Matrix<N>& B) noexcept {
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = 0; j < N; ++j) B[j * N + i] = A[i * N + j];
}

// Scaling and squaring for a finite, non-zero A; `upper` says A is upper triangular (diagonal and
// superdiagonal of every intermediate result are then recomputed exactly).
template <std::size_t N>
ExpmInfo expm_scaling_squaring(const Matrix<N>& A, double norm_a, bool upper, Matrix<N>& E) noexcept {
  ExpmInfo info;
  Matrix<N> A2, A4, A6, U, V;
  matmul<N>(A, A, A2);
  matmul<N>(A2, A2, A4);
  matmul<N>(A2, A4, A6);
  const double d4 = std::pow(norm1<N>(A4), 1.0 / 4.0);
  const double d6 = std::pow(norm1<N>(A6), 1.0 / 6.0);
  const double eta1 = std::max(d4, d6);

  int m = 0;
  if (eta1 <= theta3 && ell<N>(A, 3, norm_a) == 0) {
    const Matrix<N>* P[] = {&A2};
    pade_uv_low<N, 3>(A, P, U, V);
    m = 3;
  } else if (eta1 <= theta5 && ell<N>(A, 5, norm_a) == 0) {
    const Matrix<N>* P[] = {&A2, &A4};
    pade_uv_low<N, 5>(A, P, U, V);
    m = 5;
  }

  int s = 0;
  if (m == 0) {
    Matrix<N> A8;
    matmul<N>(A4, A4, A8);
    const double d8 = std::pow(norm1<N>(A8), 1.0 / 8.0);
    const double eta3 = std::max(d6, d8);
    if (eta3 <= theta7 && ell<N>(A, 7, norm_a) == 0) {
      const Matrix<N>* P[] = {&A2, &A4, &A6};
      pade_uv_low<N, 7>(A, P, U, V);
      m = 7;
    } else if (eta3 <= theta9 && ell<N>(A, 9, norm_a) == 0) {
      const Matrix<N>* P[] = {&A2, &A4, &A6, &A8};
      pade_uv_low<N, 9>(A, P, U, V);
      m = 9;
    } else {
      Matrix<N> A10;
      matmul<N>(A4, A6, A10);
      const double d10 = std::pow(norm1<N>(A10), 1.0 / 10.0);
      double eta5 = std::min(eta3, std::max(d8, d10));
      // ||A^k||^(1/k) <= ||A||, so ||A|| is a valid (if pessimistic) bound when the powers overflowed.
      if (!std::isfinite(eta5)) eta5 = norm_a;
      // eta5 may be 0 for a nilpotent A; then no squaring is needed beyond what ell() asks for.
      double s0 = (eta5 > 0.0) ? std::ceil(std::log2(eta5 / theta13)) : 0.0;
      if (!(s0 > 0.0)) s0 = 0.0;
      s = static_cast<int>(std::min(s0, 2000.0));
      Matrix<N> As;
      for (std::size_t i = 0; i < N * N; ++i) As[i] = std::ldexp(A[i], -s);
      s += ell<N>(As, 13, std::ldexp(norm_a, -s));
      s = std::min(s, 2000);
      // Rescale A and its even powers by 2^-s, 2^-2s, ... (exact: powers of two), unless the unscaled
      // powers overflowed; then they are recomputed from the scaled matrix.
      for (std::size_t i = 0; i < N * N; ++i) As[i] = std::ldexp(A[i], -s);
      if (std::isfinite(norm1<N>(A6)) && std::isfinite(norm1<N>(A4)) && std::isfinite(norm1<N>(A2))) {
        for (std::size_t i = 0; i < N * N; ++i) {
          A2[i] = std::ldexp(A2[i], -2 * s);
          A4[i] = std::ldexp(A4[i], -4 * s);
          A6[i] = std::ldexp(A6[i], -6 * s);
        }
      } else {
        matmul<N>(As, As, A2);
        matmul<N>(A2, A2, A4);
        matmul<N>(A2, A4, A6);
      }
      pade_uv_13<N>(As, A2, A4, A6, U, V);
      m = 13;
    }
  }

  // r_m = (V - U)^-1 (V + U).
  Matrix<N> Q;
  std::array<std::size_t, N> piv;
  for (std::size_t i = 0; i < N * N; ++i) {
    Q[i] = V[i] - U[i];
    E[i] = V[i] + U[i];
  }
  if (!lu_factor<N>(Q, piv)) {
    E.fill(std::numeric_limits<double>::quiet_NaN());
    info.ok = false;
    info.pade_degree = m;
    info.squarings = s;
    return info;
  }
  lu_solve_matrix<N>(Q, piv, E);
  if (upper) fix_triangular<N>(A, s, E);

  for (int k = 0; k < s; ++k) {
    matmul<N>(E, E, Q);
    E = Q;
    if (upper) fix_triangular<N>(A, s - k - 1, E);
  }
  info.pade_degree = m;
  info.squarings = s;
  double chk = 0.0;
  for (std::size_t i = 0; i < N * N; ++i) chk += E[i] * 0.0;
  info.ok = (chk == 0.0);
  return info;
}

}  // namespace detail

// E = exp(A) for a row-major N x N matrix A (E must not alias A). Allocation-free; at most 6 + s matrix
// products plus one LU solve with N right-hand sides. Diagonal matrices are exponentiated entrywise
// (exactly rounded up to std::exp); triangular ones, common for the propagators of linear neuron
// models, keep their diagonal and first off-diagonal exact through the squaring phase.
template <std::size_t N>
ExpmInfo expm(const Matrix<N>& A, Matrix<N>& E) noexcept {
  const double norm_a = norm1<N>(A);
  if (!std::isfinite(norm_a)) {
    E.fill(std::numeric_limits<double>::quiet_NaN());
    return ExpmInfo{0, 0, false};
  }
  if (norm_a == 0.0) {
    set_identity<N>(E);
    return ExpmInfo{};
  }
  const bool upper = detail::is_upper_triangular<N>(A);
  Matrix<N> At;
  detail::transpose<N>(A, At);
  const bool lower = detail::is_upper_triangular<N>(At);
  if (upper && lower) {  // diagonal
    E.fill(0.0);
    bool ok = true;
    for (std::size_t i = 0; i < N; ++i) {
      E[i * N + i] = std::exp(A[i * N + i]);
      ok = ok && std::isfinite(E[i * N + i]);
    }
    return ExpmInfo{0, 0, ok};
  }
  if (lower) {
    // exp(A) = exp(A^T)^T, and A^T is upper triangular.
    Matrix<N> Et;
    const ExpmInfo info = detail::expm_scaling_squaring<N>(At, norm1<N>(At), true, Et);
    detail::transpose<N>(Et, E);
    return info;
  }
  return detail::expm_scaling_squaring<N>(A, norm_a, upper, E);
}

}  // namespace nmlc_rt
