"""Export the Pose ResNet network (backbone, neck, volumetric head) to ONNX.

The exported graph maps normalised crops (B, 3, H, W) (the data
preprocessor's output: RGB, mean/std normalised) to normalised joint
coordinates (B, J, 3) and per-joint scores (B, J), with the model's flip test
inside the graph when its ``test_cfg`` asks for one. Everything the runner
needs for pre- and post-processing (input size, mean, std, channel order,
depth extent, joint names, skeleton) is stored in the ONNX metadata, read by
:class:`mmpose_epipolar.apis.onnx_runner.OnnxPose3D`.
"""
import json
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from ..models.heads.volumetric_heatmap_head import flip_back_coords
from ..models.utils import peak_mass

#: Version of the metadata layout written into exported models.
EXPORT_FORMAT_VERSION = '1'


class Pose3DExportWrapper(nn.Module):
    """The network part of a :class:`TopdownVolumetricEstimator`, traceable.

    Args:
        model (nn.Module): A ``TopdownVolumetricEstimator`` (eval mode).
        flip_test (bool, optional): Average with the prediction on the
            horizontally flipped crop, as the model's ``predict`` does.
            Defaults to the model's ``test_cfg['flip_test']``.
    """

    def __init__(self, model: nn.Module, flip_test: Optional[bool] = None):
        super().__init__()
        self.model = model
        if flip_test is None:
            flip_test = bool((model.test_cfg or {}).get('flip_test', False))
        self.flip_test = flip_test
        # A plain list: traced as a constant index.
        self.flip_indices = [
            int(i) for i in model.dataset_meta['flip_indices']
        ]

    def _forward_once(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        feats = self.model.extract_feat(inputs)
        return self.model.head.forward(feats)

    def forward(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Predict normalised keypoints.

        Args:
            inputs (Tensor): Normalised crops (B, 3, H, W).

        Returns:
            tuple:
            - keypoints (Tensor): Normalised (x, y, z) (B, J, 3), the
              codec's encoding (``x / W - 0.5``, ``y / H - 0.5``,
              ``depth / depth_extent``).
            - scores (Tensor): Per-joint confidence (B, J) in [0, 1].
        """
        if not self.flip_test:
            coords, heatmaps = self._forward_once(inputs)
            return coords, peak_mass(heatmaps)
        # One pass over the original and mirrored crops, as a batch of 2B.
        batch = inputs.shape[0]
        coords, heatmaps = self._forward_once(
            torch.cat([inputs, inputs.flip(-1)], dim=0))
        coords_flip = flip_back_coords(coords[batch:], self.flip_indices,
                                       inputs.shape[-1])
        coords = 0.5 * (coords[:batch] + coords_flip)
        heatmaps = 0.5 * (
            heatmaps[:batch] +
            heatmaps[batch:][:, self.flip_indices].flip(-1))
        return coords, peak_mass(heatmaps)


def export_metadata(model: nn.Module, input_size: Tuple[int, int],
                    flip_test: bool) -> Dict[str, str]:
    """Pre/post-processing facts for the runner, as ONNX metadata strings.

    Args:
        model (nn.Module): The model from :func:`init_model`.
        input_size (tuple[int, int]): Crop size (w, h).
        flip_test (bool): Whether the graph contains the flip test.

    Returns:
        dict[str, str]: Metadata (values JSON-encoded).
    """
    preprocessor = model.data_preprocessor
    mean = preprocessor.mean.reshape(-1).tolist() \
        if getattr(preprocessor, '_enable_normalize', True) else [0, 0, 0]
    std = preprocessor.std.reshape(-1).tolist() \
        if getattr(preprocessor, '_enable_normalize', True) else [1, 1, 1]
    decoder = model.head.decoder
    meta = model.dataset_meta
    bbox_padding = 1.25
    for step in model.cfg.test_dataloader.dataset.pipeline:
        if step.get('type') == 'GetBBoxCenterScale':
            bbox_padding = float(step.get('padding', 1.25))
    values = dict(
        format_version=EXPORT_FORMAT_VERSION,
        input_size=list(input_size),
        mean=mean,
        std=std,
        bgr_to_rgb=bool(getattr(preprocessor, '_channel_conversion', False)),
        bbox_padding=bbox_padding,
        depth_extent=float(decoder.depth_extent),
        root_index=int(getattr(model, 'root_index', 0)),
        flip_test=bool(flip_test),
        keypoint_names=[
            meta['keypoint_id2name'][i] for i in range(meta['num_keypoints'])
        ],
        skeleton=[list(map(int, link)) for link in meta['skeleton_links']],
    )
    return {key: json.dumps(value) for key, value in values.items()}


def export_onnx(model: nn.Module,
                out_file: str,
                input_size: Optional[Tuple[int, int]] = None,
                flip_test: Optional[bool] = None,
                opset: int = 17,
                dynamic_batch: bool = True) -> str:
    """Export a model to ONNX with runner metadata.

    Inputs ``input`` (B, 3, H, W) float32; outputs ``keypoints`` (B, J, 3)
    and ``scores`` (B, J). The batch axis is dynamic when asked.

    Args:
        model (nn.Module): A ``TopdownVolumetricEstimator`` from
            :func:`init_model` (on CPU).
        out_file (str): Output ``.onnx`` path.
        input_size (tuple[int, int], optional): Crop (w, h). Defaults to the
            codec's input size; another size changes the heatmap resolution
            and so the decoding, and is refused.
        flip_test (bool, optional): Include the flip test; defaults to the
            model's ``test_cfg``.
        opset (int): ONNX opset. Defaults to 17.
        dynamic_batch (bool): Make the batch axis dynamic.

    Returns:
        str: ``out_file``.
    """
    import onnx

    codec_size = tuple(model.head.decoder.input_size)
    input_size = tuple(input_size or codec_size)
    if input_size != codec_size:
        raise ValueError(
            f'input size {input_size} differs from the codec input size '
            f'{codec_size} the model was trained and is decoded with')
    wrapper = Pose3DExportWrapper(model.eval(), flip_test).eval()
    dummy = torch.zeros(1, 3, input_size[1], input_size[0])
    dynamic_axes = dict(
        input={0: 'batch'}, keypoints={0: 'batch'},
        scores={0: 'batch'}) if dynamic_batch else None
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (dummy, ),
            out_file,
            input_names=['input'],
            output_names=['keypoints', 'scores'],
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            dynamo=False)
    onnx_model = onnx.load(out_file)
    for key, value in export_metadata(model, input_size,
                                      wrapper.flip_test).items():
        prop = onnx_model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, out_file)
    return out_file
