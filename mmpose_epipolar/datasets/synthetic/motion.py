# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Smooth random motion within joint-angle limits, per H36M action.

An action is a mixture of pose *styles* (ranges of joint angles). A sequence
draws key poses from its action's styles every ``key_interval`` frames of a
50 fps timeline and blends them with a smoothstep, which stays inside the
convex angle limits; the smoothstep's slope is at most 1.5, so an angle
changes by at most ``1.5 * max_key_step / key_interval`` per timeline frame.
Walking actions use a procedural gait for the legs instead, moving the pelvis
along the heading. Every clip turns the body around (about once for
standing actions, a quarter to a half turn for walks). Synthetic motion is
time-compressed (a key pose every ~0.16 s, each joint turning at most 60
degrees between keys) so that a short clip covers many poses.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

SIDES = ('r', 'l')

# Anatomical limits in degrees. Knees and elbows only flex (>= 0).
_TRUNK_LIMITS = dict(
    pelvis_tilt=(-15.0, 30.0),
    trunk_flex=(-20.0, 85.0),
    trunk_lat=(-30.0, 30.0),
    trunk_twist=(-40.0, 40.0),
    neck_flex=(-40.0, 50.0),
    neck_turn=(-70.0, 70.0),
    neck_lat=(-30.0, 30.0),
)
_LIMB_LIMITS = dict(
    hip_flex=(-30.0, 125.0),
    hip_abd=(-15.0, 50.0),
    hip_rot=(-40.0, 40.0),
    knee=(0.0, 150.0),
    sho_flex=(-50.0, 175.0),
    sho_abd=(-15.0, 160.0),
    sho_rot=(-60.0, 70.0),
    elbow=(0.0, 145.0),
)
ANGLE_LIMITS: Dict[str, Tuple[float, float]] = dict(_TRUNK_LIMITS)
for _side in SIDES:
    ANGLE_LIMITS.update(
        {f'{k}_{_side}': v
         for k, v in _LIMB_LIMITS.items()})
ANGLE_NAMES = tuple(ANGLE_LIMITS)
_LO = np.deg2rad([ANGLE_LIMITS[n][0] for n in ANGLE_NAMES])
_HI = np.deg2rad([ANGLE_LIMITS[n][1] for n in ANGLE_NAMES])

# Sampling ranges (degrees) of each style; limb entries apply to both sides
# independently. Unlisted angles take the 'stand' range.
_STAND = dict(
    pelvis_tilt=(-5, 10), trunk_flex=(-5, 15), trunk_lat=(-8, 8),
    trunk_twist=(-15, 15), neck_flex=(-15, 25), neck_turn=(-40, 40),
    neck_lat=(-10, 10), hip_flex=(-8, 20), hip_abd=(-5, 15),
    hip_rot=(-15, 20), knee=(0, 20), sho_flex=(-20, 60), sho_abd=(0, 40),
    sho_rot=(-30, 40), elbow=(0, 100))
POSE_STYLES: Dict[str, Dict[str, Tuple[float, float]]] = dict(
    stand={},
    gesture=dict(sho_flex=(-30, 150), sho_abd=(0, 120), elbow=(0, 130),
                 trunk_twist=(-25, 25)),
    arms_up=dict(sho_flex=(60, 170), sho_abd=(10, 110), elbow=(0, 120)),
    phone=dict(sho_flex=(20, 60), sho_abd=(10, 40), elbow=(110, 140)),
    bend=dict(pelvis_tilt=(5, 25), trunk_flex=(30, 80), hip_flex=(0, 30),
              knee=(0, 50), sho_flex=(20, 90), elbow=(0, 60),
              neck_flex=(-30, 10)),
    sit=dict(pelvis_tilt=(-10, 5), hip_flex=(75, 100), hip_abd=(0, 20),
             knee=(70, 110), trunk_flex=(-10, 30), sho_flex=(-10, 60),
             elbow=(30, 125)),
    crouch=dict(hip_flex=(95, 120), knee=(110, 150), trunk_flex=(10, 50),
                sho_flex=(0, 80), elbow=(10, 100)),
    walk=dict(knee=(0, 10), hip_flex=(0, 10), sho_flex=(-10, 20),
              sho_abd=(0, 15), elbow=(5, 40), neck_turn=(-25, 25)),
)
# Styles whose limb ranges apply to one (random) arm only.
_ONE_ARM_STYLES = ('phone', )
# Styles whose legs move together (both feet on the floor).
_SYMMETRIC_LEG_STYLES = ('sit', 'crouch', 'bend')

