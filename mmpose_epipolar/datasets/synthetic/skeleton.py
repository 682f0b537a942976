# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Articulated H36M-17 skeleton: body shapes and forward kinematics.

Frames follow the body: ``x`` forward, ``y`` to the body's left, ``z`` up.
The world is Human3.6M's: ``z`` up and the floor is the plane ``z = 0``.
Rest offsets are the mean of real Human3.6M skeletons (metres), expressed in
the pelvis frame, so that a synthetic subject has human proportions.
"""
from dataclasses import dataclass, field
from typing import Dict, Tuple

import numpy as np

H36M17_JOINT_NAMES = ('root', 'right_hip', 'right_knee', 'right_foot',
                      'left_hip', 'left_knee', 'left_foot', 'spine',
                      'thorax', 'neck_base', 'head', 'left_shoulder',
                      'left_elbow', 'left_wrist', 'right_shoulder',
                      'right_elbow', 'right_wrist')
NUM_JOINTS = 17

# Parent of every joint in MMPose's Human3.6M skeleton (-1 for the root).
H36M17_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

# (parent, child) pairs whose distance is a bone length.
H36M17_BONES = tuple(
    (p, j) for j, p in enumerate(H36M17_PARENTS) if p >= 0)

# Mean real H36M offsets, metres, in the frame of the parent segment.
_REST = dict(
    hip=np.array([0.0, 0.133, 0.0]),  # y flips sign for the right side
    thigh=0.442,
    shank=0.446,
    spine=np.array([-0.03, 0.0, 0.232]),
    thorax=np.array([0.03, 0.0, 0.250]),
    neck=np.array([0.08, 0.0, 0.08]),
    head=np.array([-0.04, 0.0, 0.10]),
    shoulder=np.array([-0.01, 0.145, -0.05]),
    upper_arm=0.277,
    forearm=0.248,
    ankle_height=0.075,
)


def rot_x(a: float) -> np.ndarray:
    """Rotation about ``x`` by ``a`` radians, (3, 3)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(a: float) -> np.ndarray:
    """Rotation about ``y`` by ``a`` radians, (3, 3)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(a: float) -> np.ndarray:
    """Rotation about ``z`` by ``a`` radians, (3, 3)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class BodyShape:
    """Bone lengths and limb thickness of one synthetic subject.

    Args:
        offsets (dict): Rest offsets (metres) keyed like ``_REST``; vectors
            are (3,) in the parent frame, scalars are bone lengths. Left
            and right share lengths, as in Human3.6M's own skeletons.
        thickness (float): Multiplier of every limb radius (1 = average).
        girth (float): Extra multiplier of the torso width.
    """
    offsets: Dict[str, object] = field(default_factory=lambda: dict(_REST))
    thickness: float = 1.0
    girth: float = 1.0

    @property
    def ankle_height(self) -> float:
        """Height of the ankle ("foot" joint) above the floor, metres."""
        return float(self.offsets['ankle_height'])


def sample_body_shape(rng: np.random.Generator) -> BodyShape:
    """Draw a subject: overall height, per-bone proportions and build.

    Args:
        rng (np.random.Generator): Source of randomness.

    Returns:
        BodyShape: Heights span roughly 1.55 m to 1.95 m.
    """
    stature = float(np.clip(rng.normal(1.0, 0.05), 0.88, 1.12))
    offsets = {}
    for name, value in _REST.items():
        # Independent proportions per bone, on top of the overall stature.
        prop = float(np.clip(rng.normal(1.0, 0.035), 0.92, 1.08))
        offsets[name] = np.asarray(value, dtype=np.float64) * stature * prop
        if np.ndim(value) == 0:
            offsets[name] = float(offsets[name])
    return BodyShape(
        offsets=offsets,
        thickness=float(rng.uniform(0.85, 1.25)),
        girth=float(rng.uniform(0.9, 1.2)))


@dataclass
class Posed:
    """The output of forward kinematics for one frame.

    Attributes:
        joints (np.ndarray): World joints, (17, 3) metres.
        frames (dict): Segment orientations, each (3, 3) with columns the
            segment's forward, left and up axes in world coordinates:
            ``pelvis``, ``abdomen``, ``chest``, ``head``, ``thigh_r``,
            ``shank_r``, ``upper_arm_r``, ``forearm_r`` and the ``_l`` ones.
    """
    joints: np.ndarray
    frames: Dict[str, np.ndarray]


