"""LeNet-5: the modern ReLU/max-pool network and LeCun et al.'s 1998 original.

``lenet5()`` is the network most tutorials call LeNet-5 (61,706 parameters).
``lenet5(variant="lecun1998")`` follows "Gradient-Based Learning Applied to Document
Recognition" (LeCun, Bottou, Bengio, Haffner 1998,
http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf):
scaled tanh squashing, trainable sub-sampling, C3's partial connection table (Table I) and Euclidean
RBF output units with fixed +1/-1 prototypes; exactly 60,000 trainable parameters.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ..backend import default_dtype, xp
from .registry import register

__all__ = [
    "C3_TABLE",
    "DIGIT_BITMAPS",
    "ConnectionTableConv2d",
    "LeNet5",
    "LeNet5LeCun1998",
    "RBFOutput",
    "ScaledTanh",
    "Subsampling2d",
    "lenet5",
]

# Table I of LeCun et al. 1998: the S2 maps each C3 map reads. Maps 0-5 read 3 contiguous
# maps, 6-11 four contiguous, 12-14 four non-contiguous, 15 all six: 60 connections in all.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

# The RBF prototypes: each digit drawn on a 7x12 bitmap ('#' = +1, '.' = -1), as the paper's
# output units compare F6 with "a stylized image of the corresponding character class drawn on
# a 7x12 bitmap". The paper's own bitmaps are not published as data; these are hand-drawn.
DIGIT_BITMAPS = (
    ("......."  "..###.."  ".#...#."  "#.....#"  "#.....#"  "#.....#"
     "#.....#"  "#.....#"  "#.....#"  ".#...#."  "..###.."  "......."),
    ("......."  "...#..."  "..##..."  ".#.#..."  "...#..."  "...#..."
     "...#..."  "...#..."  "...#..."  "...#..."  ".#####."  "......."),
    ("......."  "..###.."  ".#...#."  "#.....#"  "......#"  ".....#."
     "....#.."  "...#..."  "..#...."  ".#....."  "#######"  "......."),
    ("......."  ".####.."  "#....#."  "......#"  ".....#."  "..###.."
     ".....#."  "......#"  "......#"  "#....#."  ".####.."  "......."),
    ("......."  ".....#."  "....##."  "...#.#."  "..#..#."  ".#...#."
     "#....#."  "#######"  ".....#."  ".....#."  ".....#."  "......."),
    ("......."  "#######"  "#......"  "#......"  "#.###.."  "##...#."
     "......#"  "......#"  "#.....#"  ".#...#."  "..###.."  "......."),
    ("......."  "..###.."  ".#....."  "#......"  "#......"  "#.###.."
     "##...#."  "#.....#"  "#.....#"  ".#...#."  "..###.."  "......."),
    ("......."  "#######"  "......#"  ".....#."  "....#.."  "...#..."
     "...#..."  "..#...."  "..#...."  "..#...."  "..#...."  "......."),
    ("......."  "..###.."  ".#...#."  "#.....#"  ".#...#."  "..###.."
     ".#...#."  "#.....#"  "#.....#"  ".#...#."  "..###.."  "......."),
    ("......."  "..###.."  ".#...#."  "#.....#"  "#.....#"  ".#...##"
     "..###.#"  "......#"  "......#"  ".....#."  "..###.."  "......."),
)


def _rbf_prototypes(num_classes: int, dim: int = 84) -> list[list[float]]:
    """+1/-1 prototypes: the digit bitmaps for classes 0-9, a fixed pseudo-random code after.

    The extra codes come from a 32-bit linear congruential generator seeded with the class
    index (Numerical Recipes constants), so they are the same on every machine and NumPy version.
    """
    rows = []
    for c in range(num_classes):
        if c < len(DIGIT_BITMAPS) and dim == 84:
            rows.append([1.0 if ch == "#" else -1.0 for ch in DIGIT_BITMAPS[c]])
            continue
        state, row = (c + 1) * 2654435761 % 2**32, []
        for _ in range(dim):
            state = (1664525 * state + 1013904223) % 2**32
            row.append(1.0 if state >> 31 else -1.0)
        rows.append(row)
    return rows


def _lecun_uniform_(t, fan_in: int) -> None:
    """The paper's initialisation: uniform in (-2.4 / F_in, 2.4 / F_in), F_in the fan-in."""
    bound = 2.4 / fan_in
    nn.init.uniform_(t, -bound, bound)


