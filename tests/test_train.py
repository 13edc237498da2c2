"""The training loop: learning, evaluation, checkpoints, bit-identical resume, non-finite losses."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import striate
from striate import data, nn, optim
from striate.train import History, NonFiniteLossError, evaluate, fit, predict


def small_cnn(dropout=0.0):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(dropout), nn.Linear(32 * 7 * 7, 10),
    )


def sample_loaders(n_train=None, seed=0, batch_size=64):
    tf = data.transforms.Compose([data.transforms.ToFloat(), data.transforms.Normalize([0.13], [0.31])])
    tr, te = data.datasets.load("sample"), data.datasets.load("sample", train=False)
    if n_train is not None:
        tr = data.ArrayDataset(tr.images[:n_train], tr.labels[:n_train])
    return (data.DataLoader(tr, batch_size=batch_size, shuffle=True, seed=seed, transform=tf),
            data.DataLoader(te, batch_size=500, transform=tf))


def test_small_cnn_learns_embedded_sample_above_95_percent(tmp_path):
    striate.manual_seed(0)
    model = small_cnn()
    train, test = sample_loaders()
    opt = optim.Adam(model.parameters(), lr=2e-3)
    history = fit(model, train, epochs=3, optimizer=opt, val_data=test, out_dir=str(tmp_path), quiet=True)
    res = evaluate(model, test)
    assert res["accuracy"] > 0.95, res["accuracy"]
    np.testing.assert_allclose(history["val_accuracy"][-1], res["accuracy"])
    assert history["loss"][-1] < history["loss"][0]
    # the confusion matrix rows are the true classes: its trace is the number correct
    cm = res["confusion_matrix"]
    assert cm.shape == (10, 10) and cm.sum() == 1000
    np.testing.assert_allclose(np.trace(cm) / cm.sum(), res["accuracy"])
    for name in ("last.ckpt", "best.ckpt", "history.csv"):
        assert (tmp_path / name).stat().st_size > 0


def test_evaluate_top5_is_at_least_top1_and_predict_gives_probabilities():
    striate.manual_seed(1)
    model = small_cnn()
    _, test = sample_loaders()
    res = evaluate(model, test)
    assert res["top5"] >= res["accuracy"]
    x = data.datasets.load("sample", train=False).images[:7].astype(np.float32) / 255
    p = predict(model, x)
    assert p.shape == (7, 10)
    np.testing.assert_allclose(p.sum(axis=1), np.ones(7), rtol=1e-5)


def test_history_csv_round_trip(tmp_path):
    h = History([{"epoch": 1, "loss": 0.5, "accuracy": 0.9}, {"epoch": 2, "loss": 0.25, "accuracy": 0.95}])
    h.to_csv(str(tmp_path / "h.csv"))
    back = History.from_csv(str(tmp_path / "h.csv"))
    assert back.rows == h.rows


def _weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def _run(tmp_path, epochs, resume=None, checkpoint_every=None, nan_at=None, skip=False):
    striate.manual_seed(3)
    model = small_cnn(dropout=0.3)  # dropout makes the global RNG state matter for resume
    train, _ = sample_loaders(n_train=640, seed=5)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loss = striate.F.cross_entropy
    if nan_at is not None:
        calls = {"n": 0}

        def loss(logits, y, **kw):
            calls["n"] += 1
            out = striate.F.cross_entropy(logits, y, **kw)
            return out * float("nan") if calls["n"] == nan_at else out

    fit(model, train, epochs=epochs, optimizer=opt, scheduler=sched, loss=loss, out_dir=str(tmp_path),
        resume=resume, checkpoint_every=checkpoint_every, quiet=True, skip_nonfinite=skip)
    return model


def test_resume_from_mid_epoch_checkpoint_is_bit_identical(tmp_path):
    full = _weights(_run(tmp_path / "a", epochs=2))
    # 10 steps an epoch: a NaN at the 15th loss stops the run at epoch 2, step 5, and the
    # checkpoint of epoch 2, step 4 (every 2 steps) is the one to resume from
    with pytest.raises(NonFiniteLossError, match="epoch 2, step 5"):
        _run(tmp_path / "b", epochs=2, checkpoint_every=2, nan_at=15)
    state = striate.load(str(tmp_path / "b" / "last.ckpt"))
    assert (state["epoch"], state["step"]) == (1, 4)
    resumed = _weights(_run(tmp_path / "b", epochs=2, resume=str(tmp_path / "b" / "last.ckpt")))
    for k in full:
        np.testing.assert_array_equal(resumed[k], full[k], err_msg=k)


def test_nonfinite_loss_stops_with_epoch_step_and_keeps_last_checkpoint(tmp_path):
    _run(tmp_path, epochs=1)
    before = (tmp_path / "last.ckpt").read_bytes()
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 4; last finite loss [0-9.]+"):
        _run(tmp_path, epochs=1, nan_at=4)
    assert (tmp_path / "last.ckpt").read_bytes() == before


def test_skip_nonfinite_skips_the_batch_and_finishes(tmp_path):
    model = _run(tmp_path, epochs=1, nan_at=2, skip=True)
    for k, v in model.state_dict().items():
        assert np.isfinite(v).all(), k


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    import striate
    from striate import optim
    sys.path.insert(0, {tests!r})
    from test_train import small_cnn, sample_loaders
    from striate.train import fit
    striate.manual_seed(3)
    model = small_cnn(dropout=0.3)
    train, _ = sample_loaders(n_train=1280, seed=5)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    resume = sys.argv[2] if len(sys.argv) > 2 else None
    slow = resume is None
    def cb_loss(logits, y, **kw):
        if slow:
            time.sleep(0.05)  # give the parent time to kill us mid-epoch
        return striate.F.cross_entropy(logits, y, **kw)
    fit(model, train, epochs=2, optimizer=opt, loss=cb_loss, out_dir=sys.argv[1], resume=resume,
        checkpoint_every=2, quiet=True)
    striate.save(model.state_dict(), sys.argv[1] + "/final.ckpt")
""")


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=os.path.dirname(__file__)))
    env = dict(os.environ, PYTHONHASHSEED="0")
    ref_dir, kill_dir = tmp_path / "ref", tmp_path / "kill"
    subprocess.run([sys.executable, str(script), str(ref_dir)], check=True, env=env, timeout=600)
    proc = subprocess.Popen([sys.executable, str(script), str(kill_dir)], env=env)
    ckpt = kill_dir / "last.ckpt"
    deadline = time.time() + 300
    while time.time() < deadline and not ckpt.exists():
        time.sleep(0.05)
    time.sleep(1.3)  # a few more steps into the epoch, so the kill lands mid-epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists(), "the run never wrote a checkpoint"
    state = striate.load(str(ckpt))
    assert state["step"] > 0 or state["epoch"] > 0
    subprocess.run([sys.executable, str(script), str(kill_dir), str(ckpt)], check=True, env=env, timeout=600)
    ref, got = striate.load(str(ref_dir / "final.ckpt")), striate.load(str(kill_dir / "final.ckpt"))
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k], err_msg=k)


def test_fit_rejects_bad_epochs_and_data():
    model = small_cnn()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="fit: epochs must be a positive int, got 0"):
        fit(model, (np.zeros((4, 1, 28, 28)), np.zeros(4, dtype=np.int64)), epochs=0, optimizer=opt)
    with pytest.raises(TypeError, match="fit: data must be a DataLoader"):
        fit(model, 42, epochs=1, optimizer=opt)
