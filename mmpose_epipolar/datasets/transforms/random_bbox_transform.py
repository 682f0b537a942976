# Copyright (c) mmpose-epipolar contributors. All rights reserved.
import numpy as np
from mmpose.datasets.transforms import RandomBBoxTransform
from mmpose.registry import TRANSFORMS


def truncated_standard_normal(low: float, high: float,
                              size: tuple) -> np.ndarray:
    """Standard normal samples conditioned on ``[low, high]``, drawn by
    rejection from NumPy's global generator: the distribution of
    ``scipy.stats.truncnorm.rvs(low, high, size=size)``.

    Args:
        low (float): Lower bound, in standard deviations.
        high (float): Upper bound, in standard deviations (> ``low``).
        size (tuple): Output shape.

    Returns:
        np.ndarray: Samples of shape ``size``, float32.
    """
    if not high > low:
        raise ValueError(f'truncation bounds [{low}, {high}] are empty')
    samples = np.random.standard_normal(size)
    outside = (samples < low) | (samples > high)
    while outside.any():
        samples[outside] = np.random.standard_normal(int(outside.sum()))
        outside = (samples < low) | (samples > high)
    return samples.astype(np.float32)


@TRANSFORMS.register_module()
class FastRandomBBoxTransform(RandomBBoxTransform):
    """MMPose's :class:`RandomBBoxTransform` (same arguments, same
    distribution of shift, scale and rotation) with its truncated normal
    drawn by rejection in NumPy instead of ``scipy.stats.truncnorm.rvs``:
    SciPy's sampler costs about 0.3 ms a call, a tenth of a 96 x 96
    training view's whole pipeline; rejection from the ``[-1, 1]``
    interval keeps 68% of the draws, so a call takes microseconds.
    """

    @staticmethod
    def _truncnorm(low: float = -1.,
                   high: float = 1.,
                   size: tuple = ()) -> np.ndarray:
        return truncated_standard_normal(low, high, size)
