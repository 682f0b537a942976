"""The scale-free depth encoding of ``docs/conventions.md``.

Self-supervised 3D is known only up to a similarity transform, so depth is
stored root-relative in image pixels, the weak-perspective unit that an
unknown global scale leaves unchanged::

    depth[j] = f_mean (Z[j] - Z[root]) / Z[root]
    Z[j] = Z_root (1 + depth[j] / f_mean)

with ``Z`` the camera-frame depth and ``f_mean = (fx + fy) / 2`` of the
view. Both functions are pure arithmetic on the last axis (joints), so they
take NumPy arrays and torch tensors alike, batched over any leading axes.
"""
from typing import Union

from ._utils import ArrayLike

Scalar = Union[ArrayLike, float]


def _per_joint(value: Scalar) -> Scalar:
    """(...,) -> (..., 1), so that a per-view value broadcasts over the
    joints; plain numbers broadcast as they are."""
    return value if isinstance(value, (int, float)) else value[..., None]


def encode_relative_depth(z: ArrayLike,
                          f_mean: Scalar,
                          root_index: int = 0) -> ArrayLike:
    """Scale-free depth of camera-frame joint depths.

    Args:
        z (Tensor | np.ndarray): Camera-frame depths ``Z`` (..., J), any
            unit (it cancels).
        f_mean (Tensor | np.ndarray | float): Mean focal length
            ``(fx + fy) / 2`` in pixels, (...,) broadcastable against
            ``z.shape[:-1]``.
        root_index (int): Index of the root joint.

    Returns:
        Tensor | np.ndarray: ``f_mean (Z - Z_root) / Z_root`` (..., J), image
        pixels, 0 at the root. Not finite where ``Z_root`` is 0: callers
        mask such samples.
    """
    z_root = z[..., root_index:root_index + 1]
    return _per_joint(f_mean) * (z - z_root) / z_root


def decode_relative_depth(depth: ArrayLike, f_mean: Scalar,
                          root_depth: Scalar) -> ArrayLike:
    """Camera-frame depths from the scale-free depth and the root's depth.

    Inverts :func:`encode_relative_depth`.

    Args:
        depth (Tensor | np.ndarray): Scale-free depth (..., J), pixels.
        f_mean (Tensor | np.ndarray | float): Mean focal length in pixels,
            (...,).
        root_depth (Tensor | np.ndarray | float): ``Z_root`` (...,), in the
            unit wanted for the output (e.g. mm).

    Returns:
        Tensor | np.ndarray: ``Z_root (1 + depth / f_mean)`` (..., J).
    """
    return _per_joint(root_depth) * (1 + depth / _per_joint(f_mean))
