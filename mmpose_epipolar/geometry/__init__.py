"""Epipolar geometry for self-supervised 3D pose labels: batched torch
functions (CPU and GPU, float64) and the top-level
:func:`epipolar_triangulate`."""
from .bundle_adjustment import bundle_adjust
from .depth_encoding import decode_relative_depth, encode_relative_depth
from .distortion import (
                         distort_normalized,
                         normalized_to_pixels,
                         pixels_to_normalized,
                         project_points,
                         undistort_normalized,
                         undistort_points,
)
from .epipolar import (
                         bundle_adjust_rig,
                         choose_reference_pair,
                         condition,
                         epipolar_triangulate,
                         estimate_pair_poses,
                         fix_scale,
                         normalise,
                         resect_failed_views,
                         solve_rig,
                         triangulate_rig,
)
from .essential import (
                         decompose_essential,
                         essential_from_fundamental,
                         essential_from_points,
                         essential_from_pose,
                         fundamental_from_essential,
                         project_to_essential,
                         recover_pose,
                         triangulate_depths,
)
from .fundamental import (
                         enforce_rank2,
                         fundamental_from_points,
                         sampson_error,
                         symmetric_epipolar_distance,
)
from .lifting import lift_to_camera, undistorted_pixels
from .normalization import hartley_normalize
from .options import (
                         EpipolarOptions,
                         RefinementOptions,
                         RobustOptions,
                         ValidityOptions,
)
from .person_choice import PersonChoice, choose_people
from .procrustes import pa_mpjpe, procrustes_align
from .pseudo_label import make_pseudo_labels, pseudo_label_targets
from .resection import resect_dlt
from .rig import PairPoses, Rig, Views
from .robust import robust_fundamental
from .triangulation import (
                         optimal_correction,
                         projection_matrices,
                         triangulate_dlt,
                         triangulate_optimal_two_view,
)

__all__ = [
    'PersonChoice', 'choose_people',
    'epipolar_triangulate', 'EpipolarOptions', 'RobustOptions',
    'RefinementOptions', 'ValidityOptions', 'Views', 'PairPoses', 'Rig',
    'solve_rig', 'normalise', 'estimate_pair_poses', 'choose_reference_pair',
    'fix_scale', 'triangulate_rig', 'resect_failed_views',
    'bundle_adjust_rig', 'condition', 'make_pseudo_labels',
    'pseudo_label_targets',
    'hartley_normalize', 'undistort_points', 'undistort_normalized',
    'distort_normalized', 'project_points', 'pixels_to_normalized',
    'normalized_to_pixels', 'fundamental_from_points', 'enforce_rank2',
    'sampson_error', 'symmetric_epipolar_distance', 'robust_fundamental',
    'essential_from_fundamental', 'fundamental_from_essential',
    'essential_from_points', 'essential_from_pose', 'project_to_essential',
    'decompose_essential', 'recover_pose', 'triangulate_depths',
    'triangulate_dlt', 'triangulate_optimal_two_view', 'optimal_correction',
    'projection_matrices', 'procrustes_align', 'pa_mpjpe', 'bundle_adjust',
    'resect_dlt', 'encode_relative_depth', 'decode_relative_depth',
    'lift_to_camera', 'undistorted_pixels'
]
