"""scikit-learn objects to and from bytes with skops, loading only allow-listed types."""

from __future__ import annotations

import zipfile
from typing import Any

from mlengine.errors import ArtifactError

# Types that skops does not trust by default but that we do: scikit-learn and numpy
# internals, plus this explicit list. Anything else in a dump is refused.
TRUSTED_PREFIXES = ("sklearn.", "numpy.")
TRUSTED_TYPES = frozenset({"builtins.slice"})


def skops_dumps(obj: Any) -> bytes:
    import skops.io as sio

    data: bytes = sio.dumps(obj, compression=zipfile.ZIP_DEFLATED)
    return data


def skops_loads(data: bytes) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # a corrupt dump
        raise ArtifactError(f"cannot read a scikit-learn object: {exc}") from exc
    refused = [t for t in untrusted if not (t.startswith(TRUSTED_PREFIXES) or t in TRUSTED_TYPES)]
    if refused:
        raise ArtifactError(f"refusing to load untrusted types: {', '.join(sorted(refused))}")
    return sio.loads(data, trusted=untrusted)
