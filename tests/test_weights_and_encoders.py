import pytest
import torch

from brushwork.errors import WeightsError
from brushwork.imaging import read_image, resize, to_tensor
from brushwork.models import ENCODERS, build_encoder
from brushwork.weights import WEIGHTS, find_weights, load_encoder, load_state_dict, sha256_file


def test_packaged_lite0_is_found_and_verified():
    p = find_weights("efficientnet-lite0")
    assert sha256_file(p) == WEIGHTS["efficientnet-lite0"].sha256


def test_lite0_classifies_the_cat(lite0, content_path):
    # Known value: the bundled photo is a tabby; ImageNet class 285 is "Egyptian cat", 281 "tabby".
    x = resize(to_tensor(read_image(content_path).rgb), (224, 224))
    with torch.no_grad():
        logits = lite0.net(lite0.normalize(x))
    assert int(logits.argmax()) in (281, 282, 285)


def test_lite0_taps_shapes_and_early_stop(lite0):
    x = torch.rand(1, 3, 64, 96)
    f = lite0(x, ["stem", "stage2", "block3.expand", "stage4"])
    assert f["stem"].shape == (1, 32, 32, 48)
    assert f["stage2"].shape == (1, 24, 16, 24)
    assert f["block3.expand"].shape == (1, 144, 16, 24)
    assert f["stage4"].shape == (1, 80, 4, 6)
    assert (f["block3.expand"] >= 0).all() and (f["block3.expand"] <= 6).all()  # ReLU6
    with pytest.raises(ValueError, match="unknown tap"):
        lite0(x, ["nope"])


