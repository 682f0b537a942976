"""Top-down monocular 3D human pose: an MMDetection person detector, then a
Pose ResNet (volumetric, self-supervised) model on each person box.

For an image, a folder of images or a video, writes per input:

- ``<output-root>/<name>.json``: boxes, 2D keypoints, scores, scale-free
  depth and 3D keypoints per person and frame (``demo/README.md``, schema
  ``demo/result_schema.json``);
- ``<output-root>/vis_<name>.jpg`` (or ``.mp4`` for a video): the 2D
  skeletons on the image beside a 3D plot per person (``--max-3d``).

Examples::

    # RTMDet-tiny from MMDetection's model zoo + a trained Pose ResNet
    python demo/topdown_3d_demo_with_mmdet.py \\
        configs/body_3d_keypoint/pose_resnet/h36m/\\
td-vol_cbam-res50-wasp_1xb16-130e_h36m-256x256.py pose.pth \\
        --det-checkpoint rtmdet_tiny.pth --input images/ --output-root out/

    # no detector: one box = the whole image; metric 3D with a camera
    python demo/topdown_3d_demo_with_mmdet.py CONFIG pose.pth \\
        --input person.jpg --whole-image --focal 1145 --output-root out/

Exit status: 0 on success (also when nobody is detected), 1 when a config,
checkpoint or input cannot be read (named in the message), 2 for bad
arguments.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np

# Let the demo run from a checkout without `pip install -e .`.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm')
DEFAULT_DET_CONFIG = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'


class DemoError(Exception):
    """A problem with the user's files, reported without a traceback."""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='mmdet person detector + Pose ResNet 3D pose demo')
    parser.add_argument('pose_config', help='pose model config file')
    parser.add_argument(
        'pose_checkpoint', nargs='?', default=None,
        help='pose checkpoint file (omit: random weights, mechanics only)')
    parser.add_argument(
        '--input', required=True,
        help='an image, a folder of images, or a video file')
    parser.add_argument(
        '--output-root', required=True, help='folder for JSON and images')
    boxes = parser.add_argument_group('person boxes (default: detector)')
    boxes.add_argument(
        '--det-config', default=DEFAULT_DET_CONFIG,
        help='mmdet config file, or "mmdet::PATH" inside MMDetection '
        f'(default {DEFAULT_DET_CONFIG})')
    boxes.add_argument(
        '--det-checkpoint', default=None,
        help='mmdet checkpoint file (omit: random weights, mechanics only)')
    boxes.add_argument(
        '--det-cat-id', type=int, default=0,
        help='detector class of persons (COCO: 0); -1 keeps every class')
    boxes.add_argument('--bbox-thr', type=float, default=0.3)
    boxes.add_argument('--nms-thr', type=float, default=0.3)
    boxes.add_argument(
        '--max-people', type=int, default=20,
        help='keep at most this many boxes per frame (highest scores)')
    boxes.add_argument(
        '--bboxes', default=None,
        help='JSON file of boxes instead of a detector: a list of '
        '[x0, y0, x1, y1(, score)] for every input, or a dict mapping '
        'image file names to such lists; a video\'s entry may instead '
        'be a list with one such list per frame')
    boxes.add_argument(
        '--whole-image', action='store_true',
        help='no detector: the whole image is one person box')
    cam = parser.add_argument_group('camera (optional: metric 3D)')
    cam.add_argument(
        '--camera', default=None,
        help='JSON file with "intrinsics" (3x3) or "f" and "c" (pixels)')
    cam.add_argument(
        '--focal', type=float, default=None,
        help='focal length in pixels, principal point at the image centre')
    cam.add_argument(
        '--root-depth', type=float, default=None,
        help='distance of the pelvis in mm (default: estimated from the '
        'predicted skeleton, see mmpose_epipolar.apis.estimate_root_depth)')
    out = parser.add_argument_group('output')
    out.add_argument('--kpt-thr', type=float, default=0.3)
    out.add_argument(
        '--max-3d', type=int, default=3,
        help='3D plots drawn per frame (the highest-scoring people)')
    out.add_argument('--no-vis', action='store_true', help='JSON only')
    out.add_argument('--device', default='cpu', help='e.g. cpu or cuda:0')
    args = parser.parse_args(argv)
    if args.whole_image and args.bboxes:
        parser.error('--whole-image and --bboxes exclude each other')
    if args.camera and args.focal:
        parser.error('--camera and --focal exclude each other')
    if args.root_depth is not None and not (args.camera or args.focal):
        parser.error('--root-depth needs --camera or --focal')
    return args


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------
def list_inputs(path: str) -> List[Tuple[str, str]]:
    """(kind, file) pairs, kind ``'image'`` or ``'video'``."""
    if osp.isdir(path):
        files = sorted(
            osp.join(path, name) for name in os.listdir(path)
            if name.lower().endswith(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS))
        if not files:
            raise DemoError(f'no image or video files in folder {path}')
        return [('video' if f.lower().endswith(VIDEO_EXTENSIONS) else
                 'image', f) for f in files]
    if not osp.isfile(path):
        raise DemoError(f'input {path} does not exist')
    return [('video' if path.lower().endswith(VIDEO_EXTENSIONS) else 'image',
             path)]


