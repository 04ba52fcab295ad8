"""Article identity: fingerprints, exact and near-duplicate matching, change diffs.

* The fingerprint text is the article folded for comparison only (the stored
  text stays as served): NFKC, Traditional → Simplified (OpenCC), volatile parts
  removed (visit counters, "今天是…" banners, share counts), whitespace and
  punctuation dropped.
* ``content_hash`` — SHA-256 of the folded title and body: exact identity.
* A MinHash signature (datasketch's affine32 scheme, 128 permutations) of the body's character
  3-gram shingles, cut into 42 LSH bands of 3 rows; the band keys live in an
  indexed SQLite table, so a look-up costs 42 index probes whatever the number
  of stored articles, and nothing is held in memory.
* MinHash only nominates candidates. The decision is taken on the exact shingle
  sets of the new text and the candidate's stored text: the same article when
  their Jaccard similarity is high, or when one contains the other (one
  paragraph more or less). ``NearDuplicateRule`` holds the thresholds;
  docs/dedupe.md says how they were measured.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from crawler.spam import Rule
from storage.fts import simplified

NUM_PERM = 128
BANDS = 42
ROWS = 3  # 42 x 3 = 126 of the 128 values; a pair with Jaccard 0.4 becomes a candidate 93% of the time
SHINGLE = 3
_SEED = 1

# Each with the words one of which every match holds: a text with none of them is not searched with it
# (a substring test; four regex scans were two fifths of folding a body). tests/test_dedupe.py checks them.
_VOLATILE = [
    Rule(re.compile(p), needs)
    for p, needs in (
        (r"(访问次数|浏览次数|点击数|点击量|阅读数|阅读量|浏览量|阅读|浏览)\s*[:：]?\s*\d+\s*次?",
         ("访问次数", "点击数", "点击量", "阅读", "浏览")),
        (r"\d+\s*(人阅读|次浏览|次阅读|人浏览|人已读|次播放)", ("阅读", "浏览", "人已读", "次播放")),
        (r"(欢迎访问\S{0,20}?)?今天是\s*[:：]?\s*(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)?\s*(星期[一二三四五六日天])?",
         ("今天是",)),
        (r"(分享|转发|评论|点赞|收藏)\s*[:：]?\s*\d+", ("分享", "转发", "评论", "点赞", "收藏")),
    )
]
_DROP = re.compile(r"[\W_]+", re.UNICODE)  # whitespace, punctuation and symbols


def fold(text: str) -> str:
    """The comparison form of a text: NFKC, Simplified, no volatile parts, no punctuation, lower case."""
    folded = simplified(text)
    for rule in _VOLATILE:
        folded = rule.sub("", folded)
    return _DROP.sub("", folded).lower()


def content_hash(title: str, body: str) -> str:
    return _hash_folded(fold(title), fold(body))


def _hash_folded(title: str, body: str) -> str:
    return hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()


# MinHash, bit-for-bit datasketch 2's MinHash(num_perm=128, seed=1, hashfunc=zlib.crc32) with its
# default "affine32" scheme: each shingle's CRC-32 is mixed by the MurmurHash3 finalizer, then
# permuted by h -> a*h + b mod 2^32 (a odd). Written out here because importing datasketch pulls in
# scipy for its LSH classes, which we do not use: 0.8 s and 54 MB more in every crawl process and
# extraction worker (measured with `python -X importtime`). tests/test_dedupe.py checks that the
# values stay identical to datasketch's, so stored signatures remain valid.
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.RandomState(_SEED)
    a = generator.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def minhash_signature(shingles: frozenset[str] | list[str]) -> np.ndarray:
    """NUM_PERM uint32 minima; all 0xFFFFFFFF for an empty set."""
    return _minhash(_crc32s(shingles))


def _crc32s(shingles: frozenset[str] | list[str]) -> np.ndarray:
    return np.array([zlib.crc32(s.encode("utf-8")) for s in shingles], dtype=np.uint32)


@lru_cache(maxsize=1)
def _crc_table() -> np.ndarray:
    """zlib's CRC-32 (reflected polynomial 0xEDB88320), a byte at a time."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0xEDB88320), table >> 1)
    return table


