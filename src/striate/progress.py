"""A progress bar for long loops: tqdm when installed, a plain line every few seconds otherwise."""
from __future__ import annotations

import sys
import time


class Progress:
    """Per-batch loss, images/s and ETA on one updating line.

    Args:
        total (int): number of steps.
        initial (int, default 0): steps already done (a resumed epoch).
        desc (str): label in front of the bar.
        quiet (bool, default False): print nothing (for scripts and tests).
    """

    def __init__(self, total: int, initial: int = 0, desc: str = "", quiet: bool = False):
        self.total, self.n, self.desc, self.quiet = total, initial, desc, quiet
        self._bar = None
        self._last = time.perf_counter()
        if quiet:
            return
        try:
            from tqdm import tqdm  # optional dependency
        except ImportError:
            return
        # disable=None: no bar when stderr is not a terminal (CI logs, pipes); epoch lines remain
        self._bar = tqdm(total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True,
                         file=sys.stderr, mininterval=0.5, disable=None)

    def update(self, k: int = 1, loss: float | None = None, ips: float | None = None) -> None:
        self.n += k
        if self.quiet:
            return
        info = {}
        if loss is not None:
            info["loss"] = f"{loss:.4f}"
        if ips is not None:
            info["img/s"] = f"{ips:.0f}"
        if self._bar is not None:
            self._bar.update(k)
            if info:
                self._bar.set_postfix(info, refresh=False)
        elif time.perf_counter() - self._last > 5:
            self._last = time.perf_counter()
            extra = " ".join(f"{k}={v}" for k, v in info.items())
            print(f"{self.desc} {self.n}/{self.total} {extra}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