# Human3.6M's 15 actions and the styles that make them up.
ACTION_STYLES: Dict[str, Tuple[str, ...]] = {
    'Directions': ('gesture', 'stand'),
    'Discussion': ('gesture', 'stand'),
    'Eating': ('sit', ),
    'Greeting': ('gesture', 'arms_up'),
    'Phoning': ('phone', 'stand'),
    'Photo': ('arms_up', 'bend'),
    'Posing': ('arms_up', 'gesture', 'bend'),
    'Purchases': ('bend', 'stand'),
    'Sitting': ('sit', 'crouch'),
    'SittingDown': ('crouch', 'sit', 'bend'),
    'Smoking': ('phone', 'stand'),
    'Waiting': ('stand', 'bend'),
    'WalkDog': ('walk', ),
    'Walking': ('walk', ),
    'WalkTogether': ('walk', ),
}
H36M_ACTIONS = tuple(ACTION_STYLES)
WALKING_ACTIONS = ('Walking', 'WalkDog', 'WalkTogether')


def clip_to_limits(angles: np.ndarray) -> np.ndarray:
    """Clip angle vectors (..., A) (radians) to :data:`ANGLE_LIMITS`."""
    return np.clip(angles, _LO, _HI)


def angles_to_dict(angles: np.ndarray) -> Dict[str, float]:
    """One angle vector (A,) to the dict :func:`forward_kinematics` takes."""
    return {n: float(a) for n, a in zip(ANGLE_NAMES, angles)}


def sample_key_pose(style: str, rng: np.random.Generator) -> np.ndarray:
    """Draw one pose of a style.

    Args:
        style (str): A key of :data:`POSE_STYLES`.
        rng (np.random.Generator): Source of randomness.

    Returns:
        np.ndarray: (A,) joint angles in radians, within the limits.
    """
    ranges = dict(_STAND)
    ranges.update(POSE_STYLES[style])
    one_arm = rng.integers(2) if style in _ONE_ARM_STYLES else None
    shared = {}
    out = np.zeros(len(ANGLE_NAMES))
    for i, name in enumerate(ANGLE_NAMES):
        base, side = (name[:-2], name[-1]) if name[-2:] in ('_r', '_l') \
            else (name, None)
        lo, hi = ranges[base]
        if one_arm is not None and side is not None and \
                base.startswith(('sho', 'elbow')) and \
                SIDES[one_arm] != side:
            lo, hi = _STAND[base]
        value = rng.uniform(lo, hi)
        if side is not None and style in _SYMMETRIC_LEG_STYLES and \
                base in ('hip_flex', 'knee'):
            # Both legs bend alike, with a little asymmetry.
            value = shared.setdefault(base, value) + rng.normal(0.0, 5.0)
        out[i] = value
    return clip_to_limits(np.deg2rad(out))


def smoothstep_blend(keys: np.ndarray, key_interval: int,
                     times: np.ndarray) -> np.ndarray:
    """Blend key values with a smoothstep between consecutive keys.

    Args:
        keys (np.ndarray): (K, ...) values at times ``0, key_interval, ...``.
        key_interval (int): Frames between keys.
        times (np.ndarray): (T,) frame times, ``<= (K - 1) * key_interval``.

    Returns:
        np.ndarray: (T, ...) values; each is a convex combination of two
        consecutive keys, so convex limits are preserved.
    """
    pos = np.asarray(times, dtype=np.float64) / key_interval
    idx = np.minimum(np.floor(pos).astype(int), len(keys) - 2)
    w = np.clip(pos - idx, 0.0, 1.0)
    w = w * w * (3.0 - 2.0 * w)
    shape = (-1, ) + (1, ) * (keys.ndim - 1)
    return keys[idx] * (1.0 - w.reshape(shape)) + keys[idx + 1] * \
        w.reshape(shape)