def _shingle_crcs(text: str) -> np.ndarray:
    """``zlib.crc32`` of the UTF-8 bytes of every SHINGLE-character slice of ``text`` (the whole text
    when shorter), repeats included: the CRCs of all shingles advance one byte position together.
    2.4x faster than a set of the slices and a CRC per slice (a 3,500-character text: 0.29 ms)."""
    if len(text) <= SHINGLE:
        return np.array([zlib.crc32(text.encode("utf-8"))], dtype=np.uint32)
    raw = text.encode("utf-8")
    data = np.frombuffer(raw + bytes(4 * SHINGLE), dtype=np.uint8)  # padded: no index runs off the end
    starts = np.flatnonzero((data[: len(raw)] & 0xC0) != 0x80)  # the first byte of each character
    first = starts[: len(text) - SHINGLE + 1]
    length = np.append(starts[SHINGLE:], len(raw)) - first  # bytes of each shingle
    table, crc = _crc_table(), np.full(first.size, 0xFFFFFFFF, dtype=np.uint32)
    shortest = int(length.min())
    for position in range(int(length.max())):
        advanced = table[(crc ^ data[first + position]) & 0xFF] ^ (crc >> 8)
        crc = advanced if position < shortest else np.where(length > position, advanced, crc)
    return crc ^ np.uint32(0xFFFFFFFF)


def _minhash(crcs: np.ndarray) -> np.ndarray:
    if not crcs.size:
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    hv = crcs.reshape(-1, 1)
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    hv = hv ^ (hv >> s3)
    a, b = _permutations()
    return (hv * a + b).min(axis=0)


