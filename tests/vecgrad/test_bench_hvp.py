"""vecgrad.bench.hvp runs and reports met/missed (no figure is checked: never timed tests)."""

import pytest

from vecgrad.bench import hvp


@pytest.mark.slow
def test_hvp_bench_reports_a_verdict(capsys):
    assert hvp.main(["--repeats", "1", "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    assert "Hessian-vector product" in out and ("met" in out or "missed" in out)
    assert "further HVP" in out
