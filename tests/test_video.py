"""Video: frames streamed through AdaIN with temporally smoothed statistics."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.cli import main
from brushwork.errors import BrushworkError
from brushwork.models.adain import AdaINNet
from brushwork.pipelines.video import read_frames, stylize_frames
from brushwork.weights import load_decoder
from helpers import pan_frames


def test_video_file_and_frame_folder_round_trip(small_images, tmp_path, random_decoder_dir, monkeypatch):
    monkeypatch.setenv("BRUSHWORK_GALLERY", str(tmp_path / "g.db"))
    content, style = small_images
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    for i, f in enumerate(pan_frames(content, n=5)):
        Image.fromarray((f[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(frames_dir / f"{i:03d}.png")
    mp4 = tmp_path / "out.mp4"
    argv = ["video", str(frames_dir), str(style), "-o", str(mp4), "--decoder", str(random_decoder_dir), "-q"]
    assert main(argv) == 0 and mp4.exists() and not list(tmp_path.glob(".*part*"))
    frames, fps, audio = read_frames(mp4)
    frames = list(frames)
    assert len(frames) == 5 and frames[0].shape == (64, 96, 3) and fps == pytest.approx(24.0) and not audio
    assert main(["video", str(mp4), str(style), "-o", str(tmp_path / "back"), "--decoder",
                 str(random_decoder_dir), "--size", "48", "-q"]) == 0
    assert len(list((tmp_path / "back").glob("frame_*.png"))) == 5
    # Recipes beside the video and the frames folder; both recorded in the gallery.
    import json

    from brushwork.provenance.gallery import Gallery

    rec = json.loads((tmp_path / "out.mp4.json").read_text())
    assert rec["operation"] == "video" and rec["frames"] == 5 and rec["watermark"] == "brushwork-v1"
    assert len(rec["weights_sha256"]["decoder"]) == 64  # (as stylize's: reproduce names changed weights)
    assert rec["device"] == "cpu"  # (as stylize's: reproduce says a GPU-made video's rerun on the CPU)
    assert json.loads((tmp_path / "back.json").read_text())["inputs"][0]["name"] == "out.mp4"
    for shown in (tmp_path / "back", tmp_path / "back.json", mp4):  # inspect reads a frames folder's recipe too
        assert main(["inspect", str(shown)]) == 0
    with Gallery.open() as g:
        items = g.search(operation="video")
    assert [it.path for it in items] == [str(tmp_path / "back"), str(mp4)]
    assert items[0].width == 48 and [e["name"] for e in items[1].inputs if e["role"] == "style"] == [style.name]
    # Both reproduce (the frames decoded and compared; the MP4's bytes too, x264 being deterministic).
    assert main(["reproduce", str(tmp_path / "back"), "--inputs", str(tmp_path), "--strict"]) == 0
    assert main(["reproduce", str(mp4), "--inputs", str(tmp_path), "--strict"]) == 0


def test_video_bad_inputs(tmp_path, style_path, capsys):
    assert main(["video", str(tmp_path / "none.mp4"), str(style_path), "-o", str(tmp_path / "o.mp4")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["video", str(tmp_path), str(style_path), "-o", str(tmp_path / "o.xyz")]) == 2
    assert "unknown video extension" in capsys.readouterr().err


def test_smoothing_zero_is_per_frame_stylization(lite0, random_decoder_dir, content_path, style_path):
    from brushwork.imaging import read_image, to_tensor
    from brushwork.pipelines.adain import adain_transfer, match_styles

    net = AdaINNet(lite0, load_decoder(random_decoder_dir))
    frames = pan_frames(content_path, n=3)
    s = to_tensor(read_image(style_path).rgb)
    for match in ("full", "none"):  # each frame finished on its own, as stylize() finishes a picture
        per_frame = [match_styles(adain_transfer(net, f, [s], tile=None), [s], match=match)[0] for f in frames]
        streamed = list(stylize_frames(net, iter(frames), [s], smoothing=0.0, consistency=0.0, tile=None,
                                       match=match))
        for a, b in zip(per_frame, streamed):
            torch.testing.assert_close(a, b)


def test_wct_video_smooths_its_covariance(lite0, random_decoder_dir, content_path, style_path):
    from brushwork.imaging import read_image, to_tensor
    from brushwork.pipelines.adain import adain_transfer

    net = AdaINNet(lite0, load_decoder(random_decoder_dir))
    frames = pan_frames(content_path, n=3)
    s = to_tensor(read_image(style_path).rgb)
    per_frame = [adain_transfer(net, f, [s], tile=None, transform="wct") for f in frames]
    streamed = list(stylize_frames(net, iter(frames), [s], smoothing=0.0, consistency=0.0, tile=None, transform="wct",
                                   match="none"))
    for a, b in zip(per_frame, streamed):
        torch.testing.assert_close(a, b)
    smoothed = list(stylize_frames(net, iter(frames), [s], smoothing=0.9, consistency=0.0, tile=None, transform="wct",
                                   match="none"))
    torch.testing.assert_close(smoothed[0], per_frame[0])  # the first frame has no history
    assert float((smoothed[2] - per_frame[2]).abs().mean()) > 1e-4  # later ones follow the average


def test_video_smooths_its_colour_and_detail_maps(lite0, random_decoder_dir, content_path, style_path):
    from brushwork.imaging import read_image, to_tensor
    from brushwork.pipelines.adain import match_styles

    net = AdaINNet(lite0, load_decoder(random_decoder_dir))
    frames = pan_frames(content_path, n=3)
    s = to_tensor(read_image(style_path).rgb)
    smoothed = list(stylize_frames(net, iter(frames), [s], smoothing=0.9, consistency=0.0, tile=None))
    plain = list(stylize_frames(net, iter(frames), [s], smoothing=0.9, consistency=0.0, tile=None, match="none"))
    torch.testing.assert_close(smoothed[0], match_styles(plain[0], [s])[0])  # the first frame has no history
    own = match_styles(plain[2], [s])[0]  # the third frame's own maps, against the averaged ones
    assert float((smoothed[2] - own).abs().mean()) > 1e-4


def test_odd_sizes_sound_gif_rates_and_shorter_reruns(small_images, tmp_path, random_decoder_dir, monkeypatch):
    import subprocess

    import imageio
    import imageio_ffmpeg

    monkeypatch.setenv("BRUSHWORK_GALLERY", str(tmp_path / "g.db"))
    _, style = small_images
    fast = ["--decoder", str(random_decoder_dir), "-q", "--consistency", "0"]
    # a clip with sound, 65 x 49 pixels: H.264's 4:2:0 colour refused the odd size and an empty file was kept
    clip = tmp_path / "clip.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=65x49:rate=10",
                    "-f", "lavfi", "-i", "sine=frequency=440", "-t", "0.6", "-pix_fmt", "yuv444p", "-shortest",
                    str(clip)], check=True)
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), str(style), "-o", str(out), *fast]) == 0
    back = read_frames(out)
    frames = list(back.frames)
    assert out.stat().st_size > 0 and len(frames) == 6 and frames[0].shape == (50, 66, 3)
    assert back.audio and back.fps == pytest.approx(10.0)  # the sound and the rate carried over
    # a GIF's rate comes from its frames' durations (it has no fps), and --fps sets a frame folder's
    gif = tmp_path / "slow.gif"
    imageio.mimsave(gif, [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(4)], duration=100, loop=0)
    assert read_frames(gif).fps == pytest.approx(10.0)
    frames_dir = tmp_path / "frames"
    assert main(["video", str(gif), str(style), "-o", str(frames_dir), *fast]) == 0
    assert main(["video", str(frames_dir), str(style), "-o", str(tmp_path / "f.mp4"), "--fps", "5", *fast]) == 0
    assert read_frames(tmp_path / "f.mp4").fps == pytest.approx(5.0)
    # a shorter run into the same folder leaves none of the longer run's frames behind
    short = tmp_path / "short"
    short.mkdir()
    for i in range(2):
        Image.fromarray(np.full((32, 32, 3), 90 * i, np.uint8)).save(short / f"{i}.png")
    assert main(["video", str(short), str(style), "-o", str(frames_dir), *fast]) == 0
    assert sorted(p.name for p in frames_dir.iterdir()) == [".brushwork-frames", "frame_000001.png", "frame_000002.png"]


def test_frame_order_modes_sizes_and_outputs_the_user_keeps(tmp_path, style_path, random_decoder_dir, monkeypatch, capsys):
    """Unpadded frame numbers play in order; grey, grey+alpha and 16-bit frames are read as RGB; frames of
    several sizes are refused for a video file (kept in a folder); a style kept in the output folder under a
    frame's name is refused; an existing folder with a dot in its name is a frames folder; WebM is written."""
    import imageio.v2 as imageio

    from brushwork.pipelines.video import _rgb8, frame_files

    monkeypatch.setenv("BRUSHWORK_GALLERY", str(tmp_path / "g.db"))
    nat = tmp_path / "nat"
    nat.mkdir()
    for i in (1, 2, 10, 11):
        Image.new("RGB", (40, 32), (i * 20,) * 3).save(nat / f"frame_{i}.png")
    assert [f.name for f in frame_files(nat)] == ["frame_1.png", "frame_2.png", "frame_10.png", "frame_11.png"]
    grey = np.full((4, 5), 128, np.uint8)
    assert _rgb8(grey).shape == (4, 5, 3) and _rgb8(grey)[0, 0].tolist() == [128] * 3
    la = np.stack([grey, np.zeros_like(grey)], -1)  # grey + alpha, fully transparent: white, as read_image gives
    assert _rgb8(la)[0, 0].tolist() == [255] * 3
    assert _rgb8(np.full((2, 2), 65535, np.uint16))[0, 0].tolist() == [255] * 3
    dec = ["--decoder", str(random_decoder_dir), "-q", "--consistency", "0"]
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.new("RGB", (40, 32), "red").save(mixed / "a.png")
    Image.new("RGB", (32, 40), "blue").save(mixed / "b.png")
    capsys.readouterr()
    assert main(["video", str(mixed), str(style_path), "-o", str(tmp_path / "m.mp4"), *dec]) == 2
    assert "'b.png' is 32x40" in capsys.readouterr().err and not (tmp_path / "m.mp4").exists()
    assert main(["video", str(mixed), str(style_path), "-o", str(tmp_path / "m_frames"), *dec]) == 0
    Image.new("RGB", (80, 64), "green").save(mixed / "b.png")  # another size, fitted to one by --size
    assert main(["video", str(mixed), str(style_path), "-o", str(tmp_path / "m.gif"), "--size", "40", *dec]) == 0
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "frame_000002.png").write_bytes(style_path.read_bytes())
    assert main(["video", str(nat), str(kept / "frame_000002.png"), "-o", str(kept), *dec]) == 2
    assert "frame file in the output folder" in capsys.readouterr().err
    assert (kept / "frame_000002.png").read_bytes() == style_path.read_bytes()
    dotted = tmp_path / "shot.v2"
    dotted.mkdir()
    assert main(["video", str(nat), str(style_path), "-o", str(dotted), *dec]) == 0
    assert len(list(dotted.glob("frame_*.png"))) == 4
    assert main(["reproduce", str(dotted), "--inputs", str(nat), "--inputs", str(style_path.parent)]) == 0
    assert main(["video", str(nat), str(style_path), "-o", str(tmp_path / "n.webm"), *dec]) == 0
    assert imageio.get_reader(tmp_path / "n.webm").get_meta_data()["codec"] == "vp9"