class ScaledTanh(nn.Module):
    """LeCun's squashing function ``f(a) = A * tanh(S * a)`` with A = 1.7159, S = 2/3.

    f(1) = 1 and f(-1) = -1, and the second derivative is largest at +-1 (paper, Appendix A).

    Shape: input any, output the same.

    >>> ScaledTanh()(striate.tensor([1.0]))   # ~ 1.0
    """

    def __init__(self, amplitude: float = 1.7159, slope: float = 2.0 / 3.0):
        super().__init__()
        self.amplitude, self.slope = amplitude, slope

    def forward(self, x):
        return F.tanh(x * self.slope) * self.amplitude

    def extra_repr(self) -> str:
        return f"amplitude={self.amplitude}, slope={self.slope:.4f}"


class Subsampling2d(nn.Module):
    """LeNet's trainable sub-sampling: a 2x2 average times a per-map coefficient plus a bias.

    Args:
        channels (int): number of feature maps; each gets one ``weight`` and one ``bias``.
        kernel_size (int, default 2): window and stride of the (non-overlapping) average.

    Shape: (N, C, H, W) -> (N, C, floor(H / k), floor(W / k)).

    >>> Subsampling2d(6)(x)   # x (N, 6, 28, 28) -> (N, 6, 14, 14)
    """

    def __init__(self, channels: int, kernel_size: int = 2):
        super().__init__()
        self.channels, self.kernel_size = channels, kernel_size
        self.weight = nn.Parameter(xp.ones((channels,), dtype=default_dtype))
        self.bias = nn.Parameter(xp.zeros((channels,), dtype=default_dtype))

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expects input (N, {self.channels}, H, W), got {tuple(x.shape)}")
        y = F.avg_pool2d(x, self.kernel_size)
        return y * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.channels}, kernel_size={self.kernel_size}"


