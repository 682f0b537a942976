# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""The body's volumes and clothing, built around the posed skeleton.

Limbs are capsules (plus an ellipsoid of muscle on thighs and calves), the
pelvis, abdomen, chest and head are ellipsoids. Front and back differ: the
face (eyes, nose, mouth) and the feet point forward and the hair covers the
back of the head. Left and right differ only through details that vary per
subject (a watch on a random wrist, an optional band on one random sleeve,
shoes with a random toe-cap), never a fixed colour code per side.
"""
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .renderer import Capsule, Ellipsoid, Primitive
from .scene import random_color
from .skeleton import BodyShape, Posed

_SKIN_TONES = np.array([[0.96, 0.80, 0.69], [0.90, 0.70, 0.55],
                        [0.78, 0.57, 0.42], [0.60, 0.42, 0.30],
                        [0.42, 0.28, 0.20], [0.30, 0.20, 0.14]])


@dataclass
class Appearance:
    """Colours and clothing of a subject in one sequence (RGB in [0, 1]).

    Attributes:
        skin, hair, shirt, trousers, shoes, toe_cap, watch: (3,) colours.
        shirt_stripes (np.ndarray, optional): (3,) stripe colour or None.
        band (np.ndarray, optional): (3,) colour of a band on one sleeve.
        band_side (str): ``'r'`` or ``'l'``: the sleeve with the band.
        watch_side (str): ``'r'`` or ``'l'``: the wrist with the watch.
        long_sleeves (bool): Sleeves down to the wrists (else short).
        shorts (bool): Trousers end above the knees.
        hair_volume (float): Hair size multiplier (0 means bald).
        front (np.ndarray): (3,) colour of the shirt's front panel (an
            open jacket's inner shirt, a placket or a print), which makes
            the body's front tell from its back as a face does.
    """
    skin: np.ndarray
    hair: np.ndarray
    shirt: np.ndarray
    trousers: np.ndarray
    shoes: np.ndarray
    toe_cap: np.ndarray
    watch: np.ndarray
    shirt_stripes: Optional[np.ndarray]
    band: Optional[np.ndarray]
    band_side: str
    watch_side: str
    long_sleeves: bool
    shorts: bool
    hair_volume: float
    front: np.ndarray


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """Draw a subject's look: body colours, then clothes."""
    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(
        0.92, 1.05, size=3)
    hair = np.array([0.08, 0.06, 0.05]) + rng.uniform(0, 1) * np.array(
        [0.5, 0.35, 0.15])
    return Appearance(
        skin=np.clip(skin, 0, 1),
        hair=hair,
        hair_volume=float(rng.uniform(0.0, 1.0) if rng.uniform() < 0.1 else
                          rng.uniform(0.9, 1.15)),
        **sample_clothes(rng))


def sample_clothes(rng: np.random.Generator) -> dict:
    """Draw an outfit: the clothing fields of :class:`Appearance`."""
    shirt = random_color(rng)
    return dict(
        shirt=shirt,
        trousers=random_color(rng, val=(0.1, 0.7)),
        shoes=random_color(rng, sat=(0.0, 0.5), val=(0.05, 0.9)),
        toe_cap=random_color(rng, sat=(0.0, 0.6)),
        watch=random_color(rng, sat=(0.0, 0.3), val=(0.05, 0.4)),
        shirt_stripes=random_color(rng) if rng.uniform() < 0.35 else None,
        band=random_color(rng) if rng.uniform() < 0.5 else None,
        band_side=('r', 'l')[rng.integers(2)],
        watch_side=('r', 'l')[rng.integers(2)],
        long_sleeves=bool(rng.uniform() < 0.6),
        shorts=bool(rng.uniform() < 0.2),
        front=contrasting_color(shirt, rng))


