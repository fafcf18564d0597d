"""The decoder shipped with brushwork: checksum, reconstruction, strength, tiling, flicker.

These use the real model (92 k decoder parameters, fast on a CPU) on photos held out of its training
(scikit-image's, bundled as samples).
"""

import numpy as np
import pytest
import torch

from brushwork.functional import gram_matrix, mean_std
from brushwork.imaging import read_image, resize, to_tensor
from brushwork.models.adain import AdaINNet
from brushwork.pipelines.adain import adain_transfer, tile_starts
from brushwork.pipelines.video import stylize_frames
from brushwork.weights import WEIGHTS, find_weights, load_decoder, sha256_file

from helpers import pan_frames

#: This photo measures 23.0 dB at this size; BENCHMARKS.md gives the mean over six held-out photos
#: at 512 px (21.0 dB). The first guards against regressions, the second is the issue's target.
RECON_PSNR_DB = 22.0
TARGET_RECON_PSNR_DB = 18.0


@pytest.fixture(scope="module")
def net(lite0):
    return AdaINNet(lite0, load_decoder())


@pytest.fixture(scope="module")
def photo(content_path):
    return resize(to_tensor(read_image(content_path).rgb), (384, 256))


@pytest.fixture(scope="module")
def painting(style_path):
    return resize(to_tensor(read_image(style_path).rgb), (320, 256))


def test_shipped_weights_load_and_match_their_checksum():
    path = find_weights("adain-lite0")
    assert sha256_file(path) == WEIGHTS["adain-lite0"].sha256
    assert (path.parent / "MANIFEST.json").is_file()
    assert sum(p.numel() for p in load_decoder().parameters()) < 5_000_000


def _recon_psnr(net, photo):
    y = adain_transfer(net, photo, [photo], alpha=0.0, tile=None)
    return 10 * np.log10(1.0 / float((y - photo).pow(2).mean()))


def test_reconstruction_psnr_on_a_held_out_photo(net, photo):
    assert _recon_psnr(net, photo) >= RECON_PSNR_DB


def test_reconstruction_reaches_the_target(net, photo):
    assert _recon_psnr(net, photo) >= TARGET_RECON_PSNR_DB


@pytest.mark.parametrize("transform", ["adain", "wct"])
def test_style_statistics_move_monotonically_with_strength(net, photo, painting, transform):
    taps = ["stem", "block1.expand", "block3.expand", "block5.expand"]
    with torch.no_grad():
        target = {t: mean_std(f) for t, f in net.encoder(painting, taps).items()}

    def distance(img):
        with torch.no_grad():
            feats = net.encoder(img, taps)
        total = 0.0
        for t in taps:
            m, s = mean_std(feats[t])
            tm, ts = target[t]
            total += float(((m - tm) ** 2).sum() + ((s - ts) ** 2).sum()) / float((tm**2).sum() + (ts**2).sum())
        return total

    d = [distance(adain_transfer(net, photo, [painting], alpha=a, tile=None, transform=transform))
         for a in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert all(b < a for a, b in zip(d, d[1:])), d
    assert d[-1] < 0.5 * d[0], d


def test_wct_matches_the_style_gram_matrices_closer_than_adain(net, photo, painting):
    """What ``--transform wct`` is for: the Gram matrices at Lite0's stage1-5 (the layers Gatys
    optimises) of its output are closer to the painting's than AdaIN's (0.44 vs 0.48 here;
    BENCHMARKS.md judges both with another network, Lite1)."""
    taps = ["stage1", "stage2", "stage3", "stage4", "stage5"]
    with torch.no_grad():
        target = {t: gram_matrix(f) for t, f in net.encoder(painting, taps).items()}

        def distance(transform):
            feats = net.encoder(adain_transfer(net, photo, [painting], tile=None, transform=transform), taps)
            return sum(float((gram_matrix(feats[t]) - target[t]).pow(2).sum() / target[t].pow(2).sum()) for t in taps) / 5

        adain, wct = distance("adain"), distance("wct")
    assert wct < 0.95 * adain, (wct, adain)


def test_tiles_match_the_whole_image_and_leave_no_seams(net, photo, painting):
    full = adain_transfer(net, photo, [painting], tile=None)
    tiled = adain_transfer(net, photo, [painting], tile=192, overlap=64)
    ys, xs = tile_starts(256, 192, 64, 16), tile_starts(384, 192, 64, 16)
    assert len(ys) * len(xs) >= 4
    # Tolerance: tiles see padding where the whole image sees neighbours (the encoder's receptive
    # field is larger than the overlap), so values differ a little near tile edges; the mean stays
    # within 2 % of the image's value range.
    assert float((full - tiled).abs().mean()) < 0.02, float((full - tiled).abs().mean())

    def grad_energy(img):
        gx = (img[..., :, 1:] - img[..., :, :-1]).pow(2).mean(dim=(0, 1, 2))  # per column boundary
        gy = (img[..., 1:, :] - img[..., :-1, :]).pow(2).mean(dim=(0, 1, 3))  # per row boundary
        return gx, gy

    gx, gy = grad_energy(tiled)
    # a tile's contribution starts or stops at these boundaries (blend ramps end there)
    cols = sorted({s - 1 for s in xs[1:]} | {s + 192 - 1 for s in xs[:-1]})
    rows = sorted({s - 1 for s in ys[1:]} | {s + 192 - 1 for s in ys[:-1]})
    border = torch.cat([gx[cols], gy[rows]]).mean()
    interior = torch.cat([gx, gy]).mean()
    assert float(border) <= 1.1 * float(interior), (float(border), float(interior))


def test_temporal_smoothing_cuts_flicker_on_a_slow_pan(net, content_path, painting):
    step = 2
    frames = pan_frames(content_path, n=10, width=192, height=128, step=step, noise=0.03)

    def flicker(outs):
        # Compensate the known pan, so what is left is change that the camera did not cause.
        return float(np.mean([(b[..., :, :-step] - a[..., :, step:]).abs().mean() for a, b in zip(outs, outs[1:])]))

    per_frame = list(stylize_frames(net, iter(frames), [painting], smoothing=0.0, consistency=0.0, tile=None))
    smoothed = list(stylize_frames(net, iter(frames), [painting], smoothing=0.9, consistency=0.7, tile=None))
    assert flicker(smoothed) <= 0.5 * flicker(per_frame), (flicker(smoothed), flicker(per_frame))


def test_consistency_does_not_blend_across_a_cut(net, content_path, painting):
    a = pan_frames(content_path, n=1, width=192, height=128)[0]
    b = 1.0 - a.flip(-1)  # another picture: the flow cannot explain it, so nothing is carried over
    per_frame = list(stylize_frames(net, iter([a, b]), [painting], smoothing=0.0, consistency=0.0, tile=None))
    blended = list(stylize_frames(net, iter([a, b]), [painting], smoothing=0.0, consistency=0.7, tile=None))
    torch.testing.assert_close(blended[0], per_frame[0])
    assert float((blended[1] - per_frame[1]).abs().mean()) < 0.01
