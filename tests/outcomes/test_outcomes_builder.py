"""OutcomesBuilder joins the chunks of a run into whole-cohort columns; a column that
is zero in every chunk takes no memory (a broadcast zero), the others are exact."""

from __future__ import annotations

import numpy as np
import pytest

from cartsim.engine.events import ALIVE
from cartsim.outcomes.accounting import OutcomesBuilder, PatientOutcomes


def _part(start: int, n: int, causes: tuple[str, ...], code: np.ndarray) -> PatientOutcomes:
    ids = np.arange(start, start + n, dtype=float)
    return PatientOutcomes("s", {"qaly": ids / 10, "cost_product": np.zeros(n),
                                 "n_flare": (np.arange(n) % 3).astype(np.int32),
                                 "n_never": np.zeros(n, np.int32), "cause": code},
                           ("flare", "never"), causes)


def test_chunks_join_in_patient_order_with_zero_columns_kept_as_broadcasts():
    builder = OutcomesBuilder(7)
    builder.add(4, _part(4, 3, ("cancer",), np.array([0, ALIVE, 0])))
    builder.add(0, _part(0, 4, ("background", "cancer"), np.array([1, 0, ALIVE, 1])))
    out = builder.build()
    np.testing.assert_array_equal(out["qaly"], np.arange(7) / 10)
    np.testing.assert_array_equal(out["n_flare"], [0, 1, 2, 0, 0, 1, 2])
    assert out["n_flare"].dtype == np.int32
    for zero in ("cost_product", "n_never"):
        assert out[zero].strides == (0,) and not out[zero].any() and out[zero].size == 7
        with pytest.raises(ValueError, match="read-only"):
            out[zero][0] = 1
    assert out.cause_names == ("background", "cancer")
    np.testing.assert_array_equal(out["cause"], [1, 0, ALIVE, 1, 1, ALIVE, 1])
