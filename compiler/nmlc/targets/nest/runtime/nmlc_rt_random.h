// nmlc_rt_random.h -- per-neuron random numbers that do not depend on the thread count.
//
// NEST's per-thread generators give a neuron a different stream when the number of threads (and so the
// neuron's virtual process) changes. Generated models instead own a small counter-free engine seeded
// from (the kernel's rng_seed, the node id), so a model's draws are the same for 1, 2 or more threads
// and for any MPI layout. Engine: xoshiro256** (Blackman & Vigna 2018), seeded through splitmix64.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace nmlc_rt {

class Xoshiro256 {
 public:
  using result_type = std::uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

  Xoshiro256() noexcept { seed(0, 0); }

  // Two 64-bit keys (e.g. the simulation seed and the node id) give independent streams.
  void seed(std::uint64_t key0, std::uint64_t key1) noexcept {
    std::uint64_t x = key0 * 0x9E3779B97F4A7C15ull ^ (key1 + 0xD1B54A32D192ED03ull);
    for (auto& word : s_) word = splitmix64(x);
  }

  result_type operator()() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform01() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t s_[4];
};

// Distributions written out (not std:: ones) so the numbers are the same with every standard library.
class RandomSource {
 public:
  void seed(std::uint64_t key0, std::uint64_t key1) noexcept {
    engine_.seed(key0, key1);
    has_spare_ = false;
  }

  double uniform(double low, double high) noexcept { return low + (high - low) * engine_.uniform01(); }

  // Marsaglia's polar method; the second normal of each pair is kept for the next call.
  double normal(double mean, double sd) noexcept {
    if (has_spare_) {
      has_spare_ = false;
      return mean + sd * spare_;
    }
    double u, v, s;
    do {
      u = 2.0 * engine_.uniform01() - 1.0;
      v = 2.0 * engine_.uniform01() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return mean + sd * u * f;
  }

  // Poisson counts: multiplication of uniforms for small means, normal approximation with continuity
  // correction never; for large means, the PTRS transformed-rejection method (Hoermann 1993).
  long poisson(double mean) noexcept {
    if (!(mean > 0.0)) return 0;
    if (mean < 30.0) {
      const double limit = std::exp(-mean);
      long k = 0;
      double p = engine_.uniform01();
      while (p > limit) {
        ++k;
        p *= engine_.uniform01();
      }
      return k;
    }
    const double slam = std::sqrt(mean);
    const double loglam = std::log(mean);
    const double b = 0.931 + 2.53 * slam;
    const double a = -0.059 + 0.02483 * b;
    const double invalpha = 1.1239 + 1.1328 / (b - 3.4);
    const double vr = 0.9277 - 3.6224 / (b - 2.0);
    for (;;) {
      const double u = engine_.uniform01() - 0.5;
      const double v = engine_.uniform01();
      const double us = 0.5 - std::fabs(u);
      const long k = static_cast<long>(std::floor((2.0 * a / us + b) * u + mean + 0.43));
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <=
          -mean + k * loglam - std::lgamma(static_cast<double>(k) + 1.0))
        return k;
    }
  }

 private:
  Xoshiro256 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace nmlc_rt
