"""Loading files from other people: crafted pickles run no code, broken
files and bad camera records are reported with the file's name."""
import collections
import importlib.util
import os
import os.path as osp
import pickle
import shutil
import tracemalloc

import numpy as np
import pytest
import torch

from mmpose_epipolar.datasets import H36MMultiViewDataset
from mmpose_epipolar.datasets.h36m_utils import (
    CameraFieldError,
    load_h36m_cameras,
)
from mmpose_epipolar.utils import (
    CheckpointLoadError,
    FileLoadError,
    PickleLoadError,
    RefusedGlobalError,
    load_pickle,
)
from mmpose_epipolar.utils.safe_pickle import loads_pickle

SYNTHETIC_CONFIG = ('configs/body_3d_keypoint/pose_resnet/synthetic/'
                    'td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py')
H36M = 'mmpose-testdata/h36m'
S1_CAMERA = ('S1', '54138969')


class RunsCommand:
    """Pickles as ``os.system(command)``: what an attacker would write."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


class WritesFile:
    """Pickles as ``open(path, 'w')``, which creates the file."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, 'w')


class TorchStorageLoadsUnsafely:
    """Pickles as ``torch.storage._load_from_bytes(bytes)``, the way tensor
    storages pickle; torch's own function unpickles the bytes with
    ``weights_only=False``."""

    def __init__(self, payload) -> None:
        self.payload = payload

    def __reduce__(self):
        import io
        buf = io.BytesIO()
        torch.save(self.payload, buf, _use_new_zipfile_serialization=False)
        return torch.storage._load_from_bytes, (buf.getvalue(), )


@pytest.fixture
def marker(tmp_path):
    """A file that must never come to exist."""
    path = tmp_path / 'PWNED'
    yield path
    assert not path.exists(), 'a crafted file ran code'


@pytest.fixture(scope='module')
def real_cameras(shared_data):
    with open(shared_data / H36M / 'cameras.pkl', 'rb') as f:
        return pickle.load(f)


def evil_payloads(marker):
    return dict(system=(RunsCommand(f'touch {marker}'), 'posix.system'),
                open=(WritesFile(marker), 'io.open'))


def assert_names(err, path, *words):
    message = str(err.value)
    assert str(path) in message, message
    for word in words:
        assert word in message, message
    assert '\n' not in message, message


