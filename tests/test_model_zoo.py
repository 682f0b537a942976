"""model-index.yml and the Pose ResNet metafiles: every entry is well formed,
every config exists and builds offline, and no weights or numbers are
claimed that we do not have."""
import re

import pytest
import yaml

from mmpose_epipolar.apis.inference import init_model


def _load(path):
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f)


@pytest.fixture(scope='module')
def metafiles(repo_root):
    index = _load(repo_root / 'model-index.yml')
    assert list(index) == ['Import'] and index['Import']
    files = {}
    for rel in index['Import']:
        path = repo_root / rel
        assert path.is_file(), f'model-index.yml imports missing {rel}'
        files[rel] = _load(path)
    return files


@pytest.fixture(scope='module')
def models(metafiles):
    return [m for meta in metafiles.values() for m in meta.get('Models', [])]


def test_collections_and_models_schema(metafiles, models, repo_root):
    collections = {
        c['Name']: c
        for meta in metafiles.values() for c in meta.get('Collections', [])
    }
    assert 'PoseResNet' in collections
    for collection in collections.values():
        assert collection['Paper']['URL'].startswith('https://')
        assert (repo_root / collection['README']).is_file()
    names = [m['Name'] for m in models]
    assert len(names) == len(set(names)), 'duplicate model names'
    for model in models:
        assert model['In Collection'] in collections, model['Name']
        assert model['Name'] == model['Config'].rsplit('/', 1)[1][:-3]
        metadata = model['Metadata']
        assert metadata['Architecture'] and metadata['Training Data']
        for result in model.get('Results', []):
            assert result['Task'] == 'Body 3D Keypoint'
            assert result['Dataset']
            for key, value in result['Metrics'].items():
                assert isinstance(value, (int, float)), (model['Name'], key)
        # No checkpoint has been trained yet: any weights named must be a
        # real URL, never a placeholder.
        if 'Weights' in model:
            assert re.match(r'https://\S+\.pth$', model['Weights'])


def test_paper_numbers_only_where_the_paper_has_them(models):
    paper = {
        m['Name']: {k: v
                    for k, v in r['Metrics'].items() if '(paper)' in k}
        for m in models for r in m.get('Results', [])
    }
    assert {k: v for k, v in paper.items() if v} == {
        'td-vol_cbam-res50-wasp_1xb16-130e_h36m-256x256': {
            'MPJPE (paper)': 51.8
        },
        'td-vol_cbam-res50-wasp_selfsup-1xb16-130e_h36m-256x256': {
            'MPJPE (paper)': 74.6
        },
    }


def test_measured_numbers_are_the_quick_start_ones(models, repo_root):
    """Our own numbers are only the embedded dataset's, and the README's
    results table states the same ones."""
    readme = (repo_root / 'README.md').read_text(encoding='utf-8')
    measured = {
        m['Name']: r['Metrics']
        for m in models for r in m.get('Results', [])
        if r['Dataset'] != 'Human3.6M'
    }
    assert set(measured) == {
        'td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96',
        'td-vol_cbam-res18-wasp_selfsup-1xb16-2e_synthetic-96x96',
        'td-vol_cbam-res18-wasp_selfsup-scratch-1xb16-2e_synthetic-96x96',
        'td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96',
        'td-vol_cbam-res18-wasp_2d-1xb16-8e_synthetic-96x96',
        'td-vol_cbam-res18-wasp_selfsup-1xb16-4e_synthetic-96x96',
        'td-vol_cbam-res18-w32-wasp_selfsup-bf16-1xb16-2e_synthetic-96x96',
        'td-vol_cbam-res18-w32-wasp_bf16-1xb16-2e_synthetic-96x96',
    }
    for name, metrics in measured.items():
        for key, value in metrics.items():
            assert '(paper)' not in key
            assert f'{value:.1f}' in readme, (name, key, value)


def test_every_pose_resnet_benchmark_config_is_indexed(models, repo_root):
    indexed = {m['Config'] for m in models}
    for folder in ('h36m', 'mpii', 'synthetic'):
        for path in (repo_root / 'configs/body_3d_keypoint/pose_resnet' /
                     folder).glob('*.py'):
            rel = str(path.relative_to(repo_root))
            assert rel in indexed, f'{rel} is not in any metafile'


def test_every_config_builds(models, repo_root):
    for model in models:
        config = repo_root / model['Config']
        assert config.is_file(), model['Config']
        net = init_model(str(config))
        assert net.cfg.model.backbone.init_cfg is None
        assert net.head.num_keypoints == 16
        assert net.dataset_meta['num_keypoints'] == 16


@pytest.mark.parametrize('readme,needles', [
    ('configs/body_3d_keypoint/pose_resnet/h36m/pose_resnet_h36m.md',
     ['10.3390/s23063057', 'Kocabas, Muhammed and Karagoz, Salih and Akbas',
      'Ionescu, Catalin', '74.6', '51.8', 'not yet measured']),
    ('configs/body_3d_keypoint/pose_resnet/synthetic/pose_resnet_synthetic.md',
     ['10.3390/s23063057', 'Kocabas, Muhammed', '154.8', '140.4', '266.8',
      '122.4', '120.1']),
    ('configs/body_3d_keypoint/pose_resnet/mpii/pose_resnet_mpii.md',
     ['10.3390/s23063057', 'Kocabas, Muhammed', 'Andriluka',
      'not yet measured']),
])
def test_model_zoo_readmes(repo_root, readme, needles):
    text = (repo_root / readme).read_text(encoding='utf-8')
    assert text.startswith('<!-- [ALGORITHM] -->')
    assert '<!-- [DATASET] -->' in text
    for needle in needles:
        assert needle in text, (readme, needle)
    # Every linked config exists.
    for link in re.findall(r'\]\((/configs/[^)]+\.py)\)', text):
        assert (repo_root / link.lstrip('/')).is_file(), link
    # BibTeX blocks are balanced.
    for block in re.findall(r'```bibtex\n(.*?)```', text, re.S):
        assert block.count('{') == block.count('}'), readme