@dataclass
class MotionSequence:
    """A motion clip sampled at the generated frames.

    Attributes:
        action (str): The H36M action name.
        frame_ids (np.ndarray): (T,) 0-based frame indices on the 50 fps
            timeline.
        angles (np.ndarray): (T, A) joint angles, radians, within limits.
        root_xy (np.ndarray): (T, 2) pelvis floor position, metres.
        heading (np.ndarray): (T,) body yaw, radians.
    """
    action: str
    frame_ids: np.ndarray
    angles: np.ndarray
    root_xy: np.ndarray
    heading: np.ndarray

    def angles_at(self, i: int) -> Dict[str, float]:
        """The angle dict of the ``i``-th generated frame."""
        return angles_to_dict(self.angles[i])


def _gait_angles(base: np.ndarray, phase: np.ndarray,
                 action: str, rng: np.random.Generator) -> np.ndarray:
    """Overlay a walking gait on a base pose.

    Args:
        base (np.ndarray): (T, A) smooth base poses (trunk, head, arms).
        phase (np.ndarray): (T,) gait phase of the right leg, radians.
        action (str): A walking action (``WalkDog`` holds a leash).
        rng (np.random.Generator): Source of randomness.

    Returns:
        np.ndarray: (T, A) angles, clipped to the limits.
    """
    idx = {n: i for i, n in enumerate(ANGLE_NAMES)}
    out = base.copy()
    stride = rng.uniform(0.7, 1.2)
    arm_swing = np.deg2rad(rng.uniform(10.0, 30.0))
    for side, shift in (('r', 0.0), ('l', np.pi)):
        ph = phase + shift
        out[:, idx[f'hip_flex_{side}']] = np.deg2rad(
            10.0 + 22.0 * stride * np.sin(ph))
        # The knee flexes during the swing, when the hip swings forward.
        out[:, idx[f'knee_{side}']] = np.deg2rad(
            5.0 + 55.0 * stride * np.clip(np.cos(ph), 0.0, None)**2)
        out[:, idx[f'sho_flex_{side}']] += -arm_swing * np.sin(ph)
    out[:, idx['trunk_twist']] += np.deg2rad(6.0) * np.sin(phase)
    if action == 'WalkDog':
        side = SIDES[rng.integers(2)]
        out[:, idx[f'sho_flex_{side}']] = np.deg2rad(rng.uniform(20, 50))
        out[:, idx[f'elbow_{side}']] = np.deg2rad(rng.uniform(10, 50))
    return clip_to_limits(out)


def _clip_turn(rng: np.random.Generator, low: float, high: float) -> float:
    """How far (radians, either way) the body turns over a whole clip.

    Every clip turns the body so that each camera sees its front, sides
    and back, as Human3.6M's subjects turn while they act and walk in
    circles. Were the heading nearly fixed, a sequence's background and
    camera would tell which way the body faces, and a network could learn
    left from right by remembering them instead of looking at the body.
    """
    return float(rng.choice([-1.0, 1.0]) * rng.uniform(low, high))


