// nmlc_rt_dense.h -- small dense linear algebra on fixed-size row-major matrices
// (std::array<double, N*N>, element (i, j) at [i*N + j]): products, 1-norm, and an in-place LU
// factorisation with partial pivoting plus the matching solves. Nothing allocates; sizes are template
// parameters so the compiler can unroll the loops for the small N (<= ~20) of neuron models.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>

namespace nmlc_rt {

template <std::size_t N>
using Matrix = std::array<double, N * N>;

template <std::size_t N>
inline void set_identity(Matrix<N>& A) noexcept {
  A.fill(0.0);
  for (std::size_t i = 0; i < N; ++i) A[i * N + i] = 1.0;
}

// C = A * B. C must not alias A or B.
template <std::size_t N>
inline void matmul(const Matrix<N>& A, const Matrix<N>& B, Matrix<N>& C) noexcept {
  C.fill(0.0);
  // i-k-j order: the innermost loop runs along rows of B and C, which is contiguous and vectorises.
  for (std::size_t i = 0; i < N; ++i) {
    for (std::size_t k = 0; k < N; ++k) {
      const double a = A[i * N + k];
      for (std::size_t j = 0; j < N; ++j) C[i * N + j] += a * B[k * N + j];
    }
  }
}

// Induced 1-norm: the largest absolute column sum.
template <std::size_t N>
inline double norm1(const Matrix<N>& A) noexcept {
  double best = 0.0;
  for (std::size_t j = 0; j < N; ++j) {
    double s = 0.0;
    for (std::size_t i = 0; i < N; ++i) s += std::fabs(A[i * N + j]);
    // Written so that a NaN column sum propagates instead of being skipped by the comparison.
    best = (s > best || s != s) ? s : best;
  }
  return best;
}

// In-place LU factorisation P A = L U with partial (row) pivoting. On return A holds U in its upper
// triangle and the multipliers of the unit lower triangular L below the diagonal; piv[k] is the row that
// was swapped into row k at elimination step k. Returns false if a pivot is zero or not finite (the
// matrix is singular to working precision or contains NaN/inf); A is then unusable.
template <std::size_t N>
inline bool lu_factor(Matrix<N>& A, std::array<std::size_t, N>& piv) noexcept {
  for (std::size_t k = 0; k < N; ++k) {
    std::size_t p = k;
    double pmax = std::fabs(A[k * N + k]);
    for (std::size_t i = k + 1; i < N; ++i) {
      const double v = std::fabs(A[i * N + k]);
      if (v > pmax) {
        pmax = v;
        p = i;
      }
    }
    piv[k] = p;
    if (!(pmax > 0.0) || !std::isfinite(pmax)) return false;
    if (p != k) {
      for (std::size_t j = 0; j < N; ++j) {
        const double tmp = A[k * N + j];
        A[k * N + j] = A[p * N + j];
        A[p * N + j] = tmp;
      }
    }
    const double inv_pivot = 1.0 / A[k * N + k];
    for (std::size_t i = k + 1; i < N; ++i) {
      const double l = A[i * N + k] * inv_pivot;
      A[i * N + k] = l;
      if (l != 0.0) {
        for (std::size_t j = k + 1; j < N; ++j) A[i * N + j] -= l * A[k * N + j];
      }
    }
  }
  return true;
}

// Solves A x = b given the output of lu_factor; b is overwritten with x.
template <std::size_t N>
inline void lu_solve(const Matrix<N>& LU, const std::array<std::size_t, N>& piv, std::array<double, N>& b) noexcept {
  for (std::size_t k = 0; k < N; ++k) {
    if (piv[k] != k) {
      const double tmp = b[k];
      b[k] = b[piv[k]];
      b[piv[k]] = tmp;
    }
  }
  for (std::size_t i = 1; i < N; ++i) {
    double s = b[i];
    for (std::size_t j = 0; j < i; ++j) s -= LU[i * N + j] * b[j];
    b[i] = s;
  }
  for (std::size_t ii = N; ii-- > 0;) {
    double s = b[ii];
    for (std::size_t j = ii + 1; j < N; ++j) s -= LU[ii * N + j] * b[j];
    b[ii] = s / LU[ii * N + ii];
  }
}

// Solves A X = B for all N columns of B at once (B row-major, overwritten with X).
template <std::size_t N>
inline void lu_solve_matrix(const Matrix<N>& LU, const std::array<std::size_t, N>& piv, Matrix<N>& B) noexcept {
  for (std::size_t k = 0; k < N; ++k) {
    const std::size_t p = piv[k];
    if (p != k) {
      for (std::size_t j = 0; j < N; ++j) {
        const double tmp = B[k * N + j];
        B[k * N + j] = B[p * N + j];
        B[p * N + j] = tmp;
      }
    }
  }
  // Row-oriented substitutions so the inner loops run along contiguous rows of B.
  for (std::size_t i = 1; i < N; ++i) {
    for (std::size_t k = 0; k < i; ++k) {
      const double l = LU[i * N + k];
      if (l != 0.0) {
        for (std::size_t j = 0; j < N; ++j) B[i * N + j] -= l * B[k * N + j];
      }
    }
  }
  for (std::size_t ii = N; ii-- > 0;) {
    for (std::size_t k = ii + 1; k < N; ++k) {
      const double u = LU[ii * N + k];
      if (u != 0.0) {
        for (std::size_t j = 0; j < N; ++j) B[ii * N + j] -= u * B[k * N + j];
      }
    }
    const double inv = 1.0 / LU[ii * N + ii];
    for (std::size_t j = 0; j < N; ++j) B[ii * N + j] *= inv;
  }
}

}  // namespace nmlc_rt
