"""The numpy array types the code base annotates with, defined once.

Every layer (data, engine, serving) passes the same few kinds of array; one definition keeps
their annotations in agreement and gives a reader one place to look them up.
"""

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]
ObjectArray = npt.NDArray[np.object_]
Array = npt.NDArray[Any]
"""Any dtype: arrays saved and loaded by name, whose dtype the reader checks."""
