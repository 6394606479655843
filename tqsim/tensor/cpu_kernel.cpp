// In-place products of a small gate matrix with a flat CPU ket, for tqsim/tensor/cpu_kernels.py.
//
// A k-qubit matrix mixes the 2**k amplitudes of every group that shares all
// other bits. The ket is read as 64-byte vectors of W consecutive amplitudes
// (interleaved real and imaginary parts for complex kets). A target bit at or
// above the vector's width picks another vector: a group of vectors is loaded,
// mixed in registers and stored back, with no temporaries and no permutation of
// the ket, wherever the targets lie. A target bit inside the vector ("low"
// targets) mixes lanes: the vector is taken again with its lanes exchanged
// (lane l from lane l ^ t, for every t made of low target bits) and multiplied
// by per-lane coefficients, so the arithmetic per amplitude stays that of a
// plain 2**k x 2**k product.
//
// Complex products use the interleaved layout directly: with a = (re, im)
// pairs and s = (-im, re) the pairs swapped and signed, m * a is
// Re(m) * a + Im(m) * s: two fused multiply-adds per vector, no shuffles in
// the inner loop.
//
// Every output amplitude is one thread's fixed sum, so the bits do not depend
// on the number of threads. Written with GCC/Clang vector extensions: the
// compiler maps them onto the machine's own instructions (-march=native).

#include <ATen/Parallel.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

constexpr int kMaxQubits = 5;

template <typename T, bool Complex>
struct Layout {
  static constexpr int numbers = 64 / sizeof(T);          // numbers per vector
  static constexpr int per_amplitude = Complex ? 2 : 1;   // numbers per amplitude
  static constexpr int lanes = numbers / per_amplitude;   // amplitudes per vector
  static constexpr int lane_bits = __builtin_ctz(lanes);
  typedef T vec __attribute__((vector_size(64)));
  typedef T unaligned_vec __attribute__((vector_size(64), aligned(sizeof(T))));
};

// the vector whose lane l holds lane l ^ t of v
template <int t, int per_amplitude, typename V, size_t... e>
inline V exchanged(V v, std::index_sequence<e...>) {
  return __builtin_shufflevector(v, v, (per_amplitude * ((e / per_amplitude) ^ t) + e % per_amplitude)...);
}

// (re, im) pairs as (im, re)
template <typename V, size_t... e>
inline V swapped_pairs(V v, std::index_sequence<e...>) {
  return __builtin_shufflevector(v, v, (e ^ 1)...);
}

// the bits of x at the set bits of mask, packed to the right
constexpr int packed_bits(int x, int mask) {
  int result = 0, at = 0;
  for (int b = 0; mask >> b; ++b)
    if (mask >> b & 1) result |= (x >> b & 1) << at++;
  return result;
}

template <typename T, bool Complex, int HIGH, int LOW>
struct Kernel {
  using L = Layout<T, Complex>;
  using V = typename L::vec;
  using U = typename L::unaligned_vec;
  static constexpr int W = L::lanes, E = L::per_amplitude, NUMBERS = L::numbers;
  static constexpr int GROUP = 1 << HIGH;                   // vectors per group
  static constexpr int LOW_COUNT = __builtin_popcount(LOW);
  static constexpr int DIM = GROUP << LOW_COUNT;            // the matrix's side
  static constexpr int EXCHANGES = 1 << LOW_COUNT;          // lane exchanges t: the subsets of LOW
  static constexpr int ROWS = GROUP < 8 ? GROUP : 8;        // outputs accumulated together, sharing loads
  static constexpr int PAIR = 2;                            // groups mixed together, sharing each coefficient
  // a coefficient: one number, or with low targets one per lane
  using C = std::conditional_t<LOW == 0, T, V>;

  template <int t> static constexpr bool used() { return (t & ~LOW) == 0; }

  // [x][i][j], lane l, for the exchange t packed to x: M[(i, low bits of l), (j, low bits of l ^ t)]
  struct Coefficients {
    alignas(64) C re[EXCHANGES][GROUP][GROUP];
    alignas(64) C im[Complex ? EXCHANGES : 1][GROUP][GROUP];
  };

  static T number(const T* matrix, int row, int col, bool imaginary) {
    return Complex ? matrix[2 * (row * DIM + col) + imaginary] : matrix[row * DIM + col];
  }

