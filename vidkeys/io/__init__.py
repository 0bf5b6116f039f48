"""Frames in, files out: decoding sources, prefetching, video writers, atomic outputs, names."""
