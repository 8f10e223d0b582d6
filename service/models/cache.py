"""The cache of loaded models in the API process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from mlengine.predictor import Predictor


class PredictorCache:
    """Loaded models, least recently used dropped first; one load per model at a time."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[str, Predictor] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, key: str, load: Callable[[], Predictor]) -> Predictor:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            predictor = load()
            with self._lock:
                self._items[key] = predictor
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._loading.pop(key, None)
            return predictor