  static void fill(Coefficients& c, const T* matrix) {
    for (int t = 0; t < W; ++t) {
      if (t & ~LOW) continue;
      const int x = packed_bits(t, LOW);
      for (int i = 0; i < GROUP; ++i)
        for (int j = 0; j < GROUP; ++j) {
          if constexpr (LOW == 0) {
            c.re[x][i][j] = number(matrix, i, j, false);
            if constexpr (Complex) c.im[x][i][j] = number(matrix, i, j, true);
          } else {
            for (int l = 0; l < W; ++l) {
              const int row = (i << LOW_COUNT) | packed_bits(l, LOW);
              const int col = (j << LOW_COUNT) | packed_bits(l ^ t, LOW);
              for (int e = 0; e < E; ++e) {
                c.re[x][i][j][E * l + e] = number(matrix, row, col, false);
                if constexpr (Complex) c.im[x][i][j][E * l + e] = number(matrix, row, col, true);
              }
            }
          }
        }
    }
  }

  template <int t>
  static inline void exchange(V (&xa)[EXCHANGES][GROUP], V (&xs)[EXCHANGES][GROUP], const V (&a)[GROUP],
                              const V (&s)[GROUP]) {
    if constexpr (used<t>()) {
      constexpr int x = packed_bits(t, LOW);
      for (int j = 0; j < GROUP; ++j) {
        xa[x][j] = exchanged<t, E>(a[j], std::make_index_sequence<NUMBERS>{});
        if constexpr (Complex) xs[x][j] = exchanged<t, E>(s[j], std::make_index_sequence<NUMBERS>{});
      }
    }
  }

  // rows i0 .. i0 + ROWS - 1 of the product for both groups of a pair, the part through exchange t
  template <int t>
  static inline void accumulate(V (&acc)[PAIR][ROWS], const Coefficients& c, const V (&xa)[PAIR][EXCHANGES][GROUP],
                                const V (&xs)[PAIR][EXCHANGES][GROUP], int i0) {
    if constexpr (used<t>()) {
      constexpr int x = packed_bits(t, LOW);
      for (int j = 0; j < GROUP; ++j) {
        V va[PAIR], vs[PAIR];
        for (int u = 0; u < PAIR; ++u) {
          va[u] = xa[u][x][j];
          if constexpr (Complex) vs[u] = xs[u][x][j];
        }
        for (int r = 0; r < ROWS; ++r) {
          const C re = c.re[x][i0 + r][j];
          for (int u = 0; u < PAIR; ++u) acc[u][r] += re * va[u];
          if constexpr (Complex) {
            const C im = c.im[x][i0 + r][j];
            for (int u = 0; u < PAIR; ++u) acc[u][r] += im * vs[u];
          }
        }
      }
    }
  }

  template <size_t... t>
  static inline void exchange_all(V (&xa)[EXCHANGES][GROUP], V (&xs)[EXCHANGES][GROUP], const V (&a)[GROUP],
                                  const V (&s)[GROUP], std::index_sequence<t...>) {
    (exchange<t>(xa, xs, a, s), ...);
  }

  template <size_t... t>
  static inline void accumulate_all(V (&acc)[PAIR][ROWS], const Coefficients& c,
                                    const V (&xa)[PAIR][EXCHANGES][GROUP], const V (&xs)[PAIR][EXCHANGES][GROUP],
                                    int i0, std::index_sequence<t...>) {
    (accumulate<t>(acc, c, xa, xs, i0), ...);
  }

