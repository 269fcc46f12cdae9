"""MinHash signatures of word n-gram shingles, vectorised with numpy over batches of documents.

Per batch: each word is hashed once (xxh3-64, seeded), for all documents of the batch at
once; an n-gram shingle combines its n word hashes with random odd multipliers; each of the H MinHash functions is a multiply-add-shift hash
h_j(x) = (a_j*x + b_j mod 2**64) >> 32 (Dietzfelbinger 1996), whose minimum over a
document's shingles is taken with one `minimum.reduceat` per chunk. The shift commutes with
the minimum, so the inner loop is two integer operations per (shingle, hash).

Everything is derived from `seed`, so signatures are identical across processes and runs.
Documents with fewer than n words have no shingles and get no signature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xxhash

from curate.stages.dedup.lsh import mix64

from curate.stages.dedup.normalize import shingle_words

HASH_SCHEME = "xxh3word-ngram-mulshift32-v1"  # recorded in the index: a different scheme cannot be mixed
_CHUNK_CELLS = 1 << 17  # shingles x hashes per numpy chunk (1 MB of uint64): measured fastest here


@dataclass(frozen=True)
class MinHasher:
    ngram: int
    num_hashes: int
    seed: int = 1

    def __post_init__(self):
        rng = np.random.Generator(np.random.PCG64(self.seed))
        object.__setattr__(self, "_word_salt", rng.integers(0, 2**64, dtype=np.uint64))
        object.__setattr__(self, "_ngram_mult", rng.integers(0, 2**64, size=self.ngram, dtype=np.uint64) | np.uint64(1))
        object.__setattr__(self, "_a", rng.integers(0, 2**64, size=self.num_hashes, dtype=np.uint64) | np.uint64(1))
        object.__setattr__(self, "_b", rng.integers(0, 2**64, size=self.num_hashes, dtype=np.uint64))

    def word_hashes(self, all_words: list[str]) -> np.ndarray:
        """uint64 hash of each word: xxh3-64, then scrambled by the seed (vectorised; a seeded
        xxhash call per word costs 4x more in Python)."""
        h = np.fromiter(map(xxhash.xxh3_64_intdigest, all_words), dtype=np.uint64, count=len(all_words))
        return mix64(h ^ self._word_salt)

    def signatures(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(signatures uint32 (k, num_hashes), indices into `texts` of the k documents that have one)."""
        doc_words = [shingle_words(t) for t in texts]
        counts = np.array([len(w) for w in doc_words], dtype=np.int64)
        n = self.ngram
        has_sig = np.flatnonzero(counts >= n)
        sig = np.empty((len(has_sig), self.num_hashes), dtype=np.uint32)
        if not len(has_sig):
            return sig, has_sig
        wh = self.word_hashes([w for i in has_sig for w in doc_words[i]])
        with np.errstate(over="ignore"):
            sh = wh[: len(wh) - n + 1] * self._ngram_mult[0]
            for k in range(1, n):
                sh = sh + wh[k: len(wh) - n + 1 + k] * self._ngram_mult[k]
        sh = sh >> np.uint64(32)  # 32-bit shingle ids keep the a*x+b products exact mod 2**64
        # shingle i starts at word i; a document's shingles are the first count-n+1 from its first word
        word_starts = np.zeros(len(has_sig), dtype=np.int64)
        np.cumsum(counts[has_sig][:-1], out=word_starts[1:])
        per_doc = counts[has_sig] - n + 1
        take = np.repeat(word_starts - np.concatenate([[0], np.cumsum(per_doc)[:-1]]), per_doc) + np.arange(per_doc.sum())
        sh = sh[take]
        seg_starts = np.zeros(len(has_sig), dtype=np.int64)
        np.cumsum(per_doc[:-1], out=seg_starts[1:])
        self._min_hash(sh, seg_starts, sig)
        return sig, has_sig

    def _min_hash(self, shingles: np.ndarray, seg_starts: np.ndarray, out: np.ndarray) -> None:
        """out[d] = min over document d's shingles of each hash function, in chunks of whole documents."""
        seg_ends = np.append(seg_starts[1:], len(shingles))
        per_chunk = max(1, _CHUNK_CELLS // self.num_hashes)
        d = 0
        while d < len(seg_starts):
            # take documents until the chunk holds about per_chunk shingles (at least one document)
            e = int(np.searchsorted(seg_ends, seg_starts[d] + per_chunk, side="right"))
            e = max(e, d + 1)
            lo, hi = seg_starts[d], seg_ends[e - 1]
            x = shingles[lo:hi]
            h = np.empty((len(x), self.num_hashes), dtype=np.uint64)
            np.multiply(x[:, None], self._a[None, :], out=h)  # uint64 arithmetic wraps mod 2**64
            np.add(h, self._b, out=h)
            mins = np.minimum.reduceat(h, seg_starts[d:e] - lo, axis=0)
            out[d:e] = (mins >> np.uint64(32)).astype(np.uint32)
            d = e