def _clip(tmp_path, sound: bool = False):
    """A 64 x 48 test clip of 10 frames at 10 fps (with a sine for sound)."""
    import subprocess

    import imageio_ffmpeg

    clip = tmp_path / "clip.mp4"
    audio = ["-f", "lavfi", "-i", "sine=frequency=440"] if sound else []
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10",
                    *audio, "-t", "1", "-pix_fmt", "yuv420p", *(["-shortest"] if sound else []), str(clip)], check=True)
    return clip


def test_a_stopped_video_goes_on_where_it_stopped(small_images, tmp_path, random_decoder_dir, monkeypatch, capsys):
    """Ctrl-C keeps the frames made and the stylization's state in ``.NAME.part``; the same command goes on from
    the next frame and makes what an unbroken run makes: the same frames (a folder, a GIF) bit for bit, and one
    MP4 stream (its first frames encoded twice) as close to the frames as an unbroken run's, with the sound and
    the rate. Other settings, and --no-resume, start over."""
    from brushwork.pipelines import video as vmod

    monkeypatch.setenv("BRUSHWORK_GALLERY", str(tmp_path / "g.db"))
    _, style = small_images
    clip = _clip(tmp_path, sound=True)
    real, calls = vmod.FrameStylizer.__call__, []

    def stopping_at(k):
        def call(self, frame):
            calls.append(1)
            if len(calls) == k:
                raise KeyboardInterrupt
            return real(self, frame)
        return call

    def run(out, *extra, stop=None):
        calls.clear()
        monkeypatch.setattr(vmod.FrameStylizer, "__call__", stopping_at(stop))
        capsys.readouterr()
        code = main(["video", str(clip), str(style), "-o", str(out), "--decoder", str(random_decoder_dir), "-q",
                     *extra])
        return code, len(calls), capsys.readouterr().err

    def frames_of(p):
        return [f.astype(np.int16) for f in read_frames(p).frames]

    for name in ("frames", "out.gif", "out.mp4"):
        whole, stopped = tmp_path / "whole" / name, tmp_path / "stopped" / name
        whole.parent.mkdir(exist_ok=True)
        stopped.parent.mkdir(exist_ok=True)
        assert run(whole)[:2] == (0, 10)
        code, n, err = run(stopped, stop=4)
        work = stopped.with_name(f".{name}.part")
        assert code == 130 and not stopped.exists() and (work / "state.pt").is_file()
        assert "3 frames are kept" in err and "go on from frame 4" in err
        code, n, err = run(stopped)
        assert (code, n) == (0, 7) and "going on from frame 4" in err and not work.exists()
        a, b = frames_of(whole), frames_of(stopped)
        assert len(a) == len(b) == 10
        if name == "out.mp4":
            assert read_frames(stopped).audio and read_frames(stopped).fps == pytest.approx(10.0)
            exact = frames_of(tmp_path / "whole" / "frames")  # the same frames, without the codec's loss
            loss = [max(float(np.abs(x - y).mean()) for x, y in zip(v, exact)) for v in (a, b)]
            assert loss[1] < 1.25 * loss[0] + 0.25  # (measured: 6.5 levels against 6.4)
        else:
            assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # another strength: the kept frames are not this run's, so it starts over and says so; --no-resume too
    stopped = tmp_path / "stopped" / "frames"
    assert run(stopped, stop=4)[0] == 130
    code, n, err = run(stopped, "--strength", "0.5")
    assert (code, n) == (0, 10) and "starting over" in err
    assert run(stopped, stop=4)[0] == 130
    code, n, err = run(stopped, "--no-resume")
    assert (code, n) == (0, 10) and "going on" not in err and not stopped.with_name(".frames.part").exists()
    # the gallery finds the videos by their style, as it finds stylized pictures
    from brushwork.provenance.gallery import Gallery

    with Gallery.open(tmp_path / "g.db") as g:
        assert g.search(style=style.stem, operation="video")


