"""ONNX export: onnxruntime reproduces PyTorch, and the standalone runner
reproduces ``inference_topdown_3d`` on a real image."""
import importlib.util
import json

import cv2
import numpy as np
import pytest
import torch

from mmpose_epipolar.apis.export import Pose3DExportWrapper, export_onnx
from mmpose_epipolar.apis.inference import inference_topdown_3d

ort = pytest.importorskip('onnxruntime')
onnx = pytest.importorskip('onnx')

SYNTHETIC_CONFIG = ('configs/body_3d_keypoint/pose_resnet/synthetic/'
                    'td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py')
BOXES = np.array([[330, 250, 640, 960], [100, 120, 420, 700],
                  [-50, 400, 300, 1100]], np.float32)


@pytest.fixture(scope='module')
def onnx_file(sharp_model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp('onnx') / 'pose.onnx')
    return export_onnx(sharp_model, path)


def test_graph_io_and_metadata(onnx_file, sharp_model):
    model = onnx.load(onnx_file)
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ['input']
    assert [o.name for o in model.graph.output] == ['keypoints', 'scores']
    batch_dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param == 'batch'
    meta = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert meta['input_size'] == [96, 96]
    assert meta['flip_test'] is True
    assert meta['bgr_to_rgb'] is True
    assert meta['depth_extent'] == 96.0
    np.testing.assert_allclose(meta['mean'], [123.675, 116.28, 103.53])
    assert meta['keypoint_names'][9] == 'head'
    assert len(meta['skeleton']) == 15


def test_onnxruntime_matches_pytorch(onnx_file, sharp_model):
    inputs = torch.randn(3, 3, 96, 96,
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        coords, scores = Pose3DExportWrapper(sharp_model)(inputs)
    session = ort.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    out_coords, out_scores = session.run(None, {'input': inputs.numpy()})
    assert out_coords.shape == (3, 16, 3) and out_scores.shape == (3, 16)
    assert np.abs(out_coords - coords.numpy()).max() < 1e-4
    assert np.abs(out_scores - scores.numpy()).max() < 1e-4
    # The batch is dynamic and its samples independent.
    single, _ = session.run(None, {'input': inputs[1:2].numpy()})
    assert np.abs(single[0] - out_coords[1]).max() < 1e-5
    # Not a constant network: the three crops give different poses.
    assert np.abs(out_coords[0] - out_coords[1]).max() > 1e-2


def test_runner_matches_inference_api(onnx_file, sharp_model, h36m_image,
                                     repo_root):
    spec = importlib.util.spec_from_file_location(
        'standalone_runner',
        str(repo_root / 'mmpose_epipolar/apis/onnx_runner.py'))
    # The runner imports nothing from the package: it runs as a lone file.
    runner_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner_module)
    runner = runner_module.OnnxPose3D(onnx_file)

    result = runner(cv2.imread(h36m_image), BOXES)
    samples = inference_topdown_3d(sharp_model, h36m_image, BOXES)
    for i, sample in enumerate(samples):
        pred = sample.pred_instances
        # Sub-pixel: MMPose builds the crop matrix in float32.
        assert np.abs(result['keypoints'][i] - pred.keypoints[0]).max() < 1e-2
        assert np.abs(result['keypoints_depth'][i] -
                      pred.keypoints_depth[0]).max() < 1e-2
        assert np.abs(result['keypoint_scores'][i] -
                      pred.keypoint_scores[0]).max() < 1e-4
        assert np.abs(result['keypoints_3d'][i] -
                      pred.keypoints_3d[0]).max() < 2e-2
    assert result['keypoints'].std(axis=1).min() > 5.0
    empty = runner(cv2.imread(h36m_image), np.zeros((0, 4)))
    assert empty['keypoints'].shape == (0, 16, 2)


def test_export_without_flip_and_bad_size(sharp_model, tmp_path):
    path = export_onnx(sharp_model, str(tmp_path / 'noflip.onnx'),
                       flip_test=False)
    inputs = torch.randn(2, 3, 96, 96,
                         generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        feats = sharp_model.extract_feat(inputs)
        coords, _ = sharp_model.head.forward(feats)
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    out, _ = session.run(None, {'input': inputs.numpy()})
    assert np.abs(out - coords.numpy()).max() < 1e-4
    with pytest.raises(ValueError, match='codec input size'):
        export_onnx(sharp_model, str(tmp_path / 'x.onnx'),
                    input_size=(256, 256))


def test_runner_rejects_foreign_onnx(tmp_path):
    from mmpose_epipolar.apis.onnx_runner import OnnxPose3D
    path = str(tmp_path / 'plain.onnx')
    torch.onnx.export(
        torch.nn.Conv2d(3, 1, 1), (torch.zeros(1, 3, 8, 8), ), path,
        dynamo=False)
    with pytest.raises(ValueError, match='lacks the metadata'):
        OnnxPose3D(path)


def test_pytorch2onnx_tool(repo_root, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'pytorch2onnx', str(repo_root / 'tools/deployment/pytorch2onnx.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    config = str(repo_root / SYNTHETIC_CONFIG)
    out = tmp_path / 'tool.onnx'
    with pytest.warns(UserWarning, match='RANDOM'):
        assert tool.main([config, '--out', str(out), '--no-flip-test']) == 0
    printed = capsys.readouterr().out
    assert 'max abs difference' in printed and out.is_file()
    diff = float(printed.split('max abs difference')[1].split()[0])
    assert diff < 1e-4
    assert tool.main([config, str(tmp_path / 'gone.pth'), '--out',
                      str(out)]) == 1
    assert 'gone.pth' in capsys.readouterr().err
