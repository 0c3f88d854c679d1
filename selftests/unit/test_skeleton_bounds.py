"""A skeleton zip read from a server is bounded before anything is expanded: zip bombs are refused.

The bombs are real zips of zeros (about 1 KiB of deflate per MiB), built here byte by byte; reading
one the old way (`archive.read`) allocated every expanded byte. What is checked: the refusal says
why, and inspecting allocates little (tracemalloc's peak), whatever the zip declares or hides.
"""

from __future__ import annotations

import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable

import pytest

from publik_acceptance.evidence.skeleton import inspect_skeleton

MIB = 1024 * 1024
SITE_OPTIONS = b"[options]\nallowed_hostname = x\n"
CONFIG = b'{"postgresql": {"createdb-connection-params": {"database": "p", "user": "u"}, ' \
         b'"database-template-name": "wcs_%s"}}'


def zeros(mib: int) -> tuple[bytes, int]:
    """A raw deflate stream expanding to `mib` MiB of zeros, and their CRC-32."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)  # same bytes every MiB
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(bytes(MIB), crc)
    return block * mib + compressor.flush(), crc


def build_zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of (name, raw deflate data, CRC-32, declared uncompressed size), written field by field so
    that the declared size can be anything."""
    local, central = b"", b""
    for name, data, crc, size in members:
        encoded = name.encode()
        central += struct.pack(zipfile.structCentralDir, zipfile.stringCentralDir, 20, 3, 20, 0, 0,
                               zipfile.ZIP_DEFLATED, 0, 0x21, crc, len(data), size, len(encoded), 0, 0, 0, 0,
                               0o640 << 16, len(local)) + encoded
        local += struct.pack(zipfile.structFileHeader, zipfile.stringFileHeader, 20, 0, 0, zipfile.ZIP_DEFLATED,
                             0, 0x21, crc, len(data), size, len(encoded), 0) + encoded + data
    end = struct.pack(zipfile.structEndArchive, zipfile.stringEndArchive, 0, 0, len(members), len(members),
                      len(central), len(local), 0)
    return local + central + end


def deflated(name: str, text: bytes) -> tuple[str, bytes, int, int]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, compressor.compress(text) + compressor.flush(), zlib.crc32(text), len(text)


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """Hostile skeleton zips by name: decompression bombs, lying sizes, an absurd ratio, too many members."""
    gib2, crc2 = zeros(2048)
    gib1, crc1 = zeros(1000)
    site = deflated("site-options.cfg", SITE_OPTIONS)
    return {
        # 2 MB → 2 GiB: over the size a skeleton download may have
        "2 GiB": build_zip([("config.json", gib2, crc2, 2048 * MIB), site]),
        # 1 MB → 1000 MiB, honest about it: fits the download, refused by its declared size
        "1000 MiB declared": build_zip([("config.json", gib1, crc1, 1000 * MIB), site]),
        # the same stream claiming to be 80 bytes: the bounded reader stops, the CRC gives it away
        "1000 MiB hidden": build_zip([("config.json", gib1, crc1, 80), site]),
        # 200 KiB of zeros in a few hundred bytes: small enough, but no text compresses like that
        "absurd ratio": build_zip([deflated("config.json", bytes(200 * 1024)), site]),
        "many members": build_zip([deflated(f"{i}.txt", b"x") for i in range(5000)]),
    }


def inspect_measured(data: bytes) -> tuple[list[str], int]:
    tracemalloc.start()
    try:
        report = inspect_skeleton(data)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return report.problems, peak


CASES: list[tuple[str, Callable[[str], bool]]] = [
    ("2 GiB", lambda p: p.startswith("more than 1024 KiB") and "not inspected" in p),
    ("1000 MiB declared", lambda p: p.startswith(f"config.json declares {1000 * MIB} bytes uncompressed")),
    ("1000 MiB hidden", lambda p: p.startswith("config.json cannot be read: Bad CRC-32")),
    ("absurd ratio", lambda p: p.startswith("config.json expands") and "more than 100 times" in p),
    ("many members", lambda p: p.startswith("5000 members")),
]


@pytest.mark.parametrize("bomb, expected", CASES, ids=[c[0] for c in CASES])
def test_a_zip_bomb_is_refused_without_expanding_it(bombs: dict[str, bytes], bomb: str,
                                                    expected: Callable[[str], bool]) -> None:
    problems, peak = inspect_measured(bombs[bomb])
    assert any(expected(p) for p in problems), problems
    # before: `archive.read` allocated the whole expanded member (or raised BadZipFile out of the check)
    assert peak < 16 * MIB, f"inspecting allocated {peak / MIB:.0f} MiB"


def test_a_real_skeleton_still_inspects() -> None:
    data = build_zip([deflated("config.json", CONFIG), deflated("site-options.cfg", SITE_OPTIONS)])
    problems, peak = inspect_measured(data)
    assert problems == []
    assert peak < 16 * MIB


def test_an_encrypted_or_unknown_compression_member_is_a_problem_not_a_crash() -> None:
    name, data, crc, size = deflated("config.json", CONFIG)
    zipped = bytearray(build_zip([(name, data, crc, size), deflated("site-options.cfg", SITE_OPTIONS)]))
    central = zipped.index(zipfile.stringCentralDir)
    struct.pack_into("<H", zipped, central + 10, 99)  # compression method 99 (AES): not supported
    problems = inspect_skeleton(bytes(zipped)).problems
    assert any(p.startswith("config.json cannot be read") for p in problems), problems