  // high: the bit positions of the targets at or above lane_bits, ascending
  static void run(T* ket, int64_t amplitudes, const T* matrix, const int64_t* high) {
    Coefficients c;
    fill(c, matrix);
    int64_t offset[GROUP];
    for (int j = 0; j < GROUP; ++j) {
      int64_t o = 0;
      for (int b = 0; b < HIGH; ++b)
        if (j >> b & 1) o |= int64_t(1) << high[b];
      offset[j] = E * o;
    }
    V sign;
    for (int e = 0; e < NUMBERS; ++e) sign[e] = (e & 1) ? T(1) : T(-1);
    // groups come in pairs: for n >= 10 (cpu_kernels.MIN_AMPLITUDES) a block of at most 5 high targets
    // leaves an even number of groups
    const int64_t pairs = (amplitudes >> (HIGH + L::lane_bits)) / PAIR;
    // each task gets at least 2**14 amplitudes: thread start-up costs more than smaller slices
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) >> (HIGH + L::lane_bits + 1));
    at::parallel_for(0, pairs, grain, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        T* base[PAIR];
        V xa[PAIR][EXCHANGES][GROUP], xs[PAIR][EXCHANGES][GROUP];  // xs: complex kets only
        for (int u = 0; u < PAIR; ++u) {
          int64_t first = p * PAIR + u;  // the group's first vector: zero bits inserted at the high targets
          for (int b = 0; b < HIGH; ++b) {
            const int q = high[b] - L::lane_bits;
            first = ((first >> q) << (q + 1)) | (first & ((int64_t(1) << q) - 1));
          }
          base[u] = ket + first * NUMBERS;
          V a[GROUP], s[GROUP];
          for (int j = 0; j < GROUP; ++j) {
            a[j] = *reinterpret_cast<const U*>(base[u] + offset[j]);
            if constexpr (Complex) s[j] = swapped_pairs(a[j], std::make_index_sequence<NUMBERS>{}) * sign;
          }
          exchange_all(xa[u], xs[u], a, s, std::make_index_sequence<W>{});
        }
        for (int i0 = 0; i0 < GROUP; i0 += ROWS) {
          V acc[PAIR][ROWS] = {};
          accumulate_all(acc, c, xa, xs, i0, std::make_index_sequence<W>{});
          for (int u = 0; u < PAIR; ++u)
            for (int r = 0; r < ROWS; ++r) *reinterpret_cast<U*>(base[u] + offset[i0 + r]) = acc[u][r];
        }
      }
    });
  }
};

using Runner = void (*)(void*, int64_t, const void*, const int64_t*);

template <typename T, bool Complex, int HIGH, int LOW>
void run_erased(void* ket, int64_t amplitudes, const void* matrix, const int64_t* high) {
  Kernel<T, Complex, HIGH, LOW>::run(static_cast<T*>(ket), amplitudes, static_cast<const T*>(matrix), high);
}

// table[high][low] for one element type; null where the block is wider than kMaxQubits
template <typename T, bool Complex>
struct Table {
  static constexpr int lanes = Layout<T, Complex>::lanes;
  Runner entries[kMaxQubits + 1][lanes] = {};

  template <int HIGH, int LOW>
  void put() {
    if constexpr (HIGH + __builtin_popcount(LOW) <= kMaxQubits) entries[HIGH][LOW] = &run_erased<T, Complex, HIGH, LOW>;
  }
  template <int HIGH, size_t... LOW>
  void put_lows(std::index_sequence<LOW...>) { (put<HIGH, LOW>(), ...); }
  template <size_t... HIGH>
  void put_all(std::index_sequence<HIGH...>) { (put_lows<HIGH>(std::make_index_sequence<lanes>{}), ...); }

  Table() { put_all(std::make_index_sequence<kMaxQubits + 1>{}); }
};

template <typename T, bool Complex>
void dispatch(uintptr_t ket, int64_t amplitudes, uintptr_t matrix, const std::vector<int64_t>& high, int low) {
  static const Table<T, Complex> table;
  const int lanes = Layout<T, Complex>::lanes;
  if (high.size() > size_t(kMaxQubits) || low < 0 || low >= lanes || !table.entries[high.size()][low])
    throw std::invalid_argument("no kernel for " + std::to_string(high.size()) + " high targets and low mask " +
                                std::to_string(low));
  table.entries[high.size()][low](reinterpret_cast<void*>(ket), amplitudes, reinterpret_cast<const void*>(matrix),
                                  high.data());
}

void apply(uintptr_t ket, int64_t amplitudes, uintptr_t matrix, const std::vector<int64_t>& high, int low,
           const std::string& kind) {
  if (kind == "complex64") return dispatch<float, true>(ket, amplitudes, matrix, high, low);
  if (kind == "complex128") return dispatch<double, true>(ket, amplitudes, matrix, high, low);
  if (kind == "float32") return dispatch<float, false>(ket, amplitudes, matrix, high, low);
  if (kind == "float64") return dispatch<double, false>(ket, amplitudes, matrix, high, low);
  throw std::invalid_argument("no kernel for dtype " + kind);
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("apply", &apply, "In place: a 2**k x 2**k matrix on a flat ket (see cpu_kernels.py)");
  m.attr("max_qubits") = kMaxQubits;
}
