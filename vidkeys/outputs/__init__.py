"""What a run hands to people: CSV and JSON rows, annotated frames, overlays, the report,
aligned faces, progress lines."""