def contrasting_color(color: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
    """A colour (3,) whose brightness is far from ``color``'s."""
    bright = float(color.max()) > 0.55
    return random_color(rng, val=(0.08, 0.3) if bright else (0.75, 0.98))


def restyle_for_sequence(app: Appearance,
                         rng: np.random.Generator) -> Appearance:
    """A new outfit for every sequence (recorded on different days); skin,
    hair and body shape stay the subject's. Five training subjects alone
    would let a network tie the body's front to a few outfits."""
    return Appearance(**{**app.__dict__, **sample_clothes(rng)})


def _foot_direction(shank: np.ndarray) -> np.ndarray:
    """Forward direction (3,) of a foot: the shank's forward axis, levelled.

    Feet stay near horizontal whatever the knee and hip do, as they would
    standing on the floor.
    """
    fwd = shank[:, 0].copy()
    fwd[2] = 0.25 * fwd[2]
    n = np.linalg.norm(fwd)
    return fwd / n if n > 1e-6 else np.array([1.0, 0.0, 0.0])


def build_body(posed: Posed, shape: BodyShape,
               app: Appearance) -> List[Primitive]:
    """The body's primitives for one frame.

    Args:
        posed (Posed): Joints (17, 3) and segment frames, world metres.
        shape (BodyShape): Subject shape (limb thickness, girth).
        app (Appearance): Colours and clothing.

    Returns:
        list: World-frame capsules and ellipsoids.
    """
    j, fr = posed.joints, posed.frames
    th, girth = shape.thickness, shape.girth
    prims: List[Primitive] = []
    shirt_kw = dict(stripe_color=app.shirt_stripes, stripe_period=0.07)

    # Trunk.
    pelvis = fr['pelvis']
    prims.append(
        Ellipsoid(j[0] + pelvis @ [-0.01, 0.0, -0.02], pelvis,
                  np.array([0.11, 0.165 * girth, 0.11]) * th ** 0.5,
                  app.trousers))
    abd = fr['abdomen']
    prims.append(
        Ellipsoid(0.5 * (j[0] + j[7]) + abd @ [0.0, 0.0, 0.03], abd,
                  np.array([0.10, 0.145 * girth, 0.16]) * th ** 0.5,
                  app.shirt, **shirt_kw))
    chest = fr['chest']
    prims.append(
        Ellipsoid(0.5 * (j[7] + j[8]) + chest @ [0.0, 0.0, 0.0], chest,
                  np.array([0.11, 0.17 * girth, 0.19]) * th ** 0.5,
                  app.shirt, **shirt_kw))
    prims.append(Capsule(j[11], j[14], 0.055 * th, app.shirt))
    # The front panel: a flat ellipsoid just proud of the chest and
    # abdomen fronts (+x of their frames).
    for part, centre, rx, rz in ((chest, 0.5 * (j[7] + j[8]), 0.11, 0.17),
                                 (abd, 0.5 * (j[0] + j[7]), 0.10, 0.13)):
        prims.append(
            Ellipsoid(centre + part @ [rx * th**0.5 * 0.62, 0.0, 0.0], part,
                      np.array([0.045, 0.1 * girth, rz]) * th**0.5,
                      app.front))

    # Neck and head, with a face on the front and hair on the back.
    head = fr['head']
    centre = j[9] + head @ [-0.035, 0.0, 0.045]
    prims.append(Capsule(j[8], j[9] - head @ [0.05, 0.0, 0.0], 0.045 * th,
                         app.skin))
    prims.append(Ellipsoid(centre, head, np.array([0.10, 0.08, 0.115]),
                           app.skin))
    if app.hair_volume > 0.5:
        prims.append(
            Ellipsoid(centre + head @ [-0.02, 0.0, 0.025], head,
                      np.array([0.10, 0.086, 0.11]) * min(
                          app.hair_volume, 1.05), app.hair))
    dark = np.array([0.05, 0.04, 0.04])
    for side in (-1.0, 1.0):
        prims.append(
            Ellipsoid(centre + head @ [0.088, side * 0.032, 0.012], head,
                      np.full(3, 0.013), dark))
    prims.append(
        Ellipsoid(centre + head @ [0.10, 0.0, -0.015], head,
                  np.array([0.022, 0.012, 0.02]), app.skin * 0.85))
    prims.append(
        Ellipsoid(centre + head @ [0.085, 0.0, -0.052], head,
                  np.array([0.012, 0.026, 0.007]), np.array([0.5, 0.15,
                                                             0.15])))

    for side, hip, sho in (('r', 1, 14), ('l', 4, 11)):
        thigh, shank = fr[f'thigh_{side}'], fr[f'shank_{side}']
        upper, fore = fr[f'upper_arm_{side}'], fr[f'forearm_{side}']
        knee, ankle = j[hip + 1], j[hip + 2]
        elbow, wrist = j[sho + 1], j[sho + 2]

        # Legs: thigh and calf get a muscle ellipsoid on the capsule.
        prims.append(Capsule(j[hip], knee, 0.07 * th, app.trousers))
        prims.append(
            Ellipsoid(j[hip] + 0.4 * (knee - j[hip]), thigh,
                      np.array([0.085, 0.08, 0.2]) * th, app.trousers))
        leg = app.skin if app.shorts else app.trousers
        prims.append(Capsule(knee, ankle, 0.048 * th, leg))
        prims.append(
            Ellipsoid(knee + 0.3 * (ankle - knee) + shank @ [-0.015, 0, 0],
                      shank, np.array([0.062, 0.058, 0.14]) * th, leg))
        fwd = _foot_direction(shank)
        heel = ankle + fwd * -0.04 + np.array([0.0, 0.0, -0.035])
        toe = ankle + fwd * 0.15 + np.array([0.0, 0.0, -0.045])
        prims.append(Capsule(heel, toe, 0.038, app.shoes))
        prims.append(
            Capsule(toe - fwd * 0.02, toe + fwd * 0.005, 0.036,
                    app.toe_cap))

        # Arms, with short or long sleeves.
        sleeve_end = wrist if app.long_sleeves else \
            j[sho] + 0.5 * (elbow - j[sho])
        prims.append(Capsule(j[sho], elbow, 0.043 * th, app.skin))
        prims.append(Capsule(elbow, wrist, 0.035 * th, app.skin))
        if app.long_sleeves:
            prims.append(Capsule(j[sho], elbow, 0.05 * th, app.shirt))
            prims.append(Capsule(elbow, wrist, 0.042 * th, app.shirt))
        else:
            prims.append(Capsule(j[sho], sleeve_end, 0.055 * th, app.shirt))
        if app.band is not None and side == app.band_side:
            mid = j[sho] + 0.35 * (elbow - j[sho])
            prims.append(
                Ellipsoid(mid, upper, np.array([0.058, 0.058, 0.03]) * th,
                          app.band))
        hand_c = wrist + fore @ [0.0, 0.0, -0.075]
        prims.append(
            Ellipsoid(hand_c, fore, np.array([0.028, 0.045, 0.075]),
                      app.skin))
        if side == app.watch_side:
            prims.append(
                Ellipsoid(wrist + fore @ [0.0, 0.0, 0.025], fore,
                          np.array([0.047, 0.047, 0.016]) * th, app.watch))
    return prims


def build_stool(posed: Posed) -> List[Primitive]:
    """A round stool under a seated body, or nothing.

    A body counts as seated when both thighs are near horizontal and the
    pelvis is well above the floor, so it is not left floating in the air.
    """
    j, fr = posed.joints, posed.frames
    # A thigh's own z axis runs along it: near-horizontal thighs have a
    # small world-z component.
    thighs_flat = all(
        abs(fr[f'thigh_{s}'][2, 2]) < 0.5 for s in ('r', 'l'))
    if not thighs_flat or j[0, 2] < 0.3:
        return []
    # The seat surface sits under the thighs, 0.1 m below the hip joints.
    radius = 0.18
    seat_centre = j[0, 2] - 0.1 - radius
    if seat_centre < radius:
        return []
    back = fr['pelvis'][:, 0].copy()
    back[2] = 0.0
    back /= max(np.linalg.norm(back), 1e-6)
    base = np.array([j[0, 0], j[0, 1], 0.0]) - 0.05 * back
    color = np.array([0.35, 0.33, 0.32])
    return [
        Capsule(base + [0.0, 0.0, radius],
                base + [0.0, 0.0, seat_centre], radius, color)
    ]
