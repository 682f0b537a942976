# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Embedded synthetic multi-view Human3.6M look-alike (no download).

Building blocks: :mod:`.skeleton` (H36M-17 body and forward kinematics),
:mod:`.motion` (joint limits and per-action smooth motion), :mod:`.cameras`
(the real H36M cameras, resized, with their distortion), :mod:`.scene`
(textured room and light), :mod:`.body` (volumes and clothing),
:mod:`.renderer` (z-buffered ray caster) and :mod:`.generator` (writes
MMPose's Human3.6M layout).
"""
from .body import Appearance, build_body, build_stool, sample_appearance
from .cameras import (
    H36M_CAMERA_IDS,
    H36M_SUBJECTS,
    h36m_camera,
    h36m_rig,
    pixel_rays,
    project_camera_points,
    project_world_points,
    world_to_camera,
)
from .generator import (
    DEFAULT_ACTIONS,
    GENERATOR_VERSION,
    SyntheticSubject,
    generate_synthetic_h36m,
    other_generator_version,
    render_sequence,
    stale_output,
)
from .motion import (
    ACTION_STYLES,
    ANGLE_LIMITS,
    ANGLE_NAMES,
    H36M_ACTIONS,
    MotionSequence,
    sample_key_pose,
    sample_motion,
)
from .renderer import Capsule, Ellipsoid, render_primitives
from .scene import Scene, render_background, sample_scene
from .skeleton import (
    H36M17_BONES,
    H36M17_JOINT_NAMES,
    H36M17_PARENTS,
    BodyShape,
    Posed,
    bone_lengths,
    forward_kinematics,
    sample_body_shape,
)

__all__ = [
    'Appearance', 'build_body', 'build_stool', 'sample_appearance',
    'H36M_CAMERA_IDS', 'H36M_SUBJECTS', 'h36m_camera', 'h36m_rig',
    'pixel_rays', 'project_camera_points', 'project_world_points',
    'world_to_camera', 'DEFAULT_ACTIONS', 'GENERATOR_VERSION',
    'other_generator_version', 'stale_output', 'SyntheticSubject',
    'generate_synthetic_h36m',
    'render_sequence', 'ACTION_STYLES', 'ANGLE_LIMITS', 'ANGLE_NAMES',
    'H36M_ACTIONS', 'MotionSequence', 'sample_key_pose', 'sample_motion',
    'Capsule', 'Ellipsoid', 'render_primitives', 'Scene',
    'render_background', 'sample_scene', 'H36M17_BONES',
    'H36M17_JOINT_NAMES', 'H36M17_PARENTS', 'BodyShape', 'Posed',
    'bone_lengths', 'forward_kinematics', 'sample_body_shape'
]
