#!/usr/bin/env python3
"""Generate CLIP image-preprocessing reference fixtures for clip-audit.

Writes (relative to the repository root):
  fixtures/preprocess/images/<name>.{png,jpg}   input images (deterministic, numpy seed)
  fixtures/preprocess/ref/<name>.f32            reference tensor, raw little-endian float32, CHW
  fixtures/preprocess/ref/<name>.u8             (some cases) resize+crop output, raw uint8 HWC RGB
  fixtures/preprocess/cases.json                case list + definition

Reference definition (what the Rust side must reproduce):
  1. PIL Image.open(path), then ImageOps.exif_transpose(img).
  2. To 8-bit RGB with img.convert("RGB") (modes RGB, L, LA, P incl. tRNS, RGBA, 1;
     alpha is dropped, not composited).  16-bit inputs are first reduced to 8 bit with
     v8 = (v16 + 128) // 257, computed here from the numpy uint16 array that was
     written to the PNG (PIL's own I;16 -> RGB conversion clips to 255 and PIL's
     16-bit RGB PNG decoder keeps the high byte, so neither is used).
  3. torchvision Resize(size, BICUBIC) on the PIL image (shortest side -> size, long
     side int(size * long / short), skipped when already that size), CenterCrop(size)
     (offset int(round((dim - size) / 2.0)), Python banker's rounding), ToTensor()
     (uint8 -> float32 / 255), Normalize(mean, std) ((x - mean) / std in float32).

Cases with a "resize" field follow the families' other rules (see RULES below): Pillow's
BILINEAR through torchvision, and transformers' own image processors with the PIL backend
(CLIPImageProcessorPil, SiglipImageProcessorPil: PIL resize with reducing_gap=None, centre
crop offset (dim - size) // 2, rescale in float64 then float32, normalize in float32), run
offline from explicit kwargs.  Their inputs are RGB PNGs, so the decoding steps 1-2 are the
same as above (transformers composites transparency onto white instead, not tested here).

Run:  .venv-scripts/bin/python scripts/make_preprocess_fixtures.py
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image, ImageOps
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "preprocess"
IMG_DIR = OUT / "images"
REF_DIR = OUT / "ref"

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
HALF = [0.5, 0.5, 0.5]
JPEG_ORIGINALS: dict[str, np.ndarray] = {}
os.environ.setdefault("HF_HUB_OFFLINE", "1")   # the processors are built from kwargs; nothing to fetch

RULES = (
    "Cases with the fields resize / interpolation / crop / crop_rounding / rescale_factor "
    "(model.yaml's names; absent means shortest_side, bicubic, center, torchvision, 1/255) "
    "follow another family's rule; reference_impl names the code that made the reference. "
    "'torchvision': as the definition above with Resize(size, interpolation) (PIL BILINEAR "
    "is a triangle filter of support 1 scaled by the downscale factor, same fixed point and "
    "passes as BICUBIC). 'transformers CLIPImageProcessorPil': size {shortest_edge: size} "
    "(long side int(size * long / short) via get_resize_output_image_size with "
    "default_to_square=False, PIL resize with reducing_gap=None), crop_size {height: size, "
    "width: size} with image_transforms.center_crop (top = (h - size) // 2, left = "
    "(w - size) // 2, floored), rescale (uint8 as float64 times rescale_factor, then cast to "
    "float32), normalize ((x - mean) / std in float32 with float32 mean and std). "
    "'transformers SiglipImageProcessorPil': size {height: size, width: size} (the image is "
    "squashed to size x size whatever its aspect, no crop), then rescale and normalize as above."
)

DEFINITION = (
    "Reference CLIP preprocessing: (1) open the file with PIL Image.open and apply "
    "ImageOps.exif_transpose (EXIF Orientation tag honoured, then dropped); (2) convert to "
    "8-bit RGB with PIL img.convert('RGB') for modes RGB, L, LA, P (with or without tRNS "
    "transparency), RGBA and 1 - alpha is simply dropped, never composited, L is replicated "
    "to three channels, P is looked up in the palette, 1 maps to 0/255; 16-bit samples "
    "(16-bit grayscale or 16-bit RGB PNG) are first reduced to 8 bit with "
    "v8 = (v16 + 128) // 257 (round(v16 / 257)); (3) torchvision "
    "Resize(size, interpolation=BICUBIC) on the PIL RGB image, i.e. the shorter side "
    "becomes size and the longer side int(size * long / short) (truncated), done with "
    "PIL Image.resize(BICUBIC) (antialiased, support scaled by the downscale factor, "
    "separable, 8-bit fixed point with rounding to uint8 after each pass) and skipped "
    "entirely when the image already has that size; then CenterCrop(size) with "
    "top = int(round((h - size) / 2.0)), left = int(round((w - size) / 2.0)) using "
    "Python's round-half-to-even; then ToTensor (uint8 as float32 divided by 255) and "
    "Normalize ((x - mean[c]) / std[c] in float32); the result is float32 CHW with "
    "shape [3, size, size], stored raw little-endian."
)


# ----------------------------------------------------------------------------
# deterministic image content
# ----------------------------------------------------------------------------

def smooth_rgb(rng: np.random.Generator, w: int, h: int, noise_amp: float = 40.0,
               noise_patch: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Gradients + hard-edged shapes + noise: exercises both smooth and ringing areas."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255.0 * x / max(w - 1, 1)
    g = 255.0 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin(2 * np.pi * (x / max(w, 1) * 1.5 + y / max(h, 1) * 0.7))
    img = np.stack([r, g, b], axis=-1)
    # a few hard-edged rectangles with random colours
    for _ in range(4):
        x0, x1 = sorted(rng.integers(0, w, 2))
        y0, y1 = sorted(rng.integers(0, h, 2))
        img[y0:y1 + 1, x0:x1 + 1] = rng.integers(0, 256, 3)
    # saturated black/white stripes (bicubic overshoot -> clipping)
    img[:, : max(1, w // 16)] = 0.0
    img[: max(1, h // 16), :] = 255.0
    if noise_patch is None:
        img += rng.normal(0.0, noise_amp, img.shape)
    else:
        px, py, pw, ph = noise_patch
        img[py:py + ph, px:px + pw] += rng.normal(0.0, noise_amp, (ph, pw, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def asymmetric_rgb(w: int, h: int) -> np.ndarray:
    """Strongly asymmetric content so any wrong EXIF rotation/flip fails badly."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3), np.float64)
    img[..., 0] = 255.0 * x / (w - 1)            # red ramps left -> right
    img[..., 1] = 255.0 * (y / (h - 1)) ** 2     # green ramps top -> bottom (nonlinear)
    img[..., 2] = 40.0
    img[: h // 5, : w // 3] = [255, 255, 255]    # white block top-left
    img[-h // 6:, -w // 4:] = [0, 0, 255]        # blue block bottom-right
    img[h // 2 - 2: h // 2 + 2, w // 8: w // 2] = [0, 0, 0]  # black bar, left half
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------
# minimal PNG writer for 16-bit images (PIL cannot write 16-bit RGB PNG)
# ----------------------------------------------------------------------------

def write_png16(path: Path, arr: np.ndarray) -> None:
    assert arr.dtype == np.uint16
    if arr.ndim == 2:
        color_type, h, w = 0, arr.shape[0], arr.shape[1]
    else:
        assert arr.ndim == 3 and arr.shape[2] == 3
        color_type, h, w = 2, arr.shape[0], arr.shape[1]
    be = arr.astype(">u2").reshape(h, -1).tobytes()
    row = len(be) // h
    raw = b"".join(b"\x00" + be[i * row:(i + 1) * row] for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def reduce16(a: np.ndarray) -> np.ndarray:
    return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)


# ----------------------------------------------------------------------------
# reference pipeline
# ----------------------------------------------------------------------------

def load_rgb(path: Path, u16: np.ndarray | None) -> tuple[Image.Image, str]:
    img = Image.open(path)
    mode = img.mode
    img = ImageOps.exif_transpose(img)
    if u16 is not None:
        # 16-bit: reference computed from the array we wrote, not from PIL's conversion
        v8 = reduce16(u16)
        img = Image.fromarray(v8, "L" if v8.ndim == 2 else "RGB")
    return img.convert("RGB"), mode


def resize_crop(img: Image.Image, size: int) -> Image.Image:
    img = T.Resize(size, interpolation=InterpolationMode.BICUBIC)(img)
    return T.CenterCrop(size)(img)


def to_tensor_norm(img: Image.Image, mean, std) -> torch.Tensor:
    t = T.ToTensor()(img)
    return T.Normalize(mean, std)(t)


def geometry(w: int, h: int, size: int, rule: dict | None = None) -> dict:
    if rule is not None and rule["resize"] == "squash":
        nw, nh = size, size
    else:
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(size * long / short)
        nw, nh = (size, new_long) if w <= h else (new_long, size)
    if (nw, nh) == (w, h):
        resized = False
    else:
        resized = True
    if rule is not None and rule["crop"] == "none":
        left = top = 0
    elif rule is not None and rule["crop_rounding"] == "hf":
        top, left = (nh - size) // 2, (nw - size) // 2
    else:
        top = int(round((nh - size) / 2.0))
        left = int(round((nw - size) / 2.0))
    return {"oriented_size_wh": [w, h], "resized_wh": [nw, nh], "resize_applied": resized,
            "crop_left_top": [left, top]}


PIL_FILTERS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def hf_processor(rule: dict, size: int, mean, std, backend: str = "pil"):
    """transformers' own processor for a rule, from explicit kwargs (nothing downloaded)."""
    import transformers as tf
    kw = dict(resample=PIL_FILTERS[rule["interpolation"]], do_rescale=True,
              rescale_factor=rule["rescale_factor"], do_normalize=True, image_mean=list(mean),
              image_std=list(std), do_convert_rgb=True)
    suffix = "Pil" if backend == "pil" else ""
    if rule["impl"] == "transformers CLIPImageProcessorPil":
        cls = getattr(tf, "CLIPImageProcessor" + suffix)
        return cls(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                   do_resize=True, do_center_crop=True, **kw)
    if rule["impl"] == "transformers SiglipImageProcessorPil":
        cls = getattr(tf, "SiglipImageProcessor" + suffix)
        return cls(size={"height": size, "width": size}, do_resize=True, **kw)
    raise ValueError(rule["impl"])


def rule_reference(img: Image.Image, c: dict) -> tuple[np.ndarray, np.ndarray]:
    """(float32 CHW tensor, uint8 HWC image after resize and crop) of a case with a rule."""
    from transformers.image_utils import SizeDict

    rule, size, mean, std = c["_rule"], c["size"], c["mean"], c["std"]
    if rule["impl"] == "torchvision":
        assert rule["resize"] == "shortest_side" and rule["crop_rounding"] == "torchvision"
        assert rule["rescale_factor"] == 1 / 255
        interp = {"bicubic": InterpolationMode.BICUBIC, "bilinear": InterpolationMode.BILINEAR}
        rc = T.CenterCrop(size)(T.Resize(size, interpolation=interp[rule["interpolation"]])(img))
        return to_tensor_norm(rc, mean, std).numpy(), np.asarray(rc, dtype=np.uint8)
    proc = hf_processor(rule, size, mean, std)
    out = proc(img, return_tensors="np")["pixel_values"]
    t = np.asarray(out[0])
    # The uint8 image between resize(/crop) and rescale, by the processor's own methods.
    chw = np.moveaxis(np.asarray(img, dtype=np.uint8), -1, 0)
    u8 = proc.resize(image=chw, size=proc.size, resample=proc.resample)
    if proc.do_center_crop:
        u8 = proc.center_crop(u8, SizeDict(height=size, width=size))
    u8 = np.ascontiguousarray(np.moveaxis(u8, 0, -1))
    # ... and it is what the tensor was made from.
    again = proc.normalize(proc.rescale(np.moveaxis(u8, -1, 0), proc.rescale_factor), mean, std)
    assert np.array_equal(again, t), c["name"]
    return t, u8


def rule_report(img: Image.Image, c: dict, ref: np.ndarray) -> str:
    """How far the other implementations of the case's rule, or the default rule, are."""
    rule, size, mean, std = c["_rule"], c["size"], c["mean"], c["std"]
    parts = []
    if rule["impl"] != "torchvision":
        try:
            fast = hf_processor(rule, size, mean, std, backend="torchvision")
            f = fast(img, return_tensors="pt")["pixel_values"][0].numpy()
            parts.append(f"transformers torchvision backend differs by max {np.abs(f - ref).max():.4f}")
        except Exception as e:  # pragma: no cover
            parts.append(f"torchvision backend failed: {e}")
    clip = to_tensor_norm(resize_crop(img, size), mean, std).numpy()
    parts.append(f"CLIP's rule differs by max {np.abs(clip - ref).max():.4f}")
    return "; ".join(parts)


# ----------------------------------------------------------------------------
# case construction
# ----------------------------------------------------------------------------

def build_cases(rng: np.random.Generator) -> list[dict]:
    """Create the input images; return case specs (without references)."""
    cases: list[dict] = []

    def add(name, file, size, note, mean=OPENAI_MEAN, std=OPENAI_STD, u16=None,
            decoder_exact=True, resized_u8=False, exif=None, rule=None):
        cases.append(dict(name=name, file=file, size=size, mean=mean, std=std, note=note,
                          _u16=u16, decoder_exact=decoder_exact, _resized_u8=resized_u8,
                          exif_orientation=exif, _rule=rule))

    def save_png(name, arr):
        Image.fromarray(arr, "RGB").save(IMG_DIR / f"{name}.png", optimize=True)
        return f"images/{name}.png"

    # --- RGB geometry cases -------------------------------------------------
    add("rgb_landscape", save_png("rgb_landscape", smooth_rgb(rng, 97, 61)), 32,
        "RGB 97x61 landscape, downscale to 50x32, crop left 9", resized_u8=True)
    add("rgb_portrait", save_png("rgb_portrait", smooth_rgb(rng, 45, 130)), 32,
        "RGB 45x130 portrait, downscale to 32x92, crop top 30")
    add("rgb_exact", save_png("rgb_exact", smooth_rgb(rng, 32, 32)), 32,
        "RGB already 32x32: no resize, no crop (pure ToTensor+Normalize)")
    add("rgb_upscale", save_png("rgb_upscale", smooth_rgb(rng, 20, 13)), 32,
        "RGB 20x13 upscaled to 49x32, crop left round(8.5)=8 (banker's rounding)",
        resized_u8=True)
    add("rgb_downscale_224",
        save_png("rgb_downscale_224", smooth_rgb(rng, 640, 480, noise_amp=50.0,
                                                 noise_patch=(300, 200, 96, 96))), 224,
        "RGB 640x480 large downscale (factor ~2.14) to 298x224, crop left 37")
    add("rgb_upscale_224", save_png("rgb_upscale_224", smooth_rgb(rng, 100, 90)), 224,
        "RGB 100x90 upscale to 248x224, crop left 12")
    add("crop_half_33x32", save_png("crop_half_33x32", smooth_rgb(rng, 33, 32)), 32,
        "RGB 33x32: short side already 32 so no resize; crop left round(0.5)=0")
    add("crop_half_35x32", save_png("crop_half_35x32", smooth_rgb(rng, 35, 32)), 32,
        "RGB 35x32: no resize; crop left round(1.5)=2")
    add("crop_half_32x37", save_png("crop_half_32x37", smooth_rgb(rng, 32, 37)), 32,
        "RGB 32x37 portrait: no resize; crop top round(2.5)=2")
    add("resize_crop_half_50x30", save_png("resize_crop_half_50x30", smooth_rgb(rng, 50, 30)), 32,
        "RGB 50x30 upscale to 53x32 (int(53.33)), crop left round(10.5)=10")
    add("resize_crop_half_30x61", save_png("resize_crop_half_30x61", smooth_rgb(rng, 30, 61)), 32,
        "RGB 30x61 upscale to 32x65 (int(65.07)), crop top round(16.5)=16")
    add("rgb_half_norm", save_png("rgb_half_norm", smooth_rgb(rng, 77, 100)), 64,
        "RGB 77x100 to 64x83, crop top round(9.5)=10; mean=std=0.5 normalisation",
        mean=HALF, std=HALF)

    # --- other colour modes -------------------------------------------------
    base = smooth_rgb(rng, 40, 56)
    gray = np.asarray(Image.fromarray(base).convert("L"))
    p = IMG_DIR / "gray_l.png"
    Image.fromarray(gray, "L").save(p, optimize=True)
    add("gray_l", "images/gray_l.png", 32, "8-bit grayscale (L) 40x56; L->RGB replicates")

    base = smooth_rgb(rng, 48, 40)
    la = np.stack([np.asarray(Image.fromarray(base).convert("L")),
                   np.tile(np.linspace(0, 255, 48).round().astype(np.uint8), (40, 1))], -1)
    Image.fromarray(la, "LA").save(IMG_DIR / "gray_la.png", optimize=True)
    add("gray_la", "images/gray_la.png", 32,
        "grayscale+alpha (LA) 48x40, alpha ramps 0..255; alpha dropped (grey kept even where alpha=0)")

    rgb = smooth_rgb(rng, 72, 90)
    alpha = rng.integers(0, 256, (90, 72)).astype(np.uint8)
    alpha[:20] = 0      # fully transparent band keeps its colour values
    alpha[20:40] = 255
    rgba = np.concatenate([rgb, alpha[..., None]], -1)
    Image.fromarray(rgba, "RGBA").save(IMG_DIR / "rgba.png", optimize=True)
    add("rgba", "images/rgba.png", 64,
        "RGBA 72x90 with alpha 0 / 255 / random bands; alpha dropped BEFORE resizing, colour "
        "under alpha=0 kept (PIL would resize RGBA with premultiplied alpha); resize to 64x80, crop top 8")

    base = smooth_rgb(rng, 60, 44)
    pal_img = Image.fromarray(base).quantize(colors=16, method=Image.Quantize.MEDIANCUT,
                                              dither=Image.Dither.NONE)
    pal_img.save(IMG_DIR / "palette_p.png", optimize=False)
    add("palette_p", "images/palette_p.png", 32, "palette (P) 60x44, 16 colours, no transparency")

    base = smooth_rgb(rng, 44, 60)
    pal_img = Image.fromarray(base).quantize(colors=32, method=Image.Quantize.MEDIANCUT,
                                              dither=Image.Dither.NONE)
    trns = bytearray([255] * 32)
    for i in range(0, 32, 3):
        trns[i] = (i * 8) % 256   # several partially / fully transparent palette entries
    trns[1] = 0
    pal_img.save(IMG_DIR / "palette_p_trns.png", transparency=bytes(trns), optimize=False)
    add("palette_p_trns", "images/palette_p_trns.png", 32,
        "palette (P) 44x60, 32 colours with a tRNS chunk (several alpha values incl. 0); "
        "convert('RGB') uses palette colours and ignores tRNS")

    bw = (smooth_rgb(rng, 36, 33)[..., 0] > 127)
    Image.fromarray(bw).convert("1").save(IMG_DIR / "bilevel_1.png")
    add("bilevel_1", "images/bilevel_1.png", 32,
        "1-bit bilevel PNG 36x33 (mode '1'), maps to 0/255; resize to 34x32 (int(34.9)), crop left 1")

    # --- 16-bit -------------------------------------------------------------
    h, w = 50, 70
    y, x = np.mgrid[0:h, 0:w]
    g16 = ((x * 65535) // (w - 1)).astype(np.uint16)
    noisy_rows = np.arange(h) % 7 == 3
    g16[noisy_rows] = rng.integers(0, 65536, (int(noisy_rows.sum()), w))
    # exact rounding edge cases for (v + 128) // 257 on the first row
    edges = [0, 127, 128, 129, 255, 256, 384, 385, 386, 32767, 32768, 32896, 32897,
             65150, 65151, 65279, 65280, 65407, 65408, 65534, 65535]
    g16[0, :len(edges)] = edges
    write_png16(IMG_DIR / "gray16.png", g16)
    add("gray16", "images/gray16.png", 32,
        "16-bit grayscale PNG 70x50 (PIL mode I;16); reduced with (v+128)//257 from the "
        "written array (PIL's own I;16->RGB clips everything >255 to 255)", u16=g16)

    r16 = np.stack([g16[:, ::-1], g16[::-1, :],
                    rng.integers(0, 65536, (h, w)).astype(np.uint16)], -1).astype(np.uint16)
    r16 = r16[:40, :46]
    write_png16(IMG_DIR / "rgb16.png", r16)
    add("rgb16", "images/rgb16.png", 32,
        "16-bit RGB PNG 46x40; reduced with (v+128)//257 like gray16. NOTE: PIL itself "
        "decodes 16-bit RGB PNG to 8 bit by keeping the high byte (v>>8), so plain PIL/"
        "open_clip differs from this definition by up to 1 level", u16=r16)

    # --- JPEG ---------------------------------------------------------------
    jp = smooth_rgb(rng, 64, 48, noise_amp=12.0)
    JPEG_ORIGINALS["jpeg_plain"] = jp
    Image.fromarray(jp).save(IMG_DIR / "jpeg_plain.jpg", quality=90)
    add("jpeg_plain", "images/jpeg_plain.jpg", 32,
        "baseline JPEG q90 (4:2:0 chroma subsampling), no EXIF, 64x48", decoder_exact=False)

    asym = asymmetric_rgb(80, 48)
    for orient, subsampling in ((6, 2), (3, 0)):   # Pillow: 2 = 4:2:0, 0 = 4:4:4
        exif = Image.Exif()
        exif[0x0112] = orient
        Image.fromarray(asym).save(IMG_DIR / f"jpeg_exif{orient}.jpg", quality=90, exif=exif,
                                   subsampling=subsampling)
    add("jpeg_exif6", "images/jpeg_exif6.jpg", 32,
        "JPEG q90 stored 80x48 with EXIF Orientation=6 (rotate 90 CW to display) -> 48x80 "
        "portrait after exif_transpose; 4:2:0 chroma; asymmetric content", decoder_exact=False, exif=6)
    add("jpeg_exif3", "images/jpeg_exif3.jpg", 32,
        "JPEG q90 stored 80x48 with EXIF Orientation=3 (rotate 180); 4:4:4 chroma (no chroma "
        "upsampling, so decoders should agree within ~1 level); asymmetric content",
        decoder_exact=False, exif=3)

    # --- other families' rules (appended last: the images above keep their random draws) ---
    def rule(impl, resize="shortest_side", interpolation="bicubic", crop="center",
             crop_rounding="torchvision", rescale_factor=1 / 255):
        return dict(impl=impl, resize=resize, interpolation=interpolation, crop=crop,
                    crop_rounding=crop_rounding, rescale_factor=rescale_factor)

    add("bilinear_downscale", save_png("bilinear_downscale", smooth_rgb(rng, 131, 90)), 32,
        "RGB 131x90, torchvision Resize(32, BILINEAR) to 46x32 (int(46.58)), CenterCrop left 7",
        resized_u8=True, rule=rule("torchvision", interpolation="bilinear"))
    add("bilinear_upscale", save_png("bilinear_upscale", smooth_rgb(rng, 21, 13)), 32,
        "RGB 21x13, torchvision Resize(32, BILINEAR) upscale to 51x32 (int(51.69)), CenterCrop "
        "left round(9.5)=10", resized_u8=True, rule=rule("torchvision", interpolation="bilinear"))
    add("siglip_squash_bicubic",
        save_png("siglip_squash_bicubic", smooth_rgb(rng, 300, 200, noise_amp=50.0,
                                                     noise_patch=(120, 80, 64, 64))), 224,
        "RGB 300x200, SiglipImageProcessorPil: squashed to 224x224 (BICUBIC), no crop, "
        "mean=std=0.5", mean=HALF, std=HALF, resized_u8=True,
        rule=rule("transformers SiglipImageProcessorPil", resize="squash", crop="none",
                  crop_rounding="hf"))
    add("squash_bilinear", save_png("squash_bilinear", smooth_rgb(rng, 50, 90)), 64,
        "RGB 50x90, SiglipImageProcessorPil with resample=BILINEAR: squashed to 64x64 "
        "(upscale across, downscale down), no crop, mean=std=0.5", mean=HALF, std=HALF,
        resized_u8=True,
        rule=rule("transformers SiglipImageProcessorPil", resize="squash", interpolation="bilinear",
                  crop="none", crop_rounding="hf"))
    add("hf_clip_334x240",
        save_png("hf_clip_334x240", smooth_rgb(rng, 334, 240, noise_amp=50.0,
                                               noise_patch=(150, 100, 64, 64))), 224,
        "RGB 334x240, CLIPImageProcessorPil: shortest edge to 224 -> 311x224 (int(311.73)), "
        "crop left (311-224)//2 = 43 where torchvision's round(43.5) gives 44", resized_u8=True,
        rule=rule("transformers CLIPImageProcessorPil", crop_rounding="hf"))
    add("hf_clip_100x143", save_png("hf_clip_100x143", smooth_rgb(rng, 100, 143)), 64,
        "RGB 100x143 portrait, CLIPImageProcessorPil at 64: 64x91 (int(91.52)), crop top "
        "(91-64)//2 = 13 where torchvision's round(13.5) gives 14 (the offsets differ only when "
        "the margin is 3 mod 4: 241x333 at 224 gives 224x309, margin 85, 42 under both)",
        resized_u8=True, rule=rule("transformers CLIPImageProcessorPil", crop_rounding="hf"))
    add("hf_clip_rescale", save_png("hf_clip_rescale", smooth_rgb(rng, 45, 39)), 32,
        "RGB 45x39, CLIPImageProcessorPil with rescale_factor=0.004 (not 1/255, to test the "
        "float64 rescale), shortest edge to 32 -> 36x32 (int(36.92)), crop left (36-32)//2 = 2",
        rule=rule("transformers CLIPImageProcessorPil", crop_rounding="hf", rescale_factor=0.004))
    return cases


def jpeg_decoder_report(path: Path, size: int, mean, std, original: np.ndarray | None) -> None:
    """Print how much plausible decoder variations move the pixels / the tensor."""
    from torchvision.io import decode_jpeg, read_file

    pil = Image.open(path)
    pil_raw = np.asarray(pil.convert("RGB")).astype(np.int16)   # no exif transpose
    try:
        from PIL import JpegImagePlugin
        sub = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}.get(JpegImagePlugin.get_sampling(pil), "?")
    except Exception:
        sub = "?"
    lines = [f"  {path.name}: stored {pil.size[0]}x{pil.size[1]}, chroma {sub}"]
    if original is not None:
        d = np.abs(pil_raw - original.astype(np.int16))
        lines.append(f"    vs original pixels (compression error): max {d.max()}, mean {d.mean():.2f}")
    try:
        tv = decode_jpeg(read_file(str(path))).permute(1, 2, 0).numpy().astype(np.int16)
        d = np.abs(pil_raw - tv)
        lines.append(f"    PIL vs torchvision.io.decode_jpeg: max {d.max()}, mean {d.mean():.3f}")
    except Exception as e:  # pragma: no cover
        lines.append(f"    torchvision.io.decode_jpeg failed: {e}")
    # libjpeg fixed-point YCbCr->RGB vs a float BT.601 conversion of libjpeg's YCbCr output
    ycc = Image.open(path)
    ycc.draft("YCbCr", ycc.size)
    ycc_arr = np.asarray(ycc).astype(np.float64)
    is_444 = sub == "4:4:4"
    if ycc.mode == "YCbCr":
        Y, Cb, Cr = ycc_arr[..., 0], ycc_arr[..., 1] - 128.0, ycc_arr[..., 2] - 128.0
        rgbf = np.stack([Y + 1.402 * Cr, Y - 0.344136 * Cb - 0.714136 * Cr, Y + 1.772 * Cb], -1)
        alt = np.clip(np.rint(rgbf), 0, 255).astype(np.uint8)
        d = np.abs(pil_raw - alt.astype(np.int16))
        lines.append(f"    PIL vs float YCbCr->RGB of the same YCbCr planes: max {d.max()}, mean {d.mean():.3f}")
        # and the same with nearest ("non-fancy") chroma upsampling, emulating simpler decoders
        variants = [("float-YCbCr", alt)]
        cb_small = Image.fromarray(ycc_arr[..., 1].astype(np.uint8)).resize(
            ((ycc.size[0] + 1) // 2, (ycc.size[1] + 1) // 2), Image.Resampling.BOX)
        cr_small = Image.fromarray(ycc_arr[..., 2].astype(np.uint8)).resize(
            ((ycc.size[0] + 1) // 2, (ycc.size[1] + 1) // 2), Image.Resampling.BOX)
        cb_n = np.asarray(cb_small.resize(ycc.size, Image.Resampling.NEAREST)).astype(np.float64) - 128
        cr_n = np.asarray(cr_small.resize(ycc.size, Image.Resampling.NEAREST)).astype(np.float64) - 128
        rgbn = np.stack([Y + 1.402 * cr_n, Y - 0.344136 * cb_n - 0.714136 * cr_n, Y + 1.772 * cb_n], -1)
        altn = np.clip(np.rint(rgbn), 0, 255).astype(np.uint8)
        d = np.abs(pil_raw - altn.astype(np.int16))
        if not is_444:
            variants.append(("nearest-chroma", altn))
            lines.append(f"    PIL vs crude emulation of a decoder WITHOUT libjpeg 'fancy' chroma upsampling "
                         f"(rough, overstates at hard edges): max {d.max()}, mean {d.mean():.3f}")
        # effect on the final tensor
        oriented = ImageOps.exif_transpose(Image.open(path))
        for label, arr in variants:
            im = Image.fromarray(arr)
            o = Image.open(path).getexif().get(0x0112, 1)
            if o != 1:
                im = im.transpose({3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270,
                                   8: Image.Transpose.ROTATE_90}[o])
            a = to_tensor_norm(resize_crop(im, size), mean, std)
            b = to_tensor_norm(resize_crop(oriented.convert("RGB"), size), mean, std)
            lines.append(f"    -> tensor max abs diff ({label} variant): {float((a - b).abs().max()):.4f}"
                         f" (1 level = {1 / 255 / min(std):.4f} in normalised units)")
        # a wrong orientation must fail badly
        o = Image.open(path).getexif().get(0x0112, 1)
        if o != 1:
            b = to_tensor_norm(resize_crop(oriented.convert("RGB"), size), mean, std)
            wrong = {3: Image.Transpose.FLIP_TOP_BOTTOM, 6: Image.Transpose.ROTATE_90}[o]
            w = to_tensor_norm(resize_crop(Image.open(path).convert("RGB").transpose(wrong), size), mean, std)
            lines.append(f"    -> wrong orientation ({wrong.name} instead of EXIF {o}): tensor max abs diff "
                         f"{float((w - b).abs().max()):.3f}, mean {float((w - b).abs().mean()):.3f}")
    print("\n".join(lines))


def _quiet_palette_warning() -> None:
    import warnings
    warnings.filterwarnings("ignore", message="Palette images with Transparency expressed in bytes")


def open_clip_order_report(path: Path, size: int, mean, std, ref: torch.Tensor) -> float:
    """open_clip's real transform resizes BEFORE converting to RGB; measure the difference."""
    img = ImageOps.exif_transpose(Image.open(path))
    if img.mode not in ("RGBA", "LA", "P", "1"):
        return 0.0
    t = to_tensor_norm(resize_crop(img, size).convert("RGB"), mean, std)
    return float((t - ref).abs().max())


def main() -> None:
    IMG_DIR.mkdir(parents=True, exist_ok=True)
    REF_DIR.mkdir(parents=True, exist_ok=True)
    for d in (IMG_DIR, REF_DIR):
        for f in d.iterdir():
            f.unlink()
    _quiet_palette_warning()  # convert("RGB") of P+tRNS warns; the palette lookup is still exact
    rng = np.random.default_rng(20260415)
    specs = build_cases(rng)

    out_cases = []
    print("cases:")
    for c in specs:
        path = OUT / c["file"]
        img, src_mode = load_rgb(path, c["_u16"])
        size = c["size"]
        rule = c["_rule"]
        geo = geometry(img.size[0], img.size[1], size, rule)
        if rule is None:
            rc = resize_crop(img, size)
            assert rc.size == (size, size) and rc.mode == "RGB"
            t = to_tensor_norm(rc, c["mean"], c["std"])
            assert t.dtype == torch.float32 and tuple(t.shape) == (3, size, size)
            arr = t.numpy().astype("<f4")
            rc_u8 = np.asarray(rc, dtype=np.uint8)
        else:
            arr, rc_u8 = rule_reference(img, c)
            assert arr.dtype == np.float32 and arr.shape == (3, size, size), (arr.dtype, arr.shape)
            arr = arr.astype("<f4")
            t = torch.from_numpy(arr.copy())
        (REF_DIR / f"{c['name']}.f32").write_bytes(arr.tobytes())
        case = {
            "name": c["name"], "file": c["file"], "size": size, "mean": c["mean"], "std": c["std"],
            "reference": f"ref/{c['name']}.f32", "shape": [3, size, size],
            "decoder_exact": c["decoder_exact"], "source_mode": src_mode,
        }
        if rule is not None:
            case.update({k: rule[k] for k in ("resize", "interpolation", "crop", "crop_rounding",
                                               "rescale_factor")})
            case["reference_impl"] = rule["impl"]
        if c["exif_orientation"]:
            case["exif_orientation"] = c["exif_orientation"]
        case.update(geo)
        if c["_resized_u8"]:
            u8 = rc_u8
            assert u8.shape == (size, size, 3)
            (REF_DIR / f"{c['name']}.u8").write_bytes(u8.tobytes())
            case["resized_u8"] = f"ref/{c['name']}.u8"
            case["resized_u8_shape"] = [size, size, 3]
        case["note"] = c["note"]
        out_cases.append(case)
        extra = ""
        diff = open_clip_order_report(path, size, c["mean"], c["std"], t)
        if diff:
            extra = f"  [open_clip order resize->convert would differ by max {diff:.4f}]"
        if rule is not None:
            extra = f"  [{rule_report(img, c, arr)}]"
        print(f"  {c['name']:<24} mode={src_mode:<5} {geo['oriented_size_wh']} -> "
              f"{geo['resized_wh']} crop {geo['crop_left_top']}{extra}")

    # sanity: the 16-bit shortcut really differs from PIL's own conversion
    g = next(c for c in specs if c["name"] == "gray16")
    pil16 = np.asarray(Image.open(OUT / g["file"]).convert("L"))
    ours = reduce16(g["_u16"])
    print(f"gray16: PIL I;16->L differs from (v+128)//257 at {(pil16 != ours).mean() * 100:.1f}% of pixels")
    r = next(c for c in specs if c["name"] == "rgb16")
    pilr = np.asarray(Image.open(OUT / r["file"]).convert("RGB")).astype(np.int16)
    oursr = reduce16(r["_u16"]).astype(np.int16)
    print(f"rgb16: PIL's own 8-bit decode vs (v+128)//257: max diff {np.abs(pilr - oursr).max()}, "
          f"equal to v>>8: {bool((pilr == (r['_u16'] >> 8)).all())}")

    print("JPEG decoder-difference estimates:")
    originals = dict(JPEG_ORIGINALS, jpeg_exif6=asymmetric_rgb(80, 48), jpeg_exif3=asymmetric_rgb(80, 48))
    for c in specs:
        if not c["decoder_exact"]:
            jpeg_decoder_report(OUT / c["file"], c["size"], c["mean"], c["std"], originals.get(c["name"]))

    doc = {
        "producer": f"scripts/make_preprocess_fixtures.py (Pillow {PIL.__version__}, "
                    f"torchvision {torchvision.__version__.split('+')[0]}, torch {torch.__version__.split('+')[0]}, "
                    f"numpy {np.__version__})",
        "producer_rules": f"transformers {__import__('transformers').__version__} (PIL backend)",
        "definition": DEFINITION,
        "rules": RULES,
        "tensor_layout": "raw little-endian float32, CHW, shape [3, size, size]",
        "resized_u8_layout": "raw uint8, HWC RGB, shape [size, size, 3]; after Resize+CenterCrop, before ToTensor",
        "cases": out_cases,
    }
    (OUT / "cases.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"{len(out_cases)} cases, fixtures/preprocess total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    sys.exit(main())
