"""PyTorch DDP under torchrun with two CPU processes (gloo): the same global batch and seed give the same
weights as one process, and a run resumes on a different number of processes.

Tolerance: the two runs differ only in the order of floating-point sums (each process averages its half of
the batch, then DDP averages the halves), about 1e-7 relative per operation; AdamW turns gradients into
steps of about the learning rate whatever their size, so those differences stay near 1e-6 after a few
dozen steps. The tests allow 1e-4 and also check that a different seed moves the weights by far more
(about 1e-2 and above), so the comparison can fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

TOL = 1e-4


def _torchrun(n: int, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # --standalone: the rendezvous store binds a free port itself (picking one here and passing it on
    # left a moment in which another process could take it)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BRUSHWORK_GALLERY": "off"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _max_diff(a: Path, b: Path) -> float:
    wa, wb = load_file(str(a)), load_file(str(b))
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


def _dataset(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for i, c in enumerate(("ink", "paint", "pixel")):
        (root / c).mkdir(parents=True)
        for j in range(16):
            arr = rng.integers(0, 255, (24, 24, 3)).astype(np.uint8)
            arr[..., i] = 230
            Image.fromarray(arr).save(root / c / f"{j}.png")
    return root


@pytest.mark.slow
def test_classifier_two_processes_match_one(tmp_path):
    data = _dataset(tmp_path / "data")
    common = ["classify", "train", str(data), "--model", "seed-cnn", "--epochs", "3", "--batch", "8", "--size", "24",
              "--dropout", "0", "--augment", "none", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BRUSHWORK_GALLERY": "off"}
    one = subprocess.run([sys.executable, "-m", "brushwork", *common, "--out", str(tmp_path / "one"), "--seed", "0"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert one.returncode == 0, one.stderr[-2000:]
    two = _torchrun(2, ["-m", "brushwork", *common, "--out", str(tmp_path / "two"), "--seed", "0"], tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    other = subprocess.run([sys.executable, "-m", "brushwork", *common, "--out", str(tmp_path / "seed1"), "--seed", "1"],
                           capture_output=True, text=True, env=env, timeout=600)
    assert other.returncode == 0, other.stderr[-2000:]
    w = lambda d: tmp_path / d / "checkpoint" / "model.safetensors"  # noqa: E731
    same, seeds = _max_diff(w("one"), w("two")), _max_diff(w("one"), w("seed1"))
    print(f"classifier: 1 vs 2 processes max |dw| = {same:.2e}; seed 0 vs seed 1: {seeds:.2e}")
    assert same < TOL, same
    assert seeds > 100 * TOL  # the comparison can tell runs apart
    # Only rank 0 wrote: one log, one report.
    assert two.stdout.count("trained 3 epoch(s)") == 1
    assert (tmp_path / "two" / "log.csv").read_text().count("\n") > 1
    # ... and it logs the whole batch's loss, as the one process does (not rank 0's half of it)
    losses = lambda d: [float(r.split(",")[1]) for r in (tmp_path / d / "log.csv").read_text().splitlines()[1:]]  # noqa: E731
    assert np.allclose(losses("one"), losses("two"), rtol=1e-4, atol=1e-5), (losses("one"), losses("two"))
    # An odd batch cannot be split evenly: one clear line.
    bad = _torchrun(2, ["-m", "brushwork", *common[:-1], "--batch", "7", "--out", str(tmp_path / "bad")], tmp_path)
    assert bad.returncode != 0 and "split evenly" in bad.stderr
    # Rank 0 failing at its own file work before training (a folder where its epochs.csv goes): every process
    # stops with one line, none is left to die in a collective with a traceback.
    (tmp_path / "cf" / "epochs.csv").mkdir(parents=True)
    cf = _torchrun(2, ["-m", "brushwork", *common, "--out", str(tmp_path / "cf")], tmp_path)
    worker_trace = [ln for ln in cf.stderr.splitlines() if "Traceback" in ln and "rank" in ln]  # (not torchrun's own)
    assert cf.returncode != 0 and not worker_trace and "gloo" not in cf.stderr, cf.stderr[-3000:]
    assert "the main process (rank 0) stopped" in cf.stderr and "epochs.csv" in cf.stderr


def test_commands_that_do_not_split_refuse_torchrun(tmp_path, monkeypatch, capsys):
    """Under torchrun, a command that does not share its work (one picture, a video, the studio) would run once per
    process and write and record its output as many times: it is refused, in one line."""
    from brushwork.cli import main
    from brushwork.pipelines.stylize import sample_path

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")  # (as torchrun sets it for its workers)
    for argv in (["stylize", str(sample_path("content")), str(sample_path("style")), "-o", str(tmp_path / "x.png")],
                 ["video", str(tmp_path), str(sample_path("style")), "-o", str(tmp_path / "v.gif")],
                 ["serve"], ["classify", "eval", "medium", str(tmp_path)]):
        monkeypatch.setattr(sys, "argv", ["brushwork", *argv])  # the program, as torchrun runs it
        assert main() == 2, argv
        err = capsys.readouterr().err
        assert f"`brushwork {argv[0]}" in err and "runs in one process" in err and err.count("\n") == 1
    # a folder that is not there is named as missing, not as a command for one process
    monkeypatch.setattr(sys, "argv", ["brushwork", "palette", str(tmp_path / "typo"), "--out", str(tmp_path / "p")])
    assert main() == 2 and "does not exist" in capsys.readouterr().err
    # main(argv) called from Python (reproduce() does) runs where it is called
    assert main(["inspect", str(sample_path("content"))]) == 2 and "runs in one process" not in capsys.readouterr().err


@pytest.mark.slow
def test_adain_and_gan_recipes_under_torchrun(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BRUSHWORK_GALLERY": "off"}
    ad = ["adain", "train", "--dry-run", "--steps", "1", "--batch", "4", "--size", "64", "-q"]
    one = subprocess.run([sys.executable, "-m", "brushwork", *ad, "--out", str(tmp_path / "a1")], capture_output=True,
                         text=True, env=env, timeout=600)
    assert one.returncode == 0, one.stderr[-2000:]
    two = _torchrun(2, ["-m", "brushwork", *ad, "--out", str(tmp_path / "a2")], tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    # One step: the relative losses are rescaled to the global batch (see training/adain.py), so the two
    # processes' averaged gradient is the global one. Only one step is compared: Adam divides by the
    # root of tiny second moments, and over several steps it amplifies float32 rounding in near-zero
    # gradients into differences of ~1e-5 (the same happens in ONE process when the batch is merely
    # split in two and accumulated: measured 2.6e-5 median after 6 steps).
    diff = _max_diff(tmp_path / "a1" / "checkpoint" / "model.safetensors", tmp_path / "a2" / "checkpoint" / "model.safetensors")
    print(f"adain: 1 vs 2 processes after one step max |dw| = {diff:.2e}")
    assert diff < TOL, diff
    # Resume on another number of processes, a real recipe: one step on two processes (a time limit
    # that is spent at once), then one process to step 3, against three steps on one process. The data
    # stream continues (the resumed run skips the batch the first step used), so step 3's loss is the
    # straight run's: a replayed batch would give another loss (step 1's was 2.43 here, step 3's 2.33).
    ad3 = [*ad[:4], "3", *ad[5:]]  # --steps 3
    straight = subprocess.run([sys.executable, "-m", "brushwork", *ad3, "--out", str(tmp_path / "s")],
                              capture_output=True, text=True, env=env, timeout=600)
    assert straight.returncode == 0, straight.stderr[-2000:]
    first = _torchrun(2, ["-m", "brushwork", *ad3, "--out", str(tmp_path / "r"), "--minutes", "0.000001"], tmp_path)
    assert first.returncode == 0 and "trained to step 1;" in first.stdout, first.stderr[-3000:]
    rest = subprocess.run([sys.executable, "-m", "brushwork", *ad3, "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert rest.returncode == 0, rest.stderr[-2000:]
    last = lambda d: float((tmp_path / d / "log.csv").read_text().strip().splitlines()[-1].split(",")[1])  # noqa: E731
    assert (tmp_path / "r" / "log.csv").read_text().startswith("step,loss")
    assert abs(last("r") - last("s")) < 1e-3 * last("s"), (last("r"), last("s"))
    # The GAN: the generator's batch norm sees each process's half on CPUs (SyncBatchNorm needs CUDA) and
    # each process draws its own latents, so no equality is claimed: it trains, rank 0 writes once, and
    # the checkpoint resumes on one process.
    gan_dir = tmp_path / "gan"
    data = _dataset(tmp_path / "sprites")
    gan = ["gan", "train", str(data), "--size", "32", "--width", "8", "--batch", "8", "--sample-every", "2", "-q",
           "--no-index", "--out", str(gan_dir)]
    two = _torchrun(2, ["-m", "brushwork", *gan, "--steps", "4"], tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("trained to step 4") == 1 and (gan_dir / "samples" / "step_000004.png").is_file()
    more = subprocess.run([sys.executable, "-m", "brushwork", *gan, "--steps", "6"], capture_output=True, text=True,
                          env=env, timeout=600)
    assert more.returncode == 0 and "trained to step 6" in more.stdout, more.stderr[-2000:]
    # Rank 0 failing at its end-of-run files (a file where the samples folder goes): every process stops with one
    # line (the others had waited in a barrier that rank 0 had left, and died there with a traceback); and a
    # training split smaller than --batch is one short batch split over the processes (it was refused as "not a
    # multiple of 2" for --batch 4)
    bad = tmp_path / "gs"
    bad.mkdir()
    (bad / "samples").write_text("x")
    ended = _torchrun(2, ["-m", "brushwork", *gan[:-1], str(bad), "--steps", "1", "--sample-every", "100"], tmp_path)
    worker_trace = [ln for ln in ended.stderr.splitlines() if "Traceback" in ln and "rank" in ln]
    assert ended.returncode != 0 and not worker_trace and "gloo" not in ended.stderr, ended.stderr[-3000:]
    assert "the main process (rank 0) stopped" in ended.stderr
    few = tmp_path / "few"
    for c, n in (("a", 2), ("b", 3)):
        (few / c).mkdir(parents=True)
        for j in range(n):
            Image.fromarray(np.full((16, 16, 3), 60 * j + 40 * (c == "b"), np.uint8)).save(few / c / f"{j}.png")
    small = _torchrun(2, ["-m", "brushwork", "classify", "train", str(few), "--out", str(tmp_path / "c5"), "--epochs",
                          "1", "--batch", "4", "--size", "16", "-q"], tmp_path)
    assert small.returncode == 0, small.stderr[-3000:]


_SCRIPT = textwrap.dedent('''
    """A tiny regression trained by the generic Trainer: run by torchrun or plainly."""
    import sys
    import torch
    from brushwork import distributed
    from brushwork.training.engine import Trainer, TrainerConfig

    out, steps = sys.argv[1], int(sys.argv[2])
    world = distributed.setup(torch.device("cpu"))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    ddp = distributed.wrap(model)
    gen = torch.Generator().manual_seed(1)
    true_w = torch.randn(6, 1, generator=gen)

    def batches():
        g = torch.Generator().manual_seed(2)
        while True:  # every process draws the same global batch
            x = torch.randn(16, 6, generator=g)
            yield x, x @ true_w

    def step_fn(batch):
        x, y = distributed.shard_batch(*batch)
        return torch.nn.functional.mse_loss(ddp(x), y), {}

    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    t = Trainer(ddp, {"toy": True}, opt, step_fn, batches(),
                TrainerConfig(out_dir=out, steps=steps, progress=False, checkpoint_every=5, log_every=1))
    if t.resume():
        it = batches()
        for _ in range(t.step):  # the data stream continues where the checkpoint left it
            next(it)
        t.batches = it
    t.fit()
    distributed.exit_process(0)  # as python -m brushwork does (see exit_process)
''')


@pytest.mark.slow
def test_resume_on_a_different_number_of_processes(tmp_path):
    script = tmp_path / "toy.py"
    script.write_text(_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    straight = subprocess.run([sys.executable, str(script), str(tmp_path / "a"), "20"], capture_output=True, text=True,
                              env=env, timeout=300)
    assert straight.returncode == 0, straight.stderr[-2000:]
    half = _torchrun(2, [str(script), str(tmp_path / "b"), "10"], tmp_path)  # two processes, then ...
    assert half.returncode == 0, half.stderr[-3000:]
    rest = subprocess.run([sys.executable, str(script), str(tmp_path / "b"), "20"], capture_output=True, text=True,
                          env=env, timeout=300)  # ... one process finishes the run
    assert rest.returncode == 0, rest.stderr[-2000:]
    diff = _max_diff(tmp_path / "a" / "checkpoint" / "model.safetensors",
                     tmp_path / "b" / "checkpoint" / "model.safetensors")
    print(f"toy: 20 steps on 1 process vs 10 on 2 + 10 on 1: max |dw| = {diff:.2e}")
    assert diff < TOL, diff
    log = (tmp_path / "b" / "log.csv").read_text().strip().splitlines()
    assert len(log) == 1 + 20  # one header, every step once: rank 1 wrote nothing


@pytest.mark.slow
def test_folder_work_split_over_two_processes_at_once(tmp_path, random_decoder_dir):
    from brushwork.pipelines.stylize import sample_path

    src = tmp_path / "photos"
    src.mkdir()
    base = Image.open(sample_path("content")).convert("RGB")
    base.thumbnail((96, 96))
    for i in range(8):
        base.rotate(i * 7).save(src / f"p{i}.png")
    out = tmp_path / "styled"
    run = _torchrun(2, ["-m", "brushwork", "stylize", str(src), str(sample_path("style")), "-o", str(out),
                        "--method", "adain", "--decoder", str(random_decoder_dir), "--size", "64", "-q"], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    shares = sorted(re.findall(r"process (\d) of 2: (\d+) written", run.stdout))  # anywhere in a line
    written = [int(n) for _, n in shares]
    assert [r for r, _ in shares] == ["1", "2"], run.stdout
    assert sum(written) == 8 and min(written) > 0  # each did a share, none twice
    assert sorted(p.name for p in out.glob("*.png")) == [f"p{i}.png" for i in range(8)]
    pal = _torchrun(2, ["-m", "brushwork", "palette", str(src), "--out", str(tmp_path / "pal"), "-q"], tmp_path)
    assert pal.returncode == 0, pal.stderr[-3000:]
    assert len(list((tmp_path / "pal").glob("*.json"))) == 8
