"""`tpat.lock.yaml`: what an apply produced and from what, deterministic so two applies give identical bytes."""

from .lock import MANIFEST_NAME, RUN_RECORD_NAME, check_frozen, manifest_data, read_manifest, write_yaml

__all__ = ["MANIFEST_NAME", "RUN_RECORD_NAME", "check_frozen", "manifest_data", "read_manifest", "write_yaml"]
