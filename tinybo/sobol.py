"""A scrambled Sobol sequence in numpy: the space-filling points of the initial design and the acquisition's candidates.
Holds: `sobol(n, d, rng)`. Imports: numpy.
"""
from __future__ import annotations

import numpy as np

# Joe & Kuo (2008) new-joe-kuo-6.21201 for dimensions 2..40: (primitive polynomial with both end bits, initial m_1..m_s).
# Dimension 1 is van der Corput (all m = 1). Beyond 40 we continue with the next primitive polynomials and odd m_k from a
# fixed generator: still a valid Sobol construction (Bratley & Fox 1988), with weaker low-dimensional projections.
_JOE_KUO = ((3, (1,)), (7, (1, 3)), (11, (1, 3, 1)), (13, (1, 1, 1)), (19, (1, 1, 3, 3)), (25, (1, 3, 5, 13)), (37, (1, 1, 5, 5, 17)),
            (41, (1, 1, 5, 5, 5)), (47, (1, 1, 7, 11, 19)), (55, (1, 1, 5, 1, 1)), (59, (1, 1, 1, 3, 11)), (61, (1, 3, 5, 5, 31)),
            (67, (1, 3, 3, 9, 7, 49)), (91, (1, 1, 1, 15, 21, 21)), (97, (1, 3, 1, 13, 27, 49)), (103, (1, 1, 1, 15, 7, 5)),
            (109, (1, 3, 1, 15, 13, 25)), (115, (1, 1, 5, 5, 19, 61)), (131, (1, 3, 7, 11, 23, 15, 103)), (137, (1, 3, 7, 13, 13, 15, 69)),
            (143, (1, 1, 3, 13, 7, 35, 63)), (145, (1, 3, 5, 9, 1, 25, 53)), (157, (1, 3, 1, 13, 9, 35, 107)),
            (167, (1, 3, 1, 5, 27, 61, 31)), (171, (1, 1, 5, 11, 19, 41, 61)), (185, (1, 3, 5, 3, 3, 13, 69)),
            (191, (1, 1, 7, 13, 1, 19, 1)), (193, (1, 3, 7, 5, 13, 19, 59)), (203, (1, 1, 3, 9, 25, 29, 41)),
            (211, (1, 3, 5, 13, 23, 1, 55)), (213, (1, 3, 7, 3, 13, 59, 17)), (229, (1, 3, 1, 3, 5, 53, 69)),
            (239, (1, 1, 5, 5, 23, 33, 13)), (241, (1, 1, 7, 7, 1, 61, 123)), (247, (1, 1, 7, 9, 13, 61, 49)),
            (253, (1, 3, 3, 5, 3, 55, 33)), (285, (1, 3, 1, 15, 31, 13, 49, 245)), (299, (1, 3, 5, 15, 31, 59, 63, 97)),
            (301, (1, 3, 1, 11, 11, 11, 77, 249)))
_BITS = 30

def _is_primitive(p: int) -> bool:
  s = p.bit_length() - 1
  order = (1 << s) - 1
  def mulmod(a: int, b: int) -> int:
    r = 0
    while b:
      if b & 1: r ^= a
      b >>= 1; a <<= 1
      if a >> s & 1: a ^= p
    return r
  def powmod(e: int) -> int:
    r, a = 1, 2
    while e:
      if e & 1: r = mulmod(r, a)
      a = mulmod(a, a); e >>= 1
    return r
  if powmod(order) != 1: return False
  primes, n, q = [], order, 2
  while q * q <= n:
    if n % q == 0:
      primes.append(q)
      while n % q == 0: n //= q
    q += 1
  if n > 1: primes.append(n)
  return all(powmod(order // q) != 1 for q in primes)

_DIRECTIONS: dict[int, np.ndarray] = {}

def _direction_numbers(d: int) -> np.ndarray:
  """[d, _BITS] direction integers v_k = m_k << (_BITS - 1 - k)."""
  if d in _DIRECTIONS: return _DIRECTIONS[d]
  table = list(_JOE_KUO[:max(d - 1, 0)])
  p, gen = _JOE_KUO[-1][0], np.random.default_rng(20080101)
  while len(table) < d - 1:
    p += 2
    if _is_primitive(p):
      s = p.bit_length() - 1
      table.append((p, tuple(int(gen.integers(0, 1 << k)) * 2 + 1 for k in range(s))))  # odd m_k < 2^(k+1)
  V = np.zeros((d, _BITS), dtype=np.int64)
  V[0] = 1 << np.arange(_BITS - 1, -1, -1)
  for j, (p, m) in enumerate(table, start=1):
    s = p.bit_length() - 1
    a = (p >> 1) & ((1 << (s - 1)) - 1)
    for k in range(min(s, _BITS)): V[j, k] = m[k] << (_BITS - 1 - k)
    for k in range(s, _BITS):
      v = V[j, k - s] ^ (V[j, k - s] >> s)
      for i in range(1, s):
        if (a >> (s - 1 - i)) & 1: v ^= V[j, k - i]
      V[j, k] = v
  _DIRECTIONS[d] = V
  return V

def sobol(n: int, d: int, rng: np.random.Generator | None = None) -> np.ndarray:
  """First n points of a d-dimensional Sobol sequence in [0, 1)^d; scrambled (linear matrix scramble + digital shift) when
  rng is given, so each seed gives a different randomized low-discrepancy set that is still uniformly distributed."""
  V = _direction_numbers(d)
  if rng is not None:
    # LMS: v' = L v over GF(2) with L random lower-triangular (unit diagonal) per dimension; bits MSB-first
    bits = (V[:, :, None] >> np.arange(_BITS - 1, -1, -1)) & 1                                  # [d, K, B]
    L = np.tril(rng.integers(0, 2, size=(d, _BITS, _BITS)), -1) + np.eye(_BITS, dtype=np.int64)  # [d, B, B]
    # the GF(2) product as a float matmul: sums of at most _BITS zeros and ones are exact, and a BLAS batch is ~10x
    # faster than the integer einsum (40 ms a suggestion on a 1,000-choice categorical)
    bits = np.matmul(bits.astype(np.float64), L.transpose(0, 2, 1).astype(np.float64)).astype(np.int64) & 1
    V = (bits << np.arange(_BITS - 1, -1, -1)).sum(-1)
  # point i is the XOR of the direction numbers of gray(i)'s bits; gray(i) and gray(i − 1) differ in bit ctz(i) alone,
  # so the points are a running XOR of one direction number per row (one pass, not one per bit)
  idx = np.arange(1, n, dtype=np.int64)
  ctz = np.log2(idx & -idx).astype(np.int64)
  X = np.bitwise_xor.accumulate(np.concatenate([np.zeros((1, d), dtype=np.int64), V.T[ctz]]), axis=0)[:n]
  if rng is not None: X ^= rng.integers(0, 1 << _BITS, size=d)
  return (X.astype(np.float64) + (0.5 if rng is not None else 0.0)) / float(1 << _BITS)
