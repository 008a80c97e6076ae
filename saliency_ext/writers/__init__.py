"""Writers: durable report files and TensorBoard output."""

from saliency_ext.writers.files import (
    ReportIndex, atomic_write_bytes, check_rgb, read_npz, resolve_inside, safe_name,
    write_json, write_npz, write_png)
from saliency_ext.writers.tensorboard import TensorBoardWriter

__all__ = [
    'ReportIndex', 'TensorBoardWriter', 'atomic_write_bytes', 'check_rgb', 'read_npz',
    'resolve_inside', 'safe_name', 'write_json', 'write_npz', 'write_png',
]
