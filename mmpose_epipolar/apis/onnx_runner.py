"""Run an exported Pose ResNet ONNX model without the training stack.

Depends only on NumPy, OpenCV and onnxruntime (no torch, MMPose or
MMEngine), so this file can be copied on its own to a deployment target. It
repeats MMPose's top-down test pipeline (``GetBBoxCenterScale``,
``TopdownAffine``, the data preprocessor's normalisation) and the model's
decoding to image pixels, using the facts stored in the ONNX metadata by
:func:`mmpose_epipolar.apis.export.export_onnx`.
"""
import json
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np


def box_to_center_scale(bboxes: np.ndarray, padding: float,
                        aspect_ratio: float) -> Tuple[np.ndarray, np.ndarray]:
    """Crop centres and sizes of xyxy boxes, as MMPose's top-down pipeline.

    The box is enlarged by ``padding`` and then grown along one side to the
    crop's aspect ratio (``GetBBoxCenterScale`` + ``TopdownAffine``).

    Args:
        bboxes (np.ndarray): Boxes (N, 4) xyxy.
        padding (float): Enlargement factor (MMPose default 1.25).
        aspect_ratio (float): Crop width / height.

    Returns:
        tuple: ``center`` (N, 2) and ``scale`` (N, 2) (w, h), image pixels.
    """
    bboxes = np.asarray(bboxes, np.float32).reshape(-1, 4)
    center = (bboxes[:, 2:] + bboxes[:, :2]) * 0.5
    scale = (bboxes[:, 2:] - bboxes[:, :2]) * padding
    w, h = scale[:, :1], scale[:, 1:]
    scale = np.where(w > h * aspect_ratio,
                     np.hstack([w, w / aspect_ratio]),
                     np.hstack([h * aspect_ratio, h]))
    return center, scale


def crop_matrix(center: np.ndarray, scale: np.ndarray,
                input_size: Tuple[int, int]) -> np.ndarray:
    """Affine matrix (2, 3) from image to crop pixels (no rotation).

    A uniform zoom ``input_w / scale_w`` that maps the box centre to the
    crop centre: what MMPose's ``get_warp_matrix`` computes for rot = 0.
    """
    zoom = input_size[0] / float(scale[0])
    return np.array([
        [zoom, 0.0, 0.5 * input_size[0] - zoom * center[0]],
        [0.0, zoom, 0.5 * input_size[1] - zoom * center[1]],
    ], dtype=np.float64)


