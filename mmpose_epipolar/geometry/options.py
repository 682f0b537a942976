"""Options of the epipolar pseudo-label engine, grouped by stage.

The groups follow poselib's ``RansacOptions`` / ``BundleOptions`` split:
robust estimation of each pair's essential matrix, refinement (how points
are triangulated and whether the rig is bundle-adjusted) and the validity
thresholds that turn degenerate geometry into masked output. Every
dataclass is frozen, so one options object can be shared, hashed into a
label file's metadata and compared.
"""
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

ROBUST_METHODS = ('lmeds', 'ransac', None)
TRIANGULATION_METHODS = ('linear', 'dlt', 'optimal')
REFERENCE_RULES = ('best', 'first')


@dataclass(frozen=True)
class RobustOptions:
    """Robust estimation of the essential matrix of each view pair.

    Args:
        method (str, optional): ``'lmeds'``, ``'ransac'``, None (plain
            weighted 8-point) or ``'auto'`` (LMedS when pooled, None per
            frame, where 17 joints leave little to vote with).
        threshold_px (float): Inlier threshold (pixels) for RANSAC; the
            floor of LMedS's adaptive threshold; also the Huber threshold
            of the bundle adjustment.
        num_hypotheses (int): Minimal sets drawn per pair (and frame).
        refine_iters (int): Sampson reweighting steps of the final 8-point
            fit (IRLS towards the geometric error). One step halves the
            per-frame PA-MPJPE on 17 joints with 1 px noise (40 -> 23 mm on
            Human3.6M) and cuts its reprojection error 7-fold.
    """
    method: Optional[str] = 'auto'
    threshold_px: float = 3.0
    num_hypotheses: int = 256
    refine_iters: int = 2

    def __post_init__(self):
        if self.method not in ROBUST_METHODS + ('auto', ):
            raise ValueError("robust must be 'auto', 'lmeds', 'ransac' or "
                             f'None, got {self.method!r}')

    def method_for(self, pooled: bool) -> Optional[str]:
        """The estimator that ``'auto'`` stands for in this mode."""
        if self.method == 'auto':
            return 'lmeds' if pooled else None
        return self.method


@dataclass(frozen=True)
class RefinementOptions:
    """How the rig's points are triangulated and refined.

    Args:
        triangulation (str): ``'linear'`` (weighted DLT, closed form),
            ``'dlt'`` (homogeneous DLT by SVD) or ``'optimal'`` (two views
            only: Hartley-Sturm correction, then intersection; ``'linear'``
            for more views).
        bundle_adjust (bool, optional): Refine all relative poses by the
            robust reprojection error of every view
            (:func:`bundle_adjust`). None refines in pooled mode with more
            than two views, where the pairwise estimates disagree (for two
            views the pooled pair pose is already within 1% of calibrated
            triangulation).
        bundle_adjust_iters (int): L-BFGS iterations of the refinement.
        robust_triangulation (bool): With three or more views, triangulate
            each joint so that one outlier view (a left-right swap of the
            2D detector) does not drag it (:func:`triangulate_robust`,
            Cauchy scale ``robust.threshold_px``).
    """
    triangulation: str = 'linear'
    bundle_adjust: Optional[bool] = None
    bundle_adjust_iters: int = 100
    robust_triangulation: bool = False

    def __post_init__(self):
        if self.triangulation not in TRIANGULATION_METHODS:
            raise ValueError('triangulation must be one of '
                             f'{TRIANGULATION_METHODS}, got '
                             f'{self.triangulation!r}')

    def bundle_adjusts(self, pooled: bool, num_views: int) -> bool:
        """Whether the rig is bundle-adjusted in this mode."""
        if self.bundle_adjust is None:
            return pooled and num_views > 2
        return self.bundle_adjust


