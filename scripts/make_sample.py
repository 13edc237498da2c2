"""Regenerate striate's embedded MNIST sample from the full MNIST files.

The sample is the first 600 training and the first 100 test images of each digit, kept in their
original MNIST order (6,000 + 1,000 images, exactly balanced). It is written as IDX gz files,
byte-reproducible (gzip level 9, mtime 0, no file name), next to a SHA256SUMS file.

Usage:
    python scripts/make_sample.py [MNIST_DIR]   (default: ../shared/data/mnist)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import struct
import sys
from pathlib import Path

import numpy as np

from striate.data.datasets.mnist import MNIST, SAMPLE_DIR, _stratified_first, read_idx

PER_CLASS = {True: 600, False: 100}


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzip-compressed IDX file (magic 0x0000080D, D = number of dims)."""
    header = struct.pack(f">4B{array.ndim}I", 0, 0, 0x08, array.ndim, *array.shape)
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as f,
    ):
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "mnist_dir",
        nargs="?",
        default=Path(__file__).resolve().parents[1] / "../shared/data/mnist",
        type=Path,
        help="folder with the four MNIST IDX gz files",
    )
    args = parser.parse_args(argv)
    sums = []
    for train in (True, False):
        images_file, labels_file = MNIST.files[train]
        images = read_idx(args.mnist_dir / images_file, magic=0x00000803)
        labels = read_idx(args.mnist_dir / labels_file, magic=0x00000801)
        keep = _stratified_first(labels, PER_CLASS[train])
        for name, data in zip(MNIST.sample_files[train], (images[keep], labels[keep])):
            write_idx_gz(SAMPLE_DIR / name, data)
            sums.append(f"{hashlib.sha256((SAMPLE_DIR / name).read_bytes()).hexdigest()}  {name}\n")
        print(
            f"{'train' if train else 'test'}: {len(keep)} images, "
            f"per class {np.bincount(labels[keep]).tolist()}"
        )
    (SAMPLE_DIR / "SHA256SUMS").write_text("".join(sums))
    total = sum(
        (SAMPLE_DIR / n).stat().st_size for pair in MNIST.sample_files.values() for n in pair
    )
    print(f"wrote {SAMPLE_DIR} ({total} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