class OnnxPose3D:
    """A Pose ResNet ONNX model with its pre- and post-processing.

    Args:
        onnx_file (str): Model exported by ``tools/deployment/
            pytorch2onnx.py``.
        providers (Sequence[str], optional): onnxruntime execution providers.
            Defaults to CPU.

    Example:
        >>> runner = OnnxPose3D('pose_resnet.onnx')
        >>> result = runner(cv2.imread('person.jpg'), [[x0, y0, x1, y1]])
        >>> result['keypoints'].shape, result['keypoints_3d'].shape
        ((1, 16, 2), (1, 16, 3))
    """

    def __init__(self,
                 onnx_file: str,
                 providers: Optional[Sequence[str]] = None) -> None:
        import onnxruntime as ort
        self.session = ort.InferenceSession(
            onnx_file, providers=list(providers or ['CPUExecutionProvider']))
        meta = self.session.get_modelmeta().custom_metadata_map
        required = ('input_size', 'mean', 'std', 'bgr_to_rgb', 'bbox_padding',
                    'depth_extent', 'root_index')
        missing = [key for key in required if key not in meta]
        if missing:
            raise ValueError(f'{onnx_file} lacks the metadata {missing}: '
                             'export it with tools/deployment/pytorch2onnx.py')
        self.meta: Dict = {key: json.loads(value)
                           for key, value in meta.items()}
        self.input_size = tuple(int(v) for v in self.meta['input_size'])
        self.mean = np.asarray(self.meta['mean'], np.float32)
        self.std = np.asarray(self.meta['std'], np.float32)
        self.input_name = self.session.get_inputs()[0].name

    def preprocess(self, image: np.ndarray,
                   bboxes: np.ndarray) -> Tuple[np.ndarray, np.ndarray,
                                                np.ndarray]:
        """Crop and normalise each box.

        Args:
            image (np.ndarray): BGR image (H, W, 3) uint8.
            bboxes (np.ndarray): Boxes (N, 4) xyxy.

        Returns:
            tuple: ``inputs`` (N, 3, h, w) float32, crop ``center`` (N, 2)
            and ``scale`` (N, 2).
        """
        w, h = self.input_size
        center, scale = box_to_center_scale(bboxes, self.meta['bbox_padding'],
                                            w / h)
        crops = []
        for c, s in zip(center, scale):
            crop = cv2.warpAffine(
                image, crop_matrix(c, s, self.input_size), (w, h),
                flags=cv2.INTER_LINEAR)
            if self.meta['bgr_to_rgb']:
                crop = crop[..., ::-1]
            crops.append((crop.astype(np.float32) - self.mean) / self.std)
        inputs = np.stack(crops).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(inputs, np.float32), center, scale

    def decode(self, coords: np.ndarray, center: np.ndarray,
               scale: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Normalised network output to image pixels.

        Args:
            coords (np.ndarray): Normalised (x, y, z) (N, J, 3).
            center (np.ndarray): Crop centres (N, 2).
            scale (np.ndarray): Crop sizes (N, 2).

        Returns:
            tuple: ``keypoints`` (N, J, 2) image pixels and
            ``keypoints_depth`` (N, J), root-relative depth in image pixels.
        """
        w, h = self.input_size
        # Crop pixels (x_n + 0.5) * w, mapped back by the crop's zoom
        # scale / w about its corner center - scale / 2.
        keypoints = coords[..., :2] * scale[:, None] + center[:, None]
        depth_crop = coords[..., 2] * self.meta['depth_extent']
        depth = depth_crop * (scale[:, :1] / w)
        return keypoints.astype(np.float32), depth.astype(np.float32)

    def __call__(self, image: np.ndarray,
                 bboxes: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
        """Estimate each box's 2D keypoints and scale-free 3D.

        Args:
            image (np.ndarray): BGR image (H, W, 3) uint8.
            bboxes (np.ndarray, optional): Boxes (N, 4) xyxy; defaults to
                the whole image.

        Returns:
            dict: ``keypoints`` (N, J, 2) image pixels, ``keypoint_scores``
            (N, J), ``keypoints_depth`` (N, J) and ``keypoints_3d``
            (N, J, 3) root-relative in image pixels (the package's
            ``'image_px_root_relative'`` unit).
        """
        if image is None or image.ndim != 3:
            raise ValueError('image must be a (H, W, 3) BGR array')
        if bboxes is None:
            bboxes = np.array([[0, 0, image.shape[1], image.shape[0]]],
                              np.float32)
        bboxes = np.asarray(bboxes, np.float32).reshape(-1, 4)
        num_keypoints = len(self.meta.get('keypoint_names', [])) or None
        if len(bboxes) == 0:
            empty = np.zeros((0, num_keypoints or 0), np.float32)
            return dict(keypoints=empty[..., None].repeat(2, -1),
                        keypoint_scores=empty, keypoints_depth=empty,
                        keypoints_3d=empty[..., None].repeat(3, -1))
        inputs, center, scale = self.preprocess(image, bboxes)
        coords, scores = self.session.run(None, {self.input_name: inputs})
        keypoints, depth = self.decode(coords, center, scale)
        root = int(self.meta['root_index'])
        keypoints_3d = np.concatenate(
            [keypoints - keypoints[:, root:root + 1], depth[..., None]],
            axis=-1)
        return dict(
            keypoints=keypoints,
            keypoint_scores=scores.astype(np.float32),
            keypoints_depth=depth,
            keypoints_3d=keypoints_3d)
