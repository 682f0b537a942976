"""JSON form of 3D pose results and a small JSON Schema validator.

The result file layout is documented in ``demo/README.md`` and, formally, in
``demo/result_schema.json``.
"""
import json
import math
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmpose.structures import PoseDataSample

RESULT_SCHEMA_VERSION = '1.0'


def _rounded(values: Any, digits: int) -> Any:
    """Nested lists of rounded floats; non-finite values become None."""
    array = np.asarray(values, np.float64)
    if array.ndim == 0:
        value = float(array)
        return round(value, digits) if math.isfinite(value) else None
    return [_rounded(v, digits) for v in array]


def instance_to_dict(sample: PoseDataSample, digits: int = 3) -> Dict:
    """One person's prediction as plain JSON values.

    Args:
        sample (PoseDataSample): A sample from ``inference_topdown_3d`` (one
            instance in ``pred_instances``).
        digits (int): Decimals kept.

    Returns:
        dict: ``bbox`` [x0, y0, x1, y1], ``bbox_score``, ``keypoints``
        (J, 2), ``keypoint_scores`` (J,), ``keypoints_depth`` (J,),
        ``keypoints_3d`` (J, 3), ``keypoints_3d_unit``, ``root_depth`` and
        ``root_depth_source`` (None without a camera).
    """
    pred = sample.pred_instances
    unit = pred.metainfo.get('keypoints_3d_unit', 'image_px_root_relative')
    root_depth = None
    if 'root_depth' in pred:
        root_depth = _rounded(np.asarray(pred.root_depth).reshape(-1)[0],
                              digits)
    return dict(
        bbox=_rounded(np.asarray(pred.bboxes).reshape(-1)[:4], digits),
        bbox_score=_rounded(np.asarray(pred.bbox_scores).reshape(-1)[0], 5),
        keypoints=_rounded(pred.keypoints[0], digits),
        keypoint_scores=_rounded(pred.keypoint_scores[0], 5),
        keypoints_depth=_rounded(pred.keypoints_depth[0], digits),
        keypoints_3d=_rounded(pred.keypoints_3d[0], digits),
        keypoints_3d_unit=unit,
        root_depth=root_depth,
        root_depth_source=pred.metainfo.get('root_depth_source'),
    )


def frame_to_dict(samples: Sequence[PoseDataSample],
                  frame_index: int = 0,
                  timing_ms: Optional[Dict[str, float]] = None,
                  digits: int = 3) -> Dict:
    """One image's (or video frame's) people as plain JSON values."""
    frame = dict(
        frame_index=int(frame_index),
        instances=[instance_to_dict(s, digits) for s in samples])
    if timing_ms is not None:
        frame['timing_ms'] = {k: round(float(v), 2)
                              for k, v in timing_ms.items()}
    return frame


def result_document(input_path: str, input_type: str,
                    image_size: Sequence[int], dataset_meta: Dict,
                    frames: List[Dict], camera: Optional[np.ndarray] = None,
                    detector: Optional[str] = None) -> Dict:
    """The whole result file of one input (see ``demo/README.md``).

    Args:
        input_path (str): Image or video file.
        input_type (str): ``'image'`` or ``'video'``.
        image_size (Sequence[int]): (width, height).
        dataset_meta (dict): The model's ``dataset_meta``.
        frames (list[dict]): From :func:`frame_to_dict`.
        camera (np.ndarray, optional): Intrinsics (3, 3) used for lifting.
        detector (str, optional): Where the boxes came from.

    Returns:
        dict: The document.
    """
    num_keypoints = dataset_meta['num_keypoints']
    return dict(
        schema_version=RESULT_SCHEMA_VERSION,
        input=str(input_path),
        input_type=input_type,
        image_size=[int(v) for v in image_size],
        keypoint_names=[
            dataset_meta['keypoint_id2name'][i] for i in range(num_keypoints)
        ],
        skeleton=[[int(a), int(b)] for a, b in dataset_meta['skeleton_links']],
        camera_intrinsics=None if camera is None else _rounded(camera, 6),
        detector=detector,
        frames=frames)


