from .export import Pose3DExportWrapper, export_onnx
from .inference import (
                        REFERENCE_SKELETON_LENGTH_MM,
                        estimate_root_depth,
                        inference_topdown_3d,
                        init_model,
                        parse_intrinsics,
)
from .mmpose_tools import mmpose_tool_path, run_mmpose_tool
from .onnx_runner import OnnxPose3D
from .pseudo_labels import (
                            CameraSet,
                            build_pseudo_labels,
                            h36m_camera_sets,
                            load_predictions,
                            make_h36m_pseudo_labels,
)
from .selfsup_pipeline import run_pipeline, run_stages

__all__ = [
    'mmpose_tool_path', 'run_mmpose_tool', 'init_model',
    'inference_topdown_3d', 'estimate_root_depth', 'parse_intrinsics',
    'REFERENCE_SKELETON_LENGTH_MM', 'export_onnx', 'Pose3DExportWrapper',
    'OnnxPose3D', 'run_pipeline', 'run_stages', 'CameraSet',
    'build_pseudo_labels', 'h36m_camera_sets', 'load_predictions',
    'make_h36m_pseudo_labels'
]