def resolve_config(path: str) -> str:
    """A config path, with ``pkg::rel`` looked up in the package's configs."""
    if '::' in path:
        package, rel = path.split('::', 1)
        import importlib
        try:
            module = importlib.import_module(package)
        except ImportError as err:
            raise DemoError(f'config {path}: cannot import {package}') \
                from err
        root = osp.dirname(module.__file__)
        for candidate in (osp.join(root, '.mim', 'configs', rel),
                          osp.join(osp.dirname(root), 'configs', rel)):
            if osp.isfile(candidate):
                return candidate
        raise DemoError(f'config {path} not found in {package}')
    if not osp.isfile(path):
        raise DemoError(f'config file {path} does not exist')
    return path


def check_checkpoint(path: Optional[str], what: str) -> None:
    if path is None:
        warnings.warn(f'no {what} checkpoint given: using RANDOM weights; '
                      'results are meaningless (mechanics only)')
    elif not osp.isfile(path):
        raise DemoError(f'{what} checkpoint file {path} does not exist')


def load_bboxes_file(path: str):
    """Boxes from ``--bboxes``: a list, or a dict keyed by file name."""
    if not osp.isfile(path):
        raise DemoError(f'bboxes file {path} does not exist')
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError) as err:
        raise DemoError(f'cannot read bboxes file {path}: {err}') from err
    if not isinstance(data, (list, dict)):
        raise DemoError(f'bboxes file {path} must hold a list or a dict')
    return data


def _per_frame(entry: list) -> bool:
    """Whether a box list holds one list of boxes per video frame (an
    empty item or a list of lists; a box is a list of numbers)."""
    return any(isinstance(item, list) and
               (not item or isinstance(item[0], list)) for item in entry)


def boxes_for(data, image_path: str, frame: int = 0) -> np.ndarray:
    """(N, 5) boxes of one image, or of one frame of a video, from a
    ``--bboxes`` document."""
    if isinstance(data, dict):
        entry = data.get(image_path, data.get(osp.basename(image_path), []))
    else:
        entry = data
    if not isinstance(entry, list):
        raise DemoError(f'boxes of {image_path} must be a list')
    if _per_frame(entry):
        # Frames past the end of the list show nobody.
        entry = entry[frame] if frame < len(entry) else []
    rows = []
    for row in entry:
        if not isinstance(row, list) or len(row) not in (4, 5):
            raise DemoError(f'boxes of {image_path} must be lists of '
                            f'[x0, y0, x1, y1(, score)], got {row!r}')
        # A box without a score is a sure person.
        rows.append(list(row) + [1.0] * (5 - len(row)))
    return np.asarray(rows, np.float32).reshape(-1, 5)


def load_camera(args, image_size: Tuple[int, int]) -> Optional[np.ndarray]:
    from mmpose_epipolar.apis.inference import parse_intrinsics
    if args.focal is not None:
        w, h = image_size
        return parse_intrinsics(
            [[args.focal, 0, w / 2], [0, args.focal, h / 2], [0, 0, 1]])
    if args.camera is None:
        return None
    try:
        with open(args.camera, encoding='utf-8') as f:
            return parse_intrinsics(json.load(f))
    except (OSError, ValueError) as err:
        raise DemoError(f'camera file {args.camera}: {err}') from err


