from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def _expectation(marginal: Tensor) -> Tensor:
    """Expected bin index of marginals (..., N) -> (...,)."""
    bins = torch.arange(
        marginal.shape[-1], dtype=marginal.dtype, device=marginal.device)
    return (marginal * bins).sum(dim=-1)


def soft_argmax_3d(volume: Tensor,
                   beta: float = 1.0,
                   depth_marginal: bool = False) -> Tuple[Tensor, ...]:
    """Integral regression on a volumetric heatmap.

    A softmax over each joint's whole volume followed by the expectation of
    the voxel coordinates. Only the softmax output is kept for the backward
    pass: the expectations are taken from marginals (sums), which store
    nothing, so the (B, J, D, H, W) volume is held once, not per axis.

    Args:
        volume (Tensor): Logits of shape (B, J, D, H, W).
        beta (float): Inverse temperature of the softmax. Defaults to 1.
        depth_marginal (bool): Also return the depth marginal. Defaults to
            False.

    Returns:
        tuple:
        - coords (Tensor): Normalised (x, y, z) of shape (B, J, 3):
          ``x = E[w] / W - 0.5``, ``y = E[h] / H - 0.5`` and
          ``z = (E[d] + 0.5) / D - 0.5`` (depth is centred on the volume).
        - heatmap_2d (Tensor): Probability marginalised over depth,
          (B, J, H, W).
        - depth (Tensor): With ``depth_marginal``, the probability of each
          depth bin (B, J, D).
    """
    if volume.ndim != 5:
        raise ValueError(
            f'volume must have shape (B, J, D, H, W), got {volume.shape}')
    b, j, d, h, w = volume.shape
    logits = volume.reshape(b, j, d * h * w)
    if beta != 1.0:
        logits = logits * beta
    prob = logits.softmax(dim=-1).view(b, j, d, h, w)
    heatmap_2d = prob.sum(dim=2)
    x = _expectation(heatmap_2d.sum(dim=2)) / w - 0.5
    y = _expectation(heatmap_2d.sum(dim=3)) / h - 0.5
    depth = prob.sum(dim=(3, 4))
    z = (_expectation(depth) + 0.5) / d - 0.5
    coords = torch.stack([x, y, z], dim=-1)
    if depth_marginal:
        return coords, heatmap_2d, depth
    return coords, heatmap_2d


def peak_mass(heatmap_2d: Tensor, radius: int = 1) -> Tensor:
    """Confidence: the probability mass in the window around the mode.

    Args:
        heatmap_2d (Tensor): Probability maps (B, J, H, W), each summing to 1.
        radius (int): Half size of the square window in heatmap pixels.

    Returns:
        Tensor: Scores in [0, 1] of shape (B, J).
    """
    size = 2 * radius + 1
    window = F.avg_pool2d(
        heatmap_2d, size, stride=1, padding=radius,
        count_include_pad=True) * size * size
    return window.flatten(2).amax(dim=-1).clamp(0.0, 1.0)


def _gaussian(centres: Tensor, size: int, sigma: float) -> Tensor:
    """Unnormalised Gaussians (..., size) over bin indices 0..size-1."""
    bins = torch.arange(size, dtype=centres.dtype, device=centres.device)
    return torch.exp(-0.5 * ((bins - centres[..., None]) / sigma)**2)


def _normalised(maps: Tensor, dims: Tuple[int, ...]) -> Tensor:
    return maps / maps.sum(dim=dims, keepdim=True).clamp(min=1e-12)


def gaussian_heatmaps(coords: Tensor, size: Tuple[int, int],
                      sigma: float) -> Tensor:
    """Normalised Gaussian heatmaps centred on normalised coordinates.

    The inverse of the 2D part of :func:`soft_argmax_3d`: a joint at
    ``x_n`` sits at heatmap column ``(x_n + 0.5) * W``.

    Args:
        coords (Tensor): Normalised (x, y, ...) of shape (..., J, >=2).
        size (tuple[int, int]): Heatmap size (W, H).
        sigma (float): Standard deviation in heatmap pixels.

    Returns:
        Tensor: Heatmaps (..., J, H, W), each summing to 1.
    """
    w, h = size
    gx = _gaussian((coords[..., 0] + 0.5) * w, w, sigma)
    gy = _gaussian((coords[..., 1] + 0.5) * h, h, sigma)
    return _normalised(gy[..., :, None] * gx[..., None, :], (-2, -1))


def gaussian_depth_marginals(depth: Tensor, bins: int,
                             sigma: float) -> Tensor:
    """Normalised Gaussians over depth bins at normalised depths.

    The inverse of the depth part of :func:`soft_argmax_3d`: depth ``z_n``
    sits at bin ``(z_n + 0.5) * D - 0.5``.

    Args:
        depth (Tensor): Normalised depths (...,).
        bins (int): Number of depth bins D.
        sigma (float): Standard deviation in bins.

    Returns:
        Tensor: Marginals (..., D), each summing to 1.
    """
    return _normalised(_gaussian((depth + 0.5) * bins - 0.5, bins, sigma),
                       (-1, ))