class ConnectionTableConv2d(nn.Module):
    """A convolution in which output map ``o`` reads only the input maps ``table[o]``.

    LeNet-5's C3 (Table I): keeps the parameter count down and breaks the symmetry between maps.
    Only the connections in the table are parameters: ``weight0``, ``weight1``, ... each hold a
    run of consecutive output maps with the same fan-in (shape (maps in run, fan-in, k, k));
    ``bias`` has one entry per output map. The forward gathers them into a full
    (out, in, k, k) kernel with zeros for the missing connections and runs one convolution:
    cheaper than one small convolution per run, and the zeros get no gradient.

    Args:
        in_channels (int): number of input maps.
        table (sequence of sequences of int): input maps of each output map.
        kernel_size (int): square kernel size (no padding, stride 1).

    Shape: (N, in_channels, H, W) -> (N, len(table), H - k + 1, W - k + 1).
    """

    def __init__(self, in_channels: int, table, kernel_size: int):
        super().__init__()
        table = tuple(tuple(int(i) for i in row) for row in table)
        for o, row in enumerate(table):
            if not row or len(set(row)) < len(row) or any(not 0 <= i < in_channels for i in row):
                raise ValueError(f"ConnectionTableConv2d: output map {o} reads {row}, "
                                 f"expected distinct indices in [0, {in_channels})")
        self.in_channels, self.table, self.kernel_size = in_channels, table, kernel_size
        self.runs: list[tuple[int, list[int]]] = []  # (maps in run, gathered input maps)
        o = 0
        while o < len(table):
            end = o
            while end < len(table) and len(table[end]) == len(table[o]):
                end += 1
            self.runs.append((end - o, [i for row in table[o:end] for i in row]))
            o = end
        for r, (maps, gathered) in enumerate(self.runs):
            fan_in = len(gathered) // maps
            w = xp.empty((maps, fan_in, kernel_size, kernel_size), dtype=default_dtype)
            setattr(self, f"weight{r}", nn.Parameter(w))
            _lecun_uniform_(getattr(self, f"weight{r}"), fan_in * kernel_size**2)
        # row of the stacked weights that each (output, input) pair of the full kernel reads;
        # pairs with no connection read the zero row appended after the last weight row
        rows = {}
        for o, row in enumerate(table):
            for i in row:
                rows[o, i] = len(rows)
        self._index = [rows.get((o, i), len(rows)) for o in range(len(table))
                       for i in range(in_channels)]
        self.bias = nn.Parameter(xp.empty((len(table),), dtype=default_dtype))
        nn.init.uniform_(self.bias, -1.0, 1.0)  # then scaled to each map's 2.4 / fan-in
        self.bias.data *= xp.asarray([2.4 / (len(row) * kernel_size**2) for row in table],
                                     dtype=default_dtype)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expects input (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        k = self.kernel_size
        stacked = F.concat([getattr(self, f"weight{r}").reshape(-1, k * k)
                            for r in range(len(self.runs))], axis=0)
        stacked = F.pad2d(stacked, (0, 0, 0, 1))  # the zero row
        w = stacked[self._index].reshape(len(self.table), self.in_channels, k, k)
        return F.conv2d(x, w, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {len(self.table)}, kernel_size={self.kernel_size}, " \
               f"connections={sum(len(r) for r in self.table)}"


class RBFOutput(nn.Module):
    """Euclidean RBF output units with fixed prototypes: ``y_i = sum_j (x_j - w_ij)^2``.

    Returns ``-y`` so that the largest output is the best class, as for any other classifier:
    ``cross_entropy(-y, t) = y_t + log sum_i exp(-y_i)`` is the paper's discriminative criterion
    (eq. 9) without its constant ``exp(-j)`` rubbish-class term. The prototypes are a buffer
    (saved in ``state_dict``, never trained): the digit bitmaps of :data:`DIGIT_BITMAPS` for
    classes 0-9 and fixed pseudo-random +1/-1 codes for any further class.

    Args:
        in_features (int, default 84): must be 84 (7x12) for the bitmap prototypes.
        num_classes (int, default 10).

    Shape: (N, in_features) -> (N, num_classes).
    """

    def __init__(self, in_features: int = 84, num_classes: int = 10):
        super().__init__()
        self.in_features, self.num_classes = in_features, num_classes
        protos = xp.asarray(_rbf_prototypes(num_classes, in_features), dtype=default_dtype)
        self.register_buffer("prototypes", protos)

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"expects input (N, {self.in_features}), got {tuple(x.shape)}")
        diff = x.reshape(x.shape[0], 1, -1) - self.prototypes.reshape(1, self.num_classes, -1)
        return -(diff * diff).sum(axis=2)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, num_classes={self.num_classes}"


def _field_padding(input_size, variant: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """((H, W), (pad_h, pad_w)): C1 zero-pads by 2 an image side smaller than the paper's 32x32
    input field (a 28x28 digit then fills it, as LeCun et al. padded MNIST) and does not pad
    from 32 up (CIFAR-10's 32x32 images: the same 61,706 parameters)."""
    size = (input_size,) * 2 if isinstance(input_size, int) else input_size
    ints = isinstance(size, (tuple, list)) and all(
        isinstance(n, int) and not isinstance(n, bool) for n in size)
    if not ints or len(size) != 2:
        raise TypeError(f"lenet5: input_size must be an int or (H, W), got {input_size!r}")
    size = tuple(size)
    pad = tuple(2 if n < 32 else 0 for n in size)
    if variant == "lecun1998" and any(n not in (28, 32) for n in size):
        raise ValueError(f"lenet5: variant='lecun1998' needs its 32x32 input field: 28x28 "
                         f"(padded by 2) or 32x32 images, got {size}")
    if any(n < 14 for n in size):
        raise ValueError(f"lenet5: input_size {size} is too small; two 5x5 convolutions and two "
                         "2x2 poolings need at least 14x14")
    return size, pad


class LeNet5(nn.Module):
    """The modern LeNet-5: ReLU and max pooling, 61,706 parameters on its 32x32 input field.

    conv 6@5x5 - ReLU - maxpool 2 - conv 16@5x5 - ReLU - maxpool 2 -
    FC 120 - ReLU - FC 84 - ReLU - FC ``num_classes``. The first convolution zero-pads by 2 an
    image smaller than 32x32 (a 28x28 digit then fills that field); larger images give a larger
    feature map and first FC layer.

    Shape: (N, in_channels, H, W) -> (N, num_classes), (H, W) = ``input_size`` (28x28 default).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size=28):
        super().__init__()
        (H, W), pad = _field_padding(input_size, "modern")
        self.input_shape = (in_channels, H, W)  # for summary and the CLI
        h, w = (((n + 2 * p - 4) // 2 - 4) // 2 for n, p in zip((H, W), pad))
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * h * w, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class LeNet5LeCun1998(nn.Module):
    """LeNet-5 as in LeCun et al. 1998, Fig. 2.

    C1 6@5x5 - S2 sub-sampling - C3 16@5x5 (Table I) - S4 - C5 120@5x5 - F6 84 - output, with
    ``1.7159 tanh(2a/3)`` after C1, S2, C3, S4, C5 and F6, and the paper's initialisation.
    C1 pads by 2, so a 28x28 MNIST digit becomes the paper's 32x32 input field (the paper pads
    the digits with background before C1; here the padding is zeros); a 32x32 input is not
    padded.

    Trainable parameters: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164 = 60,000 with
    the fixed RBF output; ``output="linear"`` replaces it by ``Linear(84, num_classes)``
    (850 more for 10 classes: 60,850).

    Shape: (N, in_channels, H, W) -> (N, num_classes), (H, W) = ``input_size`` (28x28 default).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, output: str = "rbf",
                 input_size=28):
        super().__init__()
        if output not in ("rbf", "linear"):
            raise ValueError(f"lenet5: output must be 'rbf' or 'linear', got {output!r}")
        (H, W), pad = _field_padding(input_size, "lecun1998")
        self.input_shape = (in_channels, H, W)  # for summary and the CLI
        self.c1 = nn.Conv2d(in_channels, 6, 5, padding=pad)
        self.s2 = Subsampling2d(6)
        self.c3 = ConnectionTableConv2d(6, C3_TABLE, 5)
        self.s4 = Subsampling2d(16)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.output = RBFOutput(84, num_classes) if output == "rbf" else nn.Linear(84, num_classes)
        self.act = ScaledTanh()
        for m, fan_in in ((self.c1, in_channels * 25), (self.s2, 4), (self.s4, 4),
                          (self.c5, 16 * 25), (self.f6, 120), (self.output, 84)):
            for p in m.parameters():
                _lecun_uniform_(p, fan_in)
        for p in (self.s2.weight, self.s4.weight):
            # a coefficient on the *average* of 4 inputs is 4x one on their sum, as in the paper
            p.data *= 4

    def forward(self, x):
        x = self.act(self.s2(self.act(self.c1(x))))
        x = self.act(self.s4(self.act(self.c3(x))))
        x = self.act(self.c5(x)).reshape(x.shape[0], -1)
        return self.output(self.act(self.f6(x)))