# ---------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------
def build_detector(args):
    import torch
    from mmdet.apis import init_detector
    from mmengine.config import Config
    from mmpose.utils import adapt_mmdet_pipeline

    config = Config.fromfile(resolve_config(args.det_config))
    check_checkpoint(args.det_checkpoint, 'detector')
    config = adapt_mmdet_pipeline(config)
    # Random weights (no checkpoint) are then the same on every run.
    torch.manual_seed(0)
    # init_detector switches the process to mmdet's registry scope and
    # leaves it there when loading fails; a caller goes on in its own.
    from mmengine.registry import DefaultScope, init_default_scope
    scope = DefaultScope.get_current_instance()
    try:
        return init_detector(config, args.det_checkpoint, device=args.device)
    finally:
        current = DefaultScope.get_current_instance()
        if scope is not None and current.scope_name != scope.scope_name:
            init_default_scope(scope.scope_name)


def detect_people(detector, image: np.ndarray, args) -> np.ndarray:
    """Person boxes (N, 5) xyxy + score, thresholded, NMS-ed, capped."""
    from mmdet.apis import inference_detector
    from mmpose.evaluation.functional import nms

    pred = inference_detector(detector, image).pred_instances.cpu().numpy()
    boxes = np.concatenate([pred.bboxes, pred.scores[:, None]], axis=1)
    keep = pred.scores > args.bbox_thr
    if args.det_cat_id >= 0:
        keep &= pred.labels == args.det_cat_id
    boxes = boxes[keep]
    if len(boxes):
        boxes = boxes[nms(boxes, args.nms_thr)]
        boxes = boxes[np.argsort(-boxes[:, 4])[:args.max_people]]
    return boxes.astype(np.float32).reshape(-1, 5)


