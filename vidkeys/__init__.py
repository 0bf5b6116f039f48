"""vidkeys: 68 facial keypoints on every face in every frame of a video."""

from vidkeys.errors import VidkeysError
from vidkeys.pipeline import PipelineConfig, VideoRun, process
from vidkeys.results import Faces, FrameResult

__all__ = ["Faces", "FrameResult", "PipelineConfig", "VideoRun", "VidkeysError", "process"]
__version__ = "0.1.0"
