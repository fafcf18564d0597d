"""The training engine and the AdaIN recipe on tiny models and synthetic images."""

import numpy as np
import torch

from brushwork.cli import main
from brushwork.models.adain import AdaINNet, Decoder, DecoderConfig
from brushwork.training.adain import AdaINTrainConfig, train_adain
from brushwork.training.engine import load_model_state

TINY = DecoderConfig(tap="block3.expand", in_channels=144, widths=(16, 8, 8))  # stride 4


def test_decoder_shapes_and_config_round_trip():
    d = Decoder(TINY)
    assert d.stride == 4
    assert d(torch.rand(2, 144, 8, 12)).shape == (2, 3, 32, 48)
    assert DecoderConfig.from_dict(TINY.to_dict()) == TINY
    assert sum(p.numel() for p in Decoder().parameters()) < 5_000_000


def test_tiny_training_lowers_the_loss_and_saves(tmp_path, lite0):
    cfg = AdaINTrainConfig(size=32, batch=4, steps=40, lr=3e-3, sample_every=20)
    tr = train_adain([], [], str(tmp_path), config=cfg, decoder_config=TINY, dry_run=True, progress=False)
    losses = [h["loss"] for h in tr.history]
    assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:8])
    assert (tmp_path / "samples" / "step_000020.png").exists()
    weights, config = load_model_state(tmp_path / "checkpoint")
    dec = Decoder(DecoderConfig.from_dict(config["decoder"]))
    dec.load_state_dict(weights)
    net = AdaINNet(lite0, dec.eval())
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net(x, x.flip(-1), alpha=0.0), dec(net.features(x)).clamp(0, 1))
        torch.testing.assert_close(dec(net.features(x)), tr.model(net.features(x)))


def test_resume_continues_from_the_checkpoint(tmp_path):
    kw = dict(decoder_config=TINY, dry_run=True, progress=False)
    first = train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=32, batch=2, steps=3), **kw)
    w3 = {k: v.clone() for k, v in first.model.state_dict().items()}
    again = train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=32, batch=2, steps=5), **kw)
    assert again.step == 5 and len(again.history) == 2
    assert any(not torch.equal(w3[k], v) for k, v in again.model.state_dict().items())
    lines = (tmp_path / "log.csv").read_text().strip().splitlines()
    assert lines[0].startswith("step,loss") and lines[-1].startswith("5,")


def test_cli_dry_run_and_missing_data(tmp_path, capsys):
    assert main(["adain", "train", "--out", str(tmp_path / "o"), "--dry-run", "--steps", "2", "--size", "32",
                 "--batch", "2", "-q"]) == 0
    assert "trained to step 2" in capsys.readouterr().out
    assert main(["adain", "train", "--out", str(tmp_path / "o2"), "--content", str(tmp_path / "nothing"),
                 "--style", str(tmp_path)]) == 2
    assert "neither a folder nor a dataset" in capsys.readouterr().err
