"""Data: datasets, the DataLoader and transforms.

>>> from striate.data import DataLoader, datasets, transforms as T
>>> tf = T.Compose([T.ToFloat(), T.Normalize(0.1307, 0.3081)])
>>> train = datasets.MNIST(sample=True, transform=tf)
>>> x, y = next(iter(DataLoader(train, batch_size=64, shuffle=True, seed=0)))
>>> x.shape
(64, 1, 28, 28)
"""

from . import datasets, transforms
from .dataloader import DataLoader
from .dataset import ArrayDataset, Dataset, Subset, random_split

__all__ = [
    "Dataset",
    "ArrayDataset",
    "Subset",
    "random_split",
    "DataLoader",
    "datasets",
    "transforms",
]
