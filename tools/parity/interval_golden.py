#!/usr/bin/python3
"""Golden values for tests/EdgeKws.Shared.Tests/Metrics/ConfidenceIntervals_Tests.cs, computed by scipy.

    /usr/bin/python3 tools/parity/interval_golden.py      # Debian's python3 (python3-scipy)

Prints C# InlineData rows:
- Garwood (exact) Poisson 95 % interval for a count k: lower = chi2.ppf(0.025, 2k) / 2 (0 for k = 0),
  upper = chi2.ppf(0.975, 2k + 2) / 2;
- Wilson score 95 % interval for k of n: scipy.stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
  (scipy uses z = norm.ppf(0.975) = 1.95996398..., the C# default is 1.959964: 1e-8 relative apart);
- a few chi-square quantiles and regularized lower incomplete gamma values (scipy.special.gammainc).
"""
import scipy
from scipy.special import gammainc
from scipy.stats import binomtest, chi2

print(f"// scipy {scipy.__version__}")
print("// Poisson (Garwood) 95 %: k, lower, upper")
for k in (0, 1, 2, 5, 20, 100, 1000):
    lo = 0.0 if k == 0 else chi2.ppf(0.025, 2 * k) / 2
    hi = chi2.ppf(0.975, 2 * k + 2) / 2
    print(f"[InlineData({k}, {lo!r}, {hi!r})]")
print("// Wilson 95 %: k, n, low, high")
for k, n in ((0, 10), (1, 10), (5, 120), (43, 120), (120, 120)):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    print(f"[InlineData({k}, {n}, {float(ci.low)!r}, {float(ci.high)!r})]")
print("// chi-square quantile: p, dof, x")
for p, dof in ((0.5, 1), (0.025, 2), (0.975, 2), (0.001, 10), (0.999, 10), (0.95, 0.5), (1e-9, 3), (0.5, 5000)):
    print(f"[InlineData({p!r}, {dof!r}, {float(chi2.ppf(p, dof))!r})]")
print("// regularized lower incomplete gamma P(a, x): a, x, P")
for a, x in ((0.5, 0.1), (1, 1), (3, 2.5), (10, 15), (100, 90), (1001, 1064.0), (0.1, 30)):
    print(f"[InlineData({a!r}, {x!r}, {float(gammainc(a, x))!r})]")
