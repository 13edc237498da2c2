"""A tiny finished training run shared by the report and command-line tests."""
import numpy as np
import pytest

import striate
from striate import optim
from striate.train import fit

MEAN, STD = 0.1307, 0.3081


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """LeNet-5 after one epoch on 256 embedded sample digits, written like ``striate train``."""
    out = tmp_path_factory.mktemp("run")
    striate.manual_seed(0)
    train = striate.data.datasets.load("sample", train=True)
    test = striate.data.datasets.load("sample", train=False)

    def prep(images):
        return (images.astype(np.float32) / 255 - MEAN) / STD

    model = striate.models.lenet5()
    meta = {"model": "lenet5", "model_kwargs": {"in_channels": 1, "num_classes": 10},
            "data": "sample", "mean": [MEAN], "std": [STD], "input_shape": [1, 28, 28],
            "classes": list(train.classes), "command": "striate train lenet5 --epochs 1"}
    fit(model, (prep(train.images[:256]), train.labels[:256]), epochs=1, batch_size=64,
        optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        val_data=(prep(test.images[:128]), test.labels[:128]), out_dir=str(out), quiet=True,
        metadata=meta)
    return {"dir": out, "model": model, "meta": meta, "test": test, "prep": prep}
