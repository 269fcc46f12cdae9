"""Shards: the files stages read and write (Parquet; JSONL plain, .gz, .zst; stdin/stdout).

read.py turns a shard into documents, bad records into rejected records; write.py writes
documents atomically. The formats and file endings both sides agree on are here.
"""

from curate.errors import ShardError

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
SHARD_SUFFIXES = PARQUET_SUFFIXES + JSONL_SUFFIXES
FORMATS = ("parquet", "jsonl", "jsonl.gz", "jsonl.zst")


def suffix_for(fmt: str) -> str:
    return ".parquet" if fmt == "parquet" else f".{fmt}"


def strip_suffix(name: str, suffixes) -> str:
    for suffix in sorted(suffixes, key=len, reverse=True):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


# The public API of shards, from the two modules that implement it.
from curate.shards.read import REJECTS_TO, open_binary, read_jsonl, read_parquet, read_shard  # noqa: E402
from curate.shards.write import ShardWriter, StreamWriter, records_to_table  # noqa: E402

__all__ = [
    "FORMATS", "JSONL_SUFFIXES", "PARQUET_SUFFIXES", "REJECTS_TO", "SHARD_SUFFIXES", "ShardError", "ShardWriter",
    "StreamWriter", "open_binary", "read_jsonl", "read_parquet", "read_shard", "records_to_table", "strip_suffix",
    "suffix_for",
]