def broken_copies(folder, good: bytes, suffix: str):
    """Empty, truncated and garbage versions of a good file."""
    rng = np.random.default_rng(0)
    files = dict(empty=b'', truncated=good[:len(good) // 2],
                 garbage=rng.integers(0, 256, 4000, np.uint8).tobytes(),
                 text=b'this is not a pickle\n')
    paths = {}
    for kind, data in files.items():
        paths[kind] = folder / f'{kind}{suffix}'
        paths[kind].write_bytes(data)
    return paths


def deep_equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return (isinstance(b, torch.Tensor) and a.dtype == b.dtype
                and a.stride() == b.stride() and torch.equal(a, b))
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and np.array_equal(a, b))
    if isinstance(a, dict):
        return (type(a) is type(b) and list(a) == list(b)
                and all(deep_equal(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(deep_equal(x, y) for x, y in zip(a, b)))
    return type(a) is type(b) and a == b


# ----------------------------------------------------------------------------
# What the real writers write loads unchanged
# ----------------------------------------------------------------------------
def test_real_h36m_cameras_load_unchanged(shared_data, real_cameras):
    loaded = load_pickle(shared_data / H36M / 'cameras.pkl',
                         what='camera file')
    assert len(loaded) == 44
    assert deep_equal(loaded, real_cameras)
    params = load_h36m_cameras(str(shared_data / H36M / 'cameras.pkl'))
    cam = params[S1_CAMERA]
    np.testing.assert_allclose(cam['f'],
                               real_cameras[S1_CAMERA]['f'].ravel())
    assert cam['intrinsics'][0, 0] == pytest.approx(1145.04940459)
    assert (cam['w'], cam['h']) == (1000, 1002)


def _data_sample(i: int):
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample
    rng = np.random.default_rng(i)
    sample = PoseDataSample(metainfo=dict(
        img_path=f'data/S1/S1_Directions_1.54138969/'
        f'S1_Directions_1.54138969_{i + 1:06d}.jpg',
        id=i, img_id=i, ori_shape=(1002, 1000), input_size=(256, 256),
        flip_indices=list(range(17)), input_center=rng.random(2),
        input_scale=rng.random(2)))
    sample.pred_instances = InstanceData(
        keypoints=rng.random((1, 17, 2)).astype(np.float32) * 1000,
        keypoint_scores=rng.random((1, 17)).astype(np.float32),
        keypoints_depth=rng.random((1, 17)).astype(np.float32),
        bboxes=np.array([[10., 20., 300., 400.]]),
        bbox_scores=np.ones(1, np.float32))
    # Training-style targets and heatmaps are tensors.
    sample.gt_instance_labels = InstanceData(
        keypoint_weights=torch.ones(1, 17),
        keypoint_labels=torch.rand(1, 17, 3, dtype=torch.float64))
    sample.pred_fields = PixelData(heatmaps=torch.rand(17, 8, 8)[:, ::2])
    return sample


@pytest.fixture(scope='module')
def dump_file(tmp_path_factory):
    """A prediction dump written by MMEngine's ``DumpResults`` (what
    ``tools/test.py --dump`` adds to the evaluator)."""
    from mmengine.evaluator import DumpResults, Evaluator
    path = tmp_path_factory.mktemp('dump') / 'preds.pkl'
    evaluator = Evaluator(DumpResults(out_file_path=str(path)))
    evaluator.process([_data_sample(i) for i in range(3)])
    evaluator.evaluate(3)
    return path


def test_dumpresults_with_numpy_and_tensors_loads_unchanged(dump_file):
    with open(dump_file, 'rb') as f:
        reference = pickle.load(f)
    loaded = load_pickle(dump_file, what='prediction file')
    assert deep_equal(loaded, reference)
    heatmaps = loaded[0]['pred_fields']['heatmaps']
    assert isinstance(heatmaps, torch.Tensor)
    assert heatmaps.shape == (17, 4, 8) and not heatmaps.is_contiguous()
    assert loaded[2]['gt_instance_labels']['keypoint_labels'].dtype == \
        torch.float64


def test_pseudo_label_tool_reads_dumpresults(dump_file):
    from mmpose_epipolar.apis.pseudo_labels import load_predictions
    with open(dump_file, 'rb') as f:
        reference = pickle.load(f)
    preds = load_predictions(str(dump_file))
    assert preds['imgname'][1] == ('S1/S1_Directions_1.54138969/'
                                   'S1_Directions_1.54138969_000002.jpg')
    inst = reference[1]['pred_instances']
    np.testing.assert_allclose(preds['keypoints'][1, :, :2],
                               inst['keypoints'][0], rtol=1e-6)
    np.testing.assert_allclose(preds['keypoints'][1, :, 2],
                               inst['keypoint_scores'][0], rtol=1e-6)


@pytest.mark.parametrize('protocol', [0, 2, 4, 5])
def test_every_pickle_protocol(tmp_path, protocol):
    obj = dict(
        arrays=[np.arange(6.).reshape(2, 3).T, np.array(['S1', 'S11']),
                np.zeros((2, 0, 3), np.int16), np.array([1, 'a'], object),
                np.array([(1, 2.5)], [('a', 'i4'), ('b', 'f8')])],
        scalars=(np.float32(1.5), np.int64(-3), 2 + 1j, b'\x00\xff'),
        containers=[{1, 2}, frozenset({3}), bytearray(b'ab'),
                    collections.OrderedDict(a=1)],
        tensors=[torch.arange(6).reshape(2, 3)[:, 1], torch.tensor([True])],
        dtype=np.dtype('<f4'))
    path = tmp_path / f'p{protocol}.pkl'
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    loaded = load_pickle(path)
    assert deep_equal(loaded['arrays'][:3], obj['arrays'][:3])
    assert list(loaded['arrays'][3]) == [1, 'a']
    assert loaded['arrays'][4].tolist() == [(1, 2.5)]
    assert loaded['arrays'][0].flags.f_contiguous
    assert deep_equal(loaded['scalars'], obj['scalars'])
    assert loaded['containers'] == obj['containers']
    assert deep_equal(loaded['tensors'], obj['tensors'])
    assert loaded['dtype'] == np.dtype('<f4')


# ----------------------------------------------------------------------------
# Crafted pickles run no code and are refused by name
# ----------------------------------------------------------------------------
@pytest.mark.parametrize('payload', ['system', 'open'])
def test_crafted_camera_file_refused_by_dataset(shared_data, tmp_path,
                                                real_cameras, marker,
                                                payload):
    evil, refused = evil_payloads(marker)[payload]
    cameras = dict(real_cameras)
    cameras[S1_CAMERA] = dict(cameras[S1_CAMERA], f=evil)
    path = tmp_path / 'cameras.pkl'
    path.write_bytes(pickle.dumps(cameras))
    with pytest.raises(RefusedGlobalError) as err:
        H36MMultiViewDataset(
            ann_file='test_h36m_body3d.npz', camera_param_file=str(path),
            data_root=str(shared_data / H36M), data_prefix=dict(img=''))
    assert err.value.global_name == refused
    assert_names(err, path, refused, 'camera file')


def test_crafted_camera_file_refused_by_pseudo_label_loader(
        tmp_path, real_cameras, marker):
    cameras = {S1_CAMERA: dict(real_cameras[S1_CAMERA],
                               R=RunsCommand(f'touch {marker}'))}
    path = tmp_path / 'cams.pkl'
    path.write_bytes(pickle.dumps(cameras, protocol=2))
    with pytest.raises(RefusedGlobalError) as err:
        load_h36m_cameras(str(path))
    assert_names(err, path, 'posix.system')


def _two_view_predictions(tmp_path):
    names = [f'S1/S1_Directions_1.{c}/S1_Directions_1.{c}_000001.jpg'
             for c in ('54138969', '55011271')]
    path = tmp_path / 'preds.npz'
    np.savez(path, imgname=np.array(names),
             keypoints=np.random.default_rng(0).random((2, 17, 3)) * 500)
    return path


def _load_tool(repo_root, rel: str):
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(rel))[0], str(repo_root / rel))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_crafted_files_refused_by_pseudo_label_tool(repo_root, shared_data,
                                                    tmp_path, real_cameras,
                                                    marker):
    from mmpose_epipolar.apis.pseudo_labels import load_predictions
    main = _load_tool(repo_root, 'tools/make_pseudo_labels.py').main
    out = tmp_path / 'labels.npz'
    cams = tmp_path / 'cameras.pkl'
    cams.write_bytes(pickle.dumps(
        {**real_cameras, S1_CAMERA: RunsCommand(f'touch {marker}')}))
    with pytest.raises(RefusedGlobalError) as err:
        main([str(_two_view_predictions(tmp_path)), str(cams), '--out',
              str(out)])
    assert_names(err, cams, 'posix.system')

    preds = tmp_path / 'dump.pkl'
    preds.write_bytes(pickle.dumps([dict(
        img_path='S1/S1_Directions_1.54138969/x_000001.jpg',
        pred_instances=dict(keypoints=WritesFile(marker)))]))
    for run in (lambda: load_predictions(str(preds)),
                lambda: main([str(preds), str(shared_data / H36M /
                                              'cameras.pkl'),
                              '--out', str(out)])):
        with pytest.raises(RefusedGlobalError) as err:
            run()
        assert_names(err, preds, 'io.open', 'prediction file')
    assert not out.exists()