# ---------------------------------------------------------------------------
# Visualisation
# ---------------------------------------------------------------------------
def _ensure_tostring_rgb() -> None:
    """MMPose 1.3's 3D visualiser reads ``canvas.tostring_rgb``, which
    Matplotlib 3.10 removed; provide it from the RGBA buffer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    if not hasattr(FigureCanvasAgg, 'tostring_rgb'):
        FigureCanvasAgg.tostring_rgb = lambda self: np.asarray(
            self.buffer_rgba())[..., :3].tobytes()


class Visualizers:
    """MMPose's 2D visualiser for the image and its 3D visualiser for one
    plot per person (MMPose 1.3's 3D visualiser mis-shapes its canvas for
    more than one instance, so each person gets a call of its own)."""

    def __init__(self, dataset_meta: Dict, radius: int = 4,
                 line_width: int = 2) -> None:
        import matplotlib
        matplotlib.use('Agg')
        _ensure_tostring_rgb()
        from mmpose.visualization import (
            Pose3dLocalVisualizer,
            PoseLocalVisualizer,
        )
        tag = id(self)
        self.vis_2d = PoseLocalVisualizer(
            name=f'pose2d_demo_{tag}', radius=radius, line_width=line_width)
        self.vis_3d = Pose3dLocalVisualizer(
            name=f'pose3d_demo_{tag}', radius=radius, line_width=line_width)
        self.vis_2d.set_dataset_meta(dataset_meta)
        self.vis_3d.set_dataset_meta(dataset_meta)


def plot_coordinates(keypoints_3d: np.ndarray, root_index: int = 0
                     ) -> np.ndarray:
    """Camera-frame (x right, y down, z forward) to plot axes (x right,
    y forward, z up), root-relative, feet on z = 0.

    Args:
        keypoints_3d (np.ndarray): (N, J, 3).

    Returns:
        np.ndarray: (N, J, 3).
    """
    rel = keypoints_3d - keypoints_3d[:, root_index:root_index + 1]
    plot = np.stack([rel[..., 0], rel[..., 2], -rel[..., 1]], axis=-1)
    plot[..., 2] -= plot[..., 2].min(axis=1, keepdims=True)
    return plot


def draw_no_person(image: np.ndarray) -> np.ndarray:
    import cv2
    canvas = image.copy()
    cv2.putText(canvas, 'no person detected', (10, 30),
                cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 255), 2)
    return canvas


def draw_frame(visualizers: Visualizers, image: np.ndarray, samples,
               kpt_thr: float, max_3d: int) -> np.ndarray:
    """The 2D skeletons beside one 3D plot per person (BGR image).

    The result is ``max(H, W)`` high and ``W + max(H, W) * min(N, max_3d)``
    wide: the image (padded with white to that height) and one square 3D
    panel per shown person (the highest box scores first).
    """
    import cv2
    import mmcv
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample, merge_data_samples

    if not samples:
        return draw_no_person(image)
    merged = merge_data_samples(samples)
    rgb = mmcv.bgr2rgb(image)
    visualizers.vis_2d.add_datasample(
        'result', rgb, merged, draw_gt=False, draw_heatmap=False,
        draw_bbox=True, kpt_thr=kpt_thr, show=False)
    panels = [visualizers.vis_2d.get_image()]

    pred = merged.pred_instances
    order = np.argsort(-np.asarray(pred.bbox_scores).reshape(-1))
    keypoints_3d = plot_coordinates(np.asarray(pred.keypoints_3d))
    for index in order[:max(1, max_3d)]:
        sample = PoseDataSample()
        sample.pred_instances = InstanceData(
            keypoints=keypoints_3d[index:index + 1],
            keypoint_scores=np.asarray(pred.keypoint_scores)[index:index +
                                                              1])
        extent = float(np.ptp(keypoints_3d[index], axis=0).max())
        visualizers.vis_3d.add_datasample(
            'result', rgb, sample, draw_gt=False, draw_2d=False,
            convert_keypoint=False, axis_limit=max(1.2 * extent, 1e-3),
            num_instances=1, kpt_thr=kpt_thr, show=False)
        panels.append(visualizers.vis_3d.get_image())

    height = max(panel.shape[0] for panel in panels)
    panels = [
        cv2.copyMakeBorder(panel, 0, height - panel.shape[0], 0, 0,
                           cv2.BORDER_CONSTANT, value=(255, 255, 255))
        for panel in panels
    ]
    return mmcv.rgb2bgr(np.concatenate(panels, axis=1))


# ---------------------------------------------------------------------------
# Processing
# ---------------------------------------------------------------------------
class Pipeline:
    """Boxes (detector, file or whole image), pose model, outputs."""

    def __init__(self, args) -> None:
        import torch

        from mmpose_epipolar.apis.inference import init_model
        self.args = args
        # Random weights (no checkpoint) are then the same on every run.
        torch.manual_seed(0)
        config = resolve_config(args.pose_config)
        check_checkpoint(args.pose_checkpoint, 'pose')
        self.model = init_model(config, args.pose_checkpoint,
                                device=args.device)
        self.detector = None
        self.bboxes_data = None
        if args.bboxes:
            self.bboxes_data = load_bboxes_file(args.bboxes)
            self.source = 'bboxes-file'
        elif args.whole_image:
            self.source = 'whole-image'
        else:
            self.detector = build_detector(args)
            self.source = args.det_config
        self.visualizer = None if args.no_vis else Visualizers(
            self.model.dataset_meta)

    def boxes(self, image: np.ndarray, name: str, frame: int) -> np.ndarray:
        if self.bboxes_data is not None:
            return boxes_for(self.bboxes_data, name, frame)
        if self.detector is None:
            h, w = image.shape[:2]
            return np.array([[0, 0, w, h, 1]], np.float32)
        return detect_people(self.detector, image, self.args)

    def frame(self, image: np.ndarray, name: str, index: int,
              camera: Optional[np.ndarray]):
        """Boxes + pose of one frame: (samples, frame dict)."""
        from mmpose_epipolar.apis.inference import inference_topdown_3d
        from mmpose_epipolar.apis.results_io import frame_to_dict
        start = time.perf_counter()
        boxes = self.boxes(image, name, index)
        det_ms = 1000 * (time.perf_counter() - start)
        start = time.perf_counter()
        samples = inference_topdown_3d(
            self.model, image, boxes, camera=camera,
            root_depth=self.args.root_depth) if len(boxes) else []
        pose_ms = 1000 * (time.perf_counter() - start)
        timing = dict(pose=pose_ms)
        if self.detector is not None:
            timing['detector'] = det_ms
        return samples, frame_to_dict(samples, index, timing)

    def document(self, path, kind, size, frames, camera) -> Dict:
        from mmpose_epipolar.apis.results_io import result_document
        return result_document(path, kind, size, self.model.dataset_meta,
                               frames, camera, self.source)

    def draw(self, image, samples) -> np.ndarray:
        return draw_frame(self.visualizer, image, samples,
                          self.args.kpt_thr, self.args.max_3d)


def output_paths(output_root: str, path: str, video: bool) -> Tuple[str,
                                                                     str]:
    stem = osp.splitext(osp.basename(path))[0]
    return (osp.join(output_root, f'{stem}.json'),
            osp.join(output_root, f'vis_{stem}.{"mp4" if video else "jpg"}'))


def process_image(pipe: Pipeline, path: str) -> int:
    """Returns the number of people found."""
    import mmcv

    from mmpose_epipolar.apis.results_io import dump_json
    try:
        image = mmcv.imread(path)
    except Exception:  # mmcv raises various decoder errors
        image = None
    if image is None:
        raise DemoError(f'cannot read image file {path}')
    h, w = image.shape[:2]
    camera = load_camera(pipe.args, (w, h))
    samples, frame = pipe.frame(image, path, 0, camera)
    json_path, vis_path = output_paths(pipe.args.output_root, path, False)
    dump_json(pipe.document(path, 'image', (w, h), [frame], camera),
              json_path)
    if pipe.visualizer is not None:
        mmcv.imwrite(pipe.draw(image, samples), vis_path)
    timing = frame['timing_ms']
    det = f'detector {timing["detector"]:.0f} ms, ' \
        if 'detector' in timing else ''
    print(f'{path}: {len(samples)} people; {det}pose {timing["pose"]:.0f} '
          f'ms -> {json_path}')
    if not samples:
        print(f'{path}: no person detected (try a lower --bbox-thr, '
              '--bboxes or --whole-image)')
    return len(samples)


def process_video(pipe: Pipeline, path: str) -> int:
    """Returns the number of frames with at least one person."""
    import cv2
    from mmengine.utils import ProgressBar

    from mmpose_epipolar.apis.results_io import dump_json
    reader = cv2.VideoCapture(path)
    if not reader.isOpened():
        raise DemoError(f'cannot open video file {path}')
    fps = reader.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(reader.get(cv2.CAP_PROP_FRAME_COUNT))
    w = int(reader.get(cv2.CAP_PROP_FRAME_WIDTH))
    h = int(reader.get(cv2.CAP_PROP_FRAME_HEIGHT))
    camera = load_camera(pipe.args, (w, h))
    json_path, vis_path = output_paths(pipe.args.output_root, path, True)
    writer, frames, with_people = None, [], 0
    progress = ProgressBar(total) if total > 0 else None
    try:
        while True:
            ok, image = reader.read()
            if not ok:
                break
            samples, frame = pipe.frame(image, path, len(frames), camera)
            frames.append(frame)
            with_people += bool(samples)
            if pipe.visualizer is not None:
                drawn = pipe.draw(image, samples)
                if writer is None:
                    size = (drawn.shape[1], drawn.shape[0])
                    writer = cv2.VideoWriter(
                        vis_path, cv2.VideoWriter_fourcc(*'mp4v'), fps, size)
                if (drawn.shape[1], drawn.shape[0]) != size:
                    # The 3D panel count follows the people count.
                    drawn = cv2.resize(drawn, size)
                writer.write(drawn)
            if progress is not None:
                progress.update()
    finally:
        reader.release()
        if writer is not None:
            writer.release()
    if not frames:
        raise DemoError(f'cannot read any frame of video file {path}')
    dump_json(pipe.document(path, 'video', (w, h), frames, camera),
              json_path)
    print(f'\n{path}: {len(frames)} frames, {with_people} with people '
          f'-> {json_path}')
    return with_people


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        inputs = list_inputs(args.input)
        import mmpose_epipolar  # noqa: F401  (registration)
        pipe = Pipeline(args)
    # ValueError covers a checkpoint that cannot be loaded (empty,
    # truncated, garbage or refused: mmpose_epipolar.utils.FileLoadError).
    except (DemoError, FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    os.makedirs(args.output_root, exist_ok=True)
    failures = 0
    for kind, path in inputs:
        try:
            if kind == 'image':
                process_image(pipe, path)
            else:
                process_video(pipe, path)
        except (DemoError, ValueError) as err:
            print(f'error: {err}', file=sys.stderr)
            failures += 1
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