def test_offline_vgg_without_file_says_how_to_provide(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("BRUSHWORK_VGG19_WEIGHTS", raising=False)
    with pytest.raises(WeightsError) as exc:
        load_encoder("vgg19")
    msg = str(exc.value)
    assert "--weights" in msg and "BRUSHWORK_VGG19_WEIGHTS" in msg and "--download" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("name", ["vgg19", "vgg16", "resnet50"])
def test_torchvision_format_round_trip(tmp_path, name, monkeypatch):
    torch.manual_seed(0)
    src = build_encoder(name)
    sd = src.state_dict()
    # torchvision files also carry the classifier head, which the encoder ignores
    sd.update({"classifier.0.weight": torch.zeros(2, 2)} if name.startswith("vgg") else {"fc.weight": torch.zeros(2, 2)})
    path = tmp_path / f"{name}.pth"
    torch.save(sd, path)
    with pytest.raises(WeightsError, match="--trust-weights"):
        load_encoder(name, path)  # not the published file
    from brushwork.weights import WEIGHTS

    env = WEIGHTS[ENCODERS[name].weights].env_var
    monkeypatch.setenv(env, str(path))
    with pytest.raises(WeightsError, match=f"from {env}.* unset {env}"):  # the variable is for the published file
        load_encoder(name)
    monkeypatch.delenv(env)
    enc = load_encoder(name, path, trust_weights=True)
    x = torch.rand(1, 3, 64, 64)
    taps = ENCODERS[name].style_taps
    with torch.no_grad():
        a, b = src.eval()(x, taps), enc(x, taps)
    for t in taps:
        torch.testing.assert_close(a[t], b[t])


def test_env_var_is_used(tmp_path, monkeypatch):
    torch.save(build_encoder("vgg16").state_dict(), tmp_path / "v.pth")
    monkeypatch.setenv("BRUSHWORK_VGG16_WEIGHTS", str(tmp_path / "v.pth"))
    assert find_weights("vgg16", trust=True) == tmp_path / "v.pth"


def test_corrupt_and_wrong_architecture(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(WeightsError, match="corrupt"):
        load_state_dict(bad)
    with pytest.raises(WeightsError, match="corrupt"):
        load_encoder("vgg19", bad, trust_weights=True)
    torch.save(build_encoder("vgg16").state_dict(), tmp_path / "v16.pth")
    with pytest.raises(WeightsError, match="not a vgg19 state dict"):
        load_encoder("vgg19", tmp_path / "v16.pth", trust_weights=True)


def test_missing_user_file():
    with pytest.raises(WeightsError, match="does not exist"):
        find_weights("vgg19", "/no/such/file.pth")


def test_download_is_verified_and_atomic(tmp_path, monkeypatch):
    # A file:// URL exercises the real download code without a network.
    import dataclasses

    from brushwork import weights as W

    sd = build_encoder("vgg16").state_dict()
    src = tmp_path / "src.pth"
    torch.save(sd, src)
    good = dataclasses.replace(W.WEIGHTS["vgg16"], url=src.as_uri(), sha256=sha256_file(src))
    monkeypatch.setitem(W.WEIGHTS, "vgg16", good)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BRUSHWORK_VGG16_WEIGHTS", raising=False)
    with pytest.raises(WeightsError, match="no vgg16 weights found"):
        find_weights("vgg16")  # downloads only when allowed
    p = find_weights("vgg16", allow_download=True)
    assert p.parent == tmp_path / "home" / "hub" / "checkpoints" and sha256_file(p) == good.sha256
    bad = dataclasses.replace(good, sha256="0" * 64, filename="other.pth")
    monkeypatch.setitem(W.WEIGHTS, "vgg16", bad)
    with pytest.raises(WeightsError, match="corrupt"):
        find_weights("vgg16", allow_download=True)
    assert not (p.parent / "other.pth").exists()
    assert [q.name for q in p.parent.iterdir()] == [p.name]


def test_fused_batchnorm_matches_unfused(lite0):
    from brushwork.weights import find_weights

    plain = build_encoder("efficientnet-lite0")
    plain.load_backbone_state_dict(load_state_dict(find_weights("efficientnet-lite0")))
    plain.eval()
    assert lite0.fused and not plain.fused
    x = torch.rand(1, 3, 72, 100)
    taps = ["stem", "block1.expand", "block3.dw", "stage4", "stage6"]
    with torch.no_grad():
        a, b = plain(x, taps), lite0(x, taps)
    for t in taps:
        torch.testing.assert_close(a[t], b[t], rtol=1e-4, atol=1e-4)
    # gradients through the in-place activations agree as well
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    plain(xa, ["block5.expand"])["block5.expand"].pow(2).mean().backward()
    lite0(xb, ["block5.expand"])["block5.expand"].pow(2).mean().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-3, atol=1e-6)


def test_old_batch_norm_files_and_a_torchvision_vgg_given_as_vgg_normalised():
    from brushwork.models.encoders import check_state_dict
    from brushwork.models.vgg_adain import VGGNormalisedEncoder

    bn = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    old = {k: v for k, v in bn.state_dict().items() if not k.endswith("num_batches_tracked")}  # before PyTorch 0.4.1
    assert "1.num_batches_tracked" in check_state_dict(bn, old, "tiny")
    with pytest.raises(ValueError, match="1 missing"):  # a real weight missing is still refused
        check_state_dict(bn, {k: v for k, v in old.items() if k != "1.weight"}, "tiny")
    with pytest.raises(ValueError, match="not vgg_normalised.pth .*'features.0.weight'"):
        VGGNormalisedEncoder().load_backbone_state_dict({"features.0.weight": torch.zeros(1)})


def test_decoder_configs_that_do_not_fit_and_files_named_otherwise(tmp_path, random_decoder_dir):
    """A decoder whose config.json names a tap its encoder lacks, or one of other channels, and a config that
    is not an object, are one line (they were tracebacks at stylize time); a safetensors file named .pth or
    .SAFETENSORS loads; NaN in an encoder's file says to replace it (not to train again)."""
    import json
    import shutil

    import numpy as np
    import pytest
    import torch
    from safetensors.torch import save_file

    import brushwork
    from brushwork.errors import BrushworkError
    from brushwork.weights import load_state_dict

    content = np.full((64, 64, 3), 0.5, np.float32)
    for name, edit, said in (("tap", lambda c: {**c, "tap": "blockZ"}, "does not have"),
                             ("channels", lambda c: {**c, "tap": "block11.expand"}, "channels at stride"),
                             ("list", lambda c: [1, 2], "missing or invalid")):
        d = tmp_path / name
        shutil.copytree(random_decoder_dir, d)
        raw = json.loads((d / "config.json").read_text())
        cfg = raw.get("decoder", raw)
        new = edit(cfg)
        (d / "config.json").write_text(json.dumps({**raw, "decoder": new} if "decoder" in raw and not isinstance(
            new, list) else new))
        with pytest.raises(BrushworkError, match=said):
            brushwork.stylize(content, content, method="adain", decoder=d, size=64)
    sd = {"w": torch.ones(2, 2)}
    for name in ("a.pth", "b.SAFETENSORS"):
        save_file(sd, str(tmp_path / name))
        assert torch.equal(load_state_dict(tmp_path / name)["w"], sd["w"])
    torch.save({"w": torch.full((2,), float("nan"))}, tmp_path / "nan.pth")
    with pytest.raises(BrushworkError, match="replace it with a good copy"):
        load_state_dict(tmp_path / "nan.pth", what="vgg19 weights")


def test_a_missing_bundled_model_says_to_reinstall_brushwork(monkeypatch):
    """Weights shipped inside brushwork, missing from an install, are named as such: the message suggested
    --weights (the encoder's option) and a torch-hub file name that every bundled model shares."""
    import dataclasses

    import pytest

    from brushwork import weights as w

    spec = dataclasses.replace(w.WEIGHTS["adain-lite0"], bundled="data/models/nowhere/model.safetensors")
    monkeypatch.setitem(w.WEIGHTS, "adain-lite0", spec)
    monkeypatch.delenv(spec.env_var, raising=False)
    with pytest.raises(w.WeightsError, match="missing from its install.*reinstall brushwork") as err:
        w.find_weights("adain-lite0")
    assert "--weights" not in str(err.value) and "hub" not in str(err.value)


def test_an_unusable_hub_cache_is_named(tmp_path, monkeypatch):
    """TORCH_HOME that is a file (or not writable) is named with the way out, not as a generic path error."""
    import pytest

    from brushwork import weights as w

    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "afile"))
    spec = w.WEIGHTS["vgg19"]
    with pytest.raises(w.WeightsError, match="set TORCH_HOME to a writable folder"):
        w._download(spec.url, w._hub_dir() / spec.filename, spec)


def test_a_missing_weights_file_is_called_missing(tmp_path):
    """(training audit) A deleted checkpoint file was "corrupt or not a PyTorch state dict (FileNotFoundError)"."""
    from brushwork.weights import load_state_dict

    with pytest.raises(WeightsError, match="is missing: restore it from a copy, or start over with --no-resume"):
        load_state_dict(tmp_path / "checkpoint" / "model.safetensors", what="checkpoint weights")
    with pytest.raises(WeightsError, match="is missing: check the path"):
        load_state_dict(tmp_path / "decoder.pth", what="decoder weights")