def test_stops_at_awkward_moments_keep_what_was_made(small_images, tmp_path, random_decoder_dir, monkeypatch, capsys):
    """A real Ctrl-C while a frame goes to ffmpeg (the frame is finished and counted), Ctrl-C while a resumed run
    copies its kept frames into the new file (the kept file stays as it was), and a failed write (a full disk)
    all keep the work; each next run finishes with every frame. They lost it all, or left a state that did not
    match the kept file."""
    import os
    import signal

    from brushwork.errors import ImageError
    from brushwork.pipelines import video as vmod

    monkeypatch.setenv("BRUSHWORK_GALLERY", str(tmp_path / "g.db"))
    _, style = small_images
    clip = _clip(tmp_path)
    argv = ["video", str(clip), str(style), "--decoder", str(random_decoder_dir), "-q", "--consistency", "0"]
    out = tmp_path / "out.mp4"
    real_even, calls = vmod._even, []

    def sigint_inside(f):  # the signal arrives while the 4th frame is handed over
        calls.append(1)
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGINT)
        return real_even(f)

    monkeypatch.setattr(vmod, "_even", sigint_inside)
    assert main([*argv, "-o", str(out)]) == 130
    assert "4 frames are kept" in capsys.readouterr().err
    monkeypatch.setattr(vmod, "_even", real_even)
    real_read = vmod.read_frames

    def stopping_read(p):  # Ctrl-C after two of the kept frames are copied into the new file
        source = real_read(p)

        def frames():
            for i, f in enumerate(source.frames):
                if i == 2:
                    raise KeyboardInterrupt
                yield f
        return vmod.VideoSource(frames(), source.fps, source.audio)

    monkeypatch.setattr(vmod, "read_frames", lambda p, **kw: stopping_read(p) if ".part" in str(p) else real_read(p, **kw))
    assert main([*argv, "-o", str(out)]) == 130
    assert "4 frames are kept" in capsys.readouterr().err
    monkeypatch.setattr(vmod, "read_frames", real_read)
    assert main([*argv, "-o", str(out)]) == 0 and len(list(read_frames(out).frames)) == 10
    assert "going on from frame 5" in capsys.readouterr().err and not (tmp_path / ".out.mp4.part").exists()

    folder = tmp_path / "frames"
    import brushwork.imaging.io as io_mod

    original, saved = io_mod.save_image, []

    def full_disk(img, path, **kw):
        saved.append(1)
        if len(saved) == 6:
            raise ImageError(f"could not write '{path}' (No space left on device): choose another -o path")
        return original(img, path, **kw)

    monkeypatch.setattr(io_mod, "save_image", full_disk)
    assert main([*argv, "-o", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "5 frames are kept" in err and "No space left" in err
    monkeypatch.setattr(io_mod, "save_image", original)
    assert main([*argv, "-o", str(folder)]) == 0 and len(list(folder.glob("frame_*.png"))) == 10
    assert "going on from frame 6" in capsys.readouterr().err


def test_stops_while_a_file_is_closed_and_other_leftovers(small_images, tmp_path, random_decoder_dir, monkeypatch,
                                                          capsys):
    """Ctrl-C while ffmpeg closes the video file keeps the earlier stop's work, not a state that names frames the
    file does not hold (the next run wrote a 1-frame video and said 10); a --no-resume run keeps its work when
    stopped (it left frames without a state); a damaged kept frame is one line; a style with nothing visible is
    refused as `stylize` refuses it."""
    from brushwork.pipelines import video as vmod

    monkeypatch.setenv("BRUSHWORK_GALLERY", "off")
    _, style = small_images
    clip = _clip(tmp_path)
    argv = ["video", str(clip), str(style), "--decoder", str(random_decoder_dir), "-q", "--consistency", "0"]
    out = tmp_path / "out.mp4"
    real_call, calls = vmod.FrameStylizer.__call__, []

    def stop_at_5(self, frame):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_call(self, frame)

    monkeypatch.setattr(vmod.FrameStylizer, "__call__", stop_at_5)
    assert main([*argv, "-o", str(out)]) == 130 and "4 frames are kept" in capsys.readouterr().err
    monkeypatch.setattr(vmod.FrameStylizer, "__call__", real_call)
    real_writer = vmod._Output._writer

    class ClosedAndStopped:  # a second Ctrl-C at the end of ffmpeg's close, before the file is counted
        def __init__(self, inner):
            self.inner = inner

        def append_data(self, f):
            self.inner.append_data(f)

        def close(self):
            self.inner.close()
            raise KeyboardInterrupt

    monkeypatch.setattr(vmod._Output, "_writer", lambda self, p: ClosedAndStopped(real_writer(self, p)))
    assert main([*argv, "-o", str(out)]) == 130 and not out.exists()
    assert "frames are kept" not in capsys.readouterr().err  # (the earlier stop's 4 stay, with their state)
    monkeypatch.setattr(vmod._Output, "_writer", real_writer)
    assert main([*argv, "-o", str(out)]) == 0 and "going on from frame 5" in capsys.readouterr().err
    assert len(list(read_frames(out).frames)) == 10
    # --no-resume starts over, and a stop keeps its work for the next run as any stop does
    calls.clear()
    monkeypatch.setattr(vmod.FrameStylizer, "__call__", stop_at_5)
    folder = tmp_path / "frames"
    assert main([*argv, "-o", str(folder)]) == 130
    calls.clear()
    assert main([*argv, "-o", str(folder), "--no-resume"]) == 130
    err = capsys.readouterr().err
    assert "starting over (--no-resume)" in err and "4 frames are kept" in err and "again without --no-resume" in err
    monkeypatch.setattr(vmod.FrameStylizer, "__call__", real_call)
    assert main([*argv, "-o", str(folder)]) == 0 and "going on from frame 5" in capsys.readouterr().err
    # a kept frame damaged since: one line, and the next run starts over
    gif = tmp_path / "out.gif"
    calls.clear()
    monkeypatch.setattr(vmod.FrameStylizer, "__call__", stop_at_5)
    assert main([*argv, "-o", str(gif)]) == 130
    capsys.readouterr()
    monkeypatch.setattr(vmod.FrameStylizer, "__call__", real_call)
    kept = tmp_path / ".out.gif.part" / "frame_000002.png"
    kept.write_bytes(kept.read_bytes()[:100])
    assert main([*argv, "-o", str(gif)]) == 2
    err = capsys.readouterr().err
    assert "frame 2 kept in" in err and "damaged" in err and err.count("\n") == 2  # (the going-on line, then it)
    assert main([*argv, "-o", str(gif)]) == 0 and len(list(read_frames(gif).frames)) == 10
    # a style with nothing visible
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (64, 64), (255, 0, 0, 0)).save(clear)
    assert main(["video", str(clip), str(clear), "-o", str(tmp_path / "c.gif"), "-q"]) == 2
    assert "no pixel at least half opaque" in capsys.readouterr().err


def test_frame_timing_is_kept(tmp_path):
    """A GIF's rate comes from all its frames' durations (the first one's alone set it: a 500 ms first frame
    made a 1.2 s GIF last 4 s); GIF delays alternate to keep a rate hundredths cannot hold (29.97 fps was
    written 30 ms a frame, 11 % fast); ffmpeg's rounded 23.98 is read as 24000/1001 (it drifted from the sound)."""
    from brushwork.imaging.io import gif_durations

    d = gif_durations(30000 / 1001, 30)
    assert set(d) == {30, 40} and abs(sum(d) - 30 * 1001 / 30) <= 10
    assert gif_durations(60, 3) == [20, 20, 20] and gif_durations(12.5, 2) == [80, 80]
    frames = [Image.new("RGB", (32, 24), (30 * i, 100, 200)) for i in range(8)]
    frames[0].save(tmp_path / "uneven.gif", save_all=True, append_images=frames[1:], duration=[500] + [100] * 7,
                   loop=0)
    assert read_frames(tmp_path / "uneven.gif").fps == pytest.approx(8 / 1.2)
    import subprocess

    import imageio_ffmpeg

    clip = tmp_path / "ntsc.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=24000/1001", "-t", "0.5", "-pix_fmt", "yuv420p", str(clip)], check=True)
    assert read_frames(clip).fps == 24000 / 1001


