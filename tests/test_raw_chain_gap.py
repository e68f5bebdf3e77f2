"""benchmarks/raw_chain_gap.py: a noisy warped run's raw fits beside a fit from the warped fit and a cold one."""
import json

import numpy as np

from benchmarks.raw_chain_gap import main


def test_a_noisy_branin_run_records_each_raw_fit_with_the_other_starts_no_better_than_a_nat(tmp_path, capsys):
  out = tmp_path / "gap.json"
  main(["--problem", "branin_noisy", "--seeds", "0", "--out", str(out)])
  rows = np.array(json.loads(out.read_text())["0"])
  assert rows.ndim == 2 and rows.shape[1] == 4 and len(rows) >= 3   # this run's values test noisy and are warped
  n, chain, old, cold = rows.T
  assert np.all(np.diff(n) > 0) and np.all(np.isfinite(rows))
  # MAP objectives of the same data: the chain's optimum is as good as the other starts' to within a nat here
  assert np.all(chain <= old + 1.0) and np.all(chain <= cold + 1.0)
  assert "seed 0:" in capsys.readouterr().out
  import tinybo.bo as bo
  assert bo.GP._fit.__name__ == "_fit"   # the spy is gone after the run
