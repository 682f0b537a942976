from .mmpose_tools import mmpose_tool_path, run_mmpose_tool

__all__ = ['mmpose_tool_path', 'run_mmpose_tool']
