"""The model artifact: one zip blob.

Members::

    meta.json            format, format_version, kind, framework, task, model_type,
                         inputs [{name, dtype}], classes, target, preprocessing options,
                         n_features (after preprocessing), net (architecture config or null),
                         extra, versions
    preprocess.skops     the fitted ColumnTransformer (skops; loaded with an allow-list)
    model.safetensors    torch kinds: the network's state dict
    model.skops          scikit-learn kinds: the fitted estimator
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

from mlengine.errors import ArtifactError
from mlengine.types import ModelInfo

if TYPE_CHECKING:
    from mlengine.context import TrainContext

FORMAT = "descent-model"
FORMAT_VERSION = 1
META = "meta.json"
PREPROCESS = "preprocess.skops"
MODEL_SAFETENSORS = "model.safetensors"
MODEL_SKOPS = "model.skops"
_MEMBERS = {META, PREPROCESS, MODEL_SAFETENSORS, MODEL_SKOPS}
_MAX_MEMBER_BYTES = 8 << 30


def base_meta(ctx: TrainContext, framework: str, **more: Any) -> dict[str, Any]:
    import sklearn

    d = ctx.data
    versions = {"sklearn": sklearn.__version__}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": ctx.kind.name,
        "framework": framework,
        "task": d.task,
        "model_type": ctx.kind.name,
        "inputs": d.inputs,
        "classes": d.classes,
        "target": d.target,
        "preprocessing": ctx.spec.preprocessing.model_dump(mode="json"),
        "n_features": d.n_features,
        "net": None,
        "extra": {"target": d.target, "n_features": d.n_features},
        "versions": versions,
    }
    meta.update(more)
    return meta


def info_from_meta(meta: dict[str, Any]) -> ModelInfo:
    return ModelInfo(
        task=meta["task"],
        model_type=meta["model_type"],
        inputs=[dict(c) for c in meta["inputs"]],
        classes=meta.get("classes"),
        extra=dict(meta.get("extra") or {}),
    )


def write_artifact(meta: dict[str, Any], files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(META, json.dumps(meta, indent=1, sort_keys=True))
        for name, data in files.items():
            # skops dumps are zips already compressed; safetensors compress poorly
            z.writestr(name, data, compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


def read_artifact(data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ArtifactError("not a model artifact (not a zip)") from exc
    files: dict[str, bytes] = {}
    with z:
        for item in z.infolist():
            if item.filename not in _MEMBERS:
                raise ArtifactError(f"unexpected member {item.filename!r} in the model artifact")
            if item.file_size > _MAX_MEMBER_BYTES:
                raise ArtifactError(f"member {item.filename!r} is too large")
            files[item.filename] = z.read(item)
    if META not in files:
        raise ArtifactError("not a model artifact (no meta.json)")
    meta = json.loads(files.pop(META))
    if meta.get("format") != FORMAT:
        raise ArtifactError("not a Descent model artifact")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"model artifact format version {meta.get('format_version')} is not supported "
            f"(this engine reads version {FORMAT_VERSION})"
        )
    return meta, files
