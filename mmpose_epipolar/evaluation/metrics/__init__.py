from .body3d_mpjpe import Body3DMPJPE, per_joint_errors

__all__ = ['Body3DMPJPE', 'per_joint_errors']
