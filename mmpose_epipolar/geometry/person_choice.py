"""Choose the one person of a recording in every view when a detector
found several: the person whose 2D agrees best with the other views under
the epipolar geometry of the static rig (its Sampson error).

:func:`choose_people` works in three steps, all pure functions of the
candidates and the intrinsics:

1. **The rig.** The pooled engine (:func:`epipolar_triangulate`) estimates
   the static rig from the frames where every view saw at most one person
   (nothing to choose there). With fewer than ``min_unambiguous_frames``
   such frames it bootstraps from each view's most confident person in
   every frame (the engine's robust estimator tolerates the wrong picks),
   chooses, estimates the rig again from the people chosen and chooses
   once more.
2. **Pair costs.** The fundamental matrix of every pair of posed views
   (:func:`rig_fundamentals`, undistorted pixel coordinates) scores every
   pair of candidates ``(p in view a, q in view b)`` by the
   confidence-weighted median over the joints visible in both of the
   Sampson distance in pixels (:func:`pair_costs`); a pair with too few
   common joints costs ``max_error_px``, as does any larger error (one
   badly wrong pair does not outweigh the others). Given the layout's
   ``flip_indices``, a pair is also scored with the first candidate's
   left and right joints swapped and the lower cost counts: 2D detectors
   swap the sides of a person seen from behind, who is still the person
   (on the Pose2Sim demo this decides 2 of 51 views that would go wrong).
3. **The choice.** In a frame where some view has more than one person,
   the chosen combination (one person per view, nobody where a view has
   nobody) minimises the sum of its pair costs: exhaustively over all
   combinations when there are at most ``max_combinations``, else by
   iterated conditional modes (each view in turn takes its best person
   given the others, from the confidence rule's choice, until nothing
   changes). Ties go to the more confident person.
"""
import itertools
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ._utils import to_tensor
from .distortion import undistort_points
from .epipolar import epipolar_triangulate
from .essential import essential_from_pose, fundamental_from_essential
from .fundamental import sampson_error
from .options import EpipolarOptions
from .robust import weighted_median


@dataclass(frozen=True, eq=False)
class PersonChoice:
    """The person chosen in each view of each frame.

    Args:
        keypoints (np.ndarray): (F, V, J, 3) the chosen people's x, y,
            confidence; NaN with confidence 0 where a view has nobody.
        choice (np.ndarray): (F, V) int, the candidate index chosen, -1
            where a view has nobody.
        ambiguous (np.ndarray): (F,) bool, frames where some view had more
            than one person (where a choice was needed).
        method (str): ``'epipolar'`` when ambiguous frames were decided by
            the epipolar agreement; ``'confidence'`` when the most
            confident person was taken (no ambiguous frame, or no rig with
            two posed views could be estimated).
        ambiguous_views (np.ndarray): (F, V) bool, views with more than
            one person.
        cost (np.ndarray): (F,) the chosen combination's summed pair cost
            (pixels); NaN in frames not decided epipolarly.
        rig (dict, optional): The rig used: ``rotation`` (V, 3, 3),
            ``translation`` (V, 3) (``X_v = R_v X_0 + t_v``), ``valid``
            (V,) bool; None when no rig was estimated.
        bootstrapped (bool): Whether the rig was first estimated from the
            most confident people (too few unambiguous frames).
    """
    keypoints: np.ndarray
    choice: np.ndarray
    ambiguous: np.ndarray
    method: str
    ambiguous_views: np.ndarray
    cost: np.ndarray
    rig: Optional[Dict[str, np.ndarray]] = None
    bootstrapped: bool = False

    @property
    def num_ambiguous(self) -> int:
        """Frames where a choice was needed."""
        return int(self.ambiguous.sum())

    @property
    def num_ambiguous_views(self) -> int:
        """Views (over all frames) with more than one person."""
        return int(self.ambiguous_views.sum())