def test_transparent_animations_read_over_white(tmp_path):
    """Every frame of a transparent GIF, WebP or PNG animation is over white, as pictures are read: imageio
    handed a GIF's first frame over without its alpha, so its backdrop came out black in the first frame
    only (a flash at the start of every stylized sprite loop). A WebP's frame rate comes from its frames'
    durations, which Pillow gives only once a frame is decoded (every WebP read at 10 fps)."""
    frames = []
    for i in range(3):
        a = np.zeros((40, 40, 4), np.uint8)
        a[10:30, 5 + 5 * i:20 + 5 * i] = (200, 30, 30, 255)
        frames.append(Image.fromarray(a, "RGBA"))
    for name in ("sprite.gif", "sprite.webp", "sprite.png"):
        frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], duration=[100, 200, 300],
                       loop=0, **({"disposal": 2} if name.endswith(".gif") else {}))
        source = read_frames(tmp_path / name)
        got = list(source.frames)
        assert len(got) == 3 and source.fps == pytest.approx(5.0), name
        for f in got:
            assert f.shape == (40, 40, 3) and f.dtype == np.uint8
            assert f[0, 0].tolist() == [255, 255, 255], name
        assert np.abs(got[0][20, 12].astype(int) - (200, 30, 30)).max() <= 3, name


def test_a_transparent_sprite_loop_stays_transparent(small_images, tmp_path, random_decoder_dir, monkeypatch):
    """A sprite animation with a transparent backdrop keeps it where the output can hold it (a GIF, a folder of
    PNGs), painted as a transparent picture is (its own colours, matched from its opaque pixels); frames replace
    each other in the GIF (no trails). A video file shows it over white. Before, every output was over white (and
    the first frame of a GIF on black)."""
    monkeypatch.setenv("BRUSHWORK_GALLERY", str(tmp_path / "g.db"))
    _, style = small_images
    fast = ["--decoder", str(random_decoder_dir), "-q", "--consistency", "0"]
    frames = []
    for i in range(4):
        a = np.zeros((48, 48, 4), np.uint8)
        a[12:36, 6 + 4 * i:30 + 4 * i] = (200, 60, 30, 255)
        frames.append(Image.fromarray(a, "RGBA"))
    sprite = tmp_path / "sprite.gif"
    frames[0].save(sprite, save_all=True, append_images=frames[1:], duration=100, disposal=2, loop=0)
    gif, folder, mp4 = tmp_path / "out.gif", tmp_path / "out_frames", tmp_path / "out.mp4"
    for out in (gif, folder, mp4):
        assert main(["video", str(sprite), str(style), "-o", str(out), *fast]) == 0, out
    with Image.open(gif) as im:
        assert im.info.get("disposal", 2) == 2 or im.disposal_method == 2
        for k in range(4):
            im.seek(k)
            rgba = np.asarray(im.convert("RGBA"))
            alpha = rgba[..., 3]
            assert alpha[0, 0] == 0 and alpha[24, 10 + 4 * k] == 255 and alpha[24, 40 if k < 2 else 2] == 0, k
    pngs = sorted(folder.glob("frame_*.png"))
    assert len(pngs) == 4
    for k, p in enumerate(pngs):
        with Image.open(p) as im:
            assert im.mode == "RGBA"
            a = np.asarray(im)[..., 3]
            assert a[0, 0] == 0 and a[24, 10 + 4 * k] == 255
    first = next(iter(read_frames(mp4).frames))
    assert first.shape[-1] == 3 and first[0, 0].min() >= 240  # over white
    assert main(["reproduce", str(gif), "--inputs", str(tmp_path), "--strict"]) == 0
    assert main(["reproduce", str(folder), "--inputs", str(tmp_path), "--strict"]) == 0