@dataclass(frozen=True)
class Fingerprint:
    content_hash: str
    signature: np.ndarray  # NUM_PERM uint32 values (a minimum per permutation)
    shingles: int  # number of distinct shingles
    # The shingles' CRC-32s, sorted and distinct: the exact check of candidates compares these (a few
    # KB of numpy that pickle in microseconds to the writer's process; a set of strings took ~0.25 ms
    # each way). Not stored; None in a fingerprint rebuilt from a message.
    hashes: np.ndarray | None = None

    @cached_property  # the decision's look-up and the index both ask
    def band_keys(self) -> list[int]:
        """One signed 64-bit key per band (band number mixed in)."""
        return band_keys(self.signature)

    def signature_bytes(self) -> bytes:
        return self.signature.astype("<u4").tobytes()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as bytes (to the writer's process, with every page): a third of numpy's own pickling."""
        hashes = None if self.hashes is None else self.hashes.tobytes()
        return _fingerprint_of, (self.content_hash, self.signature.tobytes(), self.shingles, hashes)


def _fingerprint_of(content_hash: str, signature: bytes, shingles: int, hashes: bytes | None) -> Fingerprint:
    return Fingerprint(content_hash, np.frombuffer(signature, dtype=np.uint32), shingles,
                       None if hashes is None else np.frombuffer(hashes, dtype=np.uint32))


def shingle_set(body: str) -> frozenset[str]:
    return _shingles(fold(body))


def shingle_hashes(body: str) -> np.ndarray:
    """The sorted, distinct CRC-32s of the body's shingles (what ``Fingerprint.hashes`` holds); read-only."""
    hashes = np.unique(_shingle_crcs(fold(body)))
    hashes.setflags(write=False)  # a cached value is shared
    return hashes


class _StoredHashes:
    """The shingle hashes of stored texts, by a digest of the body (a body edited since is another
    key), for the exact checks of the writer's process: boilerplate that many articles of a portal
    share makes the same originals candidates of page after page (bench.e2e: 3,300 exact checks of
    1,200 originals in 5,000 pages), and folding a stored body again costs ~0.3 ms. The writer
    ``remember``s what it stores (the page brought its hashes), so a candidate stored by this
    process is never folded again while it is in the newest ``size`` (~2.5 KB an entry)."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.hits = self.misses = 0

    def __call__(self, body: str) -> np.ndarray:
        key = _digest(body)
        hashes = self._entries.get(key)
        if hashes is None:
            self.misses += 1
            hashes = shingle_hashes(body)
            self._keep(key, hashes)
        else:
            self.hits += 1
            self._entries.move_to_end(key)
        return hashes

    def remember(self, body: str, hashes: np.ndarray) -> None:
        hashes.setflags(write=False)  # shared from now on
        self._keep(_digest(body), hashes)

    def _keep(self, key: bytes, hashes: np.ndarray) -> None:
        self._entries[key] = hashes
        self._entries.move_to_end(key)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)


def _digest(body: str) -> bytes:
    return hashlib.blake2b(body.encode("utf-8"), digest_size=16).digest()


_stored_hashes = _StoredHashes(2048)


def remember_stored(body: str, identity: Fingerprint) -> None:
    """The text of ``identity`` was stored with this body: later exact checks against it need not fold it."""
    if identity.hashes is not None:
        _stored_hashes.remember(body, identity.hashes)


def _shingles(text: str) -> frozenset[str]:
    return frozenset(text[i : i + SHINGLE] for i in range(max(1, len(text) - SHINGLE + 1)))


def fingerprint(title: str, body: str) -> Fingerprint:
    folded = fold(body)  # once: it feeds both the hash and the shingles
    crcs = np.unique(_shingle_crcs(folded))  # distinct shingles (two that share a CRC count once: ~1e-4 of articles)
    return Fingerprint(_hash_folded(fold(title), folded), _minhash(crcs), crcs.size, crcs)


def signature_from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<u4").astype(np.uint32)


def band_keys(signature: np.ndarray | bytes) -> list[int]:
    """The LSH band keys of a signature (or of its stored bytes)."""
    if isinstance(signature, bytes):
        signature = signature_from_bytes(signature)
    raw = signature.astype("<u4").tobytes()
    keys = []
    for band in range(BANDS):
        chunk = raw[band * ROWS * 4 : (band + 1) * ROWS * 4]
        digest = hashlib.blake2b(bytes([band]) + chunk, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


@dataclass(frozen=True)
class NearDuplicateRule:
    """When a candidate is the same article (thresholds measured on tests/data/neardup_pairs.jsonl)."""

    jaccard: float = 0.7  # exact Jaccard of the shingle sets
    containment: float = 0.95  # share of the smaller text found in the larger one (a paragraph more or less)
    containment_floor: float = 0.3  # ... while the texts still overlap this much (not a snippet in a digest)
    min_shingles: int = 30  # shorter texts are compared by hash only
    # Exact checks only for candidates whose MinHash estimate comes near a threshold
    # (estimates are +-0.04; the lowest same-article pair in the labelled set estimates J 0.42, C 0.92).
    prefilter_jaccard: float = 0.55
    prefilter_containment: float = 0.8
    max_checks: int = 20  # exact checks per article, most similar candidates first

    @staticmethod
    def measure(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
        """Jaccard and containment of two sorted, distinct shingle hash arrays (``shingle_hashes``)."""
        inter = np.intersect1d(a, b, assume_unique=True).size
        union = a.size + b.size - inter
        return (inter / union if union else 0.0), (inter / min(a.size, b.size) if a.size and b.size else 0.0)

    def same(self, jaccard: float, containment: float, a_size: int, b_size: int) -> bool:
        if min(a_size, b_size) < self.min_shingles:
            return False
        return jaccard >= self.jaccard or (containment >= self.containment and jaccard >= self.containment_floor)


def make_matcher(identity: Fingerprint, rule: NearDuplicateRule | None = None, body: str | None = None):
    """A matcher for ``Store.ingest``: the most similar candidate that passes the rule.

    Candidates come as (article_id, signature bytes, shingle count); ``load_body``
    fetches a candidate's stored body, only for those worth an exact check. The page's own
    shingles are ``identity.hashes``, or made from ``body`` at the first exact check
    (a fingerprint rebuilt from a message carries none).
    """
    rule = rule or NearDuplicateRule()
    own: list[np.ndarray] = []

    def mine() -> np.ndarray:
        if not own:
            hashes = identity.hashes
            if hashes is None:
                hashes = shingle_hashes(body) if body is not None else np.empty(0, dtype=np.uint32)
            own.append(hashes)
        return own[0]

    def match(candidates: list[tuple[int, bytes, int]], load_body) -> tuple[int, str] | None:
        if not candidates:
            return None
        ids = [c[0] for c in candidates]
        signatures = np.frombuffer(b"".join(c[1] for c in candidates), dtype="<u4").reshape(len(candidates), NUM_PERM)
        sizes = np.array([c[2] for c in candidates], dtype=np.float64)
        jaccard = np.count_nonzero(signatures == identity.signature, axis=1) / NUM_PERM
        inter = jaccard * (identity.shingles + sizes) / (1 + jaccard)
        containment = inter / np.maximum(1, np.minimum(identity.shingles, sizes))
        worth = np.flatnonzero((jaccard >= rule.prefilter_jaccard) | (containment >= rule.prefilter_containment))
        best: tuple[float, float, int] | None = None
        for index in worth[np.argsort(-jaccard[worth])][: rule.max_checks]:
            other = _stored_hashes(load_body(ids[index]))
            exact_j, exact_c = rule.measure(mine(), other)
            if rule.same(exact_j, exact_c, mine().size, other.size) and (best is None or exact_j > best[0]):
                best = (exact_j, exact_c, ids[index])
        if best is None:
            return None
        return best[2], f"near duplicate (Jaccard {best[0]:.2f}, containment {best[1]:.2f})"

    return match


def unified_diff(old: str, new: str, label: str = "") -> str:
    """A unified diff of two bodies, paragraph by paragraph."""
    lines = difflib.unified_diff(
        old.split("\n"), new.split("\n"), fromfile=f"{label} (before)", tofile=f"{label} (after)", lineterm="", n=1
    )
    return "\n".join(lines)
