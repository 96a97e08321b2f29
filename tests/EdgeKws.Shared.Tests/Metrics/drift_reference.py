#!/usr/bin/python3
"""Independent reference for DriftStatistics_Tests: KS with scipy.stats.ks_2samp on raw samples, PSI with numpy.

stdin: JSON {"baseline": [floats], "current": [floats], "baselineCounts": [ints], "currentCounts": [ints], "eps": float}
stdout: JSON {"ksD": float, "ksP": float, "psi": float, "scipy": version}
PSI follows the stated rule: proportions p = counts / total, an empty bin's proportion replaced by eps (no renormalisation),
bins empty on both sides skipped, PSI = sum((a - e) * ln(a / e)).
Run with Debian's python3 (/usr/bin/python3), which has numpy and scipy.
"""
import json
import sys

import numpy as np
import scipy
from scipy.stats import ks_2samp

req = json.load(sys.stdin)
ks = ks_2samp(np.asarray(req["baseline"], dtype=np.float64), np.asarray(req["current"], dtype=np.float64), alternative="two-sided", method="auto")
b = np.asarray(req["baselineCounts"], dtype=np.float64)
c = np.asarray(req["currentCounts"], dtype=np.float64)
eps = float(req["eps"])
keep = (b > 0) | (c > 0)
e = np.where(b > 0, b / b.sum(), eps)[keep]
a = np.where(c > 0, c / c.sum(), eps)[keep]
psi = float(np.sum((a - e) * np.log(a / e)))
json.dump({"ksD": float(ks.statistic), "ksP": float(ks.pvalue), "psi": psi, "scipy": scipy.__version__}, sys.stdout)
