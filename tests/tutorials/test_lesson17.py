"""Lesson 17 reproduces its claims: vanishing and exploding gradients through time,
the per-step factor bounded by the recurrent matrix's radius, clipping rescuing a run."""

import pytest


def test_lesson17_gradients_through_time_and_clipping(run_lesson_quietly):
    (through, factor, clipping, methods), text = run_lesson_quietly(17)
    ratios = through["first_over_last"]
    assert ratios[0.5] < 1e-10  # vanishing: the first step gets almost nothing
    assert ratios[2.5] > 1e4  # exploding
    assert 1e-3 < ratios[1.0] < 1  # a rotation with tanh: slowly shrinking
    for radius, mean_factor in factor["geometric_mean_factor"].items():
        assert mean_factor <= radius  # tanh's slope can only shrink the rotation's factor
    assert factor["geometric_mean_factor"][2.5] > 1 > factor["geometric_mean_factor"][0.5]
    # lecture 001: high gradient magnitude -> clipping. Without it the run blows up.
    assert clipping["plain_diverged_at"] is not None and clipping["plain_diverged_at"] < 30
    assert max(clipping["plain"]["norms"]) > 1e3
    # the text: norm 0.9 -> 10 in four steps, 189 at the fifth; step 8 (from 0, as
    # the plots count) passes a million
    norms, losses = clipping["plain"]["norms"], clipping["plain"]["losses"]
    assert round(norms[0], 1) == 0.9 and 9.5 < norms[4] < 11
    assert all(a < b for a, b in zip(norms[:5], norms[1:5]))
    assert round(norms[5]) == 189
    assert clipping["plain_diverged_at"] == len(losses) - 1 == 8
    assert losses[8] > 1e6 > max(losses[:8])
    assert "blew up at step 8 (loss 1.6e+06)" in text
    assert clipping["clipped_final"] < clipping["start"] / 10
    assert len(clipping["clipped"]["losses"]) == 80
    assert methods["clip_grad_norm_"]["cosine"] == pytest.approx(1.0, abs=1e-12)
    assert methods["clip_grad_norm_"]["norm"] == pytest.approx(1.0, rel=1e-6)
    assert methods["clip_grad_value_"]["cosine"] < 0.9
    assert "blew up at step" in text and "End of lesson 17." in text
