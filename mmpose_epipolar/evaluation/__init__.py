from .baselines import mean_pose_errors, root_relative_poses
from .metrics import *  # noqa: F401,F403
from .pseudo_label_eval import pseudo_label_errors

__all__ = ['mean_pose_errors', 'root_relative_poses', 'pseudo_label_errors']
