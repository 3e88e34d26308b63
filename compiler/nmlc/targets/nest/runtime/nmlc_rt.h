// nmlc_rt.h -- umbrella header of the nmlc numeric runtime (namespace nmlc_rt): header-only C++20
// integrators and matrix functions included by generated models. No NEST or GSL dependency, no heap
// allocation on the hot path, no global mutable state (one stepper object per neuron is thread-safe).
//
//   Dopri54<N>       adaptive explicit Runge-Kutta 5(4), FSAL, PI control   (nmlc_rt_dopri54.h)
//   Rodas3<N>        adaptive Rosenbrock method for stiff systems             (nmlc_rt_rosenbrock.h)
//   ForwardEuler<N>, Rk4<N>   fixed-step explicit methods                     (nmlc_rt_fixed_step.h)
//   expm<N>          matrix exponential, scaling and squaring with Pade       (nmlc_rt_expm.h)
//   lu_factor<N>, lu_solve<N>, matmul<N>, norm1<N>   small dense algebra      (nmlc_rt_dense.h)
#pragma once

#include "nmlc_rt_common.h"
#include "nmlc_rt_dense.h"
#include "nmlc_rt_dopri54.h"
#include "nmlc_rt_expm.h"
#include "nmlc_rt_fixed_step.h"
#include "nmlc_rt_rosenbrock.h"