def forward_kinematics(shape: BodyShape, angles: Dict[str, float],
                       root_xy: Tuple[float, float], heading: float,
                       ground: bool = True) -> Posed:
    """Place the skeleton in the world for one frame.

    Args:
        shape (BodyShape): The subject.
        angles (dict): Joint angles in radians keyed by the names of
            :data:`mmpose_epipolar.datasets.synthetic.motion.ANGLE_LIMITS`
            (missing names are 0, the upright rest pose with arms down).
        root_xy (tuple): Pelvis position on the floor plane, metres.
        heading (float): Yaw of the body's forward axis about world ``z``.
        ground (bool): Lower or raise the body so the lowest ankle is at the
            subject's ankle height (feet on the floor). Otherwise the pelvis
            is at height 0.

    Returns:
        Posed: Joints (17, 3) and segment frames.
    """
    o = shape.offsets
    a = {k: float(v) for k, v in angles.items()}
    g = a.get
    joints = np.zeros((NUM_JOINTS, 3))
    frames = {}

    pelvis = rot_z(heading) @ rot_y(g('pelvis_tilt', 0.0))
    frames['pelvis'] = pelvis
    # The trunk bends over two segments, half of each angle per segment.
    bend = (rot_y(0.5 * g('trunk_flex', 0.0)) @
            rot_x(0.5 * g('trunk_lat', 0.0)) @
            rot_z(0.5 * g('trunk_twist', 0.0)))
    abdomen = pelvis @ bend
    chest = abdomen @ bend
    frames['abdomen'] = abdomen
    frames['chest'] = chest
    joints[7] = joints[0] + abdomen @ o['spine']
    joints[8] = joints[7] + chest @ o['thorax']
    head = (chest @ rot_y(g('neck_flex', 0.0)) @ rot_z(g('neck_turn', 0.0)) @
            rot_x(g('neck_lat', 0.0)))
    frames['head'] = head
    joints[9] = joints[8] + head @ o['neck']
    joints[10] = joints[9] + head @ o['head']

    for side, sign, hip_j, sho_j in (('r', -1.0, 1, 14), ('l', 1.0, 4, 11)):
        mirror = np.array([1.0, sign, 1.0])
        # Legs: flexion swings the thigh forward, abduction outward,
        # rotation turns it about its own axis; the knee only flexes back.
        joints[hip_j] = joints[0] + pelvis @ (o['hip'] * mirror)
        thigh = (pelvis @ rot_y(-g(f'hip_flex_{side}', 0.0)) @
                 rot_x(sign * g(f'hip_abd_{side}', 0.0)) @
                 rot_z(-sign * g(f'hip_rot_{side}', 0.0)))
        shank = thigh @ rot_y(g(f'knee_{side}', 0.0))
        joints[hip_j + 1] = joints[hip_j] + thigh @ [0.0, 0.0, -o['thigh']]
        joints[hip_j + 2] = joints[hip_j + 1] + shank @ [0.0, 0.0,
                                                          -o['shank']]
        frames[f'thigh_{side}'] = thigh
        frames[f'shank_{side}'] = shank

        # Arms: flexion raises the arm forward, abduction sideways; the
        # elbow only flexes forward (towards the upper arm's own x axis).
        joints[sho_j] = joints[8] + chest @ (o['shoulder'] * mirror)
        upper = (chest @ rot_y(-g(f'sho_flex_{side}', 0.0)) @
                 rot_x(sign * g(f'sho_abd_{side}', 0.0)) @
                 rot_z(sign * g(f'sho_rot_{side}', 0.0)))
        fore = upper @ rot_y(-g(f'elbow_{side}', 0.0))
        joints[sho_j + 1] = joints[sho_j] + upper @ [0.0, 0.0,
                                                     -o['upper_arm']]
        joints[sho_j + 2] = joints[sho_j + 1] + fore @ [0.0, 0.0,
                                                        -o['forearm']]
        frames[f'upper_arm_{side}'] = upper
        frames[f'forearm_{side}'] = fore

    if ground:
        joints[:, 2] += shape.ankle_height - min(joints[3, 2], joints[6, 2])
    joints[:, :2] += np.asarray(root_xy, dtype=np.float64)
    return Posed(joints=joints, frames=frames)


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Lengths of the 16 H36M bones.

    Args:
        joints (np.ndarray): Joints, (..., 17, 3).

    Returns:
        np.ndarray: (..., 16) in the unit of ``joints``.
    """
    parents = np.array([p for p, _ in H36M17_BONES])
    children = np.array([c for _, c in H36M17_BONES])
    return np.linalg.norm(joints[..., children, :] - joints[..., parents, :],
                          axis=-1)