def dump_json(document: Dict, path: str) -> None:
    """Write a result document (strict JSON: no NaN)."""
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(document, f, allow_nan=False)


_TYPES = dict(
    object=dict, array=list, string=str, boolean=bool, null=type(None))


def _is_type(value: Any, name: str) -> bool:
    if name == 'integer':
        return isinstance(value, int) and not isinstance(value, bool)
    if name == 'number':
        return isinstance(value, (int, float)) and not isinstance(
            value, bool) and math.isfinite(value)
    return isinstance(value, _TYPES[name])


def validate_schema(value: Any, schema: Dict, path: str = '$') -> List[str]:
    """Check a JSON value against the subset of JSON Schema our files use.

    Supported keywords: ``type`` (name or list), ``enum``, ``const``,
    ``properties``, ``required``, ``additionalProperties`` (bool),
    ``items`` (schema), ``minItems``, ``maxItems``, ``minimum``, ``maximum``
    and local ``$ref`` to ``#/$defs/NAME``. Unknown keywords raise, so a
    schema never passes by being misread.

    Args:
        value: The decoded JSON value.
        schema (dict): The schema.
        path (str): Location used in messages.

    Returns:
        list[str]: Error messages (empty when valid).
    """
    return _validate(value, schema, path, schema)


_KNOWN = {
    '$schema', '$id', '$defs', '$ref', 'title', 'description', 'type',
    'enum', 'const', 'properties', 'required', 'additionalProperties',
    'items', 'minItems', 'maxItems', 'minimum', 'maximum'
}


def _validate(value, schema, path, root) -> List[str]:
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f'unsupported schema keywords {sorted(unknown)} '
                         f'at {path}')
    if '$ref' in schema:
        ref = schema['$ref']
        if not ref.startswith('#/$defs/'):
            raise ValueError(f'only #/$defs/ references are supported: {ref}')
        return _validate(value, root['$defs'][ref[len('#/$defs/'):]], path,
                         root)
    errors = []
    if 'type' in schema:
        types = schema['type'] if isinstance(schema['type'],
                                             list) else [schema['type']]
        if not any(_is_type(value, t) for t in types):
            return [f'{path}: expected {"/".join(types)}, got '
                    f'{type(value).__name__} {value!r:.60}']
    if 'enum' in schema and value not in schema['enum']:
        errors.append(f'{path}: {value!r} not one of {schema["enum"]}')
    if 'const' in schema and value != schema['const']:
        errors.append(f'{path}: {value!r} is not {schema["const"]!r}')
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 'minimum' in schema and value < schema['minimum']:
            errors.append(f'{path}: {value} < {schema["minimum"]}')
        if 'maximum' in schema and value > schema['maximum']:
            errors.append(f'{path}: {value} > {schema["maximum"]}')
    if isinstance(value, dict):
        for key in schema.get('required', []):
            if key not in value:
                errors.append(f'{path}: missing "{key}"')
        properties = schema.get('properties', {})
        for key, item in value.items():
            if key in properties:
                errors += _validate(item, properties[key], f'{path}.{key}',
                                    root)
            elif schema.get('additionalProperties', True) is False:
                errors.append(f'{path}: unexpected "{key}"')
    if isinstance(value, list):
        if 'minItems' in schema and len(value) < schema['minItems']:
            errors.append(f'{path}: {len(value)} items < '
                          f'{schema["minItems"]}')
        if 'maxItems' in schema and len(value) > schema['maxItems']:
            errors.append(f'{path}: {len(value)} items > '
                          f'{schema["maxItems"]}')
        if 'items' in schema:
            for i, item in enumerate(value):
                errors += _validate(item, schema['items'], f'{path}[{i}]',
                                    root)
    return errors
