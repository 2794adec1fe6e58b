"""Data side of zqvl: canonical records, validate, convert, translate, clean, shard, stream."""