def sample_motion(action: str,
                  num_frames: int,
                  frame_step: int,
                  rng: np.random.Generator,
                  centre: Sequence[float] = (0.0, 0.0),
                  radius: float = 0.8,
                  key_interval: int = 8,
                  inside: Optional[Callable[[np.ndarray], bool]] = None,
                  max_tries: int = 50,
                  max_key_step: float = np.deg2rad(60.0)) -> MotionSequence:
    """Sample a smooth motion clip of an action.

    Args:
        action (str): One of :data:`H36M_ACTIONS`.
        num_frames (int): Number of generated frames.
        frame_step (int): Timeline frames between generated frames.
        rng (np.random.Generator): Source of randomness.
        centre (sequence): Floor point (2,) the body stays around, metres.
        radius (float): The pelvis stays within this distance of
            ``centre`` (walks cross the disc).
        key_interval (int): Timeline frames between key poses.
        inside (callable, optional): Extra test of a root path (T, 2) (e.g.
            "visible in every camera"); paths failing it are redrawn.
        max_tries (int): Redraws before the last path is kept anyway.
        max_key_step (float): Largest change of any angle between two
            consecutive key poses, radians.

    Returns:
        MotionSequence: The clip at frames ``0, frame_step, ...``.
    """
    if action not in ACTION_STYLES:
        raise ValueError(f'Unknown action {action!r}; expected one of '
                         f'{H36M_ACTIONS}.')
    if num_frames < 1 or frame_step < 1 or key_interval < 1:
        raise ValueError('num_frames, frame_step and key_interval must be '
                         f'>= 1, got {num_frames}, {frame_step}, '
                         f'{key_interval}.')
    frame_ids = np.arange(num_frames) * frame_step
    duration = max(int(frame_ids[-1]), 1)
    num_keys = duration // key_interval + 2
    styles = ACTION_STYLES[action]
    walking = action in WALKING_ACTIONS
    keys = np.stack([
        sample_key_pose(styles[rng.integers(len(styles))], rng)
        for _ in range(num_keys)
    ])
    # Limit how far a joint turns between keys, so that motion keeps a
    # human speed (a step lies between two in-limit poses: still in limits).
    for i in range(1, num_keys):
        keys[i] = keys[i - 1] + np.clip(keys[i] - keys[i - 1], -max_key_step,
                                        max_key_step)
    angles = smoothstep_blend(keys, key_interval, frame_ids)
    centre = np.asarray(centre, dtype=np.float64)

    for _ in range(max_tries):
        if walking:
            # Cross the disc along a chord, turning slowly.
            start_ang = rng.uniform(-np.pi, np.pi)
            start = centre + rng.uniform(0.5, 1.0) * radius * np.array(
                [np.cos(start_ang), np.sin(start_ang)])
            heading0 = start_ang + np.pi + rng.uniform(-0.5, 0.5)
            heading = heading0 + _clip_turn(rng, 0.5 * np.pi,
                                            np.pi) * frame_ids / duration
            length = rng.uniform(1.0, 1.8) * radius
            step_len = length / duration
            d = np.stack([np.cos(heading), np.sin(heading)], axis=-1)
            root = start + np.concatenate(
                [np.zeros((1, 2)),
                 np.cumsum(d[1:] * step_len * np.diff(frame_ids)[:, None],
                           axis=0)])
        else:
            r = radius * np.sqrt(rng.uniform())
            ang = rng.uniform(-np.pi, np.pi)
            start = centre + r * np.array([np.cos(ang), np.sin(ang)])
            root_keys = start + np.cumsum(
                rng.normal(0.0, 0.08, size=(num_keys, 2)), axis=0)
            root = smoothstep_blend(root_keys, key_interval, frame_ids)
            heading_keys = rng.uniform(-np.pi, np.pi) + np.cumsum(
                rng.normal(0.0, np.deg2rad(20.0), size=num_keys))
            heading_keys += _clip_turn(rng, 1.5 * np.pi, 2.5 * np.pi) * (
                np.arange(num_keys) / max(num_keys - 1, 1))
            heading = smoothstep_blend(heading_keys, key_interval, frame_ids)
        within = np.linalg.norm(root - centre, axis=-1).max() <= radius
        if within and (inside is None or inside(root)):
            break

    if walking:
        # Gait phase advances with the distance walked (~1.4 m a cycle).
        dist = np.concatenate(
            [[0.0], np.cumsum(np.linalg.norm(np.diff(root, axis=0), axis=1))])
        phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * dist / 1.4
        angles = _gait_angles(angles, phase, action, rng)
    return MotionSequence(
        action=action,
        frame_ids=frame_ids,
        angles=angles,
        root_xy=root,
        heading=heading)