def test_unsafe_torch_storage_inside_a_dump_is_refused(tmp_path, marker):
    """Admitting tensors must not admit torch's storage loader, which
    unpickles its bytes with weights_only=False."""
    path = tmp_path / 'preds.pkl'
    path.write_bytes(pickle.dumps(
        [dict(heatmaps=TorchStorageLoadsUnsafely(
            RunsCommand(f'touch {marker}')))], protocol=2))
    with pytest.raises(RefusedGlobalError) as err:
        load_pickle(path, what='prediction file')
    assert_names(err, path, 'posix.system')


def test_crafted_occluder_bank_refused(tmp_path, marker):
    from mmpose_epipolar.datasets.occluder_bank import load_occluder_bank
    good = tmp_path / 'good.pkl'
    patches = [np.full((3, 2, 4), 7, np.uint8), np.zeros((1, 5, 4), np.uint8)]
    good.write_bytes(pickle.dumps(patches))
    assert deep_equal(load_occluder_bank(str(good)), patches)
    path = tmp_path / 'bank.pkl'
    path.write_bytes(
        pickle.dumps([patches[0], RunsCommand(f'touch {marker}')]))
    with pytest.raises(RefusedGlobalError) as err:
        load_occluder_bank(str(path))
    assert_names(err, path, 'posix.system', 'occluder bank')


