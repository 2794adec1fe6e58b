"""Data side of zqvl: canonical records, validate, convert, translate, clean, shard, stream."""


def __getattr__(name: str):
    # Lazy: `datasets` loads only for the caller that asks for it.
    if name in ("to_hf_dataset", "hf_features"):
        from zqvl.data.shards import hf

        return hf.to_hf_dataset if name == "to_hf_dataset" else hf.features
    raise AttributeError(f"module 'zqvl.data' has no attribute {name!r}")