def test_an_artists_own_frames_folder_is_not_overwritten(small_images, tmp_path, random_decoder_dir, monkeypatch,
                                                          capsys):
    """An existing folder holding frames brushwork did not write (ffmpeg names renders frame_000001.png too) is
    refused before any work, as is a FOLDER.json beside it that is not a recipe: the run had replaced frames 1-3,
    removed 4-5 and written its recipe over the artist's notes, with exit 0. Folders brushwork wrote (its marker,
    or its recipe beside a folder of an earlier version) are written again as before."""
    monkeypatch.setenv("BRUSHWORK_GALLERY", "off")
    _, style = small_images
    fast = ["--decoder", str(random_decoder_dir), "-q", "--consistency", "0"]
    gif = tmp_path / "clip.gif"
    Image.new("RGB", (32, 24), (90, 120, 200)).save(gif, save_all=True, append_images=[
        Image.new("RGB", (32, 24), (200, 120, 90))], duration=100, loop=0)
    renders = tmp_path / "renders"
    renders.mkdir()
    for k in range(1, 6):
        Image.new("RGB", (32, 24), (k, k, k)).save(renders / f"frame_{k:06d}.png")
    mine = {p.name: p.read_bytes() for p in renders.iterdir()}
    notes = tmp_path / "renders.json"
    notes.write_text('{"notes": "mine"}')
    assert main(["video", str(gif), str(style), "-o", str(renders), *fast]) == 2
    assert "'renders.json' is not a brushwork recipe" in capsys.readouterr().err.replace(str(tmp_path) + "/", "")
    notes.unlink()
    assert main(["video", str(gif), str(style), "-o", str(renders), *fast]) == 2
    err = capsys.readouterr().err
    assert "holds numbered frames (frame_000001.png, ...) that no brushwork marker" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in renders.iterdir()} == mine and not notes.exists()
    ours = tmp_path / "ours"
    assert main(["video", str(gif), str(style), "-o", str(ours), *fast]) == 0
    assert main(["video", str(gif), str(style), "-o", str(ours), *fast, "--strength", "0.5"]) == 0  # again: fine
    (ours / ".brushwork-frames").unlink()  # a folder of an earlier version: its recipe beside it says so
    assert main(["video", str(gif), str(style), "-o", str(ours), *fast]) == 0
    assert sorted(p.name for p in ours.iterdir()) == [".brushwork-frames", "frame_000001.png", "frame_000002.png"]


def test_a_video_of_a_frames_folder_reproduces_from_anywhere(tmp_path, monkeypatch):
    """(audit) A video made from a frames folder reran only from the folder it was made in ("video 'frames' does not
    exist"), even with --inputs: the folder is looked for as a model folder is."""
    from PIL import Image

    from brushwork.provenance.reproduce import reproduce

    work = tmp_path / "proj"
    (work / "frames").mkdir(parents=True)
    (work / "out").mkdir()
    for i in range(3):
        Image.new("RGB", (48, 32), (40 * i, 90, 160)).save(work / "frames" / f"f{i}.png")
    Image.new("RGB", (32, 32), (200, 120, 30)).save(work / "style.png")
    monkeypatch.chdir(work)
    assert main(["video", "frames", "style.png", "-o", "out/v.gif", "--size", "32", "-q"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert reproduce(work / "out" / "v.gif").identical


def test_a_ctrl_c_while_the_output_is_finished_keeps_it(small_images, tmp_path, random_decoder_dir, monkeypatch,
                                                       capsys):
    """(video audit) A Ctrl-C while ffmpeg flushed the finished file (a long clip's close takes seconds) came right
    after the close, before the file was kept, and the whole run was thrown away; one while a frames folder was moved
    into place said the frames were kept for a rerun, which made them all again. The run finishes instead."""
    import os
    import signal

    from brushwork.pipelines import video as vmod

    monkeypatch.setenv("BRUSHWORK_GALLERY", "off")
    _, style = small_images
    clip = _clip(tmp_path)
    argv = ["video", str(clip), str(style), "--decoder", str(random_decoder_dir), "-q", "--consistency", "0"]
    real_writer = vmod._Output._writer

    class StoppedWhileClosing:
        def __init__(self, inner):
            self.inner = inner

        def append_data(self, f):
            self.inner.append_data(f)

        def close(self):
            os.kill(os.getpid(), signal.SIGINT)  # (a real first Ctrl-C, while ffmpeg finishes the file)
            self.inner.close()

    monkeypatch.setattr(vmod._Output, "_writer", lambda self, p: StoppedWhileClosing(real_writer(self, p)))
    out = tmp_path / "out.mp4"
    assert main([*argv, "-o", str(out)]) == 0 and len(list(read_frames(out).frames)) == 10
    assert "stopping after this video file" in capsys.readouterr().err and not (tmp_path / ".out.mp4.part").exists()
    monkeypatch.setattr(vmod._Output, "_writer", real_writer)
    real_replace, moved = os.replace, []

    folder = tmp_path / "frames"

    def replace(a, b):
        if Path(b).parent == folder and Path(b).name.startswith("frame_"):  # (a frame moved into place)
            moved.append(1)
            if len(moved) == 3:
                os.kill(os.getpid(), signal.SIGINT)
        return real_replace(a, b)

    monkeypatch.setattr(vmod.os, "replace", replace)
    assert main([*argv, "-o", str(folder)]) == 0 and len(list(folder.glob("frame_*.png"))) == 10
    assert "frames are kept" not in capsys.readouterr().err and (tmp_path / "frames.json").is_file()


def test_frame_rates_a_video_file_cannot_read_back_are_refused(tmp_path, capsys):
    """(video audit, then review) --fps 1000 wrote an MP4 that ffmpeg reports at "1k fps", read back as 0: not even
    `reproduce` could open it; `gan interpolate --fps` had no bound at all. Only whole thousands are refused (a
    high-speed clip's 500 or 1500 fps read back)."""
    from brushwork.pipelines.video import unreadable_rate, write_frames

    assert [unreadable_rate(f) for f in (24, 500, 999, 1000, 1500, 2000, 1000.5)] == [False] * 3 + [True, False, True,
                                                                                                     False]
    assert main(["gan", "interpolate", "--seeds", "1,2", "--fps", "1000", "-o", str(tmp_path / "w.mp4")]) == 2
    assert "is more than 999" in capsys.readouterr().err
    with pytest.raises(BrushworkError, match="give --fps 999$"):  # (not "or 1001", which --fps refuses)
        write_frames(iter([np.zeros((8, 8, 3), np.uint8)]), tmp_path / "x.mp4", fps=1000)
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob(".*part"))
    assert write_frames(iter([np.zeros((8, 8, 3), np.uint8)] * 2), tmp_path / "y.mp4", fps=500) == 2
    assert read_frames(tmp_path / "y.mp4").fps == 500


def test_other_containers_are_read_and_non_videos_say_what_to_do(small_images, tmp_path, random_decoder_dir):
    """(video audit) An iPhone's .m4v or a camcorder's .MTS, and a file with no picture, were all "could not be read
    (ValueError): is it a video file?"; then refused with an ffmpeg line to remux or convert them: ffmpeg reads them,
    at their rate (a Theora .ogv's header states none: counted), with their sound."""
    import gc
    import subprocess
    import warnings

    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    for name, extra in (("a.m4v", ["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", "-shortest"]),
                        ("b.mts", []), ("c.ogv", []), ("d.3gp", ["-s", "128x96"])):
        subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1",
                        *extra, "-pix_fmt", "yuv420p", str(tmp_path / name)], check=True)
        source = read_frames(tmp_path / name)
        gc.collect()  # (what earlier tests left is not this reading's)
        with warnings.catch_warnings(record=True) as said:  # (ffmpeg's pipes left open: CI warned of them)
            warnings.simplefilter("always", ResourceWarning)
            frames = list(source.frames)
            gc.collect()
        assert not [w for w in said if issubclass(w.category, ResourceWarning)], name
        assert source.fps == pytest.approx(10.0) and len(frames) == 10, name
        assert frames[0].shape == ((96, 128, 3) if name == "d.3gp" else (48, 64, 3)) and source.audio == (name == "a.m4v")
    _, style = small_images
    with warnings.catch_warnings():  # (review: "the given NumPy array is not writable" on every such run)
        warnings.simplefilter("error")
        assert main(["video", str(tmp_path / "a.m4v"), str(style), "--decoder", str(random_decoder_dir), "-q",
                     "-o", str(tmp_path / "a.mp4")]) == 0
    assert read_frames(tmp_path / "a.mp4").audio and len(list(read_frames(tmp_path / "a.mp4").frames)) == 10
    (tmp_path / "clip.m4v").write_bytes(b"\0" * 64)
    (tmp_path / "junk.mp4").write_bytes(b"junk")
    with pytest.raises(BrushworkError, match=r"video '.*clip.m4v' could not be read \(no picture in it, damaged"):
        read_frames(tmp_path / "clip.m4v")
    with pytest.raises(BrushworkError, match="could not be read as a video .*sound only, damaged"):
        read_frames(tmp_path / "junk.mp4")