def present_joints(candidates: np.ndarray) -> np.ndarray:
    """Joints with finite coordinates and positive confidence,
    (..., J, 3) -> (..., J) bool."""
    kp = np.asarray(candidates, np.float64)
    return np.isfinite(kp).all(-1) & (np.nan_to_num(kp[..., 2]) > 0)


def person_scores(candidates: np.ndarray) -> np.ndarray:
    """Mean joint confidence of each candidate (missing joints count 0),
    (F, V, P, J, 3) -> (F, V, P); 0 for nobody."""
    conf = np.where(present_joints(candidates), candidates[..., 2], 0.0)
    return conf.mean(-1)


def most_confident(candidates: np.ndarray) -> np.ndarray:
    """The confidence rule: each view's candidate of highest mean
    confidence, (F, V, P, J, 3) -> (F, V) int, -1 where nobody."""
    present = present_joints(candidates).any(-1)
    best = np.where(present, person_scores(candidates), -np.inf).argmax(-1)
    return np.where(present.any(-1), best, -1)


def take_people(candidates: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """The chosen candidates, (F, V, P, J, 3) and (F, V) -> (F, V, J, 3);
    NaN with confidence 0 where ``choice`` is -1."""
    idx = np.clip(choice, 0, None)[:, :, None, None, None]
    out = np.take_along_axis(candidates, idx, 2)[:, :, 0].astype(np.float64)
    nobody = (choice < 0)[:, :, None]
    out[..., :2] = np.where(nobody[..., None], np.nan, out[..., :2])
    out[..., 2] = np.where(nobody, 0.0, out[..., 2])
    return out


def rig_fundamentals(rotation: np.ndarray, translation: np.ndarray,
                     intrinsics: np.ndarray) -> np.ndarray:
    """Fundamental matrices of every view pair of a rig, for undistorted
    pixel coordinates.

    Args:
        rotation (np.ndarray): ``R_v`` (V, 3, 3), ``X_v = R_v X_0 + t_v``.
        translation (np.ndarray): ``t_v`` (V, 3).
        intrinsics (np.ndarray): ``K_v`` (V, 3, 3).

    Returns:
        np.ndarray: (V, V, 3, 3) ``F[a, b]`` with ``x_b^T F[a, b] x_a = 0``
        (``X_b = R_b R_a^T X_a + t_b - R_b R_a^T t_a``); zero on the
        diagonal.
    """
    r = to_tensor(rotation)
    t = to_tensor(translation)
    k = to_tensor(intrinsics)
    r_ab = r[None] @ r.transpose(-1, -2)[:, None]  # [a, b] = R_b R_a^T
    t_ab = t[None] - (r_ab @ t[:, None, :, None])[..., 0]
    e = essential_from_pose(r_ab, t_ab)
    f = fundamental_from_essential(e, k[:, None], k[None])
    f = f * (1 - torch.eye(len(k), dtype=f.dtype))[..., None, None]
    return f.numpy()


def pair_costs(pixels: np.ndarray, weights: np.ndarray,
               fundamentals: np.ndarray, posed: np.ndarray, *,
               min_common_joints: int = 6,
               max_error_px: float = 50.0,
               flip_indices: Optional[Sequence[int]] = None) -> np.ndarray:
    """How badly every pair of candidates of two views disagrees.

    Args:
        pixels (np.ndarray): Undistorted pixels (F, V, P, J, 2), NaN where
            missing.
        weights (np.ndarray): Confidences (F, V, P, J), 0 where missing.
        fundamentals (np.ndarray): (V, V, 3, 3), see
            :func:`rig_fundamentals`.
        posed (np.ndarray): (V,) bool, views the rig posed.
        min_common_joints (int): Fewer joints visible in both candidates
            cost ``max_error_px``.
        max_error_px (float): Cap of a pair's cost.
        flip_indices (Sequence[int], optional): The joint layout's
            left-right swap (MMPose metainfo ``flip_indices``, (J,)); the
            lower of the plain and the swapped cost counts.

    Returns:
        np.ndarray: (F, V, V, P, P), ``[f, a, b, p, q]`` for ``a < b`` both
        posed: the weighted median (weights ``w_a w_b``) of the Sampson
        distance (pixels) over common joints, capped; NaN elsewhere.
    """
    nf, nv, npp, nj, _ = pixels.shape
    out = np.full((nf, nv, nv, npp, npp), np.nan)
    x = to_tensor(pixels)
    w = to_tensor(weights)
    ok = torch.isfinite(x).all(-1) & (w > 0)
    x = torch.where(ok[..., None], x, torch.zeros_like(x))
    w = torch.where(ok, w, torch.zeros_like(w))
    f = to_tensor(fundamentals)
    for a, b in itertools.combinations(range(nv), 2):
        if not (posed[a] and posed[b]):
            continue
        xa = x[:, a, :, None].expand(nf, npp, npp, nj, 2)
        xb = x[:, b, None, :].expand(nf, npp, npp, nj, 2)
        both = w[:, a, :, None] * w[:, b, None, :]  # (F, P, P, J)
        median = _median_distance(f[a, b], xa, xb, both)
        enough = (both > 0).sum(-1) >= min_common_joints
        if flip_indices is not None:
            flip = torch.as_tensor(list(flip_indices))
            both_f = w[:, a, :, None][..., flip] * w[:, b, None, :]
            median_f = _median_distance(f[a, b], xa[..., flip, :], xb,
                                        both_f)
            enough_f = (both_f > 0).sum(-1) >= min_common_joints
            use = enough_f & (~enough | (median_f < median))
            median = torch.where(use, median_f, median)
            enough = enough | enough_f
        cost = torch.where(enough & torch.isfinite(median),
                           median.clamp_max(max_error_px),
                           torch.full_like(median, max_error_px))
        out[:, a, b] = cost.numpy()
    return out


def _median_distance(f, xa, xb, weights):
    """Weighted median over joints of the Sampson distance (pixels),
    (..., J, 2) x 2 and (..., J) -> (...); inf without weight."""
    dist = sampson_error(f, xa, xb).clamp_min(0).sqrt()
    dist = torch.where(weights > 0, dist, torch.full_like(dist, np.inf))
    return weighted_median(dist, weights)


def _frame_options(present: np.ndarray, scores: np.ndarray) -> List[List]:
    """Per view, its present candidates by decreasing confidence, or
    ``[-1]`` for nobody: (V, P) -> list of V lists."""
    options = []
    for v in range(present.shape[0]):
        found = np.flatnonzero(present[v])
        found = found[np.argsort(-scores[v, found], kind='stable')]
        options.append([int(p) for p in found] or [-1])
    return options


def _combination_cost(costs: np.ndarray, combos: np.ndarray,
                      pairs: List[Tuple[int, int]]) -> np.ndarray:
    """Summed pair costs (N,) of combinations (N, V) of one frame."""
    total = np.zeros(len(combos))
    for a, b in pairs:
        pa, pb = combos[:, a], combos[:, b]
        both = (pa >= 0) & (pb >= 0)
        total += np.where(both, costs[a, b][np.clip(pa, 0, None),
                                            np.clip(pb, 0, None)], 0.0)
    return total


def _best_combination(costs: np.ndarray, options: List[List],
                      pairs: List[Tuple[int, int]],
                      max_combinations: int) -> Tuple[np.ndarray, float]:
    """The combination of least summed cost of one frame, (V,) and its
    cost: exhaustive, or iterated conditional modes when too many."""
    sizes = [len(o) for o in options]
    if int(np.prod(sizes)) <= max_combinations:
        combos = np.array(list(itertools.product(*options)), int)
        total = _combination_cost(costs, combos, pairs)
        best = int(np.argmin(total))  # first minimum: most confident
        return combos[best], float(total[best])
    current = np.array([o[0] for o in options], int)
    for _ in range(10 * len(options)):
        changed = False
        for v, opts in enumerate(options):
            if len(opts) < 2:
                continue
            trial = np.repeat(current[None], len(opts), 0)
            trial[:, v] = opts
            best = int(np.argmin(_combination_cost(costs, trial, pairs)))
            if trial[best, v] != current[v]:
                current[v], changed = trial[best, v], True
        if not changed:
            break
    return current, float(_combination_cost(costs, current[None], pairs)[0])


def _estimate_rig(keypoints: np.ndarray, intrinsics: np.ndarray,
                  distortion: np.ndarray,
                  options: Optional[EpipolarOptions],
                  max_rig_frames: Optional[int]
                  ) -> Optional[Dict[str, np.ndarray]]:
    """The static rig of (F, V, J, 3) keypoints, or None when fewer than
    two views are posed (or there is no frame)."""
    if len(keypoints) == 0:
        return None
    if max_rig_frames is not None and len(keypoints) > max_rig_frames:
        rows = np.linspace(0, len(keypoints) - 1, max_rig_frames).round()
        keypoints = keypoints[rows.astype(int)]
    _, _, rig = epipolar_triangulate(keypoints, intrinsics, distortion,
                                     pooled=True, options=options,
                                     return_poses=True)
    valid = np.asarray(rig['valid'][0], bool)
    if valid.sum() < 2:
        return None
    return dict(rotation=np.asarray(rig['rotation'][0], np.float64),
                translation=np.asarray(rig['translation'][0], np.float64),
                valid=valid)


def _undistorted(candidates: np.ndarray, intrinsics: np.ndarray,
                 distortion: np.ndarray) -> np.ndarray:
    """Undistorted pixels (F, V, P, J, 2) of the candidates."""
    nf, nv, npp, nj, _ = candidates.shape
    flat = np.moveaxis(candidates[..., :2], 1, 0).reshape(nv, -1, 2)
    und = undistort_points(to_tensor(np.nan_to_num(flat)),
                           to_tensor(intrinsics), to_tensor(distortion),
                           normalized=False).numpy()
    und = np.where(np.isfinite(flat), und, np.nan)
    return np.moveaxis(und.reshape(nv, nf, npp, nj, 2), 0, 1)


def _choose_with_rig(candidates: np.ndarray, pixels: np.ndarray,
                     intrinsics: np.ndarray, rig: Dict[str, np.ndarray],
                     choice: np.ndarray, frames: np.ndarray, *,
                     min_common_joints: int, max_error_px: float,
                     max_combinations: int,
                     flip_indices: Optional[Sequence[int]]
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """The epipolar choice in ``frames`` (indices), starting from
    ``choice`` (F, V); returns the new choice and the costs (F,)."""
    choice = choice.copy()
    cost = np.full(len(candidates), np.nan)
    if len(frames) == 0:
        return choice, cost
    present = present_joints(candidates).any(-1)
    scores = person_scores(candidates)
    weights = np.where(present_joints(candidates), candidates[..., 2], 0.0)
    fundamentals = rig_fundamentals(rig['rotation'], rig['translation'],
                                    intrinsics)
    costs = pair_costs(pixels[frames], weights[frames], fundamentals,
                       rig['valid'], min_common_joints=min_common_joints,
                       max_error_px=max_error_px, flip_indices=flip_indices)
    pairs = [(a, b) for a, b in itertools.combinations(
        range(candidates.shape[1]), 2) if rig['valid'][a] and
        rig['valid'][b]]
    for i, f in enumerate(frames):
        options = _frame_options(present[f], scores[f])
        # Views the rig could not pose keep the confidence rule's person.
        for v in range(len(options)):
            if not rig['valid'][v]:
                options[v] = options[v][:1]
        choice[f], cost[f] = _best_combination(costs[i], options, pairs,
                                               max_combinations)
    return choice, cost


def choose_people(candidates: np.ndarray,
                  intrinsics: np.ndarray,
                  distortion: Optional[np.ndarray] = None,
                  *,
                  min_unambiguous_frames: int = 10,
                  options: Optional[EpipolarOptions] = None,
                  min_common_joints: int = 6,
                  max_error_px: float = 50.0,
                  max_combinations: int = 4096,
                  flip_indices: Optional[Sequence[int]] = None,
                  max_rig_frames: Optional[int] = 500) -> PersonChoice:
    """One person per view and frame, chosen by multi-view agreement.

    See the module docstring for the method.

    Args:
        candidates (np.ndarray): (F, V, P, J, 3) pixel x, y, confidence of
            every person found in every view; NaN (or confidence 0) where
            a joint or person is missing.
        intrinsics (np.ndarray): ``K`` per view (V, 3, 3).
        distortion (np.ndarray, optional): (V, 5) OpenCV
            ``[k1, k2, p1, p2, k3]``; None for none.
        min_unambiguous_frames (int): Fewest frames without a choice that
            the rig is estimated from; with fewer, the rig is bootstrapped
            from the most confident people.
        options (EpipolarOptions, optional): The engine's options.
        min_common_joints (int): See :func:`pair_costs`.
        max_error_px (float): See :func:`pair_costs`.
        max_combinations (int): Largest number of combinations of one
            frame searched exhaustively.
        flip_indices (Sequence[int], optional): See :func:`pair_costs`
            (recommended: MMPose's metainfo of the layout has them).
        max_rig_frames (int, optional): At most this many frames, evenly
            spaced, estimate the rig (the run time of the engine); None
            uses all.

    Returns:
        PersonChoice: The chosen people and how they were chosen.

    Raises:
        ValueError: For wrongly shaped arguments.
    """
    kp = np.asarray(candidates, np.float64)
    if kp.ndim != 5 or kp.shape[-1] != 3:
        raise ValueError('candidates must have shape (F, V, P, J, 3) (x, y, '
                         f'confidence), got {kp.shape}')
    nf, nv = kp.shape[:2]
    intrinsics = np.asarray(intrinsics, np.float64)
    if intrinsics.shape != (nv, 3, 3):
        raise ValueError(f'intrinsics must have shape ({nv}, 3, 3), got '
                         f'{intrinsics.shape}')
    distortion = np.zeros((nv, 5)) if distortion is None else \
        np.asarray(distortion, np.float64)
    if distortion.shape != (nv, 5):
        raise ValueError(f'distortion must have shape ({nv}, 5), got '
                         f'{distortion.shape}')
    if flip_indices is not None and \
            sorted(int(i) for i in flip_indices) != list(range(kp.shape[-2])):
        raise ValueError(f'flip_indices must permute the {kp.shape[-2]} '
                         f'joints, got {list(flip_indices)}')
    people = present_joints(kp).any(-1).sum(-1)  # (F, V)
    ambiguous_views = people > 1
    ambiguous = ambiguous_views.any(-1)
    choice = most_confident(kp)
    cost = np.full(nf, np.nan)

    def result(method, rig=None, bootstrapped=False):
        return PersonChoice(take_people(kp, choice), choice, ambiguous,
                            method, ambiguous_views, cost, rig,
                            bootstrapped)

    if not ambiguous.any():
        return result('confidence')
    bootstrapped = int((~ambiguous).sum()) < min_unambiguous_frames
    rig_frames = np.arange(nf) if bootstrapped else np.flatnonzero(
        ~ambiguous)
    rig = _estimate_rig(take_people(kp, choice)[rig_frames], intrinsics,
                        distortion, options, max_rig_frames)
    if rig is None:
        return result('confidence')
    pixels = _undistorted(kp, intrinsics, distortion)
    frames = np.flatnonzero(ambiguous)
    settings = dict(min_common_joints=min_common_joints,
                    max_error_px=max_error_px,
                    max_combinations=max_combinations,
                    flip_indices=flip_indices)
    choice, cost = _choose_with_rig(kp, pixels, intrinsics, rig, choice,
                                    frames, **settings)
    if bootstrapped:
        refined = _estimate_rig(take_people(kp, choice), intrinsics,
                                distortion, options, max_rig_frames)
        if refined is not None:
            rig = refined
            choice, cost = _choose_with_rig(kp, pixels, intrinsics, rig,
                                            most_confident(kp), frames,
                                            **settings)
    return result('epipolar', rig, bootstrapped)
