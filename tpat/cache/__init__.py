"""Content-addressed task cache: an entry's key is the hash of everything that determines its bytes."""

from .keys import digest, task_key
from .store import CacheStore

__all__ = ["CacheStore", "digest", "task_key"]