@register(input_shape=(1, 28, 28))
def lenet5(num_classes: int = 10, in_channels: int = 1, variant: str = "modern",
           output: str | None = None, input_size=28) -> nn.Module:
    """LeNet-5 for 28x28 single-channel digits (or any image size, such as CIFAR-10's 32x32).

    Args:
        num_classes (int, default 10): number of output classes.
        in_channels (int, default 1): input channels.
        variant (str, default "modern"): ``"modern"`` (ReLU, max pooling, 61,706 parameters)
            or ``"lecun1998"`` (the paper's network, 60,000 trainable parameters).
        output (str, optional): ``"lecun1998"`` only: ``"rbf"`` (default; fixed Euclidean RBF
            units, the output is minus the squared distance) or ``"linear"`` (60,850 parameters).
        input_size (int or (int, int), default 28): the image's (H, W). Below 32 the first
            convolution zero-pads by 2 (28x28 then fills the paper's 32x32 field); from 32 up
            it does not, so 28x28 and 32x32 (CIFAR-10) have the same 61,706 parameters.
            ``"lecun1998"`` takes 28 or 32; ``"modern"`` any size from 14x14, larger ones with
            a larger first FC layer.

    Shape: (N, in_channels, H, W) -> (N, num_classes).

    >>> model = lenet5(); model(striate.tensor(np.zeros((2, 1, 28, 28), np.float32))).shape
    (2, 10)
    """
    if variant == "modern":
        if output not in (None, "linear"):
            raise ValueError(f"lenet5: output={output!r} needs variant='lecun1998'; "
                             "the modern variant ends in a linear layer")
        return LeNet5(num_classes, in_channels, input_size)
    if variant == "lecun1998":
        return LeNet5LeCun1998(num_classes, in_channels, output or "rbf", input_size)
    raise ValueError(f"lenet5: variant must be 'modern' or 'lecun1998', got {variant!r}")