def test_a_frame_that_is_no_picture_is_named_before_any_work(small_images, tmp_path, random_decoder_dir, capsys):
    """(video audit) A broken last frame threw away every frame made before it, with advice to use PNG for a file
    already named .png: it is named before any work, with what to do."""
    _, style = small_images
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        Image.new("RGB", (32, 24), (40 * i, 90, 90)).save(frames / f"f{i}.png")
    (frames / "f9.png").write_text("not a picture")
    for out in (tmp_path / "o.mp4", tmp_path / "folder"):
        assert main(["video", str(frames), str(style), "--decoder", str(random_decoder_dir), "-q", "-o", str(out)]) == 2
        assert "f9.png' is not a picture brushwork can read" in capsys.readouterr().err
        assert not out.exists() and not list(tmp_path.glob(".*.part"))


def test_a_truncated_video_is_said_to_be(small_images, tmp_path, random_decoder_dir, capsys):
    """(video audit) The first 60 % of a clip (a download cut short) was stylized as if whole, without a word."""
    import subprocess

    import imageio.v3 as iio
    import imageio_ffmpeg

    _, style = small_images
    iio.imwrite(tmp_path / "whole.mp4", (np.random.default_rng(0).random((20, 48, 64, 3)) * 255).astype(np.uint8),
                fps=24)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(tmp_path / "whole.mp4"),
                    "-c", "copy", "-movflags", "+faststart", str(tmp_path / "fs.mp4")], check=True)
    data = (tmp_path / "fs.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:int(len(data) * 0.6)])
    argv = ["video", "--decoder", str(random_decoder_dir), "-q", "--size", "32", str(style)]
    assert main([argv[0], str(tmp_path / "fs.mp4"), *argv[1:], "-o", str(tmp_path / "a.mp4")]) == 0
    assert "truncated" not in capsys.readouterr().err
    assert main([argv[0], str(tmp_path / "cut.mp4"), *argv[1:], "-o", str(tmp_path / "b.mp4")]) == 0
    assert "of the about 20 frames the video's header announces: the file looks truncated" in capsys.readouterr().err
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()  # (review) a sound track that outlasts the picture is no damage
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=10:duration=1",
                    "-f", "lavfi", "-i", "sine=duration=5", "-map", "0:v", "-map", "1:a", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(tmp_path / "song.mp4")], check=True)
    assert main([argv[0], str(tmp_path / "song.mp4"), *argv[1:], "-o", str(tmp_path / "c.mp4")]) == 0
    assert "truncated" not in capsys.readouterr().err


def test_the_progress_bar_has_a_total(small_images, tmp_path, random_decoder_dir, monkeypatch):
    """(video audit) The bar counted frames with no total: no way to tell how long a clip would take. A file's header,
    a GIF's frame count or a folder's files give it; where the header's estimate was off, the bar ends full."""
    import io
    import subprocess

    import imageio_ffmpeg
    import tqdm.auto

    seen = []

    class Bar(tqdm.auto.tqdm):
        def __init__(self, *a, **kw):
            super().__init__(*a, **{**kw, "disable": False, "file": io.StringIO()})  # (as on a terminal)

        def close(self):
            if not self.disable:  # (closed once more when collected)
                seen.append((self.total, self.n))
            super().close()

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    _, style = small_images
    argv = ["--decoder", str(random_decoder_dir), "--size", "32", str(style)]
    assert main(["video", str(_clip(tmp_path)), *argv, "-o", str(tmp_path / "a.mp4")]) == 0
    Image.open(small_images[0]).convert("RGB").resize((32, 24)).save(
        tmp_path / "g.gif", save_all=True, append_images=[Image.new("RGB", (32, 24), c) for c in ("red", "blue")])
    assert main(["video", str(tmp_path / "g.gif"), *argv, "-o", str(tmp_path / "b.gif")]) == 0
    assert main(["video", str(tmp_path / "b.gif"), *argv, "-o", str(tmp_path / "frames")]) == 0
    assert main(["video", str(tmp_path / "frames"), *argv, "-o", str(tmp_path / "c.mp4")]) == 0
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=32x32:rate=10:duration=1", "-f", "lavfi", "-i", "sine=duration=2", "-map", "0:v",
                    "-map", "1:a", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(tmp_path / "song.mp4")],
                   check=True)  # (the header's duration is the sound's: 20 frames announced, 10 there)
    assert main(["video", str(tmp_path / "song.mp4"), *argv, "-o", str(tmp_path / "d.mp4")]) == 0
    assert seen == [(10, 10), (3, 3), (3, 3), (3, 3), (10, 10)], seen