def test_label_file_with_pickled_object_array_is_refused(tmp_path, marker):
    from mmpose.registry import TRANSFORMS
    name = 'S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg'
    path = tmp_path / 'labels.npz'
    # np.savez pickles object arrays; np.load(allow_pickle=True) would run
    # the command.
    np.savez(path, imgname=np.array([name, RunsCommand(f'touch {marker}')],
                                    object),
             keypoints=np.zeros((2, 17, 2)), keypoints_depth=np.zeros((2, 17)),
             keypoints_visible=np.ones((2, 17)),
             reproj_error=np.zeros((2, 17)), valid=np.ones(2, bool))
    transform = TRANSFORMS.build(
        dict(type='EpipolarPseudoLabel', label_file=str(path)))
    with pytest.raises(ValueError) as err:
        transform(dict(img_path=name))
    assert str(path) in str(err.value) and 'imgname' in str(err.value)


# ----------------------------------------------------------------------------
# Empty, truncated and garbage files name the file
# ----------------------------------------------------------------------------
@pytest.mark.parametrize('kind', ['empty', 'truncated', 'garbage', 'text'])
def test_broken_pickles_name_the_file(shared_data, tmp_path, dump_file,
                                      kind):
    from mmpose_epipolar.apis.pseudo_labels import load_predictions
    from mmpose_epipolar.datasets.occluder_bank import load_occluder_bank
    cams = broken_copies(
        tmp_path, (shared_data / H36M / 'cameras.pkl').read_bytes(),
        '_cameras.pkl')[kind]
    preds = broken_copies(tmp_path, dump_file.read_bytes(),
                          '_preds.pkl')[kind]
    for path, run in [
        (cams, lambda: load_h36m_cameras(str(cams))),
        (cams, lambda: H36MMultiViewDataset(
            ann_file='test_h36m_body3d.npz', camera_param_file=str(cams),
            data_root=str(shared_data / H36M), data_prefix=dict(img=''))),
        (preds, lambda: load_predictions(str(preds))),
        (preds, lambda: load_occluder_bank(str(preds))),
    ]:
        with pytest.raises(PickleLoadError) as err:
            run()
        assert_names(err, path)


def test_memory_bombs_fail_without_allocating(tmp_path):
    """A 10-byte pickle naming memo index 2**31 makes the C unpickler
    allocate 16 GiB; an array state with a huge shape and little data makes
    numpy allocate the whole shape."""
    huge_object_array = pickle.dumps(np.array([1, 2], object)).replace(
        b'K\x02\x85', b'J\x00\xe4\x0bT\x85')  # shape (2,) -> (1410065408,)
    assert huge_object_array != pickle.dumps(np.array([1, 2], object))
    tracemalloc.start()
    try:
        assert loads_pickle(b'\x80\x02Nr\xff\xff\xff\x7f.', 'memo.pkl') \
            is None
        with pytest.raises(PickleLoadError, match='bomb.pkl.*does not match'):
            loads_pickle(huge_object_array, 'bomb.pkl')
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


# ----------------------------------------------------------------------------
# Camera records: the file, the camera and the field
# ----------------------------------------------------------------------------
@pytest.mark.parametrize('field', ['f', 'c', 'k', 'p', 'R', 'T', 'w', 'h'])
def test_camera_without_a_field(tmp_path, real_cameras, shared_data, field):
    cameras = {k: dict(v) for k, v in real_cameras.items()}
    del cameras[S1_CAMERA][field]
    path = tmp_path / 'cameras.pkl'
    path.write_bytes(pickle.dumps(cameras))
    with pytest.raises(CameraFieldError) as err:
        load_h36m_cameras(str(path))
    assert_names(err, path, str(S1_CAMERA), f"field '{field}'")
    assert isinstance(err.value, KeyError)
    with pytest.raises(KeyError) as err:
        H36MMultiViewDataset(
            ann_file='test_h36m_body3d.npz', camera_param_file=str(path),
            data_root=str(shared_data / H36M), data_prefix=dict(img=''))
    assert_names(err, path, str(S1_CAMERA), f"field '{field}'")


