"""Model parameters reach the API as whatever training stored, numpy scalars included."""

from __future__ import annotations

import numpy as np
import orjson

from srs.web.api import plain_json


def test_numpy_scalars_become_plain_json_values() -> None:
    parameters = {
        "regularization": np.float64(250.0),
        "neighbours": np.int64(50),
        "dense": np.bool_(True),
        "weights": (np.float32(0.5), np.float64(1.5)),
    }

    plain = plain_json(parameters)

    assert orjson.loads(orjson.dumps(plain)) == {
        "regularization": 250.0,
        "neighbours": 50,
        "dense": True,
        "weights": [0.5, 1.5],
    }
    assert [type(plain[name]) for name in ("regularization", "neighbours", "dense")] == [
        float,
        int,
        bool,
    ]