def test_non_square_pixels_are_read_as_players_show_them(small_images, tmp_path, random_decoder_dir, capsys):
    """(video audit) A clip of non-square pixels (DV, some cameras' 1440 x 1080) was read at its stored width: every
    frame squashed. Square pixels, odd sizes too, are read as they are."""
    import subprocess

    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    for name, size, extra in (("wide.mp4", "64x48", ["-vf", "setsar=2"]), ("odd.mp4", "65x49", ["-pix_fmt", "yuv444p"])):
        subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=10:duration=0.5",
                        *extra, str(tmp_path / name)], check=True)
    frames = list(read_frames(tmp_path / "wide.mp4").frames)
    assert len(frames) == 5 and frames[0].shape == (48, 128, 3)
    assert "non-square pixels: its 64 x 48 frames are read at 128 x 48" in capsys.readouterr().err
    assert list(read_frames(tmp_path / "odd.mp4").frames)[0].shape == (49, 65, 3)
    assert "non-square" not in capsys.readouterr().err
    _, style = small_images
    assert main(["video", str(tmp_path / "wide.mp4"), str(style), "--decoder", str(random_decoder_dir), "-q",
                 "-o", str(tmp_path / "out")]) == 0
    assert Image.open(next((tmp_path / "out").glob("*.png"))).size == (128, 48)


def test_an_animations_own_timing_is_kept_in_a_gif(small_images, tmp_path, random_decoder_dir, capsys):
    """(video audit) A GIF that holds its last frame for 2 s came out at an even pace (the hold spread over every
    frame): a GIF output keeps each frame's own time; a video file plays them evenly, and says so; --fps evens them."""
    _, style = small_images
    frames = [Image.new("RGB", (32, 24), (60 * i, 100, 200)) for i in range(4)]
    frames[0].save(tmp_path / "hold.gif", save_all=True, append_images=frames[1:], duration=[100, 100, 100, 2000],
                   loop=0)
    argv = ["video", str(tmp_path / "hold.gif"), str(style), "--decoder", str(random_decoder_dir), "-q"]
    assert main([*argv, "-o", str(tmp_path / "out.gif")]) == 0
    with Image.open(tmp_path / "out.gif") as im:
        from PIL import ImageSequence

        assert [f.info["duration"] for f in ImageSequence.Iterator(im)] == [100, 100, 100, 2000]
    assert "different times" not in capsys.readouterr().err
    assert main([*argv, "-o", str(tmp_path / "out.mp4")]) == 0
    assert "shows its frames for different times (100 to 2000 ms): a video file plays them at an even 1.74 fps" in (
        capsys.readouterr().err)
    assert main([*argv, "-o", str(tmp_path / "even.gif"), "--fps", "10"]) == 0
    with Image.open(tmp_path / "even.gif") as im:
        assert {f.info["duration"] for f in ImageSequence.Iterator(im)} == {100}


def test_a_video_files_alpha_channel_is_read(small_images, tmp_path, random_decoder_dir):
    """(video audit) A MOV with transparency (PNG or ProRes 4444 codec, as motion graphics are exported) lost its alpha:
    the transparent half came in as whatever colour it held (here black). It is read over white now, as pictures
    are, and kept where the output holds transparency."""
    import subprocess

    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    src = "testsrc=size=32x24:rate=10:duration=0.5,format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='if(lt(X,16),255,0)'"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", src, "-c:v", "png", str(tmp_path / "a.mov")],
                   check=True)
    frames = list(read_frames(tmp_path / "a.mov", keep_alpha=True).frames)
    assert len(frames) == 5 and frames[0].shape == (24, 32, 4)
    assert (frames[0][:, :16, 3] == 255).all() and (frames[0][:, 16:, 3] == 0).all()
    flat = next(iter(read_frames(tmp_path / "a.mov").frames))
    assert flat.shape == (24, 32, 3) and (flat[:, 16:] == 255).all()  # (over white: it was black)
    _, style = small_images
    assert main(["video", str(tmp_path / "a.mov"), str(style), "--decoder", str(random_decoder_dir), "-q",
                 "-o", str(tmp_path / "out")]) == 0
    out = np.asarray(Image.open(next((tmp_path / "out").glob("*.png"))))
    assert out.shape == (24, 32, 4) and (out[:, 16:, 3] == 0).all() and (out[:, :16, 3] == 255).all()


def test_hdr_clips_are_tone_mapped(tmp_path, capsys):
    """(video audit) A phone's HDR clip (HLG or PQ in BT.2020, as phones record by default) was read as if SDR: washed
    out, 37-42 levels from the picture it shows on the test pattern. It is tone-mapped to SDR: 7.3-7.6."""
    import subprocess

    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    pattern = "testsrc2=size=64x48:rate=10:duration=0.5"

    def plain(source: str, **kw) -> np.ndarray:  # (ffmpeg's RGB, as imageio's reader had it)
        gen = imageio_ffmpeg.read_frames(source, **kw)
        next(gen)
        return np.stack([np.frombuffer(b, np.uint8).reshape(48, 64, 3) for b in gen]).astype(float)

    ref = plain(pattern, input_params=["-f", "lavfi"])
    for t in ("arib-std-b67", "smpte2084"):  # (the pattern in linear light, then in HDR: as a camera records it)
        subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", pattern, "-vf",
                        "format=gbrp,setparams=color_primaries=bt709:color_trc=iec61966-2-1:colorspace=gbr:range=pc,"
                        f"zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt2020:t={t}:m=bt2020nc:r=tv:npl=100,"
                        "format=yuv444p10le", "-c:v", "libx265", "-x265-params",
                        f"log-level=error:colorprim=bt2020:transfer={t}:colormatrix=bt2020nc:crf=4",
                        str(tmp_path / f"{t}.mp4")], check=True)
        got = np.stack(list(read_frames(tmp_path / f"{t}.mp4").frames)).astype(float)
        before = np.abs(plain(str(tmp_path / f"{t}.mp4")) - ref).mean()
        assert got.shape == ref.shape and before > 30 and np.abs(got - ref).mean() < 0.3 * before, (
            t, before, np.abs(got - ref).mean())
        # (SDR white lands at about 212 of 255, leaving room for the highlights an HDR clip holds; the order of tones
        # is kept)
        assert 200 < got.max() < 225 and np.corrcoef(got.ravel(), ref.ravel())[0, 1] > 0.99
        assert f"is HDR ({'HLG' if t == 'arib-std-b67' else 'PQ'}): its frames are tone-mapped" in capsys.readouterr().err
    # (review) a clip with its transfer tagged alone (primaries and matrix unknown) crashed in zscale with a traceback
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", pattern, "-c:v", "libx265", "-x265-params",
                    "log-level=error:transfer=arib-std-b67", "-pix_fmt", "yuv420p10le", str(tmp_path / "t.mp4")],
                   check=True)
    assert len(list(read_frames(tmp_path / "t.mp4").frames)) == 5
    from brushwork.pipelines.video import _ffmpeg_frames

    (tmp_path / "junk.mp4").write_bytes(b"junk")  # (ffmpeg will not start: one line, not its 60)
    with pytest.raises(BrushworkError, match=r"could not be decoded by ffmpeg \(.*\): convert it"):
        next(_ffmpeg_frames(tmp_path / "junk.mp4", 10.0, False, False))


