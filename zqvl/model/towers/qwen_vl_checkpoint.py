"""Load the visual tower out of a local Qwen-VL-Chat checkpoint directory, proving every key is accounted for.

The directory may hold safetensors or PyTorch .bin weights, in one file or sharded behind an index file; only the
files the index names for `transformer.visual.*` are opened. The expected keys come from the architecture in
config.json's "visual" section; any missing, unexpected or wrongly shaped key fails the load with one message that
names every such key (the seed loaded three hard-coded shards and never checked).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import torch

from zqvl.errors import UsageError

PREFIX = "transformer.visual."
INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
SINGLE_FILES = ("model.safetensors", "pytorch_model.bin")
# zqvl-only keys a (tiny) checkpoint may add to "visual"; the real Qwen-VL-Chat config uses the defaults.
_EXTRA_KEYS = ("mlp_size", "n_queries", "resampler_heads", "pos_grid")


def config_from_visual(visual: dict):
    """QwenVLVisionConfig from a Qwen-VL config.json "visual" dict (names: width, layers, heads, mlp_ratio…)."""
    from zqvl.model.towers.qwen_vl import QwenVLVisionConfig

    width = int(visual.get("width", 1664))
    output_dim = int(visual.get("output_dim", 4096))
    kwargs = {
        "image_size": int(visual.get("image_size", 448)),
        "patch_size": int(visual.get("patch_size", 14)),
        "width": width,
        "layers": int(visual.get("layers", 48)),
        "heads": int(visual.get("heads", 16)),
        "output_dim": output_dim,
        "mlp_size": int(width * float(visual.get("mlp_ratio", 4.9231))),
        "resampler_heads": max(1, output_dim // 128),
    }
    kwargs.update({k: int(visual[k]) for k in _EXTRA_KEYS if k in visual})
    return QwenVLVisionConfig(**kwargs)


def visual_config(ckpt_dir: str | Path):
    """The tower's config from the checkpoint's config.json."""
    path = Path(ckpt_dir) / "config.json"
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}") from None
    if not isinstance(cfg.get("visual"), dict):
        raise UsageError(f"{path} has no 'visual' section: not a Qwen-VL checkpoint")
    return config_from_visual(cfg["visual"])


def _files_for_prefix(ckpt_dir: Path, prefix: str) -> dict[Path, list[str] | None]:
    """weight file -> the prefixed keys the index places there (None = single file, read every matching key)."""
    for name in INDEX_FILES:
        index = ckpt_dir / name
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise UsageError(f"cannot read weight map from {index}: {e}") from None
            files: dict[Path, list[str]] = defaultdict(list)
            for key, file in weight_map.items():
                if key.startswith(prefix):
                    files[ckpt_dir / file].append(key)
            if not files:
                raise UsageError(f"{index} lists no '{prefix}*' keys: not a Qwen-VL checkpoint")
            return dict(files)
    for name in SINGLE_FILES:
        if (ckpt_dir / name).is_file():
            return {ckpt_dir / name: None}
    raise UsageError(f"{ckpt_dir}: no weights found (looked for {', '.join(INDEX_FILES + SINGLE_FILES)})")


def _read_file(path: Path, keys: list[str] | None, prefix: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Tensors for `keys` (or every prefixed key) from one file, and the listed keys the file does not contain."""
    if not path.is_file():
        raise UsageError(f"weight file {path} named by the index does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                present = set(f.keys())
                wanted = keys if keys is not None else [k for k in present if k.startswith(prefix)]
                return {k: f.get_tensor(k) for k in wanted if k in present}, [k for k in wanted if k not in present]
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (non-zip) .bin files cannot be memory-mapped
            state = torch.load(path, map_location="cpu", weights_only=True)
    except UsageError:
        raise
    except Exception as e:  # noqa: BLE001 - corrupt or unreadable weight file
        raise UsageError(f"cannot read weights from {path}: {e}") from None
    wanted = keys if keys is not None else [k for k in state if k.startswith(prefix)]
    return {k: state[k] for k in wanted if k in state}, [k for k in wanted if k not in state]


def read_prefixed(ckpt_dir: str | Path, prefix: str = PREFIX) -> tuple[dict[str, torch.Tensor], list[str]]:
    """All tensors under `prefix` (prefix stripped) and the keys the index promised but the shards lack."""
    found: dict[str, torch.Tensor] = {}
    absent: list[str] = []
    for path, keys in sorted(_files_for_prefix(Path(ckpt_dir), prefix).items()):
        tensors, missing_here = _read_file(path, keys, prefix)
        found.update({k[len(prefix) :]: v for k, v in tensors.items()})
        absent += missing_here
    return found, absent


def check_state_dict(
    expected: dict[str, torch.Size],
    found: dict[str, torch.Tensor],
    source: str,
    prefix: str = PREFIX,
    absent: list[str] = (),
) -> None:
    """Raise one UsageError naming every missing, unexpected and wrongly shaped key (`absent`: keys an index
    places in a shard that does not hold them)."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if tuple(found[k].shape) != tuple(expected[k]))
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): " + ", ".join(prefix + k for k in missing))
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): " + ", ".join(prefix + k for k in unexpected))
    if wrong:
        problems.append(
            f"{len(wrong)} key(s) with the wrong shape: "
            + ", ".join(f"{prefix}{k} {list(found[k].shape)} (expected {list(expected[k])})" for k in wrong)
        )
    if absent:
        problems.append(f"{len(absent)} key(s) listed in the index but not in their shard: " + ", ".join(absent))
    if problems:
        raise UsageError(
            f"Qwen-VL visual weights in {source} do not match the architecture in its config.json: "
            + "; ".join(problems)
        )


def load_qwen_vl_tower(ckpt_dir: str | Path):
    """QwenVLVisionModel with every weight from the checkpoint (dtype as stored)."""
    from zqvl.model.towers.qwen_vl import QwenVLVisionModel

    config = visual_config(ckpt_dir)
    with torch.device("meta"):
        model = QwenVLVisionModel(config)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    found, absent = read_prefixed(ckpt_dir)
    check_state_dict(expected, found, str(ckpt_dir), absent=sorted(absent))
    model.load_state_dict(found, strict=True, assign=True)
    return model.eval()