@dataclass(frozen=True)
class ValidityOptions:
    """Thresholds below which geometry counts as degenerate (masked).

    Args:
        min_confidence (float): Keypoints with confidence at most this are
            missing.
        min_in_front (float): Least weighted fraction of a pair's
            correspondences in front of both cameras.
        min_parallax_deg (float): Least median angle between the two rays
            of a pair's correspondences (identical views have none).
        min_ray_angle_deg (float): A joint is valid only if some two of its
            views' rays meet at an angle in [this, 180 - this] degrees.
        max_axis_angle_deg (float): Pairs whose optical axes are farther
            apart than this (nearly opposite cameras) are invalid. Real
            Human3.6M pairs reach 155.5 degrees.
        max_distance (float): Points farther from view 0 than this many
            reference baselines are invalid (rays that barely meet).
    """
    min_confidence: float = 0.0
    min_in_front: float = 0.75
    min_parallax_deg: float = 1.0
    min_ray_angle_deg: float = 1.0
    max_axis_angle_deg: float = 165.0
    max_distance: float = 1e6


@dataclass(frozen=True)
class EpipolarOptions:
    """All options of :func:`epipolar_triangulate`.

    Args:
        robust (RobustOptions): Pair pose estimation.
        refinement (RefinementOptions): Triangulation and bundle
            adjustment.
        validity (ValidityOptions): Degeneracy thresholds.
        reference (str): Which valid pair (0, k) fixes the scale and the
            gauge: ``'best'``, the best-conditioned one (inlier support
            times median parallax), or ``'first'``, the lowest k.
        chunk_size (int): Frames per batch in per-frame mode (memory).
        seed (int, optional): Seed of the robust sampling (reproducible
            output); None uses the global generator.
    """
    robust: RobustOptions = field(default_factory=RobustOptions)
    refinement: RefinementOptions = field(default_factory=RefinementOptions)
    validity: ValidityOptions = field(default_factory=ValidityOptions)
    reference: str = 'best'
    chunk_size: int = 65536
    seed: Optional[int] = 0

    def __post_init__(self):
        if self.reference not in REFERENCE_RULES:
            raise ValueError(f'reference must be one of {REFERENCE_RULES}, '
                             f'got {self.reference!r}')

    def replace(self, **flat: Any) -> 'EpipolarOptions':
        """A copy with options given by their flat names (the keyword
        arguments of :func:`epipolar_triangulate`: ``robust`` for
        ``robust.method``, every other field by its own name)."""
        groups: Dict[str, Dict[str, Any]] = {}
        top: Dict[str, Any] = {}
        for name, value in flat.items():
            group, key = _FLAT_NAMES.get(name, (None, None))
            if group is None:
                raise TypeError(f'unknown epipolar option {name!r}; known: '
                                f'{sorted(_FLAT_NAMES)}')
            if group == '':
                top[key] = value
            else:
                groups.setdefault(group, {})[key] = value
        for group, values in groups.items():
            top[group] = dataclasses.replace(getattr(self, group), **values)
        return dataclasses.replace(self, **top)

    def to_dict(self) -> Dict[str, Any]:
        """Nested plain dict (JSON-serialisable), e.g. for label metadata."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, cfg: Dict[str, Any]) -> 'EpipolarOptions':
        """Inverse of :meth:`to_dict`; flat names are accepted too."""
        cfg = dict(cfg)
        nested = {
            name: group_cls(**cfg.pop(name))
            for name, group_cls in _GROUPS.items()
            if isinstance(cfg.get(name), dict)
        }
        return cls(**nested).replace(**cfg)


_GROUPS = dict(robust=RobustOptions, refinement=RefinementOptions,
               validity=ValidityOptions)


def _flat_names() -> Dict[str, tuple]:
    names = {'robust': ('robust', 'method')}
    for group, group_cls in _GROUPS.items():
        for f in dataclasses.fields(group_cls):
            names.setdefault(f.name, (group, f.name))
    for f in dataclasses.fields(EpipolarOptions):
        if f.name not in _GROUPS:
            names[f.name] = ('', f.name)
    return names


_FLAT_NAMES = _flat_names()