def test_a_frame_broken_only_when_decoded_keeps_the_work_before_it(small_images, tmp_path, random_decoder_dir,
                                                                   capsys):
    """(video audit) A JPEG cut short (its header reads, its picture does not) ended the run and threw away every frame
    made before it; and replacing it changed the run's key, so the next run started over anyway. The frames made are
    kept; once the frame is replaced the run goes on from it, the same as a run that never broke."""
    import io

    _, style = small_images
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    pics = [Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)) for _ in range(6)]
    for i, im in enumerate(pics):
        im.save(frames / f"f{i}.jpg", quality=95)
    good = (frames / "f3.jpg").read_bytes()
    buf = io.BytesIO()
    pics[3].save(buf, "JPEG", quality=95, progressive=True)
    (frames / "f3.jpg").write_bytes(buf.getvalue()[:len(buf.getvalue()) // 3])  # (its header whole, its picture not)
    argv = ["video", str(frames), str(style), "--decoder", str(random_decoder_dir), "-q"]
    for out in (tmp_path / "folder", tmp_path / "o.mp4"):
        assert main([*argv, "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert "f3.jpg" in err and "3 frames are kept" in err and "replace that frame, then run the same command" in err
        assert not out.exists()
    (frames / "f3.jpg").write_bytes(good)
    for out in (tmp_path / "folder", tmp_path / "o.mp4"):
        assert main([*argv, "-o", str(out)]) == 0
        assert "going on from frame 4" in capsys.readouterr().err
    assert main([*argv, "-o", str(tmp_path / "whole")]) == 0  # (never broken)
    for i in range(1, 7):
        name = f"frame_{i:06d}.png"
        assert (tmp_path / "folder" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    # a frame made before the stop and changed since: the run starts over (its frames no longer match)
    (frames / "f3.jpg").write_bytes(buf.getvalue()[:len(buf.getvalue()) // 3])
    assert main([*argv, "-o", str(tmp_path / "again")]) == 2
    (frames / "f3.jpg").write_bytes(good)
    pics[1].save(frames / "f0.jpg", quality=95)
    capsys.readouterr()
    assert main([*argv, "-o", str(tmp_path / "again")]) == 0
    assert "starting over: the 3 frames of a stopped run" in capsys.readouterr().err


def test_style_weights_of_another_count_say_the_fix(tmp_path):
    """(docs audit) video said "1 style image(s) but 2 style weight(s)" and no more; stylize says what to do."""
    from brushwork.pipelines.video import stylize_video

    with pytest.raises(BrushworkError, match=r"1 style image\(s\) but 2 style weight\(s\): give one weight per style"):
        stylize_video(tmp_path / "frames", [tmp_path / "s.png"], tmp_path / "o.mp4", style_weights=[1.0, 2.0])
    assert not list(tmp_path.iterdir())


def test_a_trailing_slash_asks_for_a_frames_folder(tmp_path, monkeypatch, capsys):
    """(docs audit) `-o shots.v2/` was refused as "an unknown video extension" though the slash says a folder: it is
    one; a run that fails before any frame leaves no empty folder behind."""
    from PIL import Image

    (tmp_path / "frames").mkdir()
    for i in range(2):
        Image.new("RGB", (48, 32), (40 * i, 90, 160)).save(tmp_path / "frames" / f"f{i}.png")
    Image.new("RGB", (32, 32), (200, 120, 30)).save(tmp_path / "style.png")
    monkeypatch.chdir(tmp_path)
    assert main(["video", "frames", "style.png", "-o", "shots.v2/", "--size", "32", "-q", "--no-gallery"]) == 0
    assert sorted(p.name for p in Path("shots.v2").glob("*.png")) == ["frame_000001.png", "frame_000002.png"]
    assert main(["video", "frames", "nostyle.png", "-o", "other.v2/", "--size", "32", "-q"]) == 2
    assert "does not exist" in capsys.readouterr().err and not Path("other.v2").exists()
    assert main(["video", "frames", "style.png", "-o", "missing/shots.v2/", "--size", "32", "-q"]) == 2
    assert "output folder 'missing' does not exist: create it first" in capsys.readouterr().err  # (review)


def test_frames_are_painted_in_the_cpus_tiles_with_statistics_at_1024(tmp_path, monkeypatch):
    """Since 0.2.11 a CPU paints a large frame in 512 px tiles (memory-bound at 1024: 2.5x slower at 2048 px), its
    statistics still from a copy reduced to 1024 px; an explicit --tile is both, as before; a video recipe of 0.2.10
    reruns with --tile 1024."""
    from PIL import Image

    import brushwork.pipelines.video as V
    from brushwork.provenance.reproduce import legacy_command

    seen = []
    real = V.adain_transfer
    monkeypatch.setattr(V, "adain_transfer", lambda *a, **k: seen.append(k["tile"]) or real(*a, **k))
    stats = []
    real_stats = V._tiled_stats
    monkeypatch.setattr(V, "_tiled_stats", lambda net, x, tile, tr: stats.append(tile) or real_stats(net, x, tile, tr))
    (tmp_path / "f").mkdir()
    Image.new("RGB", (1100, 64), (90, 120, 200)).save(tmp_path / "f" / "a.png")
    Image.new("RGB", (32, 32), (200, 120, 30)).save(tmp_path / "s.png")
    V.stylize_video(tmp_path / "f", [tmp_path / "s.png"], tmp_path / "o", progress=False, watermark=False,
                    consistency=0.0, device="cpu")
    assert seen == [512] and stats == [1024]
    V.stylize_video(tmp_path / "f", [tmp_path / "s.png"], tmp_path / "o2", progress=False, watermark=False,
                    consistency=0.0, device="cpu", tile=256)
    assert seen[1:] == [256] and stats[1:] == [256]
    cmd = ["video", "{input:0}", "{input:1}", "-o", "{output}"]
    assert legacy_command({"command": cmd, "brushwork": "0.2.10", "watermark": True, "match": "full"}) == [
        *cmd, "--tile", "1024"]
    assert legacy_command({"command": cmd, "brushwork": "0.2.11", "watermark": True, "match": "full"}) == cmd