@pytest.mark.parametrize('field,value,words', [
    ('f', np.ones(3), 'must hold 2 numbers, got shape (3,)'),
    ('R', np.eye(2), 'must hold 9 numbers, got shape (2, 2)'),
    ('c', np.array([500., np.nan]), 'NaN or inf'),
    ('k', 'abc', 'must hold 3 numbers'),
    ('w', 0, 'positive whole number'),
])
def test_camera_with_a_malformed_field(tmp_path, real_cameras, field, value,
                                       words):
    cameras = {k: dict(v) for k, v in real_cameras.items()}
    cameras[S1_CAMERA][field] = value
    path = tmp_path / 'cameras.pkl'
    path.write_bytes(pickle.dumps(cameras))
    with pytest.raises(ValueError) as err:
        load_h36m_cameras(str(path))
    assert_names(err, path, str(S1_CAMERA), f"field '{field}'", words)


def test_camera_file_of_the_wrong_shape(tmp_path, real_cameras):
    for obj, words in [([1, 2], 'must hold a dict'),
                       ({'S1': real_cameras[S1_CAMERA]}, "key 'S1'")]:
        path = tmp_path / 'cameras.pkl'
        path.write_bytes(pickle.dumps(obj))
        with pytest.raises(ValueError) as err:
            load_h36m_cameras(str(path))
        assert_names(err, path, words)


# ----------------------------------------------------------------------------
# Checkpoints: weights-only, and every failure names the file in one line
# ----------------------------------------------------------------------------
@pytest.fixture(scope='module')
def synthetic_model(repo_root):
    from mmpose_epipolar.apis import init_model
    torch.manual_seed(0)
    return init_model(str(repo_root / SYNTHETIC_CONFIG))


@pytest.fixture(scope='module')
def checkpoints(synthetic_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp('ckpt')
    good = folder / 'good.pth'
    torch.save(dict(state_dict=synthetic_model.state_dict(),
                    meta=dict(epoch=1)), good)
    paths = broken_copies(folder, good.read_bytes(), '.pth')
    paths['good'] = good
    return paths


def test_good_checkpoint_loads(repo_root, synthetic_model, checkpoints):
    from mmpose_epipolar.apis import init_model
    model = init_model(str(repo_root / SYNTHETIC_CONFIG),
                       str(checkpoints['good']))
    for key, value in synthetic_model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


@pytest.mark.parametrize('kind', ['empty', 'truncated', 'garbage', 'text'])
def test_broken_checkpoint_names_the_file(repo_root, checkpoints, kind):
    from mmengine.runner.checkpoint import _load_checkpoint

    from mmpose_epipolar.apis import init_model
    path = checkpoints[kind]
    for run in (lambda: init_model(str(repo_root / SYNTHETIC_CONFIG),
                                   str(path)),
                lambda: _load_checkpoint(str(path), map_location='cpu')):
        with pytest.raises(CheckpointLoadError) as err:
            run()
        assert_names(err, path)
        assert isinstance(err.value, FileLoadError)
        assert err.value.global_name is None


@pytest.mark.parametrize('payload', ['system', 'open'])
def test_crafted_checkpoint_refused(repo_root, tmp_path, marker, payload):
    from mmpose_epipolar.apis import init_model
    evil, refused = evil_payloads(marker)[payload]
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=dict(weight=evil)), path)
    with pytest.raises(CheckpointLoadError) as err:
        init_model(str(repo_root / SYNTHETIC_CONFIG), str(path))
    assert err.value.global_name == refused
    assert_names(err, path, refused, 'weights-only')


def test_onnx_tool_reports_a_broken_checkpoint(repo_root, checkpoints,
                                               tmp_path, capsys):
    tool = _load_tool(repo_root, 'tools/deployment/pytorch2onnx.py')
    broken = tmp_path / 'model.pth'
    shutil.copy(checkpoints['truncated'], broken)
    assert tool.main([str(repo_root / SYNTHETIC_CONFIG), str(broken),
                      '--out', str(tmp_path / 'm.onnx')]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(broken) in err[0], err
