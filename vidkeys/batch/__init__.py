"""Many inputs in one resumable run: the driver, its engines (local processes, Ray),
input discovery and the manifest."""
